"""Control of what people say: posting as anyone (mentions, threads, files, cards) and submitting cards.

A person's own chat client reads mentions from the text too, which Webex's REST API does not; so
posts made here mention people the way a person's would.
"""
from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, request

from ..http import body_json, fail, file_response, json_response, lookup
from ..store import Store
from .common import named_person, named_room

ROUTES = {
    "POST /_emulator/messages": "post as a person {personId, roomId|toPersonId, text|markdown, parentId?, "
                                "file?: {name, contentType, base64}, attachments?}; <@personId:ID> mentions",
    "GET /_emulator/messages": "every message, oldest first {roomId?, personId?}",
    "GET /_emulator/contents/<id>": "a message's file without a token (the chat page links these)",
    "POST /_emulator/attachment-actions": "submit a card as a person {personId, messageId, inputs}",
}


def create_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("messages", __name__)

    @bp.post("/messages")
    def messages_create() -> Response:
        fields = body_json()
        author = named_person(store, fields.get("personId"))
        if fields.get("toPersonId"):
            target = store.direct_room(author, named_person(store, fields["toPersonId"]))
        else:
            target = named_room(store, fields.get("roomId"))
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
            parent = lookup(store.message, fields["parentId"], "MESSAGE", "message")
            if parent.room is not target:
                fail(400, "parentId must be a message of the same room.")
            parent = parent.parent or parent
        if not (fields.get("text") or fields.get("markdown") or files):
            fail(400, "text, markdown or file is required.")
        message = store.add_message(author, target, text=fields.get("text"), markdown=fields.get("markdown"),
                                    files=files, attachments=fields.get("attachments"), parent=parent)
        return json_response(message.to_json())

    @bp.get("/messages")
    def messages_list() -> Response:
        messages = store.all_messages()
        room_id, person_id = request.args.get("roomId"), request.args.get("personId")
        return json_response({"items": [
            m.to_json() for m in messages
            if room_id in (None, m.room.id) and person_id in (None, m.author.id)]})

    @bp.get("/contents/<content_id>")
    def contents_get(content_id: str) -> Response:
        return file_response(lookup(store.file, content_id, "CONTENT", "file"))

    @bp.post("/attachment-actions")
    def actions_create() -> Response:
        fields = body_json()
        actor = named_person(store, fields.get("personId"))
        message = lookup(store.message, str(fields.get("messageId", "")), "MESSAGE", "message")
        if not message.attachments or actor not in message.room.members:
            fail(400, "That message has no card this person can submit.")
        return json_response(store.add_action(actor, message, fields.get("inputs") or {}).to_json(), 202)

    return bp
