"""``/v1/memberships``: who is in the caller's spaces; adding, reading, changing and removing members.

A membership id is Webex's ``MEMBERSHIP/<personUuid>:<roomUuid>``; the caller sees only memberships
of rooms they are in (404 beyond, as Webex answers). Only a moderator makes others moderators, and
only the member hides a room from themselves (``isRoomHidden``). The spec requires both fields of an
update, yet webexpythonsdk sends ``isModerator`` alone, so either one is enough here.
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..models import Person, Room
from ..store import Store
from .common import Visible, paginate


def create_memberships_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("memberships", __name__)

    def membership(rest_id: str) -> tuple[Room, Person]:
        return visible.member_of(rest_id, "MEMBERSHIP", "membership", store.room)

    @bp.get("/memberships")
    def memberships_list() -> Response:
        person_id, email = request.args.get("personId"), request.args.get("personEmail")
        room_id = request.args.get("roomId")
        me = visible.me()
        rooms = [visible.room(room_id)] if room_id else store.rooms_of(me)
        found = [
            room.membership_json(person) for room in rooms for person in room.members
            if (room_id or person is me)
            and person_id in (None, person.id) and (email is None or email.lower() == person.email.lower())
        ]
        return paginate(found, 100)

    @bp.post("/memberships")
    def memberships_create() -> Response:
        fields = body_json()
        room = visible.room(str(fields.get("roomId", "")))
        if room.type == "direct":
            fail(400, "Nobody can be added to a direct room.")
        person = visible.person_in(fields)
        if person in room.members:
            fail(409, "The person is already a member of the room.")
        store.add_member(room, person, actor=visible.me())
        return json_response(room.membership_json(person))

    @bp.put("/memberships/<membership_id>")
    def memberships_update(membership_id: str) -> Response:
        room, person = membership(membership_id)
        fields = body_json()
        changes = {name: fields.get(name) for name in ("isModerator", "isRoomHidden") if name in fields}
        if not changes or not all(isinstance(value, bool) for value in changes.values()):
            fail(400, "isModerator or isRoomHidden is required, as true or false.")
        me = visible.me()
        moderator, hidden = changes.get("isModerator"), changes.get("isRoomHidden")
        if moderator is not None and moderator != (person.uuid in room.moderators):
            if room.type == "direct":
                fail(400, "A direct room has no moderators.")
            if me.uuid not in room.moderators:
                fail(403, "Only a moderator of the room can change who moderates it.")
        if hidden is not None and person is not me:
            fail(403, "Only the member can hide a room from themselves.")
        store.update_membership(room, person, actor=me, moderator=moderator, hidden=hidden)
        return json_response(room.membership_json(person))

    @bp.get("/memberships/<membership_id>")
    def memberships_get(membership_id: str) -> Response:
        room, person = membership(membership_id)
        return json_response(room.membership_json(person))

    @bp.delete("/memberships/<membership_id>")
    def memberships_delete(membership_id: str) -> Response:
        room, person = membership(membership_id)
        if room.type == "direct":
            fail(403, "The memberships of a direct room cannot be deleted.")
        if room.team is not None and room is store.general_room(room.team) and room.team.moderators == {person.uuid}:
            fail(409, "The last moderator of a team's General space cannot leave; promote another first.")
        store.remove_member(room, person, actor=visible.me())
        return Response(status=204)

    return bp
