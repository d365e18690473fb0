"""``ctx``: what a handler gets — the words, the sender, the room, card inputs, storage, ``reply()``
and ``send()``.

A ``Context`` is built once, complete, by the dispatcher and read-only afterwards: a handler (or a
plugin that keeps it for a thread) can never change what another part of the bot sees. The three
answers that cost a Webex call (a card submitter's email, the room type, a card's thread) are asked
for only when read, and kept.
"""
from __future__ import annotations

import dataclasses
import logging
import operator
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Protocol, Union

from . import ids
from .errors import WebexAuthError, WebexError, WebexUnavailable
from .logs import clip
from .replies import (Reply, content_fields, discard_made_file, goes_in_thread, message_fields, replies_of,
                      within_limits)

if TYPE_CHECKING:
    from .registry import CommandInfo
    from .storage import Shelf, Storage
    from .webex import WebexClient

log = logging.getLogger(__name__)


class Reminders(Protocol):
    """What ``ctx.schedule`` files a reminder with (the bot's scheduler)."""

    def remind(self, when: Union[datetime, timedelta], reply: Any, to: str) -> str: ...


@dataclasses.dataclass(frozen=True)
class Request:
    """An incoming request (``ctx.request`` of an ``@incoming`` handler): which route, and its headers
    (those that carry the key or the signature left out)."""

    route: str
    headers: Mapping[str, str]

    @property
    def github_event(self) -> str:
        """GitHub's ``X-GitHub-Event`` (``push``, ``pull_request``, ``workflow_run``...), or ""."""
        return self.headers.get("X-GitHub-Event", "")


@dataclasses.dataclass(frozen=True)
class Member:
    """Who joined or left a space (``ctx.person`` of a space event)."""

    id: str
    email: str
    display_name: str


class Storages:
    """``ctx.storage``: the space's, the sender's and the bot's own mappings, each lasting across restarts."""

    __slots__ = ("_storage", "_room_id", "_person_id")

    def __init__(self, storage: "Storage", room_id: str, person_id: str) -> None:
        self._storage = storage
        self._room_id = room_id
        self._person_id = person_id

    @property
    def room(self) -> "Shelf":
        """What the bot keeps for this space (kept when the bot is removed from it)."""
        return self._storage.room(self._room_id)

    @property
    def person(self) -> "Shelf":
        """What the bot keeps for the sender, in every space."""
        return self._storage.person(self._person_id)

    @property
    def bot(self) -> "Shelf":
        """What the bot keeps for itself."""
        return self._storage.bot


class SendObserver(Protocol):
    """Told of each reply before it goes out and once Webex has accepted it (the handled record)."""

    def sending(self, fields: dict[str, Any]) -> None: ...

    def sent(self, message: Any) -> None: ...


def _as_reply(content: Any, options: dict[str, Any]) -> Any:
    """What ``reply``/``send`` were given, with ``options`` (Reply fields) applied to it."""
    if not options:
        return content
    if isinstance(content, Reply):
        return dataclasses.replace(content, **options)
    return Reply(markdown=content, **options)


def _read_only(slot: str, doc: str) -> Any:
    """A field handlers read and cannot set."""
    return property(operator.attrgetter(slot), doc=doc)


class Context:
    """One incoming message or card submit, as its handler sees it."""

    __slots__ = ("_client", "_room_id", "_room_type", "_sender_id", "_sender_email", "_text", "_words",
                 "_command", "_message", "_action", "_thread_id", "_card_message_id", "_in_thread",
                 "_commands", "_sent", "_observer", "_match", "_person", "_storage", "_reminders", "_request")

    def __init__(self, *, client: "WebexClient", room_id: str, room_type: str, sender_id: str,
                 sender_email: str, text: str = "", words: tuple[str, ...] = (), command: str = "",
                 message: Any = None, action: Any = None, thread_id: Optional[str] = None,
                 in_thread: bool = False, card_message_id: Optional[str] = None,
                 commands: tuple["CommandInfo", ...] = (), observer: Optional[SendObserver] = None,
                 match: Optional[re.Match[str]] = None, person: Optional[Member] = None,
                 storage: Optional["Storage"] = None, reminders: Optional[Reminders] = None,
                 request: Optional[Request] = None) -> None:
        self._client = client
        self._room_id = room_id
        self._room_type = room_type
        self._sender_id = sender_id
        self._sender_email = sender_email
        self._text = text
        self._words = tuple(words)
        self._command = command
        self._message = message
        self._action = action
        self._thread_id = thread_id
        self._card_message_id = card_message_id
        self._in_thread = in_thread
        self._commands = tuple(commands)
        self._sent: list[Any] = []
        self._observer = observer
        self._match = match
        self._person = person
        self._storage = storage
        self._reminders = reminders
        self._request = request

    text = _read_only("_text", "The text after the command word, the bot's @-mention removed (the whole "
                               "text for the fallback).")
    command = _read_only("_command", "The command's name (also when an alias was typed); for a card submit, "
                                     "the action's name.")
    room_id = _read_only("_room_id", "The room the message or card submit came from.")
    sender_id = _read_only("_sender_id", "Who wrote it.")
    message = _read_only("_message", "The whole Webex message; None for a card submit.")
    action = _read_only("_action", "The whole card submit; None for a message.")
    in_thread = _read_only("_in_thread", "Whether the message was written in a thread.")
    match = _read_only("_match", "For a ``hears`` handler, the ``re.Match`` of its pattern in the text.")
    person = _read_only("_person", "For a space event, who joined or left (a ``Member``); None otherwise.")
    request = _read_only("_request", "For an ``@incoming`` handler, the route and the headers; None otherwise.")

    @property
    def github_event(self) -> str:
        """For an ``@incoming(auth="github")`` handler, GitHub's event name; "" otherwise."""
        return self._request.github_event if self._request is not None else ""

    def schedule(self, when: Union[datetime, timedelta], reply: Any, to: Optional[str] = None) -> str:
        """Send ``reply`` (anything a handler may return) at ``when`` (a time, or a delay from now), to
        ``to`` (a room id or an email; this space by default). Kept across restarts; sent once.
        Returns the reminder's id."""
        if self._reminders is None:
            raise RuntimeError("this bot runs without a scheduler")
        target = to or self._room_id
        if not target:
            raise ValueError("ctx.schedule needs `to` here: this handler has no space of its own")
        return self._reminders.remind(when, reply, target)

    @property
    def storage(self) -> Storages:
        """``.room``, ``.person`` (the sender) and ``.bot``: mappings of str to JSON values that last."""
        if self._storage is None:
            raise RuntimeError("this bot runs without storage")
        return Storages(self._storage, self._room_id, self._sender_id)

    @property
    def words(self) -> list[str]:
        """``text`` split into words, the command word not included (a new list each time)."""
        return list(self._words)

    @property
    def sender_email(self) -> str:
        """The sender's email; for a card submit it costs one lookup, made only when asked for."""
        if not self._sender_email and self._sender_id:
            person = self._client.person(self._sender_id)
            self._sender_email = ((person.emails or [""])[0] if person is not None else "").lower()
        return self._sender_email

    @property
    def room_type(self) -> str:
        """``direct`` or ``group``; for a card submit it costs one lookup, made only when asked for."""
        if not self._room_type and self._room_id:
            self._room_type = self._client.room(self._room_id).type or ""
        return self._room_type

    @property
    def thread_id(self) -> Optional[str]:
        """The message a thread reply answers under: a card's own thread when the card was in one."""
        if self._thread_id is None and self._card_message_id:
            card = self._client.message(self._card_message_id)
            self._thread_id = card.parentId or card.id
        return self._thread_id

    @property
    def is_direct(self) -> bool:
        return self.room_type == "direct"

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs of a submitted card (empty for a message)."""
        return dict(self._action.inputs) if self._action is not None else {}

    @property
    def commands(self) -> tuple["CommandInfo", ...]:
        """The commands this sender may run here (what ``help`` lists), as read-only descriptions."""
        return self._commands

    @property
    def sent(self) -> tuple[Any, ...]:
        """The messages sent through this context so far, in order."""
        return tuple(self._sent)

    def reply(self, content: Union[str, Reply, None] = None, **options: Any) -> Any:
        """Send a reply now (e.g. "working on it…" before long work); returns the sent message.

        ``content`` is markdown or a ``Reply``; ``options`` are Reply fields (``thread=True``, ...).
        A text over Webex's limit goes as several messages (or a file: ``overflow="file"``).
        """
        last = None
        for one in replies_of(_as_reply(content, options)):
            parent = self.thread_id if goes_in_thread(one, asked_in_thread=self._in_thread) else None
            last = self._post(one, lambda reply: message_fields(reply, room_id=self._room_id,
                                                                sender_id=self._sender_id, parent_id=parent))
        return last

    def send(self, to: str, content: Any = None, **options: Any) -> Any:
        """Send to another space (its room id) or to a person (their email: a direct message).

        ``content`` is anything a handler may return. Returns the last message sent, or None when
        Webex refused it (one line in the log: the handler goes on).
        """
        target = {"toPersonEmail": to.strip()} if "@" in to else {"roomId": to.strip()}
        if "roomId" in target and not ids.valid(target["roomId"]):
            raise ValueError(f"ctx.send: {clip(to)} is neither a room id nor an email")
        last = None
        try:
            for one in replies_of(_as_reply(content, options)):
                last = self._post(one, lambda reply: {**target, **content_fields(reply)})
        except (WebexUnavailable, WebexAuthError):
            raise
        except WebexError as exc:
            log.error("ctx.send to %s failed: %s", clip(to), exc)
            return None
        return last

    def _post(self, reply: Reply, fields_of: Callable[[Reply], dict[str, Any]]) -> Any:
        """POST each message ``reply`` becomes within Webex's limits; the last one sent."""
        last = None
        for part in within_limits(reply):
            fields = fields_of(part)
            if self._observer is not None:
                self._observer.sending(fields)
            try:
                last = self._client.send(**fields)
            finally:
                discard_made_file(part, reply)
            if self._observer is not None:
                self._observer.sent(last)
            self._sent.append(last)
        return last
