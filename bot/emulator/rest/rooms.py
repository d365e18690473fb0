"""``/v1/rooms``: the caller's spaces, and new group spaces."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..store import Store
from .common import Visible, paginate


def create_rooms_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("rooms", __name__)

    @bp.get("/rooms")
    def rooms_list() -> Response:
        kind = request.args.get("type")
        rooms = [r for r in store.rooms_of(visible.me()) if kind in (None, r.type)]
        rooms.sort(key=lambda r: r.last_activity or r.created, reverse=True)
        return paginate([r.to_json() for r in rooms], 100)

    @bp.get("/rooms/<room_id>")
    def rooms_get(room_id: str) -> Response:
        return json_response(visible.room(room_id).to_json())

    @bp.post("/rooms")
    def rooms_create() -> Response:
        title = body_json().get("title")
        if not isinstance(title, str) or not title.strip():
            fail(400, "title is required.")
        return json_response(store.add_room(title, "group", visible.me(), []).to_json())

    return bp
