"""Replies: what a handler returns, and how each one becomes one POST /messages.

A handler returns None, a str (markdown in the same room), a ``Reply``, or a list or generator of
those. ``Reply`` covers markdown or plain text, one local file or URL, an Adaptive Card, a reply in
the thread, and a direct message to the sender.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Union

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class Reply:
    markdown: Optional[str] = None
    text: Optional[str] = None
    file: Optional[Union[str, Path]] = None
    card: Optional[dict[str, Any]] = None
    thread: Optional[bool] = None  # None: in the thread when the question was in one
    direct: bool = False  # to the sender in a 1:1 room instead of the room asked in


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
    if reply.markdown is not None:
        fields["markdown"] = reply.markdown
    if reply.text is not None:
        fields["text"] = reply.text
    if reply.file is not None:
        fields["files"] = [str(reply.file)]
    if reply.card is not None:
        fields["attachments"] = [{"contentType": CARD_TYPE, "content": reply.card}]
    if parent_id:
        fields["parentId"] = parent_id
    return fields
