"""The chat page: a browser client of the emulator for people who have never written a bot.

``/chat?as=<personId>`` shows that person's spaces and lets them talk to the bot; a side panel shows
the webhooks and REST calls going between the emulator and the bot. The page is static files plus
two JSON routes: ``/_emulator/chat/state`` (everything at once) and ``/_emulator/changes`` (what is
new since a cursor).

Live updates are long polls, not a Server-Sent Events stream. waitress serves the emulator from 16
threads, and the bot's own REST calls need them: an SSE stream holds one thread for as long as a tab
is open, so a few tabs (or tabs left open behind a sleeping laptop) could starve the API. A long
poll holds a thread at most ``HOLD`` seconds, at most ``MAX_PARKED`` polls wait at once (the rest
are answered at once and come back a second later), and a poll notices waitress closing its
connection, so stopping the emulator is not delayed. A numbered cursor also makes reconnecting
after a network blip or a reload lossless without any Last-Event-ID bookkeeping.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from flask import Blueprint, Response, request

from .http import fail, json_response, raw_id
from .ids import decode_id
from .store import Message, NotFound, Person, Room

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
HOLD = 20.0          # seconds a poll may wait for news
TICK = 0.25          # how often a waiting poll looks at the traffic log and its own connection
MAX_PARKED = 4       # polls allowed to wait at once; waitress has 16 threads for everything
RETRY_MS = 1000      # what a poll that was not allowed to wait is told to sleep
LOG_SIZE = 2000
PAGE_PATHS = ("/chat", "/favicon.ico")  # the page's own requests are not the bot's traffic

CHAT_ROUTES = {
    "GET /chat?as=<personId>": "the chat page: talk to the bot as that person, watch the traffic",
    "GET /_emulator/chat/state": "what the chat page shows {as?: personId}: people, rooms, messages, cursor",
    "GET /_emulator/changes": "long poll: new messages, card submits, deliveries and calls {after: cursor}",
}


def message_view(message: Message, base_url: str, find_file: Callable[[str], Any]) -> dict[str, Any]:
    """A message as the REST API shows it, plus its order and its files as links the page can follow."""
    links = []
    own = f"{base_url}/v1/contents/"
    for url in message.files:
        name, href = url.rstrip("/").rsplit("/", 1)[-1] or "file", url
        if base_url and url.startswith(own):
            content_id = url[len(own):]
            href = f"/_emulator/contents/{content_id}"
            decoded = decode_id(content_id)
            try:
                name = find_file(decoded[1]).name if decoded else name
            except NotFound:
                pass
        links.append({"name": name, "href": href})
    return {**message.to_json(), "seq": message.seq, "fileLinks": links}


def person_view(person: Person) -> dict[str, Any]:
    """What the page needs of a person; no token."""
    return {"id": person.id, "displayName": person.display_name, "email": person.email, "type": person.type}


def room_view(room: Room) -> dict[str, Any]:
    return {**room.to_json(), "memberIds": [m.id for m in room.members]}


def _fresh(records: list[dict[str, Any]], last: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records after ``last``: the traffic and delivery logs have no sequence numbers, but each
    record is unique (its time and latency). When ``last`` is gone (cleared or rolled off) all are new."""
    if last is None:
        return records
    for index in range(len(records) - 1, -1, -1):
        if records[index] is last or records[index] == last:
            return records[index + 1:]
    return records


class Feed:
    """A numbered log of what the page shows live: messages, card submits, deliveries, calls.

    Messages and submits arrive from ``Store.subscribe``. The traffic and delivery logs publish
    nothing, so they are read for new records while a poll waits (at most every ``TICK``).
    A ``world`` entry says people or rooms changed, and the page reloads its state.
    """

    def __init__(self, emulator: "Emulator") -> None:
        self._emulator = emulator
        self._changed = threading.Condition()
        self._syncing = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._seq = 0
        self._last_call: Optional[dict[str, Any]] = None
        self._last_delivery: Optional[dict[str, Any]] = None
        self._world: tuple[int, ...] = ()
        self._synced_at = 0.0
        self._parked = 0
        emulator.store.subscribe(self._on_store)

    def _append(self, kind: str, data: Any) -> None:
        self._seq += 1
        self._log.append({"seq": self._seq, "kind": kind, "data": data})

    def _on_store(self, kind: str, obj: Any) -> None:
        # Runs in the thread of whoever posted: a fault here must not fail their API call.
        store = self._emulator.store
        try:
            data = message_view(obj, store.base_url, store.file) if kind == "message" else obj.to_json()
        except Exception:
            log.exception("the chat page could not show a new %s", kind)
            return
        with self._changed:
            self._append(kind, data)
            self._changed.notify_all()

    def sync(self, force: bool = False) -> None:
        """Log the deliveries and calls recorded since the last look, and a change of people or rooms."""
        if not force and time.monotonic() - self._synced_at < TICK:
            return
        # One look at a time: two overlapping looks could each take the other's records for new.
        if not self._syncing.acquire(blocking=force):
            return
        try:
            self._synced_at = time.monotonic()
            self._look()
        finally:
            self._syncing.release()

    def _look(self) -> None:
        # Read the other logs before taking our lock: a store listener may run while the store lock
        # is held, and it takes our lock, so we must never wait for the store lock while holding ours.
        store = self._emulator.store
        calls = self._emulator.traffic.calls()
        deliveries = self._emulator.deliverer.records()
        with store.lock:
            world = (len(store.people), len(store.rooms), sum(len(r.members) for r in store.rooms.values()))
            names = {p.id: p.display_name for p in store.people.values()}
        with self._changed:
            before = self._seq
            new_calls = _fresh(calls, self._last_call)
            new_deliveries = _fresh(deliveries, self._last_delivery)
            if calls:
                self._last_call = calls[-1]
            if deliveries:
                self._last_delivery = deliveries[-1]
            news = [("delivery", d) for d in new_deliveries] + [
                ("call", {**c, "callerName": names.get(c["caller"])}) for c in new_calls if c["path"] not in PAGE_PATHS]
            # Both logs stamp a record when its answer came back; in that order they tell the story.
            for kind, record in sorted(news, key=lambda item: item[1]["at"]):
                self._append(kind, record)
            if world != self._world:
                self._world = world
                self._append("world", None)
            if self._seq != before:
                self._changed.notify_all()

    def snapshot(self, traffic: int = 150) -> tuple[int, list[dict[str, Any]]]:
        """The cursor now and the latest deliveries and calls, for a page that has just loaded."""
        self.sync(force=True)
        with self._changed:
            recent = [e for e in self._log if e["kind"] in ("delivery", "call")]
            return self._seq, recent[-traffic:]

    def since(self, after: int, hold: float, gone: Callable[[], bool]) -> dict[str, Any]:
        """The entries after ``after``, waiting up to ``hold`` seconds for one when none are there."""
        deadline = time.monotonic() + hold
        with self._changed:
            may_wait = self._parked < MAX_PARKED
            self._parked += may_wait
        try:
            while True:
                self.sync()
                with self._changed:
                    first = self._log[0]["seq"] if self._log else self._seq + 1
                    if after > self._seq or after < first - 1:
                        # A restarted emulator, or a page asleep for longer than the log reaches.
                        return {"reset": True, "cursor": self._seq, "changes": []}
                    entries = list(islice(self._log, after - first + 1, None))
                    left = deadline - time.monotonic()
                    if entries or not may_wait or left <= 0 or gone():
                        return {"cursor": self._seq, "changes": entries, "retryMs": 0 if may_wait else RETRY_MS}
                    self._changed.wait(min(TICK, left))
        finally:
            with self._changed:
                self._parked -= may_wait


def create_chat_blueprint(emulator: "Emulator") -> Blueprint:
    # Assets live under /_emulator so that they are neither logged as API traffic nor hit by faults.
    chat = Blueprint("emulator_chat", __name__, static_folder=str(STATIC),
                     static_url_path="/_emulator/chat/static")
    feed = Feed(emulator)
    store = emulator.store

    def viewer(rest_id: Optional[str]) -> Optional[Person]:
        if rest_id:
            try:
                return store.person(raw_id(rest_id, "PEOPLE", "person"))
            except NotFound:
                fail(404, "Could not find a person with the provided ID.")
        with store.lock:
            return next((p for p in store.people.values() if p.type == "person"), None)

    @chat.get("/chat")
    def page() -> Response:
        response = chat.send_static_file("chat.html")
        # Defence in depth for a page that shows what anyone typed: no inline script, no foreign code.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        response.headers["Cache-Control"] = "no-store"
        return response

    @chat.get("/_emulator/chat/state")
    def state() -> Response:
        me = viewer(request.args.get("as"))
        cursor, traffic = feed.snapshot()
        with store.lock:
            people = [person_view(p) for p in store.people.values()]
            rooms = [r for r in store.rooms.values() if me is not None and me in r.members]
            uuids = {r.uuid for r in rooms}
            messages = sorted((m for m in store.messages.values() if m.room.uuid in uuids), key=lambda m: m.seq)
        return json_response({
            "me": me.id if me else None, "people": people, "rooms": [room_view(r) for r in rooms],
            "messages": [message_view(m, store.base_url, store.file) for m in messages],
            "cursor": cursor, "traffic": traffic})

    @chat.get("/_emulator/changes")
    def changes() -> Response:
        try:
            after = int(request.args.get("after", "0"))
            hold = min(max(float(request.args.get("wait", HOLD)), 0.0), HOLD)
        except ValueError:
            fail(400, "after is a whole number and wait a number of seconds.")
        # waitress marks the connection closed when the server stops; a waiting poll then ends.
        gone = request.environ.get("waitress.client_disconnected", lambda: False)
        return json_response(feed.since(after, hold, gone))

    return chat
