"""The control API under ``/_emulator``: what tests and the sandbox do that no Webex API offers.

It creates people, bots and rooms, posts as a person (mentions included), submits cards, reads every
message and delivery, and injects faults. It needs no token: the emulator listens on loopback only.
"""
from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .chat import CHAT_ROUTES
from .devices import DEVICE_ROUTES
from .http import body_json, fail, json_response, raw_id
from .store import NotFound, Person, Room

if TYPE_CHECKING:
    from .server import Emulator

ROUTES = {
    "POST /_emulator/people": "create a person or bot {displayName, email?, type?: person|bot} -> person + token",
    "GET /_emulator/people": "every person and bot, with tokens",
    "POST /_emulator/rooms": "create a room {title, type: group|direct, creatorId, memberIds[], cluster?}",
    "GET /_emulator/rooms": "every room",
    "POST /_emulator/messages": "post as a person {personId, roomId|toPersonId, text|markdown, parentId?, "
                                "file?: {name, contentType, base64}, attachments?}; <@personId:ID> mentions",
    "GET /_emulator/messages": "every message, oldest first {roomId?, personId?}",
    "GET /_emulator/contents/<id>": "a message's file without a token (the chat page links these)",
    "POST /_emulator/attachment-actions": "submit a card as a person {personId, messageId, inputs}",
    "GET /_emulator/deliveries": "every webhook delivery with status and latency",
    "POST /_emulator/deliveries/wait": "block until no delivery is under way {timeout?}",
    "GET /_emulator/calls": "every API call {personId?}; DELETE clears",
    "POST /_emulator/faults": "inject {kind: rate_limit|server_error|latency, count?, path?, method?, "
                              "status?, retryAfter?, seconds?}",
    "GET /_emulator/faults": "the active faults; DELETE clears them",
    "GET /_emulator/settings": "the emulator settings; PUT changes them",
    "GET /_emulator/webhooks": "every webhook of every owner",
    "POST /_emulator/webhooks/<id>/deactivate": "switch a webhook to inactive as Webex does",
    "DELETE /_emulator/webhooks/<id>": "delete a webhook behind its owner's back",
}


def create_control_blueprint(emulator: "Emulator") -> Blueprint:
    control = Blueprint("emulator_control", __name__, url_prefix="/_emulator")
    store = emulator.store

    def person(rest_id: Any) -> Person:
        try:
            return store.person(raw_id(str(rest_id or ""), "PEOPLE", "person"))
        except NotFound:
            fail(404, "Could not find a person with the provided ID.")

    def room(rest_id: Any) -> Room:
        try:
            return store.room(raw_id(str(rest_id or ""), "ROOM", "room"))
        except NotFound:
            fail(404, "Could not find a room with the provided ID.")

    def with_token(who: Person) -> dict[str, Any]:
        return {**who.to_json(), "token": who.token}

    @control.get("")
    def index() -> Response:
        return json_response({"routes": {**ROUTES, **DEVICE_ROUTES, **CHAT_ROUTES}, "apiUrl": emulator.api_url, "u2cUrl": emulator.u2c_url})

    @control.post("/people")
    def people_create() -> Response:
        fields = body_json()
        kind = fields.get("type", "person")
        if not fields.get("displayName") or kind not in ("person", "bot", "appuser"):
            fail(400, "displayName is required; type is person, bot or appuser.")
        if fields.get("email") and store.person_by_email(fields["email"]):
            fail(409, f"{fields['email']} exists already.")
        return json_response(with_token(store.add_person(fields["displayName"], fields.get("email"), kind)))

    @control.get("/people")
    def people_list() -> Response:
        with store.lock:
            return json_response({"items": [with_token(p) for p in store.people.values()]})

    @control.post("/rooms")
    def rooms_create() -> Response:
        fields = body_json()
        creator = person(fields.get("creatorId"))
        members = [person(m) for m in fields.get("memberIds", [])]
        if fields.get("type", "group") == "direct":
            if len(members) != 1:
                fail(400, "A direct room has the creator and exactly one member.")
            return json_response(store.direct_room(creator, members[0]).to_json())
        if not fields.get("title"):
            fail(400, "title is required.")
        made = store.add_room(fields["title"], "group", creator, members, fields.get("cluster", "us"))
        return json_response(made.to_json())

    @control.get("/rooms")
    def rooms_list() -> Response:
        with store.lock:
            rooms = list(store.rooms.values())
        return json_response({"items": [{**r.to_json(), "memberIds": [m.id for m in r.members]} for r in rooms]})

    @control.post("/messages")
    def messages_create() -> Response:
        fields = body_json()
        author = person(fields.get("personId"))
        if fields.get("toPersonId"):
            target = store.direct_room(author, person(fields["toPersonId"]))
        else:
            target = room(fields.get("roomId"))
        if author not in target.members:
            fail(403, "The author is not a member of that room.")
        files = []
        if fields.get("file"):
            upload = fields["file"]
            try:
                data = base64.b64decode(upload.get("base64", ""), validate=True)
            except (binascii.Error, AttributeError):
                fail(400, "file.base64 must be base64.")
            files.append(store.add_file(upload.get("name", "file"), upload.get("contentType",
                                        "application/octet-stream"), data))
        parent = None
        if fields.get("parentId"):
            try:
                parent = store.message(raw_id(fields["parentId"], "MESSAGE", "message"))
            except NotFound:
                fail(404, "Could not find a message with the provided ID.")
            if parent.room is not target:
                fail(400, "parentId must be a message of the same room.")
            parent = parent.parent or parent
        if not (fields.get("text") or fields.get("markdown") or files):
            fail(400, "text, markdown or file is required.")
        message = store.add_message(author, target, text=fields.get("text"), markdown=fields.get("markdown"),
                                    files=files, attachments=fields.get("attachments"), parent=parent)
        return json_response(message.to_json())

    @control.get("/messages")
    def messages_list() -> Response:
        with store.lock:
            messages = sorted(store.messages.values(), key=lambda m: m.seq)
        room_id, person_id = request.args.get("roomId"), request.args.get("personId")
        return json_response({"items": [
            m.to_json() for m in messages
            if room_id in (None, m.room.id) and person_id in (None, m.author.id)]})

    @control.get("/contents/<content_id>")
    def contents_get(content_id: str) -> Response:
        try:
            stored = store.file(raw_id(content_id, "CONTENT", "file"))
        except NotFound:
            fail(404, "Could not find a file with the provided ID.")
        return Response(stored.data, content_type=stored.content_type, headers={
            "Content-Disposition": f'attachment; filename="{stored.name}"'})

    @control.post("/attachment-actions")
    def actions_create() -> Response:
        fields = body_json()
        actor = person(fields.get("personId"))
        try:
            message = store.message(raw_id(str(fields.get("messageId", "")), "MESSAGE", "message"))
        except NotFound:
            fail(404, "Could not find a message with the provided ID.")
        if not message.attachments or actor not in message.room.members:
            fail(400, "That message has no card this person can submit.")
        return json_response(store.add_action(actor, message, fields.get("inputs") or {}).to_json(), 202)

    @control.get("/deliveries")
    def deliveries() -> Response:
        return json_response({"items": emulator.deliverer.records()})

    @control.post("/deliveries/wait")
    def deliveries_wait() -> Response:
        timeout = float((request.get_json(silent=True) or {}).get("timeout", 10))
        return json_response({"idle": emulator.deliverer.wait_idle(timeout)})

    @control.get("/calls")
    def calls() -> Response:
        return json_response({"items": emulator.traffic.calls(request.args.get("personId"))})

    @control.delete("/calls")
    def calls_clear() -> Response:
        emulator.traffic.clear()
        return Response(status=204)

    @control.post("/faults")
    def faults_add() -> Response:
        try:
            emulator.faults.add(body_json())
        except (ValueError, TypeError) as exc:
            fail(400, str(exc))
        return json_response({"items": emulator.faults.list()}, 201)

    @control.get("/faults")
    def faults_list() -> Response:
        return json_response({"items": emulator.faults.list()})

    @control.delete("/faults")
    def faults_clear() -> Response:
        emulator.faults.clear()
        return Response(status=204)

    @control.get("/settings")
    def settings_get() -> Response:
        return json_response(emulator.settings.to_json())

    @control.put("/settings")
    def settings_put() -> Response:
        try:
            emulator.settings.update(body_json())
        except (ValueError, TypeError) as exc:
            fail(400, str(exc))
        return json_response(emulator.settings.to_json())

    def webhook(rest_id: str) -> Any:
        try:
            return store.webhook(raw_id(rest_id, "WEBHOOK", "webhook"))
        except NotFound:
            fail(404, "Could not find a webhook with the provided ID.")

    @control.get("/webhooks")
    def webhooks_list() -> Response:
        with store.lock:
            hooks = list(store.webhooks.values())
        return json_response({"items": [h.to_json() for h in hooks]})

    @control.post("/webhooks/<webhook_id>/deactivate")
    def webhooks_deactivate(webhook_id: str) -> Response:
        hook = webhook(webhook_id)
        with store.lock:
            hook.status = "inactive"
        return json_response(hook.to_json())

    @control.delete("/webhooks/<webhook_id>")
    def webhooks_delete(webhook_id: str) -> Response:
        store.delete_webhook(webhook(webhook_id))
        return Response(status=204)

    return control
