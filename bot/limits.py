"""What Webex refuses, caught before sending: over-long text, cards it cannot render, too many attachments.

Webex answers such a message with a 400 the plugin author never sees in the chat, or sends a card
nobody can open; finding it here lets the bot split the text or say plainly what is wrong.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from .errors import BotError

MAX_TEXT_BYTES = 7439  # Webex's limit for `text` and `markdown`, in UTF-8 bytes
MAX_CARD_VERSION = (1, 3)  # the newest Adaptive Card version Webex renders
# UNSURE: Webex does not document a size limit for a card; 22,000 bytes of JSON is what it was seen
# to take. Raise it when Webex is known to take more.
MAX_CARD_BYTES = 22_000
CARD_TYPE = "application/vnd.microsoft.card.adaptive"

_LONGEST_CHARACTER = 4  # bytes of the longest UTF-8 character: a smaller limit cannot hold every text
_WORD = re.compile(r"\S+")
_OPENING_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_CARD_VERSION = re.compile(r"(\d+)\.(\d+)")


class Unsendable(BotError, ValueError):
    """A reply Webex would refuse: the reason, in words a plugin author understands."""


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Split a message too long for Webex into parts of at most `limit` UTF-8 bytes, to send in order.

    Cuts go at blank lines, else at line ends, else between words, else between characters; a fenced
    code block is cut only when it alone is too long, and then each piece is closed and reopened so
    that every part renders on its own. A text of only whitespace has no parts.
    """
    if len(text.encode()) <= limit:
        return [text]
    if limit < _LONGEST_CHARACTER:
        raise ValueError(f"a limit of {limit} bytes cannot hold every character; it must be at least "
                         f"{_LONGEST_CHARACTER}")
    splitter = _Splitter(text)
    return [splitter.render(piece) for piece in splitter.pack(splitter.paragraphs(), limit)]


def card_problem(content: Any, max_bytes: int = MAX_CARD_BYTES) -> Optional[str]:
    """Why Webex would refuse or not render this card content, or None when it is fine."""
    if not isinstance(content, dict):
        return f"a card is a dict (an Adaptive Card), not a {type(content).__name__}"
    if content.get("type") != "AdaptiveCard":
        return f'a card needs "type": "AdaptiveCard", not {content.get("type")!r}'
    version = content.get("version")
    found = _CARD_VERSION.fullmatch(version) if isinstance(version, str) else None
    newest = ".".join(map(str, MAX_CARD_VERSION))
    if found is None:
        return f'a card needs "version" as "major.minor", such as "{newest}", not {version!r}'
    if (int(found[1]), int(found[2])) > MAX_CARD_VERSION:
        return f"the card is version {version}, but Webex renders cards up to version {newest}"
    try:
        # The JSON as requests sends it (ASCII, no NaN), without the spaces it adds.
        size = len(json.dumps(content, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError) as error:
        return f"the card is not JSON: {error}"
    if size > max_bytes:
        return f"the card is {size:,} bytes of JSON, more than the {max_bytes:,} Webex takes"
    return None


def attachment_problem(fields: dict[str, Any]) -> Optional[str]:
    """Why the POST /messages fields (as bot/replies.py `message_fields` builds them) break Webex's
    rule of one file and one card per message."""
    files = fields.get("files") or []
    if isinstance(files, (list, tuple)) and len(files) > 1:
        return f"a message takes one file, not {len(files)}: send each in a reply of its own"
    attachments = fields.get("attachments") or []
    if len(attachments) > 1:
        return f"a message takes one card, not {len(attachments)}: send each in a reply of its own"
    for attachment in attachments:
        kind = attachment.get("contentType") if isinstance(attachment, dict) else None
        if kind != CARD_TYPE:
            return f"a message attachment must be an Adaptive Card ({CARD_TYPE}), not {kind!r}"
        problem = card_problem(attachment.get("content"))
        if problem:
            return problem
    return None


@dataclass(frozen=True)
class _Piece:
    """One part to be: the text's characters start:end, with fence lines added around them."""

    start: int
    end: int
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class _Unit:
    """A paragraph, line, fenced block or word: kept whole when it fits, else cut by ``split``."""

    start: int
    end: int
    split: Callable[[int], list[_Piece]]


@dataclass(frozen=True)
class _Fence:
    """A fenced code block, with what it takes to close a piece of it and reopen the next."""

    opening: str  # the opening line, such as "```python", repeated to reopen the block
    marker: str  # the fence characters, such as "```", added to close a piece
    start: int
    end: int
    lines: list[_Unit]  # the code lines, then the closing line when there is one


class _Splitter:
    """The text's structure, found once, and the greedy packing of its units into parts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets = [0]  # the byte offset of each character, so a slice is measured in O(1)
        for character in text:
            self.offsets.append(self.offsets[-1] + len(character.encode()))

    def render(self, piece: _Piece) -> str:
        return piece.prefix + self.text[piece.start:piece.end] + piece.suffix

    def size(self, piece: _Piece) -> int:
        return len(piece.prefix.encode()) + self.offsets[piece.end] - self.offsets[piece.start] + len(
            piece.suffix.encode())

    def pack(self, units: list[_Unit], limit: int) -> list[_Piece]:
        """Fill each part with as many whole units as fit; a unit too long alone is cut into pieces,
        and the last of them is filled on."""
        parts: list[_Piece] = []
        current: Optional[_Piece] = None
        for unit in units:
            if current is not None and not current.suffix:
                joined = _Piece(current.start, unit.end, current.prefix)
                if self.size(joined) <= limit:
                    current = joined
                    continue
            if current is not None:
                parts.append(current)
            whole = _Piece(unit.start, unit.end)
            if self.size(whole) <= limit:
                current = whole
            else:
                *done, current = unit.split(limit)
                parts.extend(done)
        if current is not None:
            parts.append(current)
        return parts

    def paragraphs(self) -> list[_Unit]:
        """The paragraphs (between blank lines outside code blocks), each a unit of lines and blocks."""
        paragraphs: list[list[_Unit]] = [[]]
        lines = iter(self._lines())
        for start, end in lines:
            line = self.text[start:end]
            opening = _OPENING_FENCE.fullmatch(line.rstrip())
            if opening and not (opening[1][0] == "`" and "`" in opening[2]):
                paragraphs[-1].append(self._fence(start + line.index(opening[1]), opening, lines))
            elif line.strip():
                paragraphs[-1].append(self._line(start, end, indented=False))
            elif paragraphs[-1]:
                paragraphs.append([])
        return [self._group(blocks) for blocks in paragraphs if blocks]

    def _lines(self) -> list[tuple[int, int]]:
        bounds, start = [], 0
        for line in self.text.split("\n"):
            bounds.append((start, start + len(line)))
            start += len(line) + 1
        return bounds

    def _group(self, blocks: list[_Unit]) -> _Unit:
        return _Unit(blocks[0].start, blocks[-1].end, lambda limit: self.pack(blocks, limit))

    def _line(self, start: int, end: int, *, indented: bool) -> _Unit:
        """A line without the whitespace around it (code keeps its indentation), cut between words."""
        line = self.text[start:end]
        end = start + len(line.rstrip())
        if not indented:
            start = end - len(line.strip())
        return _Unit(start, end, lambda limit: self.pack(self._words(start, end), limit))

    def _words(self, start: int, end: int) -> list[_Unit]:
        return [self._word(word.start(), word.end()) for word in _WORD.finditer(self.text, start, end)]

    def _word(self, start: int, end: int) -> _Unit:
        return _Unit(start, end, lambda limit: self._characters(start, end, limit))

    def _characters(self, start: int, end: int, limit: int) -> list[_Piece]:
        pieces, first = [], start
        for index in range(start, end):
            if self.offsets[index + 1] - self.offsets[first] > limit:
                pieces.append(_Piece(first, index))
                first = index
        return [*pieces, _Piece(first, end)]

    def _fence(self, start: int, opening: re.Match[str], lines: Iterator[tuple[int, int]]) -> _Unit:
        """The fenced block opened at ``start``, taking its lines (to the closing one, or the last) from
        ``lines``."""
        marker = opening[1]
        closing = re.compile(rf" {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*")
        code: list[_Unit] = []
        end = start + len(opening[0].strip())
        for line_start, line_end in lines:
            line = self.text[line_start:line_end]
            closed = bool(closing.fullmatch(line.rstrip()))
            if line.strip():
                code.append(self._line(line_start, line_end, indented=not closed))
                end = code[-1].end
            if closed:
                break
        fence = _Fence(opening[0].strip(), marker, start, end, code)
        return _Unit(start, end, lambda limit: self._split_fence(fence, limit))

    def _split_fence(self, fence: _Fence, limit: int) -> list[_Piece]:
        """Cut a block too long for one part between its lines, each piece closed and reopened."""
        prefix, suffix = fence.opening + "\n", "\n" + fence.marker
        room = limit - len(prefix.encode()) - len(suffix.encode())
        if room < _LONGEST_CHARACTER:
            opening = self._line(fence.start, fence.start + len(fence.opening), indented=False)
            return self.pack([opening, *fence.lines], limit)
        pieces = self.pack(fence.lines, room)
        return [_Piece(piece.start, piece.end, prefix, "" if piece.end == fence.end else suffix) for piece in pieces]
