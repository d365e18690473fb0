"""Message bodies as Webex renders them: markdown and ``<@personId:ID|Name>`` mentions into text and html.

A person's chat client and a bot's markdown both name people this way; Webex turns each mention into
the display name in ``text`` and a ``<spark-mention>`` element in ``html``, which is what bots parse.
Markdown is rendered as CommonMark with raw HTML escaped and links marked ``rel="nofollow"`` (the
spec's example pairs ``**PROJECT UPDATE**`` with ``<p><strong>PROJECT UPDATE</strong>...``); its plain
``text`` is that html without markup, a link's address kept after its label.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

MENTION = re.compile(r"<@(?:(personId|personEmail):([^|>]+)(?:\|([^>]*))?|(all))>")
# Mentions wait in the markdown as private-use placeholders, which CommonMark leaves alone.
OPEN, CLOSE = "\ue000", "\ue001"
PLACEHOLDER = re.compile(f"{OPEN}(\\d+){CLOSE}")
GROUP_ALL = '<spark-mention data-object-type="groupMention" data-group-type="all">All</spark-mention>'

# (kind, value) -> (rest person id, display name), or None for nobody known.
Resolver = Callable[[str, str], Optional[tuple[str, str]]]


def _nofollow(renderer: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "nofollow")
    return renderer.renderToken(tokens, idx, options, env)


MARKDOWN = MarkdownIt("commonmark", {"html": False})
MARKDOWN.add_render_rule("link_open", _nofollow)


@dataclass
class Rendered:
    text: str
    html: str
    mentioned_people: list[str] = field(default_factory=list)
    mentioned_groups: list[str] = field(default_factory=list)


@dataclass
class Mention:
    text: str
    html: str


def render(source: str, resolve: Resolver, *, markdown: bool = True) -> Rendered:
    """Render ``source`` with its mention tokens (unknown people stay plain text); as markdown unless
    ``markdown`` is False (what a person types in the chat page is shown as typed)."""
    found: list[Mention] = []
    people: list[str] = []
    groups: list[str] = []

    def hold(match: re.Match[str]) -> str:
        found.append(_mention(match, resolve, people, groups))
        return f"{OPEN}{len(found) - 1}{CLOSE}"

    template = MENTION.sub(hold, source.replace(OPEN, "").replace(CLOSE, ""))
    if markdown:
        body = MARKDOWN.render(template).strip()
        text = plain_text(body)
    else:
        body, text = f"<p>{html.escape(template, quote=False)}</p>", template
    return Rendered(PLACEHOLDER.sub(lambda m: found[int(m[1])].text, text),
                    PLACEHOLDER.sub(lambda m: found[int(m[1])].html, body), people, groups)


def _mention(match: re.Match[str], resolve: Resolver, people: list[str], groups: list[str]) -> Mention:
    """One mention token as text and html, noting whom it names in ``people`` or ``groups``."""
    if match.group(4):
        if "all" not in groups:
            groups.append("all")
        return Mention("All", GROUP_ALL)
    found = resolve(match.group(1), match.group(2))
    if found is None:
        label = match.group(3) or match.group(2)
        return Mention(label, html.escape(label, quote=False))
    person_id, display_name = found
    label = match.group(3) or display_name
    if person_id not in people:
        people.append(person_id)
    return Mention(label, f'<spark-mention data-object-type="person" data-object-id="{person_id}">'
                          f"{html.escape(label, quote=False)}</spark-mention>")


def plain_text(body: str) -> str:
    """The text of rendered html: markup dropped, a link as ``label (address)`` unless they agree."""
    soup = BeautifulSoup(body, "html.parser")
    for link in soup.find_all("a"):
        label, href = link.get_text(), str(link.get("href", ""))
        link.replace_with(label if href.removeprefix("mailto:") in ("", label) else f"{label} ({href})")
    return soup.get_text().strip()
