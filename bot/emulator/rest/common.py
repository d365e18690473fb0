"""What the REST resources share: who is calling, what they may see, and Webex's pagination."""
from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from ..http import caller, fail, json_response, lookup, raw_id
from ..models import Message, Person, Room
from ..store import NotFound, Store


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
    """The caller, and the rooms and messages they name as far as they may see them (404 beyond)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def me(self) -> Person:
        return caller(self._store)

    def room(self, rest_id: str) -> Room:
        room = lookup(self._store.room, rest_id, "ROOM", "room")
        if self.me() not in room.members:
            fail(404, "Could not find a room with the provided ID.")
        return room

    def message(self, rest_id: str) -> Message:
        message = lookup(self._store.message, rest_id, "MESSAGE", "message")
        if not message.visible_to(self.me()):
            fail(404, "Could not find a message with the provided ID.")
        return message

    def person(self, *, email: str | None = None, person_id: str | None = None) -> Person | None:
        """The person named by email or by REST id (everyone is visible), or None when nobody is."""
        if email is not None:
            return self._store.person_by_email(email)
        try:
            return self._store.person(raw_id(person_id or "", "PEOPLE", "person"))
        except NotFound:
            return None
