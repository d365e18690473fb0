"""The objects of the emulator's world and the JSON Webex shows of each: people, teams, rooms,
messages, card actions, webhooks, events and files.

They are plain records; ``store.py`` owns their lifetime and every change to them, and the API layers
only read them. Kept apart from the store so that the shapes Webex answers with are in one place.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

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
class Team:
    uuid: str
    name: str
    description: Optional[str]
    creator: Person
    created: str
    members: list[Person] = field(default_factory=list)
    moderators: set[str] = field(default_factory=set)  # person uuids
    joined: dict[str, str] = field(default_factory=dict)  # person uuid -> when they joined
    general: str = ""  # the uuid of the room the team was made with

    @property
    def id(self) -> str:
        return encode_id("TEAM", self.uuid)

    def to_json(self) -> dict[str, Any]:
        body = {"id": self.id, "name": self.name}
        if self.description:
            body["description"] = self.description
        return {**body, "created": self.created}

    def membership_json(self, person: Person) -> dict[str, Any]:
        return {
            "id": encode_id("TEAM_MEMBERSHIP", f"{person.uuid}:{self.uuid}"),
            "teamId": self.id,
            "personId": person.id,
            "personEmail": person.email,
            "personDisplayName": person.display_name,
            "personOrgId": encode_id("ORGANIZATION", ORG_UUID),
            "isModerator": person.uuid in self.moderators,
            "created": self.joined.get(person.uuid, self.created),
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
    team: Optional[Team] = None
    is_locked: bool = False
    # What PUT /rooms/{id} sets besides the title and the lock: description, isPublic,
    # isAnnouncementOnly, isReadOnly, classificationId, madePublic (as Webex names them).
    options: dict[str, Any] = field(default_factory=dict)
    moderators: set[str] = field(default_factory=set)  # person uuids
    hidden: set[str] = field(default_factory=set)  # person uuids who hid the room (isRoomHidden)
    joined: dict[str, str] = field(default_factory=dict)  # person uuid -> when they joined

    @property
    def id(self) -> str:
        return encode_id("ROOM", self.uuid, self.cluster)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "title": self.title, "type": self.type, "isLocked": self.is_locked}
        if self.team is not None:
            body["teamId"] = self.team.id
        body.update({
            "lastActivity": self.last_activity or self.created,
            "creatorId": self.creator.id,
            "created": self.created,
            "ownerId": encode_id("ORGANIZATION", ORG_UUID),
            "isPublic": False,
            "isReadOnly": False,
        })
        body.update(self.options)
        return body

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
            "isModerator": person.uuid in self.moderators,
            "isMonitor": False,
            "isRoomHidden": person.uuid in self.hidden,
            "roomType": self.type,
            "created": self.joined.get(person.uuid, self.created),
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
        body.update({"roomId": self.room.id, "roomType": self.room.type})
        if self.rendered.text or self.markdown is not None:  # a card or file alone has no text at Webex
            body["text"] = self.rendered.text
        if self.markdown is not None:
            body["markdown"] = self.markdown
        if "text" in body:
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

    def webhook_json(self) -> dict[str, Any]:
        """A webhook delivery's ``data``: no text, so the bot must fetch the message to read it."""
        data: dict[str, Any] = {"id": self.id, "roomId": self.room.id, "roomType": self.room.type,
                                "personId": self.author.id, "personEmail": self.author.email}
        if self.rendered.mentioned_people:
            data["mentionedPeople"] = list(self.rendered.mentioned_people)
        if self.rendered.mentioned_groups:
            data["mentionedGroups"] = list(self.rendered.mentioned_groups)
        if self.files:
            data["files"] = list(self.files)
        data["created"] = self.created
        return data


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

    def webhook_json(self) -> dict[str, Any]:
        """A webhook delivery's ``data``: no inputs, so the bot must fetch the submit to read them."""
        data = self.to_json()
        del data["inputs"]
        return data


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
    owned_by: str = "creator"  # or "org": the webhook sees the whole org's events

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
            "ownedBy": self.owned_by,
        })
        return body


@dataclass(frozen=True)
class MembershipChange:
    """Whom a membership event is about and who was in the room then (the removed person included):
    the websocket's ``add`` and ``leave`` activities name them, and reach only those members."""
    room: Room
    person: Person
    members: tuple[Person, ...]
    founding: bool  # made with the room, not added to it later


@dataclass
class Event:
    """One entry of the org's event log (``GET /events``) and what webhooks hear of the same change.

    ``data`` is the resource as it was then (what ``/events`` shows); ``hook_data`` is what a webhook
    delivery carries; ``audience`` says whose creator-owned webhooks may hear of it; ``membership``
    says what a membership event is about, as the websocket needs it.
    """
    uuid: str
    resource: str  # messages | memberships | rooms | attachmentActions
    type: str  # created | updated | deleted
    actor: Person
    data: dict[str, Any]
    hook_data: dict[str, Any]
    audience: Callable[[Person], bool]
    created: str
    seq: int
    membership: Optional[MembershipChange] = None

    @property
    def id(self) -> str:
        return encode_id("EVENT", self.uuid)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "type": self.type,
            "appId": encode_id("APPLICATION", APP_UUID),
            "actorId": self.actor.id,
            "orgId": encode_id("ORGANIZATION", ORG_UUID),
            "created": self.created,
            "data": self.data,
        }


@dataclass
class StoredFile:
    name: str
    content_type: str
    data: bytes
