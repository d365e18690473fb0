"""Conversation activities: what Webex's device websocket and conversation service say happened.

Mercury pushes an activity for each new message or card submit, and the conversation service answers
a lookup of one with the same shape, so both build them here. Their content is encrypted at Webex and
a bot cannot read it; the emulator puts ciphertext-shaped noise in its place, so a client that tries to
read content from an activity, instead of fetching the message over REST, fails here as it would there.
"""
from __future__ import annotations

import secrets
from typing import Any

from .ids import decode_id, new_uuid, timestamp
from .models import ORG_UUID, AttachmentAction, Message, Person, Room

JWE_HEADER = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"  # {"alg":"dir","enc":"A256GCM"}


def ciphertext() -> str:
    """What Webex sends instead of content: a compact JWE, unreadable without the KMS key."""
    return f"{JWE_HEADER}..{secrets.token_urlsafe(12)}.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(16)}"


def actor_json(person: Person) -> dict[str, Any]:
    return {
        "id": person.uuid,
        "objectType": "person",
        "displayName": person.display_name,
        "orgId": ORG_UUID,
        "emailAddress": person.email,
        "entryUUID": person.uuid,
        "type": "PERSON" if person.type == "person" else person.type.upper(),
    }


def key_url(room: Room) -> str:
    """The KMS key a room's content is encrypted with (a bot never needs to fetch it)."""
    return f"kms://kms-us.wbx2.com/keys/{room.uuid}"


def target_json(room: Room, conversation_url: str) -> dict[str, Any]:
    return {
        "id": room.uuid,
        "objectType": "conversation",
        "url": f"{conversation_url}/conversations/{room.uuid}",
        "tags": ["ONE_ON_ONE"] if room.type == "direct" else [],
        "globalId": room.uuid,
    }


def _activity(uuid: str, verb: str, published: str, actor: Person, room: Room, conversation_url: str,
              obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uuid,
        "objectType": "activity",
        "verb": verb,
        "published": published,
        "actor": actor_json(actor),
        "object": obj,
        "target": target_json(room, conversation_url),
        "encryptionKeyUrl": key_url(room),
    }


def _mentions(message: Message, obj: dict[str, Any]) -> dict[str, Any]:
    """Mentions travel in clear beside the encrypted text, as person uuids."""
    people = [decode_id(rest_id) for rest_id in message.rendered.mentioned_people]
    if people:
        obj["mentions"] = {"items": [{"id": p[1], "objectType": "person"} for p in people if p]}
    if message.rendered.mentioned_groups:
        obj["groupMentions"] = {"items": [{"groupType": g, "objectType": "groupMention"}
                                          for g in message.rendered.mentioned_groups]}
    return obj


def _content(message: Message, quarantine: str) -> dict[str, Any]:
    items = [{"objectType": "file", "displayName": ciphertext(), "scr": ciphertext(),
              "malwareQuarantineState": quarantine} for _ in message.files]
    obj: dict[str, Any] = {"objectType": "content", "contentCategory": "documents", "files": {"items": items}}
    if message.rendered.text:
        obj["displayName"] = ciphertext()
    return _mentions(message, obj)


def message_activities(message: Message, conversation_url: str) -> list[dict[str, Any]]:
    """``post`` for a message; ``share`` (files pending the malware scan) then ``update`` (safe) for files."""
    def make(uuid: str, verb: str, published: str, obj: dict[str, Any]) -> dict[str, Any]:
        activity = _activity(uuid, verb, published, message.author, message.room, conversation_url, obj)
        if message.parent is not None:
            activity["parent"] = {"id": message.parent.uuid, "type": "reply",
                                  "actorId": message.parent.author.uuid, "published": message.parent.created}
        return activity

    if not message.files:
        obj = _mentions(message, {"objectType": "comment", "displayName": ciphertext(), "content": ciphertext()})
        if message.attachments:
            obj["cards"] = [ciphertext() for _ in message.attachments]
        return [make(message.uuid, "post", message.created, obj)]
    share = make(message.uuid, "share", message.created, _content(message, "pending"))
    update = make(new_uuid(), "update", timestamp(), {"id": message.uuid, **_content(message, "safe")})
    return [share, update]


def action_activity(action: AttachmentAction, conversation_url: str) -> dict[str, Any]:
    """``cardAction``: its id is the action's uuid, its object the card message's."""
    obj = {"id": action.message.uuid, "objectType": "submit", "inputs": ciphertext()}
    return _activity(action.uuid, "cardAction", action.created, action.person, action.message.room,
                     conversation_url, obj)
