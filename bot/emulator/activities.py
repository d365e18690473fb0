"""Conversation activities: what Webex's device websocket and conversation service say happened.

Mercury pushes an activity for each new message or card submit, and ``add``/``leave`` for people who
join or leave a space; the conversation service answers a lookup of a message or submit with the same
shape, so both build them here.

At Webex their content is JWE ciphertext under the KMS key the activity names in ``encryptionKeyUrl``;
a client gets that key from the KMS (the catalog's ``encryption`` service) through a JOSE/ECDH key
agreement. A KMS is out of the emulator's scope, so activities come in clear and WITHOUT an
``encryptionKeyUrl``: Cisco's JS SDK decrypts only an activity that names a key, so it takes them as
they are instead of asking for a key no one serves. Bots that fetch the message over REST (ours,
webex_bot) never read the content and see no difference.
"""
from __future__ import annotations

import json
from typing import Any

from .ids import decode_id, new_uuid, timestamp
from .models import ORG_UUID, AttachmentAction, Event, MembershipChange, Message, Person, Room
from .settings import Settings


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
    }


def _mentions(message: Message, obj: dict[str, Any]) -> dict[str, Any]:
    """Mentions name person uuids (at Webex they travel in clear beside the encrypted text)."""
    people = [decode_id(rest_id) for rest_id in message.rendered.mentioned_people]
    if people:
        obj["mentions"] = {"items": [{"id": p[1], "objectType": "person"} for p in people if p]}
    if message.rendered.mentioned_groups:
        obj["groupMentions"] = {"items": [{"groupType": g, "objectType": "groupMention"}
                                          for g in message.rendered.mentioned_groups]}
    return obj


def _content(message: Message, quarantine: str) -> dict[str, Any]:
    items = [{"objectType": "file", "displayName": url.rsplit("/", 1)[-1], "url": url,
              "malwareQuarantineState": quarantine} for url in message.files]
    obj: dict[str, Any] = {"objectType": "content", "contentCategory": "documents", "files": {"items": items}}
    if message.rendered.text:
        obj["displayName"] = message.rendered.text
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
        obj = _mentions(message, {"objectType": "comment", "displayName": message.rendered.text,
                                  "content": message.rendered.html})
        if message.attachments:
            obj["cards"] = [json.dumps(a.get("content")) for a in message.attachments]
        return [make(message.uuid, "post", message.created, obj)]
    share = make(message.uuid, "share", message.created, _content(message, "pending"))
    update = make(new_uuid(), "update", timestamp(), {"id": message.uuid, **_content(message, "safe")})
    return [share, update]


def action_activity(action: AttachmentAction, conversation_url: str, settings: Settings) -> dict[str, Any]:
    """``cardAction``: its id is the action's uuid, its object names the card's message, its ``parent``
    the card's message or its thread's root (``settings.card_action_parent``).

    The parent is what lets a client answer in the card's thread: the action's id names no message.
    """
    card = action.message
    obj = {"id": card.uuid, "objectType": "submit", "inputs": json.dumps(action.inputs)}
    activity = _activity(action.uuid, "cardAction", action.created, action.person, card.room,
                         conversation_url, obj)
    named = card.parent if settings.card_action_parent == "thread" and card.parent is not None else card
    activity["parent"] = {"id": named.uuid, "type": settings.card_action_parent_type}
    return activity


SPACE_VERBS = {"created": "add", "deleted": "leave"}  # membership event type -> activity verb


def membership_activity(event: Event, change: MembershipChange, conversation_url: str,
                        settings: Settings) -> dict[str, Any]:
    """``add`` or ``leave``: who did it, the person who joined or left (their email and name only with
    ``settings.space_event_person_fields``) and the space."""
    person = change.person
    obj: dict[str, Any] = {"id": person.uuid, "objectType": "person"}
    if settings.space_event_person_fields:
        obj.update({"emailAddress": person.email, "displayName": person.display_name})
    return _activity(new_uuid(), SPACE_VERBS[event.type], event.created, event.actor, change.room,
                     conversation_url, obj)
