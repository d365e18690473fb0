"""Catch-up: after an outage, find the messages that arrived meanwhile and hand them to the dispatcher.

Webex does not queue webhook deliveries for a bot that was unreachable, so the bot asks: the rooms
active since the mark, then their messages (in group rooms only those that mention the bot, which is
all a bot may list). They go through the same dedupe and the on-disk record, so nothing is answered
twice, whether it was answered a second ago or before a restart.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from . import ids
from .events import MESSAGE, Event, Outcome
from .handled import HandledLog
from .webex import WebexClient

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=5)  # how far before the mark to look, for messages handled out of order
MAX_ROOMS = 200
MAX_PER_ROOM = 200


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(stamp: Any) -> datetime:
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def catch_up(client: WebexClient, handled: HandledLog, submit: Callable[[Event], Outcome]) -> int:
    """Submit every message since the mark that was not handled; returns how many were submitted."""
    if handled.mark is None:
        return 0
    me = client.me()
    since = _parse(handled.mark) - WINDOW
    if handled.floor is not None:
        since = max(since, _parse(handled.floor))
    found: list[Any] = []
    for room in client.rooms_by_activity(MAX_ROOMS):
        if room.lastActivity is not None and _parse(room.lastActivity) < since:
            break
        messages = client.recent_messages(room.id, mentioning_me=room.type == "group",
                                          while_=lambda m: _parse(m.created) >= since, limit=MAX_PER_ROOM)
        found.extend(m for m in messages if not ids.same(m.personId, me.id) and m.id not in handled)
    submitted = 0
    for message in sorted(found, key=lambda m: _parse(m.created)):
        event = Event(kind=MESSAGE, id=message.id, room_id=message.roomId, person_id=message.personId,
                      person_email=message.personEmail or "", room_type=message.roomType or "",
                      created=iso(_parse(message.created)), transport="catchup")
        if submit(event) == Outcome.ACCEPTED:
            submitted += 1
    if submitted:
        log.info("catch-up: %d message(s) arrived while the bot was unreachable; answering them now", submitted)
    return submitted
