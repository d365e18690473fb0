"""``ctx``: what a handler gets — the words, the sender, the room, card inputs, and ``reply()``."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Optional, Union

from .replies import Reply, message_fields, replies_of

if TYPE_CHECKING:
    from .registry import Handler
    from .webex import WebexClient


class Context:
    """One incoming message or card submit, as its handler sees it."""

    def __init__(self, *, client: "WebexClient", room_id: str, room_type: str, sender_id: str,
                 sender_email: str, text: str = "", words: Optional[list[str]] = None,
                 command: str = "", message: Any = None, action: Any = None,
                 thread_id: Optional[str] = None, in_thread: bool = False, card_message_id: Optional[str] = None,
                 commands: Optional[list["Handler"]] = None) -> None:
        self.client = client
        self.room_id = room_id
        self._room_type = room_type
        self.sender_id = sender_id
        self._sender_email = sender_email
        self.text = text
        self.words = words or []
        self.command = command
        self.message = message
        self.action = action
        self._thread_id = thread_id
        self._card_message_id = card_message_id
        self.in_thread = in_thread
        self._commands = commands or []
        self.sent: list[Any] = []

    @property
    def sender_email(self) -> str:
        """The sender's email; for a card submit it costs one lookup, made only when asked for."""
        if not self._sender_email and self.sender_id:
            person = self.client.person(self.sender_id)
            self._sender_email = ((person.emails or [""])[0] if person is not None else "").lower()
        return self._sender_email

    @property
    def room_type(self) -> str:
        """``direct`` or ``group``; for a card submit it costs one lookup, made only when asked for."""
        if not self._room_type and self.room_id:
            self._room_type = self.client.room(self.room_id).type or ""
        return self._room_type

    @property
    def thread_id(self) -> Optional[str]:
        """The message a thread reply answers under: a card's own thread when the card was in one."""
        if self._thread_id is None and self._card_message_id:
            card = self.client.message(self._card_message_id)
            self._thread_id = card.parentId or card.id
        return self._thread_id

    @property
    def is_direct(self) -> bool:
        return self.room_type == "direct"

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs of a submitted card (empty for a message)."""
        return dict(self.action.inputs) if self.action is not None else {}

    @property
    def commands(self) -> list["Handler"]:
        """The commands this sender may run here (what ``help`` lists)."""
        return list(self._commands)

    def reply(self, content: Union[str, Reply, None] = None, **options: Any) -> Any:
        """Send a reply now (e.g. "working on it…" before long work); returns the sent message.

        ``content`` is markdown or a ``Reply``; ``options`` are Reply fields (``thread=True``, ...).
        """
        if isinstance(content, Reply):
            reply = dataclasses.replace(content, **options)
        else:
            reply = Reply(markdown=content, **options)
        last = None
        for one in replies_of(reply):
            threaded = one.thread if one.thread is not None else self.in_thread
            last = self.client.send(**message_fields(one, room_id=self.room_id, sender_id=self.sender_id,
                                                     thread_id=self.thread_id if threaded else None,
                                                     in_thread=self.in_thread))
            self.sent.append(last)
        return last
