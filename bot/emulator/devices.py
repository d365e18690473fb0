"""The HTTP side of the device websocket: U2C discovery, WDM devices, the conversation service.

A bot without a public URL finds WDM through U2C, registers a device there, and connects to the
device's ``webSocketUrl`` (served by ``mercury.py``). Events reach it as conversation *activities*
whose content is encrypted, so it maps each activity id to a REST id through the conversation
service before it fetches the message over REST. The activities are shaped here because the
conversation service and Mercury must agree on them. Control routes under ``/_emulator/devices`` let
a test break the websocket in the ways Webex does.
"""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from flask import Blueprint, Response, request
from websockets.frames import EXTERNAL_CLOSE_CODES

from .http import body_json, caller, fail, json_response
from .ids import decode_id, new_uuid, timestamp
from .store import ORG_UUID, AttachmentAction, Message, NotFound, Person, Room

if TYPE_CHECKING:
    from .mercury import Device
    from .server import Emulator

DEVICE_ROUTES = {
    "GET /_emulator/devices": "every device with its owner, connection, sequence number and un-acked count",
    "GET /_emulator/devices/acks": "every ack received",
    "POST /_emulator/devices/<uuid>/drop": "drop the TCP connection without a close frame (client sees 1006)",
    "POST /_emulator/devices/<uuid>/shutdown": "send a {type: shutdown} frame",
    "POST /_emulator/devices/<uuid>/close": "close the websocket with {code, reason}",
    "DELETE /_emulator/devices/<uuid>": "delete the device behind its owner's back (next handshake: 404)",
    "POST /_emulator/devices/<uuid>/skip": "skip {count} sequence numbers (the client sees a gap)",
}

DEVICE_FIELDS = ("deviceName", "deviceType", "localizedModel", "model", "name", "systemName", "systemVersion")
TOO_MANY_DEVICES = "User has excessive device registrations"
JWE_HEADER = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"  # {"alg":"dir","enc":"A256GCM"}


# -- activities ----------------------------------------------------------------------------------
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
        "encryptionKeyUrl": f"kms://kms-us.wbx2.com/keys/{room.uuid}",
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


# -- the blueprint -------------------------------------------------------------------------------
def create_devices_blueprint(emulator: "Emulator") -> Blueprint:
    bp = Blueprint("webex_devices", __name__)
    store, mercury = emulator.store, emulator.mercury

    def links() -> dict[str, str]:
        return {
            "conversation": mercury.conversation_url,
            "hydra": emulator.api_url,
            "u2c": f"{emulator.url}/u2c/api/v1",
            "wdm": f"{emulator.url}/wdm/api/v1",
        }

    def device_json(device: "Device") -> dict[str, Any]:
        body: dict[str, Any] = {"url": f"{links()['wdm']}/devices/{device.uuid}",
                                "webSocketUrl": mercury.websocket_url(device)}
        body.update(device.fields)
        body.update({
            "userId": device.owner.uuid,
            "services": {f"{name}ServiceUrl": url for name, url in links().items()},
            "features": {"developer": [], "entitlement": [], "user": []},
            "creationTime": device.created,
            "modificationTime": device.modified,
            "intranetInactivityDuration": 1800,
        })
        return body

    def own_device(uuid: str) -> "Device":
        device = mercury.device(uuid, owner=caller(store))
        if device is None:
            fail(404, "Device not found.")
        return device

    def device_fields(required: bool) -> dict[str, str]:
        fields = body_json() if required or request.get_data() else {}
        missing = [f for f in DEVICE_FIELDS if required and not isinstance(fields.get(f), str)]
        if missing:
            fail(400, f"Missing or invalid device fields: {', '.join(missing)}.")
        return {f: fields[f] for f in DEVICE_FIELDS if isinstance(fields.get(f), str)}

    # -- U2C and WDM -----------------------------------------------------------------------------
    @bp.get("/u2c/api/v1/catalog")
    def catalog() -> Response:
        caller(store)
        if request.args.get("format") != "hostmap":
            fail(400, "Only format=hostmap is served.")
        host = urlsplit(emulator.url).netloc
        return json_response({
            "serviceLinks": links(),
            "hostCatalog": {host: [{"host": host, "ttl": -1, "priority": 5, "id": f"urn:TEAM:us-east-2_a:{name}"}
                                   for name in links()]},
            "format": "hostmap",
            "timestamp": str(int(time.time())),
        })

    @bp.get("/wdm/api/v1/devices")
    def devices_list() -> Response:
        return json_response({"devices": [device_json(d) for d in mercury.devices(caller(store))]})

    @bp.post("/wdm/api/v1/devices")
    def devices_create() -> Response:
        owner = caller(store)
        device = mercury.register(owner, device_fields(required=True), emulator.settings.device_limit)
        if device is None:
            fail(403, TOO_MANY_DEVICES)
        return json_response(device_json(device))

    @bp.get("/wdm/api/v1/devices/<uuid>")
    def devices_get(uuid: str) -> Response:
        return json_response(device_json(own_device(uuid)))

    @bp.put("/wdm/api/v1/devices/<uuid>")
    def devices_refresh(uuid: str) -> Response:
        device = own_device(uuid)
        mercury.refresh(device, device_fields(required=False))
        return json_response(device_json(device))

    @bp.delete("/wdm/api/v1/devices/<uuid>")
    def devices_delete(uuid: str) -> Response:
        mercury.remove(own_device(uuid).uuid)
        return Response(status=204)

    # -- the conversation service ----------------------------------------------------------------
    def visible_room(uuid: str) -> Room:
        try:
            room = store.room(uuid)
        except NotFound:
            room = None
        if room is None or caller(store) not in room.members:
            fail(404, "Conversation not found.")
        return room

    @bp.get("/conversation/api/v1/conversations/<uuid>")
    def conversation_get(uuid: str) -> Response:
        room = visible_room(uuid)
        return json_response({**target_json(room, mercury.conversation_url), "published": room.created,
                               "lastActivity": room.last_activity or room.created,
                               "displayName": ciphertext(), "encryptionKeyUrl": f"kms://kms-us.wbx2.com/keys/{uuid}"})

    @bp.get("/conversation/api/v1/messages/<uuid>")
    def conversation_message(uuid: str) -> Response:
        try:
            message: Optional[Message] = store.message(uuid)
        except NotFound:
            message = None
        if message is None or not message.visible_to(caller(store)):
            fail(404, "Activity not found.")
        return json_response({**message_activities(message, mercury.conversation_url)[0], "id": message.id})

    @bp.get("/conversation/api/v1/attachment/actions/<uuid>")
    def conversation_action(uuid: str) -> Response:
        try:
            action: Optional[AttachmentAction] = store.action(uuid)
        except NotFound:
            action = None
        if action is None or caller(store) not in action.message.room.members:
            fail(404, "Activity not found.")
        return json_response({**action_activity(action, mercury.conversation_url), "id": action.id})

    # -- control: break the websocket as Webex does ----------------------------------------------
    def any_device(uuid: str) -> "Device":
        device = mercury.device(uuid)
        if device is None:
            fail(404, "No such device.")
        return device

    def control_json(device: "Device") -> dict[str, Any]:
        return {**device_json(device), "id": device.uuid, "ownerId": device.owner.id, **mercury.status(device)}

    def live(uuid: str) -> Any:
        link = mercury.link(any_device(uuid))
        if link is None:
            fail(409, "The device has no live websocket.")
        return link

    @bp.get("/_emulator/devices")
    def control_devices() -> Response:
        return json_response({"items": [control_json(d) for d in mercury.devices()]})

    @bp.get("/_emulator/devices/acks")
    def control_acks() -> Response:
        return json_response({"items": mercury.acks()})

    @bp.post("/_emulator/devices/<uuid>/drop")
    def control_drop(uuid: str) -> Response:
        live(uuid).drop()
        return Response(status=204)

    @bp.post("/_emulator/devices/<uuid>/shutdown")
    def control_shutdown(uuid: str) -> Response:
        live(uuid).send({"type": "shutdown"})
        return Response(status=204)

    @bp.post("/_emulator/devices/<uuid>/close")
    def control_close(uuid: str) -> Response:
        fields = body_json()
        code, reason = fields.get("code"), fields.get("reason", "")
        if not isinstance(code, int) or not (code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000):
            fail(400, "code must be a close code a server may send (1000-1014 but 1004-1006, or 3000-4999).")
        live(uuid).close(code, str(reason))
        return Response(status=204)

    @bp.delete("/_emulator/devices/<uuid>")
    def control_delete(uuid: str) -> Response:
        mercury.remove(any_device(uuid).uuid)
        return Response(status=204)

    @bp.post("/_emulator/devices/<uuid>/skip")
    def control_skip(uuid: str) -> Response:
        count = body_json().get("count", 1)
        if not isinstance(count, int) or count < 1:
            fail(400, "count must be a positive integer.")
        device = any_device(uuid)
        mercury.skip(device, count)
        return json_response(control_json(device))

    return bp
