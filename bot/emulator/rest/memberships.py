"""``/v1/memberships``: who is in the caller's spaces; adding, reading and removing members.

A membership id is Webex's ``MEMBERSHIP/<personUuid>:<roomUuid>``; the caller sees only memberships
of rooms they are in (404 beyond, as Webex answers).
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response, raw_id
from ..models import Person, Room
from ..store import NotFound, Store
from .common import Visible, paginate

MISSING = "Could not find a membership with the provided ID."


def create_memberships_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("memberships", __name__)

    def membership(rest_id: str) -> tuple[Room, Person]:
        """The room and member a membership id names, if the caller is in that room; else 404."""
        person_uuid, _, room_uuid = raw_id(rest_id, "MEMBERSHIP", "membership").partition(":")
        try:
            room, person = store.room(room_uuid), store.person(person_uuid)
        except NotFound:
            fail(404, MISSING)
        if person not in room.members or visible.me() not in room.members:
            fail(404, MISSING)
        return room, person

    def person_named(fields: dict[str, object]) -> Person:
        if isinstance(fields.get("personEmail"), str):
            found = visible.person(email=str(fields["personEmail"]))
        elif isinstance(fields.get("personId"), str):
            found = visible.person(person_id=str(fields["personId"]))
        else:
            fail(400, "personId or personEmail is required.")
        if found is None:
            fail(404, "Could not find the person to add.")
        return found

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
        person = person_named(fields)
        if person in room.members:
            fail(409, "The person is already a member of the room.")
        store.add_member(room, person)
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
        store.remove_member(room, person)
        return Response(status=204)

    return bp
