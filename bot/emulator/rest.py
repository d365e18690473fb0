"""The Webex REST API under ``/v1``: people, rooms, memberships, messages, webhooks, card actions."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from .http import body_json, caller, fail, json_response, raw_id
from .ids import decode_id
from .store import Message, NotFound, Person, Room, Store

MAX_TEXT_BYTES = 7439
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
WEBHOOK_RESOURCES = {"messages", "memberships", "rooms", "attachmentActions", "meetings", "recordings",
                     "meetingParticipants", "meetingTranscripts", "telephony_calls", "all"}
WEBHOOK_EVENTS = {"created", "updated", "deleted", "started", "ended", "joined", "left", "all"}


def paginate(items: list[dict[str, Any]], default_max: int) -> Response:
    """``{"items": [...]}`` one page at a time, the next page named in an RFC 5988 Link header."""
    try:
        size = int(request.args.get("max", default_max))
        offset = int(base64.urlsafe_b64decode(request.args.get("cursor", "MA==")).decode())
    except ValueError:
        fail(400, "Invalid value for the max or cursor parameter.")
    if size < 1:
        fail(400, "max must be a positive number.")
    if offset < 0:
        fail(400, "Invalid value for the cursor parameter.")
    response = json_response({"items": items[offset:offset + size]})
    if offset + size < len(items):
        query = {k: v for k, v in request.args.items() if k != "cursor"}
        query["cursor"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        response.headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return response


def create_rest_blueprint(store: Store) -> Blueprint:
    api = Blueprint("webex_rest", __name__, url_prefix="/v1")

    @api.before_request
    def authenticate() -> None:
        """401 before anything else is read or stored, as Webex answers a request without a valid token."""
        caller(store)

    def me() -> Person:
        return caller(store)

    def lookup(getter: Callable[[str], Any], rest_id: str, kind: str, what: str) -> Any:
        try:
            return getter(raw_id(rest_id, kind, what))
        except NotFound:
            fail(404, f"Could not find a {what} with the provided ID.")

    def room_for(rest_id: str) -> Room:
        room = lookup(store.room, rest_id, "ROOM", "room")
        if me() not in room.members:
            fail(404, "Could not find a room with the provided ID.")
        return room

    def message_for(rest_id: str) -> Message:
        message = lookup(store.message, rest_id, "MESSAGE", "message")
        if not message.visible_to(me()):
            fail(404, "Could not find a message with the provided ID.")
        return message

    # -- people ----------------------------------------------------------------------------------
    @api.get("/people/me")
    def people_me() -> Response:
        return json_response(me().to_json())

    @api.get("/people/<person_id>")
    def people_get(person_id: str) -> Response:
        return json_response(lookup(store.person, person_id, "PEOPLE", "person").to_json())

    @api.get("/people")
    def people_list() -> Response:
        email, name, ids = (request.args.get(k) for k in ("email", "displayName", "id"))
        if not (email or name or ids):
            fail(400, "Either email, displayName or id is required.")
        wanted = {d[1] for d in map(decode_id, (ids or "").split(",")) if d and d[0] == "PEOPLE"}
        with store.lock:
            found = [p for p in store.people.values()
                     if (not email or p.email.lower() == email.lower())
                     and (not name or p.display_name.lower().startswith(name.lower()))
                     and (not ids or p.uuid in wanted)]
        return paginate([p.to_json() for p in found], 100)

    # -- rooms and memberships -------------------------------------------------------------------
    @api.get("/rooms")
    def rooms_list() -> Response:
        kind = request.args.get("type")
        rooms = [r for r in store.rooms_of(me()) if kind in (None, r.type)]
        rooms.sort(key=lambda r: r.last_activity or r.created, reverse=True)
        return paginate([r.to_json() for r in rooms], 100)

    @api.get("/rooms/<room_id>")
    def rooms_get(room_id: str) -> Response:
        return json_response(room_for(room_id).to_json())

    @api.post("/rooms")
    def rooms_create() -> Response:
        title = body_json().get("title")
        if not isinstance(title, str) or not title.strip():
            fail(400, "title is required.")
        return json_response(store.add_room(title, "group", me(), []).to_json())

    @api.get("/memberships")
    def memberships_list() -> Response:
        person_id, email = request.args.get("personId"), request.args.get("personEmail")
        room_id = request.args.get("roomId")
        rooms = [room_for(room_id)] if room_id else store.rooms_of(me())
        found = [
            room.membership_json(person) for room in rooms for person in room.members
            if (room_id or person is me())
            and person_id in (None, person.id) and (email is None or email.lower() == person.email.lower())
        ]
        return paginate(found, 100)

    # -- messages --------------------------------------------------------------------------------
    @api.post("/messages")
    def messages_create() -> Response:
        if request.mimetype == "multipart/form-data":
            fields: dict[str, Any] = request.form.to_dict()
            upload = request.files.get("files")
            if upload is None or len(request.files.getlist("files")) != 1:
                fail(400, "A multipart message carries exactly one file in the 'files' field.")
            data = upload.read()
            files = [store.add_file(upload.filename or "file", upload.mimetype or "application/octet-stream", data)]
        else:
            fields = body_json()
            files = fields.get("files") or []
            if not isinstance(files, list) or len(files) > 1 or not all(isinstance(f, str) for f in files):
                fail(400, "files takes one public URL; upload a local file as multipart/form-data.")
        return json_response(post_message(fields, files).to_json())

    def post_message(fields: dict[str, Any], files: list[str]) -> Message:
        author = me()
        targets = [k for k in ("roomId", "toPersonId", "toPersonEmail") if fields.get(k)]
        if len(targets) != 1:
            fail(400, "Exactly one of roomId, toPersonId or toPersonEmail is required.")
        text, markdown = fields.get("text"), fields.get("markdown")
        for name, value in (("text", text), ("markdown", markdown)):
            if value is not None and (not isinstance(value, str) or len(value.encode()) > MAX_TEXT_BYTES):
                fail(400, f"{name} must be a string of at most {MAX_TEXT_BYTES} bytes.")
        attachments = fields.get("attachments") or []
        if not isinstance(attachments, list) or len(attachments) > 1 or any(
                not isinstance(a, dict) or a.get("contentType") != CARD_TYPE or not isinstance(a.get("content"), dict)
                for a in attachments):
            fail(400, f"attachments takes at most one {{'contentType': '{CARD_TYPE}', 'content': {{...}}}}.")
        if not (text or markdown or files or attachments):
            fail(400, "A message needs text, markdown, files or attachments.")
        if attachments and not (text or markdown):
            fail(400, "A message with a card needs text or markdown as a fallback for clients without cards.")
        room = destination_room(author, targets[0], fields[targets[0]])
        parent = None
        if fields.get("parentId"):
            parent = message_for(fields["parentId"])
            if parent.room is not room or parent.parent is not None:
                fail(400, "parentId must be a top-level message of the same room.")
        return store.add_message(author, room, text=text, markdown=markdown, files=files,
                                 attachments=attachments, parent=parent, mentions_in_text=False)

    def destination_room(author: Person, target: str, value: str) -> Room:
        if target == "roomId":
            return room_for(value)
        if target == "toPersonEmail":
            other = store.person_by_email(value)
        else:
            try:
                other = store.person(raw_id(value, "PEOPLE", "person"))
            except NotFound:
                other = None
        if other is None:
            fail(404, "Could not find the person to send the message to.")
        if other is author:
            fail(400, "A direct message needs someone other than the sender.")
        return store.direct_room(author, other)

    @api.get("/messages/<message_id>")
    def messages_get(message_id: str) -> Response:
        return json_response(message_for(message_id).to_json())

    @api.delete("/messages/<message_id>")
    def messages_delete(message_id: str) -> Response:
        message = message_for(message_id)
        if message.author is not me():
            fail(403, "Only the author of a message can delete it.")
        store.delete_message(message)
        return Response(status=204)

    @api.get("/messages")
    def messages_list() -> Response:
        room_id = request.args.get("roomId")
        if not room_id:
            fail(400, "roomId is required.")
        room = room_for(room_id)
        caller_person = me()
        mentioned = request.args.get("mentionedPeople")
        if mentioned not in (None, "me", caller_person.id):
            fail(400, "mentionedPeople takes only 'me' or the caller's own person id.")
        if caller_person.type == "bot" and room.type == "group" and not mentioned:
            fail(403, "A bot lists the messages of a group room only with mentionedPeople=me.")
        messages = [m for m in store.room_messages(room) if m.visible_to(caller_person)]
        if mentioned:
            messages = [m for m in messages if m.mentions(caller_person)]
        if request.args.get("parentId"):
            parent = message_for(request.args["parentId"])
            messages = [m for m in messages if m.parent is parent]
        if request.args.get("before"):
            before = parse_time(request.args["before"])
            messages = [m for m in messages if parse_time(m.created) < before]
        if request.args.get("beforeMessage"):
            anchor = message_for(request.args["beforeMessage"])
            messages = [m for m in messages if m.seq < anchor.seq]
        return paginate([m.to_json() for m in messages], 50)

    @api.get("/contents/<content_id>")
    def contents_get(content_id: str) -> Response:
        stored = lookup(store.file, content_id, "CONTENT", "file")
        return Response(stored.data, content_type=stored.content_type, headers={
            "Content-Disposition": f'attachment; filename="{stored.name}"'})

    # -- webhooks --------------------------------------------------------------------------------
    def webhook_for(rest_id: str) -> Any:
        try:
            return store.webhook(raw_id(rest_id, "WEBHOOK", "webhook"), owner=me())
        except NotFound:
            fail(404, "Could not find a webhook with the provided ID.")

    @api.post("/webhooks")
    def webhooks_create() -> Response:
        fields = body_json()
        for name in ("name", "targetUrl", "resource", "event"):
            if not isinstance(fields.get(name), str) or not fields[name]:
                fail(400, f"{name} is required.")
        if not fields["targetUrl"].startswith(("http://", "https://")):
            fail(400, "targetUrl must be an http or https URL.")
        if fields["resource"] not in WEBHOOK_RESOURCES or fields["event"] not in WEBHOOK_EVENTS:
            fail(400, "Unknown resource or event.")
        hook = store.add_webhook(me(), name=fields["name"], target_url=fields["targetUrl"],
                                 resource=fields["resource"], event=fields["event"],
                                 filter=fields.get("filter"), secret=fields.get("secret"))
        return json_response(hook.to_json())

    @api.get("/webhooks")
    def webhooks_list() -> Response:
        return paginate([h.to_json() for h in store.webhooks_of(me())], 100)

    @api.get("/webhooks/<webhook_id>")
    def webhooks_get(webhook_id: str) -> Response:
        return json_response(webhook_for(webhook_id).to_json())

    @api.put("/webhooks/<webhook_id>")
    def webhooks_update(webhook_id: str) -> Response:
        hook = webhook_for(webhook_id)
        fields = body_json()
        for name in ("name", "targetUrl"):
            if not isinstance(fields.get(name), str) or not fields[name]:
                fail(400, f"{name} is required.")
        status = fields.get("status")
        if status not in (None, "active"):
            fail(400, "status can only be set to 'active'.")
        with store.lock:
            hook.name, hook.target_url = fields["name"], fields["targetUrl"]
            if "secret" in fields:
                hook.secret = fields["secret"]
            if status == "active":
                hook.status, hook.consecutive_failures = "active", 0
        return json_response(hook.to_json())

    @api.delete("/webhooks/<webhook_id>")
    def webhooks_delete(webhook_id: str) -> Response:
        store.delete_webhook(webhook_for(webhook_id))
        return Response(status=204)

    # -- attachment actions ----------------------------------------------------------------------
    @api.post("/attachment/actions")
    def actions_create() -> Response:
        fields = body_json()
        if fields.get("type") != "submit" or not isinstance(fields.get("inputs"), dict):
            fail(400, "type 'submit', messageId and inputs are required.")
        message = message_for(str(fields.get("messageId", "")))
        if not message.attachments:
            fail(400, "The message has no card to submit.")
        return json_response(store.add_action(me(), message, fields["inputs"]).to_json(), status=202)

    @api.get("/attachment/actions/<action_id>")
    def actions_get(action_id: str) -> Response:
        action = lookup(store.action, action_id, "ATTACHMENT_ACTION", "attachment action")
        if me() not in action.message.room.members:
            fail(404, "Could not find a attachment action with the provided ID.")
        return json_response(action.to_json())

    return api


def parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(400, f"Invalid timestamp: {value}")
