"""``/v1/messages``: posting, reading, editing, listing and deleting messages (their files: ``contents.py``).

Webex's rules for bots hold here: in a group space a bot sees only its own messages and those that
mention it, and lists the space's messages only with ``mentionedPeople=me``. A card may come alone,
without text or markdown, as Webex takes it; such a message then shows no ``text`` (nor ``html``). A
card newer than Webex renders (``settings.card_max_version``) is refused.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..models import Message, Person, Room
from ..settings import Settings
from ..store import Store
from .common import Visible, paginate, parse_time
from .contents import fetch_file, keep_upload

VERSION = re.compile(r"\d+(\.\d+)*")
MAX_TEXT_BYTES = 7439
MAX_EDITS = 10  # the spec: "Update a message you have posted not more than 10 times"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def message_body(fields: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """``text`` and ``markdown`` of a post or an edit; 400 when either is no string or too long."""
    text, markdown = fields.get("text"), fields.get("markdown")
    for name, value in (("text", text), ("markdown", markdown)):
        if value is not None and (not isinstance(value, str) or len(value.encode()) > MAX_TEXT_BYTES):
            fail(400, f"{name} must be a string of at most {MAX_TEXT_BYTES} bytes.")
    return text, markdown


def version_of(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def check_card(content: dict[str, Any], max_version: str) -> None:
    """400 unless ``content`` is an Adaptive Card of a version Webex renders (a card without one is
    taken, as the emulator always took it)."""
    version = content.get("version", max_version)
    if content.get("type") != "AdaptiveCard" or not isinstance(version, str) or not VERSION.fullmatch(version):
        fail(400, "An attachment's content must be {'type': 'AdaptiveCard', 'version': '<major>.<minor>', ...}.")
    if version_of(version) > version_of(max_version):
        fail(400, f"Adaptive Card version {version} is not supported: Webex renders cards up to version "
                  f"{max_version}.")


def create_messages_blueprint(store: Store, visible: Visible, settings: Settings) -> Blueprint:
    bp = Blueprint("messages", __name__)

    @bp.post("/messages")
    def messages_create() -> Response:
        if request.mimetype == "multipart/form-data":
            fields: dict[str, Any] = request.form.to_dict()
            upload = request.files.get("files")
            if upload is None or len(request.files.getlist("files")) != 1:
                fail(400, "A multipart message carries exactly one file in the 'files' field.")
            files = [keep_upload(store, upload)]
        else:
            fields = body_json()
            urls = fields.get("files") or []
            if not isinstance(urls, list) or len(urls) > 1 or not all(isinstance(f, str) for f in urls):
                fail(400, "files takes one public URL; upload a local file as multipart/form-data.")
            files = [fetch_file(store, url) for url in urls]
        return json_response(post_message(fields, files).to_json())

    def post_message(fields: dict[str, Any], files: list[str]) -> Message:
        author = visible.me()
        targets = [k for k in ("roomId", "toPersonId", "toPersonEmail") if fields.get(k)]
        if len(targets) != 1:
            fail(400, "Exactly one of roomId, toPersonId or toPersonEmail is required.")
        text, markdown = message_body(fields)
        attachments = fields.get("attachments") or []
        if not isinstance(attachments, list) or len(attachments) > 1 or any(
                not isinstance(a, dict) or a.get("contentType") != CARD_TYPE or not isinstance(a.get("content"), dict)
                for a in attachments):
            fail(400, f"attachments takes at most one {{'contentType': '{CARD_TYPE}', 'content': {{...}}}}.")
        for attachment in attachments:
            check_card(attachment["content"], settings.card_max_version)
        if not (text or markdown or files or attachments):
            fail(400, "A message needs text, markdown, files or attachments.")
        room = destination_room(author, targets[0], fields[targets[0]])
        parent = thread_root(fields["parentId"], room) if fields.get("parentId") else None
        return store.add_message(author, room, text=text, markdown=markdown, files=files,
                                 attachments=attachments, parent=parent, mentions_in_text=False)

    def thread_root(parent_id: str, room: Room) -> Message:
        """The message a reply goes under: threads are one level deep, so a reply named as the parent is
        taken as its thread's root or refused, as ``settings.reply_parent_to_root`` says."""
        parent = visible.message(parent_id)
        if parent.parent is not None and settings.reply_parent_to_root:
            parent = parent.parent
        if parent.room is not room:
            fail(400, "parentId must be a message of the same room.")
        if parent.parent is not None:
            fail(400, "Replies to replies are not allowed: parentId must be the first message of the thread.")
        return parent

    def person_named(by_email: bool, value: str) -> Person:
        """The person a direct message goes to or comes from; 404 when nobody is."""
        found = visible.person(email=value) if by_email else visible.person(person_id=value)
        if found is None:
            fail(404, "Could not find a person with the provided ID or email.")
        return found

    def destination_room(author: Person, target: str, value: str) -> Room:
        if target == "roomId":
            return visible.room(value)
        other = person_named(target == "toPersonEmail", value)
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
        store.delete_message(message, actor=visible.me())
        return Response(status=204)

    @bp.put("/messages/<message_id>")
    def messages_edit(message_id: str) -> Response:
        message = visible.message(message_id)
        fields = body_json()
        if message.author is not visible.me():
            fail(403, "Only the author of a message can edit it.")
        if not fields.get("roomId") or visible.room(fields["roomId"]) is not message.room:
            fail(400, "roomId must be the room of the message.")
        text, markdown = message_body(fields)
        if not (text or markdown):
            fail(400, "An edit needs text or markdown.")
        if markdown and "html" in fields:
            fail(400, "An edit with markdown must not carry html.")
        if message.files or message.attachments:
            fail(400, "Editing a message with files or attachments is not currently supported.")
        if message.edits >= MAX_EDITS:
            fail(400, f"The edit limit of {MAX_EDITS} has been reached for this message.")
        store.edit_message(message, text=text, markdown=markdown)
        return json_response(message.to_json())

    @bp.get("/messages/direct")
    def messages_direct() -> Response:
        """The messages of the caller's 1:1 room with a person; none when they have no such room yet."""
        given = [k for k in ("personId", "personEmail") if request.args.get(k)]
        if len(given) != 1:
            fail(400, "Exactly one of personId or personEmail is required.")
        me, other = visible.me(), person_named(given[0] == "personEmail", request.args[given[0]])
        rooms = [r for r in store.rooms_of(me) if r.type == "direct" and other in r.members and other is not me]
        messages = [m for r in rooms for m in store.room_messages(r) if m.visible_to(me)]
        if request.args.get("parentId"):
            parent = visible.message(request.args["parentId"])
            messages = [m for m in messages if m.parent is parent]
        return paginate([m.to_json() for m in messages], 50)

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

    return bp
