"""``/v1/rooms``: the caller's spaces, new group spaces (in a team or not), their changes and deletion,
and the Webex meeting each space has.

Who may do what follows the spec: a locked space is changed only by its moderators; a space is
deleted by its creator or a moderator, and anyone else who deletes it leaves it instead ("as a
security measure"). A team's General space goes only with its team (assumed: 403). A direct space is
deleted by either member (assumed), and only a compliance officer changes one (to make it read-only).
"""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..ids import timestamp
from ..models import Room
from ..store import Store
from .common import Visible, paginate

FLAGS = ("isLocked", "isPublic", "isAnnouncementOnly", "isReadOnly")
TEXTS = ("title", "description", "classificationId", "teamId")
MEETING_SITE = "emulator.webex.com"


def meeting_info(room: Room) -> dict[str, Any]:
    """A room's meeting, stable for the room: its number is drawn from the room's uuid."""
    number = str(10 ** 8 + uuid.UUID(room.uuid).int % (9 * 10 ** 8))
    return {
        "roomId": room.id,
        "meetingLink": f"https://{MEETING_SITE}/m/{room.uuid}",
        "sipAddress": f"{number}@{MEETING_SITE}",
        "meetingNumber": number,
        "meetingId": uuid.UUID(room.uuid).hex,
        "callInTollFreeNumber": "+1-866-432-9903",
        "callInTollNumber": "+1-408-525-6800",
    }


def room_update_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``PUT /rooms/{id}``, typed as the spec says; 400 for a wrong one."""
    if not isinstance(fields.get("title"), str) or not fields["title"].strip():
        fail(400, "title is required.")
    for name in FLAGS:
        if name in fields and not isinstance(fields[name], bool):
            fail(400, f"{name} must be true or false.")
    for name in TEXTS:
        if name in fields and not isinstance(fields[name], str):
            fail(400, f"{name} must be a string.")
    return fields


def create_rooms_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("rooms", __name__)

    @bp.get("/rooms")
    def rooms_list() -> Response:
        kind = request.args.get("type")
        team = visible.team(request.args["teamId"]) if request.args.get("teamId") else None
        rooms = [r for r in store.rooms_of(visible.me()) if kind in (None, r.type) and team in (None, r.team)]
        rooms.sort(key=lambda r: r.last_activity or r.created, reverse=True)
        return paginate([r.to_json() for r in rooms], 100)

    @bp.get("/rooms/<room_id>")
    def rooms_get(room_id: str) -> Response:
        return json_response(visible.room(room_id).to_json())

    @bp.get("/rooms/<room_id>/meetingInfo")
    def rooms_meeting_info(room_id: str) -> Response:
        return json_response(meeting_info(visible.room(room_id)))

    @bp.post("/rooms")
    def rooms_create() -> Response:
        fields = body_json()
        title = fields.get("title")
        if not isinstance(title, str) or not title.strip():
            fail(400, "title is required.")
        team = visible.team(str(fields["teamId"])) if fields.get("teamId") else None
        return json_response(store.add_room(title, "group", visible.me(), [], team=team).to_json())

    @bp.put("/rooms/<room_id>")
    def rooms_update(room_id: str) -> Response:
        room, me = visible.room(room_id), visible.me()
        fields = room_update_fields(body_json())
        if room.type == "direct" and not visible.compliance_officer():
            fail(403, "A direct room cannot be changed.")
        if room.is_locked and me.uuid not in room.moderators:
            fail(403, "Only a moderator can change a locked room.")
        if fields.get("isReadOnly") and not visible.compliance_officer():
            fail(403, "Only a compliance officer can make a room read-only.")
        locked = fields.get("isLocked", room.is_locked)
        if fields.get("isAnnouncementOnly") and not locked:
            fail(400, "A room can only be put into announcement mode when it is locked.")
        description = fields.get("description", room.options.get("description", "")).strip()
        if fields.get("isPublic") and not description:
            fail(400, "A public room needs a description.")
        team = visible.team(fields["teamId"]) if fields.get("teamId") else None
        if team is not None and room.team not in (None, team):
            fail(400, "Only unowned spaces can be assigned to a team; assignment between teams is unsupported.")
        if team is not None and any(m.uuid in room.moderators and m not in team.members for m in room.members):
            fail(400, "Every moderator of the space must be a member of the team.")
        options = {name: fields[name] for name in ("isPublic", "isAnnouncementOnly", "isReadOnly", "classificationId")
                   if name in fields}
        if "description" in fields:
            options["description"] = description
        if fields.get("isPublic") and not room.options.get("isPublic"):
            options["madePublic"] = timestamp()
        store.update_room(room, actor=me, title=fields["title"], locked=fields.get("isLocked"), team=team,
                          options=options)
        return json_response(room.to_json())

    @bp.delete("/rooms/<room_id>")
    def rooms_delete(room_id: str) -> Response:
        room, me = visible.room(room_id), visible.me()
        if room.team is not None and room is store.general_room(room.team):
            fail(403, "A team's General space is deleted only with its team.")
        if me is room.creator or me.uuid in room.moderators or room.type == "direct":
            store.delete_room(room, actor=me)
        else:
            store.remove_member(room, me, actor=me)
        return Response(status=204)

    return bp
