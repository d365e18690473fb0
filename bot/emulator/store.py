"""The emulator's world: people, rooms, messages, webhooks, card actions and files.

One lock guards it all; the REST, control and device layers read and change it only through these
methods, and listeners (webhook delivery, the device websocket) hear of new messages and card actions
after the lock is released, so a slow listener never blocks the API.
"""
from __future__ import annotations

import html
import itertools
import secrets
import threading
from typing import Any, Callable, Optional, TypeVar

from .ids import decode_id, encode_id, new_uuid, timestamp
from .markup import Rendered, render
from .models import AttachmentAction, Message, Person, Room, StoredFile, Webhook, new_token

T = TypeVar("T")
WEBHOOK_CHANGES = frozenset({"name", "target_url", "secret"})


class NotFound(KeyError):
    """An id that names nothing the caller may see."""


Listener = Callable[[str, Any], None]


class Store:
    """All state of one emulator, safe to use from many request threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}
        self.rooms: dict[str, Room] = {}
        self.messages: dict[str, Message] = {}
        self.actions: dict[str, AttachmentAction] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.files: dict[str, StoredFile] = {}
        self.base_url = ""
        self._sequence = itertools.count(1)
        self._listeners: list[Listener] = []

    # -- listeners -------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(kind, obj)`` for each new message ("message") and card submit ("action")."""
        self._listeners.append(listener)

    def _publish(self, kind: str, obj: Any) -> None:
        for listener in self._listeners:
            listener(kind, obj)

    def _get(self, table: dict[str, T], raw: str) -> T:
        with self.lock:
            if raw not in table:
                raise NotFound(raw)
            return table[raw]

    # -- people ----------------------------------------------------------------------------------
    def add_person(self, display_name: str, email: str | None = None, type: str = "person",
                   token: str | None = None) -> Person:
        with self.lock:
            raw = new_uuid()
            if email is None:
                slug = "".join(ch for ch in display_name.lower() if ch.isalnum()) or "user"
                domain = "webex.bot" if type == "bot" else "example.com"
                email = f"{slug}-{raw[:6]}@{domain}"
            person = Person(raw, display_name, email, type, token or new_token(), timestamp())
            self.people[raw] = person
            return person

    def person_by_token(self, token: str) -> Optional[Person]:
        with self.lock:
            for person in self.people.values():
                if secrets.compare_digest(person.token, token):
                    return person
            return None

    def person_by_email(self, email: str) -> Optional[Person]:
        with self.lock:
            wanted = email.lower()
            return next((p for p in self.people.values() if p.email.lower() == wanted), None)

    def person(self, raw: str) -> Person:
        return self._get(self.people, raw)

    def everyone(self) -> list[Person]:
        """Every person and bot, in the order they were made."""
        with self.lock:
            return list(self.people.values())

    # -- rooms -----------------------------------------------------------------------------------
    def add_room(self, title: str, type: str, creator: Person, members: list[Person],
                 cluster: str = "us") -> Room:
        with self.lock:
            everyone = [creator] + [m for m in members if m is not creator]
            room = Room(new_uuid(), title, type, creator, timestamp(), cluster, everyone)
            self.rooms[room.uuid] = room
            return room

    def direct_room(self, one: Person, other: Person) -> Room:
        """The 1:1 room of two people, made on first use as Webex does."""
        with self.lock:
            for room in self.rooms.values():
                if room.type == "direct" and set(map(id, room.members)) == {id(one), id(other)}:
                    return room
            return self.add_room(other.display_name, "direct", one, [other])

    def room(self, raw: str) -> Room:
        return self._get(self.rooms, raw)

    def rooms_of(self, person: Person) -> list[Room]:
        with self.lock:
            return [r for r in self.rooms.values() if person in r.members]

    def all_rooms(self) -> list[Room]:
        with self.lock:
            return list(self.rooms.values())

    def add_member(self, room: Room, person: Person) -> None:
        with self.lock:
            if person not in room.members:
                room.members.append(person)

    def remove_member(self, room: Room, person: Person) -> None:
        with self.lock:
            if person in room.members:
                room.members.remove(person)

    # -- messages --------------------------------------------------------------------------------
    def resolver(self, kind: str, value: str) -> Optional[tuple[str, str]]:
        with self.lock:
            if kind == "personEmail":
                found = self.person_by_email(value)
            else:
                decoded = decode_id(value)
                found = self.people.get(decoded[1]) if decoded else None
            return (found.id, found.display_name) if found else None

    def add_message(self, author: Person, room: Room, *, text: str | None = None,
                    markdown: str | None = None, files: list[str] | None = None,
                    attachments: list[dict[str, Any]] | None = None,
                    parent: Message | None = None, mentions_in_text: bool = True) -> Message:
        """Post as ``author``. Mentions are read from the markdown, and from the text only when
        ``mentions_in_text`` (a person's chat client; Webex's REST API reads them in markdown only)."""
        rendered = self._render(text, markdown, mentions_in_text)
        with self.lock:
            message = Message(new_uuid(), room, author, rendered, markdown, files or [],
                              attachments or [], parent, timestamp(), next(self._sequence))
            self.messages[message.uuid] = message
            room.last_activity = message.created
        self._publish("message", message)
        return message

    def _render(self, text: str | None, markdown: str | None, mentions_in_text: bool) -> Rendered:
        """Markdown rendered (``text``, when given, is kept as the plain text); else the text as typed."""
        if markdown is not None:
            rendered = render(markdown, self.resolver)
            rendered.text = text or rendered.text
            return rendered
        if mentions_in_text:
            return render(text or "", self.resolver, markdown=False)
        return Rendered(text or "", f"<p>{html.escape(text or '', quote=False)}</p>")

    def edit_message(self, message: Message, *, text: str | None, markdown: str | None) -> None:
        """Replace what ``message`` says, as its author's edit does (Webex's REST API: mentions in markdown)."""
        rendered = self._render(text, markdown, mentions_in_text=False)
        with self.lock:
            message.rendered, message.markdown = rendered, markdown
            message.updated, message.edits = timestamp(), message.edits + 1

    def message(self, raw: str) -> Message:
        return self._get(self.messages, raw)

    def delete_message(self, message: Message) -> None:
        with self.lock:
            self.messages.pop(message.uuid, None)

    def room_messages(self, room: Room) -> list[Message]:
        """Newest first, as Webex lists them."""
        with self.lock:
            found = [m for m in self.messages.values() if m.room is room]
        return sorted(found, key=lambda m: m.seq, reverse=True)

    def all_messages(self) -> list[Message]:
        """Every message of every room, oldest first."""
        with self.lock:
            return sorted(self.messages.values(), key=lambda m: m.seq)

    # -- card actions ----------------------------------------------------------------------------
    def add_action(self, person: Person, message: Message, inputs: dict[str, Any]) -> AttachmentAction:
        with self.lock:
            action = AttachmentAction(new_uuid(), message, person, inputs, timestamp())
            self.actions[action.uuid] = action
        self._publish("action", action)
        return action

    def action(self, raw: str) -> AttachmentAction:
        return self._get(self.actions, raw)

    # -- webhooks --------------------------------------------------------------------------------
    def add_webhook(self, owner: Person, **fields: Any) -> Webhook:
        with self.lock:
            hook = Webhook(new_uuid(), owner, created=timestamp(), **fields)
            self.webhooks[hook.uuid] = hook
            return hook

    def webhook(self, raw: str, owner: Person | None = None) -> Webhook:
        with self.lock:
            hook = self.webhooks.get(raw)
            if hook is None or (owner is not None and hook.owner is not owner):
                raise NotFound(raw)
            return hook

    def webhooks_of(self, owner: Person) -> list[Webhook]:
        with self.lock:
            return [h for h in self.webhooks.values() if h.owner is owner]

    def all_webhooks(self) -> list[Webhook]:
        with self.lock:
            return list(self.webhooks.values())

    def update_webhook(self, hook: Webhook, *, reactivate: bool = False, **changes: Any) -> None:
        """Set ``name``, ``target_url`` or ``secret``; ``reactivate`` makes it active with a clean slate."""
        unknown = set(changes) - WEBHOOK_CHANGES
        if unknown:
            raise TypeError(f"a webhook has no changeable {', '.join(sorted(unknown))}")
        with self.lock:
            for name, value in changes.items():
                setattr(hook, name, value)
            if reactivate:
                hook.status, hook.consecutive_failures = "active", 0

    def deactivate_webhook(self, hook: Webhook) -> Webhook:
        """Switch ``hook`` to inactive, as Webex does after many failures; return it."""
        with self.lock:
            hook.status = "inactive"
            return hook

    def count_delivery(self, hook: Webhook, ok: bool, inactive_after: int) -> None:
        """Count a delivery's outcome; ``inactive_after`` failures in a row make the webhook inactive."""
        with self.lock:
            hook.consecutive_failures = 0 if ok else hook.consecutive_failures + 1
            if hook.consecutive_failures >= inactive_after:
                hook.status = "inactive"

    def delete_webhook(self, hook: Webhook) -> None:
        with self.lock:
            self.webhooks.pop(hook.uuid, None)

    # -- files -----------------------------------------------------------------------------------
    def add_file(self, name: str, content_type: str, data: bytes) -> str:
        """Keep an uploaded file and return its public content URL."""
        with self.lock:
            raw = new_uuid()
            self.files[raw] = StoredFile(name, content_type, data)
            return f"{self.base_url}/v1/contents/{encode_id('CONTENT', raw)}"

    def file(self, raw: str) -> StoredFile:
        return self._get(self.files, raw)
