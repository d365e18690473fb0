"""``/v1/messages`` and ``/v1/contents``: posting, reading, listing and deleting messages, and their files.

Webex's rules for bots hold here: in a group space a bot sees only its own messages and those that
mention it, and lists the space's messages only with ``mentionedPeople=me``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from ..http import body_json, fail, file_response, json_response, lookup, raw_id
from ..models import Message, Person, Room
from ..store import NotFound, Store
from .common import Visible, paginate

MAX_TEXT_BYTES = 7439
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(400, f"Invalid timestamp: {value}")


def create_messages_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("messages", __name__)

    @bp.post("/messages")
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
        author = visible.me()
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
            parent = visible.message(fields["parentId"])
            if parent.room is not room or parent.parent is not None:
                fail(400, "parentId must be a top-level message of the same room.")
        return store.add_message(author, room, text=text, markdown=markdown, files=files,
                                 attachments=attachments, parent=parent, mentions_in_text=False)

    def destination_room(author: Person, target: str, value: str) -> Room:
        if target == "roomId":
            return visible.room(value)
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

    @bp.get("/messages/<message_id>")
    def messages_get(message_id: str) -> Response:
        return json_response(visible.message(message_id).to_json())

    @bp.delete("/messages/<message_id>")
    def messages_delete(message_id: str) -> Response:
        message = visible.message(message_id)
        if message.author is not visible.me():
            fail(403, "Only the author of a message can delete it.")
        store.delete_message(message)
        return Response(status=204)

    @bp.get("/messages")
    def messages_list() -> Response:
        room_id = request.args.get("roomId")
        if not room_id:
            fail(400, "roomId is required.")
        room = visible.room(room_id)
        me = visible.me()
        mentioned = request.args.get("mentionedPeople")
        if mentioned not in (None, "me", me.id):
            fail(400, "mentionedPeople takes only 'me' or the caller's own person id.")
        if me.type == "bot" and room.type == "group" and not mentioned:
            fail(403, "A bot lists the messages of a group room only with mentionedPeople=me.")
        messages = [m for m in store.room_messages(room) if m.visible_to(me)]
        if mentioned:
            messages = [m for m in messages if m.mentions(me)]
        if request.args.get("parentId"):
            parent = visible.message(request.args["parentId"])
            messages = [m for m in messages if m.parent is parent]
        if request.args.get("before"):
            before = parse_time(request.args["before"])
            messages = [m for m in messages if parse_time(m.created) < before]
        if request.args.get("beforeMessage"):
            anchor = visible.message(request.args["beforeMessage"])
            messages = [m for m in messages if m.seq < anchor.seq]
        return paginate([m.to_json() for m in messages], 50)

    @bp.get("/contents/<content_id>")
    def contents_get(content_id: str) -> Response:
        return file_response(lookup(store.file, content_id, "CONTENT", "file"))

    return bp
