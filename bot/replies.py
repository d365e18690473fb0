"""Replies: what a handler returns, and how each one becomes one POST /messages.

A handler returns None, a str (markdown in the same room), a ``Reply``, or a list or generator of
those. ``Reply`` covers markdown or plain text, one local file or URL, an Adaptive Card, a reply in
the thread, and a direct message to the sender. What Webex would refuse is caught before sending:
a text over its limit is split into several messages (or sent as a file), and two files, two cards
or a card Webex cannot render raise ``Unsendable``.
"""
from __future__ import annotations

import dataclasses
import inspect
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from .limits import CARD_TYPE, MAX_TEXT_BYTES, Unsendable, attachment_problem, split_text

OVERFLOWS = ("split", "file")
LONG_TEXT_NOTE = "The answer is too long for one message, so here it is as a file."


@dataclass(frozen=True)
class Reply:
    markdown: Optional[str] = None
    text: Optional[str] = None
    file: Optional[Union[str, Path]] = None
    card: Optional[dict[str, Any]] = None
    thread: Optional[bool] = None  # None: in the thread when the question was in one
    direct: bool = False  # to the sender in a 1:1 room instead of the room asked in
    overflow: str = "split"  # a text over Webex's limit: "split" into messages, or sent as a "file"

    def __post_init__(self) -> None:
        if self.overflow not in OVERFLOWS:
            raise ValueError(f"Reply(overflow={self.overflow!r}): it is 'split' or 'file'")


def card(content: dict[str, Any], fallback: str = "This message holds a card; open it in a Webex app.",
         **options: Any) -> Reply:
    """A reply with an Adaptive Card; ``fallback`` is shown by clients without cards."""
    return Reply(text=fallback, card=content, **options)


def file(path: Union[str, Path], markdown: Optional[str] = None, **options: Any) -> Reply:
    """A reply with one local file (uploaded as multipart) or one public URL."""
    return Reply(markdown=markdown, file=path, **options)


def replies_of(result: Any) -> Iterator[Reply]:
    """Every reply in what a handler returned, in order; TypeError names what it cannot send."""
    if result is None:
        return
    if isinstance(result, Reply):
        yield result
    elif isinstance(result, str):
        if result.strip():
            yield Reply(markdown=result)
    elif isinstance(result, (list, tuple)) or inspect.isgenerator(result):
        for item in result:
            yield from replies_of(item)
    else:
        raise TypeError(f"a handler may return None, a str, a Reply or a list of them, not {type(result).__name__}")


def goes_in_thread(reply: Reply, *, asked_in_thread: bool) -> bool:
    """The one rule for threads: where the question was, unless the reply says otherwise; never for
    a direct message to the sender (it goes to another room)."""
    threaded = asked_in_thread if reply.thread is None else reply.thread
    return threaded and not reply.direct


def message_fields(reply: Reply, *, room_id: str, sender_id: str, parent_id: Optional[str]) -> dict[str, Any]:
    """The POST /messages fields of ``reply``, for a question asked in ``room_id`` by ``sender_id``;
    ``parent_id`` is the thread to answer under, as ``goes_in_thread`` decided."""
    fields: dict[str, Any] = {"toPersonId": sender_id} if reply.direct else {"roomId": room_id}
    fields.update(content_fields(reply))
    if parent_id:
        fields["parentId"] = parent_id
    return fields


def content_fields(reply: Reply) -> dict[str, Any]:
    """What ``reply`` says, as POST /messages fields, wherever it goes."""
    fields: dict[str, Any] = {}
    if reply.markdown is not None:
        fields["markdown"] = reply.markdown
    if reply.text is not None:
        fields["text"] = reply.text
    if reply.file is not None:
        fields["files"] = [str(reply.file)]
    if reply.card is not None:
        fields["attachments"] = [{"contentType": CARD_TYPE, "content": reply.card}]
    return fields


def within_limits(reply: Reply) -> list[Reply]:
    """``reply`` as the messages Webex takes, in order: Unsendable when no message could carry it."""
    for name, value in (("file", reply.file), ("card", reply.card)):
        if isinstance(value, (list, tuple)):
            raise Unsendable(f"a reply carries one {name}, not {len(value)}: return several replies instead")
    problem = attachment_problem(content_fields(reply))
    if problem:
        raise Unsendable(problem)
    name, body = ("markdown", reply.markdown) if reply.markdown is not None else ("text", reply.text)
    if body is None or len(body.encode()) <= MAX_TEXT_BYTES:
        return [reply]
    if reply.overflow == "file":
        if reply.file is not None:
            raise Unsendable("a text too long for one message cannot go as a file: the reply carries a file already")
        return [dataclasses.replace(reply, markdown=LONG_TEXT_NOTE, text=None, file=_as_file(body, name))]
    parts = split_text(body)
    if not parts:  # nothing but blanks: nothing to say
        return []
    # Anything besides the text (a file, a card) goes with the last part, after the words it follows.
    bare = dataclasses.replace(reply, file=None, card=None, **{"markdown" if name == "markdown" else "text": None})
    messages = [dataclasses.replace(bare, **{name: part}) for part in parts[:-1]]
    return [*messages, dataclasses.replace(reply, **{name: parts[-1]})]


def _as_file(body: str, name: str) -> Path:
    """A long text written to a file of its own, to be uploaded (a temporary folder of the system)."""
    folder = Path(tempfile.mkdtemp(prefix="webex-bot-reply-"))
    path = folder / ("answer.md" if name == "markdown" else "answer.txt")
    path.write_text(body, encoding="utf-8")
    return path


def discard_made_file(part: Reply, reply: Reply) -> None:
    """Remove the file ``within_limits`` wrote for ``part`` of ``reply``, once it is sent (or not)."""
    if part.file is not None and part.file is not reply.file:
        shutil.rmtree(Path(part.file).parent, ignore_errors=True)
