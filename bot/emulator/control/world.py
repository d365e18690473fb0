"""Control of who exists: people, bots and rooms, made at will and listed with their tokens, and who
is in which group room (each change logged as Webex's membership event, so webhooks and devices hear
of it)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..models import Person, Room
from ..store import Store
from .common import named_person, named_room

ROUTES = {
    "POST /_emulator/people": ("create a person or bot {displayName, email?, type?: person|bot, token?} -> person + token "
                            "(by default shaped <secret>_<cluster>_<orgId>, as Webex's)"),
    "GET /_emulator/people": "every person and bot, with tokens",
    "POST /_emulator/rooms": "create a room {title, type: group|direct, creatorId, memberIds[], cluster?}",
    "GET /_emulator/rooms": "every room",
    "POST /_emulator/rooms/<roomId>/members": ("add a person or bot to a group room {personId, actorId?, "
                                               "isModerator?} (actor: the room's creator by default) -> membership"),
    "DELETE /_emulator/rooms/<roomId>/members/<personId>": "remove them from a group room {actorId?: query}",
}


def with_token(who: Person) -> dict[str, Any]:
    return {**who.to_json(), "token": who.token}


def create_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("world", __name__)

    @bp.post("/people")
    def people_create() -> Response:
        fields = body_json()
        kind = fields.get("type", "person")
        if not fields.get("displayName") or kind not in ("person", "bot", "appuser"):
            fail(400, "displayName is required; type is person, bot or appuser.")
        if fields.get("email") and store.person_by_email(fields["email"]):
            fail(409, f"{fields['email']} exists already.")
        token = fields.get("token")
        if token is not None and (not isinstance(token, str) or not token or token.split() != [token]):
            fail(400, "token is a non-empty string without spaces.")
        if token and store.person_by_token(token):
            fail(409, "That token belongs to someone already.")
        made = store.add_person(fields["displayName"], fields.get("email"), kind, token=token)
        return json_response(with_token(made))

    @bp.get("/people")
    def people_list() -> Response:
        return json_response({"items": [with_token(p) for p in store.everyone()]})

    @bp.post("/rooms")
    def rooms_create() -> Response:
        fields = body_json()
        creator = named_person(store, fields.get("creatorId"))
        members = [named_person(store, m) for m in fields.get("memberIds", [])]
        if fields.get("type", "group") == "direct":
            if len(members) != 1:
                fail(400, "A direct room has the creator and exactly one member.")
            return json_response(store.direct_room(creator, members[0]).to_json())
        if not fields.get("title"):
            fail(400, "title is required.")
        made = store.add_room(fields["title"], "group", creator, members, fields.get("cluster", "us"))
        return json_response(made.to_json())

    @bp.get("/rooms")
    def rooms_list() -> Response:
        return json_response({"items": [r.control_json() for r in store.all_rooms()]})

    def actor_in(room: Room, actor_id: Any) -> Person:
        """Who makes a membership change: the room's creator unless named."""
        return named_person(store, actor_id) if actor_id else room.creator

    @bp.post("/rooms/<room_id>/members")
    def members_add(room_id: str) -> Response:
        room, fields = named_room(store, room_id), body_json()
        person = named_person(store, fields.get("personId"))
        actor = actor_in(room, fields.get("actorId"))
        if room.type == "direct":
            fail(400, "Nobody can be added to a direct room.")
        if person in room.members:
            fail(409, "The person is already a member of the room.")
        store.add_member(room, person, actor=actor, moderator=bool(fields.get("isModerator")))
        return json_response(room.membership_json(person))

    @bp.delete("/rooms/<room_id>/members/<person_id>")
    def members_remove(room_id: str, person_id: str) -> Response:
        room, person = named_room(store, room_id), named_person(store, person_id)
        actor = actor_in(room, request.args.get("actorId"))
        if person not in room.members:
            fail(404, "The person is not a member of the room.")
        if room.type == "direct":
            fail(400, "Nobody can be removed from a direct room.")
        store.remove_member(room, person, actor=actor)
        return Response(status=204)

    return bp
