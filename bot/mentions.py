"""The bot's @-mention, taken out of a Webex message so what remains is the command text.

In a group space Webex only delivers messages that mention the bot, so nearly every message there
starts with the bot's name. The ``html`` says exactly which words are the mention (a
``<spark-mention>`` with the bot's id); ``text`` only has the display name, so it is the fallback.
"""
from __future__ import annotations

import re

from typing import TYPE_CHECKING

from . import ids

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from bs4.element import Tag

BLOCKS = frozenset({"p", "div", "li", "ul", "ol", "blockquote", "pre", "table", "tr",
                    "h1", "h2", "h3", "h4", "h5", "h6"})
BLOCK = "\x00"  # marks a block boundary until whitespace is tidied
BREAK = "\x01"  # marks a <br>
AFTER_MENTION = re.compile(r"^[^\S\n]*[:,]")


def _parsed(html: str | None) -> "BeautifulSoup | None":
    """The message's html, parsed only when it holds a mention at all (most direct messages do not).

    The parser is loaded on the first such message, not with the bot.
    """
    if not html or "<spark-mention" not in html:
        return None
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def _bot_mentions(soup: "BeautifulSoup | None", bot_id: str) -> "list[Tag]":
    if soup is None:
        return []
    return [tag for tag in soup.find_all("spark-mention")
            if tag.get("data-object-type", "person") == "person"
            and ids.same(str(tag.get("data-object-id", "")), bot_id)]


def mentions_bot(html: str | None, bot_id: str) -> bool:
    """Whether the message's html mentions the bot (rather than only its name appearing in text)."""
    return bool(_bot_mentions(_parsed(html), bot_id))


def _pieces(node: "Tag") -> list[str]:
    """The text of ``node``, with markers where blocks and line breaks were."""
    from bs4.element import NavigableString, PreformattedString, Tag

    pieces: list[str] = []
    for child in node.children:
        if isinstance(child, Tag):
            if child.name == "br":
                pieces.append(BREAK)
            elif child.name in BLOCKS:
                pieces += [BLOCK, *_pieces(child), BLOCK]
            else:
                pieces += _pieces(child)
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            pieces.append(str(child))  # not comments, doctypes or processing instructions
    return pieces


def _tidy(text: str) -> str:
    """Collapse spaces and tabs, keep the newlines, strip.

    A block boundary swallows the source formatting around it (``</p>\\n<p>``), so paragraphs and
    list items come out one per line; a ``<br>`` is one newline.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(BREAK + r"[^\S\n]*\n?", "\n", text)
    text = re.sub(r"\s*" + BLOCK + r"[\s" + BLOCK + r"]*", "\n", text)
    text = re.sub(r"[^\S\n]+", " ", text)
    return re.sub(r" ?\n ?", "\n", text).strip()


def _strip_name(text: str, bot_name: str) -> str:
    """``text`` without a leading display name, full or first word, and the ':' or ',' after it."""
    text = _tidy(text)
    words = bot_name.split()
    for name in ([r"\s+".join(map(re.escape, words)), re.escape(words[0])] if words else []):
        found = re.match(rf"@?{name}(?!\w)[^\S\n]*[:,]?", text, re.IGNORECASE)
        if found:
            return text[found.end():].strip()
    return text


def command_text(text: str, html: str | None, bot_id: str, bot_name: str, *, direct: bool) -> str:
    """The command text of a message: without the bot's mention(s), other mentions kept as names.

    In a direct space a message that does not mention the bot is all command, as typed; elsewhere the
    bot's name leading the text stands for a mention the html does not show.
    """
    soup = _parsed(html)
    mentions = _bot_mentions(soup, bot_id)
    if soup is None or not mentions:
        return text if direct else _strip_name(text, bot_name)
    from bs4.element import NavigableString, PreformattedString

    for mention in mentions:
        following = mention.next_sibling
        if isinstance(following, NavigableString) and not isinstance(following, PreformattedString):
            following.replace_with(AFTER_MENTION.sub("", str(following)))
        mention.decompose()
    return _tidy("".join(_pieces(soup)))
