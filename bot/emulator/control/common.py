"""How control routes find the people and rooms a request body names (404 when nobody is there)."""
from __future__ import annotations

from typing import Any

from ..http import lookup
from ..models import Person, Room
from ..store import Store


def named_person(store: Store, rest_id: Any) -> Person:
    return lookup(store.person, str(rest_id or ""), "PEOPLE", "person")


def named_room(store: Store, rest_id: Any) -> Room:
    return lookup(store.room, str(rest_id or ""), "ROOM", "room")
