"""The emulator's world: people, rooms, messages, webhooks, card actions, files and devices.

One lock guards it all; the REST, control and device layers read and change it only through these
methods, and listeners (webhook delivery, the device websocket) hear of new messages and card actions
after the lock is released, so a slow listener never blocks the API.
"""
from __future__ import annotations

import html
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .ids import decode_id, encode_id, new_uuid, timestamp
from .markup import Rendered, render

ORG_UUID = "1eb65fdf-9643-417f-9974-ad72cae0e10f"
APP_UUID = "c9bd4fe1-ed6b-4b0f-bf67-4c6b2a2f6f0b"


class NotFound(KeyError):
    """An id that names nothing the caller may see."""


@dataclass
class Person:
    uuid: str
    display_name: str
    email: str
    type: str  # person | bot | appuser
    token: str
    created: str

    @property
    def id(self) -> str:
        return encode_id("PEOPLE", self.uuid)

    def to_json(self) -> dict[str, Any]:
        first, _, last = self.display_name.partition(" ")
        return {
            "id": self.id,
            "emails": [self.email],
            "phoneNumbers": [],
            "displayName": self.display_name,
            "nickName": first,
            "firstName": first,
            "lastName": last,
            "avatar": f"https://avatar.example.invalid/{self.uuid}",
            "orgId": encode_id("ORGANIZATION", ORG_UUID),
            "created": self.created,
            "lastActivity": self.created,
            "status": "active",
            "type": self.type,
        }


@dataclass
class Room:
    uuid: str
    title: str
    type: str  # direct | group
    creator: Person
    created: str
    cluster: str
    members: list[Person] = field(default_factory=list)
    last_activity: str = ""

    @property
    def id(self) -> str:
        return encode_id("ROOM", self.uuid, self.cluster)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "type": self.type,
            "isLocked": False,
            "lastActivity": self.last_activity or self.created,
            "creatorId": self.creator.id,
            "created": self.created,
            "ownerId": encode_id("ORGANIZATION", ORG_UUID),
            "isPublic": False,
            "isReadOnly": False,
        }

    def membership_json(self, person: Person) -> dict[str, Any]:
        return {
            "id": encode_id("MEMBERSHIP", f"{person.uuid}:{self.uuid}"),
            "roomId": self.id,
            "personId": person.id,
            "personEmail": person.email,
            "personDisplayName": person.display_name,
            "personOrgId": encode_id("ORGANIZATION", ORG_UUID),
            "isModerator": person is self.creator and self.type == "group",
            "isMonitor": False,
            "roomType": self.type,
            "created": self.created,
        }


@dataclass
class Message:
    uuid: str
    room: Room
    author: Person
    rendered: Rendered
    markdown: Optional[str]
    files: list[str]
    attachments: list[dict[str, Any]]
    parent: Optional["Message"]
    created: str
    seq: int = 0

    @property
    def id(self) -> str:
        return encode_id("MESSAGE", self.uuid, self.room.cluster)

    def mentions(self, person: Person) -> bool:
        return person.id in self.rendered.mentioned_people

    def visible_to(self, person: Person) -> bool:
        """Webex's bot rule: in a group room a bot sees only its own messages and those naming it."""
        if person not in self.room.members:
            return False
        if person.type != "bot" or self.room.type == "direct":
            return True
        return self.author is person or self.mentions(person)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.parent is not None:
            body["parentId"] = self.parent.id
        body.update({"roomId": self.room.id, "roomType": self.room.type, "text": self.rendered.text})
        if self.markdown is not None:
            body["markdown"] = self.markdown
        body["html"] = self.rendered.html
        if self.files:
            body["files"] = list(self.files)
        if self.attachments:
            body["attachments"] = self.attachments
        body.update({"personId": self.author.id, "personEmail": self.author.email})
        if self.rendered.mentioned_people:
            body["mentionedPeople"] = list(self.rendered.mentioned_people)
        if self.rendered.mentioned_groups:
            body["mentionedGroups"] = list(self.rendered.mentioned_groups)
        body["created"] = self.created
        return body


@dataclass
class AttachmentAction:
    uuid: str
    message: Message
    person: Person
    inputs: dict[str, Any]
    created: str

    @property
    def id(self) -> str:
        return encode_id("ATTACHMENT_ACTION", self.uuid, self.message.room.cluster)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "submit",
            "messageId": self.message.id,
            "inputs": self.inputs,
            "personId": self.person.id,
            "roomId": self.message.room.id,
            "created": self.created,
        }


@dataclass
class Webhook:
    uuid: str
    owner: Person
    name: str
    target_url: str
    resource: str
    event: str
    filter: Optional[str]
    secret: Optional[str]
    created: str
    status: str = "active"
    consecutive_failures: int = 0

    @property
    def id(self) -> str:
        return encode_id("WEBHOOK", self.uuid)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "targetUrl": self.target_url,
            "resource": self.resource,
            "event": self.event,
        }
        if self.filter:
            body["filter"] = self.filter
        if self.secret:
            body["secret"] = self.secret
        body.update({
            "status": self.status,
            "created": self.created,
            "orgId": encode_id("ORGANIZATION", ORG_UUID),
            "createdBy": self.owner.id,
            "appId": encode_id("APPLICATION", APP_UUID),
            "ownedBy": "creator",
        })
        return body


@dataclass
class StoredFile:
    name: str
    content_type: str
    data: bytes


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

    # -- people ----------------------------------------------------------------------------------
    def add_person(self, display_name: str, email: str | None = None, type: str = "person",
                   token: str | None = None) -> Person:
        with self.lock:
            raw = new_uuid()
            if email is None:
                slug = "".join(ch for ch in display_name.lower() if ch.isalnum()) or "user"
                domain = "webex.bot" if type == "bot" else "example.com"
                email = f"{slug}-{raw[:6]}@{domain}"
            person = Person(raw, display_name, email, type, token or secrets.token_urlsafe(32), timestamp())
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
        with self.lock:
            if raw not in self.people:
                raise NotFound(raw)
            return self.people[raw]

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
        with self.lock:
            if raw not in self.rooms:
                raise NotFound(raw)
            return self.rooms[raw]

    def rooms_of(self, person: Person) -> list[Room]:
        with self.lock:
            return [r for r in self.rooms.values() if person in r.members]

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
        if markdown is None and not mentions_in_text:
            rendered = Rendered(text or "", f"<p>{html.escape(text or '', quote=False)}</p>")
        else:
            rendered = render(markdown if markdown is not None else (text or ""), self.resolver)
        if markdown is not None and text:
            rendered.text = text
        with self.lock:
            message = Message(new_uuid(), room, author, rendered, markdown, files or [],
                              attachments or [], parent, timestamp(), next(self._sequence))
            self.messages[message.uuid] = message
            room.last_activity = message.created
        self._publish("message", message)
        return message

    def message(self, raw: str) -> Message:
        with self.lock:
            if raw not in self.messages:
                raise NotFound(raw)
            return self.messages[raw]

    def delete_message(self, message: Message) -> None:
        with self.lock:
            self.messages.pop(message.uuid, None)

    def room_messages(self, room: Room) -> list[Message]:
        """Newest first, as Webex lists them."""
        with self.lock:
            found = [m for m in self.messages.values() if m.room is room]
        return sorted(found, key=lambda m: m.seq, reverse=True)

    # -- card actions ----------------------------------------------------------------------------
    def add_action(self, person: Person, message: Message, inputs: dict[str, Any]) -> AttachmentAction:
        with self.lock:
            action = AttachmentAction(new_uuid(), message, person, inputs, timestamp())
            self.actions[action.uuid] = action
        self._publish("action", action)
        return action

    def action(self, raw: str) -> AttachmentAction:
        with self.lock:
            if raw not in self.actions:
                raise NotFound(raw)
            return self.actions[raw]

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
        with self.lock:
            if raw not in self.files:
                raise NotFound(raw)
            return self.files[raw]
