"""The objects of the emulator's world and the JSON Webex shows of each: people, rooms, messages,
card actions, webhooks and files.

They are plain records; ``store.py`` owns their lifetime and every change to them, and the API layers
only read them. Kept apart from the store so that the shapes Webex answers with are in one place.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Optional

from .ids import encode_id
from .markup import Rendered

ORG_UUID = "1eb65fdf-9643-417f-9974-ad72cae0e10f"
APP_UUID = "c9bd4fe1-ed6b-4b0f-bf67-4c6b2a2f6f0b"
TOKEN_CLUSTER = "PF84"  # the middle field of real Webex tokens
TOKEN_ALPHABET = string.ascii_letters + string.digits


def new_token() -> str:
    """A token shaped as Webex's ``<secret>_<cluster>_<orgId>``: Cisco's JS SDK reads the org from it,
    so the secret holds no ``_``."""
    secret = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(64))
    return f"{secret}_{TOKEN_CLUSTER}_{ORG_UUID}"


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

    def control_json(self) -> dict[str, Any]:
        """As the control API and the chat page show a room: Webex's JSON and who is in it."""
        return {**self.to_json(), "memberIds": [m.id for m in self.members]}

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
    updated: Optional[str] = None  # when its author last edited it
    edits: int = 0

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
        if self.updated:
            body["updated"] = self.updated
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
