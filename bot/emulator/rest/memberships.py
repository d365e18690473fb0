"""``/v1/memberships``: who is in the caller's spaces (all members of one room, or the caller's own)."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..store import Store
from .common import Visible, paginate


def create_memberships_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("memberships", __name__)

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

    return bp
