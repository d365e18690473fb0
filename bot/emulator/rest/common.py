"""What the REST resources share: who is calling, what they may see, and Webex's pagination."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode

from flask import Response, request

from ..http import caller, fail, json_response, lookup, raw_id
from ..ids import home_of
from ..models import AttachmentAction, Message, Person, Room, Team
from ..settings import Settings
from ..store import NotFound, Store

Group = TypeVar("Group", Room, Team)


def parse_time(value: str) -> datetime:
    """A Webex timestamp (or any ISO 8601 one) of a query; 400 when it is none."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(400, f"Invalid timestamp: {value}")


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


class Visible:
    """The caller, and the teams, rooms and messages they name as far as they may see them (404 beyond)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def me(self) -> Person:
        return caller(self._store)

    def compliance_officer(self) -> bool:
        """Whether the caller is one of the org's compliance officers (``settings.compliance_officers``)."""
        officers = {e.strip().lower() for e in self._settings.compliance_officers.split(",") if e.strip()}
        return self.me().email.lower() in officers

    def team(self, rest_id: str) -> Team:
        team = lookup(self._store.team, rest_id, "TEAM", "team")
        if self.me() not in team.members:
            fail(404, "Could not find a team with the provided ID.")
        return team

    def room(self, rest_id: str) -> Room:
        room = lookup(self._store.room, rest_id, "ROOM", "room")
        if self.me() not in room.members:
            fail(404, "Could not find a room with the provided ID.")
        return room

    def message(self, rest_id: str) -> Message:
        message = lookup(self._store.message, rest_id, "MESSAGE", "message")
        if not message.visible_to(self.me()) or not self._at_home(rest_id, message.id):
            fail(404, "Could not find a message with the provided ID.")
        return message

    def action(self, rest_id: str) -> AttachmentAction:
        action = lookup(self._store.action, rest_id, "ATTACHMENT_ACTION", "attachment action")
        if self.me() not in action.message.room.members or not self._at_home(rest_id, action.id):
            fail(404, "Could not find a attachment action with the provided ID.")
        return action

    def _at_home(self, rest_id: str, found_id: str) -> bool:
        """Whether ``rest_id`` names the cluster the object lives in (a bare uuid names none), or
        ``settings.ids_any_cluster`` lets any cluster do."""
        given = home_of(rest_id)
        return given is None or self._settings.ids_any_cluster or given == home_of(found_id)

    def person(self, *, email: str | None = None, person_id: str | None = None) -> Person | None:
        """The person named by email or by REST id (everyone is visible), or None when nobody is."""
        if email is not None:
            return self._store.person_by_email(email)
        try:
            return self._store.person(raw_id(person_id or "", "PEOPLE", "person"))
        except NotFound:
            return None

    def member_of(self, rest_id: str, kind: str, what: str, group: Callable[[str], Group]) -> tuple[Group, Person]:
        """The room or team (found by ``group``) and the member that a membership id of TYPE ``kind``
        (``<personUuid>:<groupUuid>``) names, if the caller is in that group too; else 404."""
        person_uuid, _, group_uuid = raw_id(rest_id, kind, what).partition(":")
        missing = f"Could not find a {what} with the provided ID."
        try:
            found, person = group(group_uuid), self._store.person(person_uuid)
        except NotFound:
            fail(404, missing)
        if person not in found.members or self.me() not in found.members:
            fail(404, missing)
        return found, person

    def person_in(self, fields: dict[str, Any]) -> Person:
        """The person a body names to add (``personEmail`` or ``personId``); 400 without, 404 for nobody."""
        if isinstance(fields.get("personEmail"), str):
            found = self.person(email=str(fields["personEmail"]))
        elif isinstance(fields.get("personId"), str):
            found = self.person(person_id=str(fields["personId"]))
        else:
            fail(400, "personId or personEmail is required.")
        if found is None:
            fail(404, "Could not find the person to add.")
        return found
