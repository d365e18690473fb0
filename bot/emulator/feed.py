"""The chat page's live feed: a numbered log of what happens, read by long polls.

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
from typing import Any, Callable, Optional

from .delivery import Deliverer
from .incoming import IncomingRoutes
from .models import Message
from .store import Store
from .traffic import Traffic

log = logging.getLogger(__name__)

HOLD = 20.0          # seconds a poll may wait for news
TICK = 0.25          # how often a waiting poll looks at the traffic log and its own connection
MAX_PARKED = 4       # polls allowed to wait at once; waitress has 16 threads for everything
RETRY_MS = 1000      # what a poll that was not allowed to wait is told to sleep
LOG_SIZE = 2000
PAGE_PATHS = ("/chat", "/favicon.ico")  # the page's own requests are not the bot's traffic
TRAFFIC_KINDS = ("delivery", "call", "incoming")


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
    """A numbered log of what the page shows live: messages, card submits, deliveries, calls, and
    requests to the bot's incoming routes.

    Messages and submits arrive from ``Store.subscribe``. The traffic and delivery logs publish
    nothing, so they are read for new records while a poll waits (at most every ``TICK``).
    A ``world`` entry says people, rooms or incoming routes changed, and the page reloads its state.
    """

    def __init__(self, store: Store, traffic: Traffic, deliverer: Deliverer, routes: IncomingRoutes,
                 show_message: Callable[[Message], dict[str, Any]]) -> None:
        """``show_message`` makes a new message's entry: the page shows messages its own way."""
        self._store = store
        self._traffic = traffic
        self._deliverer = deliverer
        self._routes = routes
        self._show_message = show_message
        self._changed = threading.Condition()
        self._syncing = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._seq = 0
        self._last: dict[str, dict[str, Any]] = {}  # each log's newest record seen, by the kind of entry it makes
        self._world: tuple[Any, ...] = ()
        self._synced_at = 0.0
        self._parked = 0
        store.subscribe(self._on_store)

    def _append(self, kind: str, data: Any) -> None:
        self._seq += 1
        self._log.append({"seq": self._seq, "kind": kind, "data": data})

    def _on_store(self, kind: str, obj: Any) -> None:
        # Runs in the thread of whoever posted: a fault here must not fail their API call.
        if kind not in ("message", "action"):  # logged events: the page shows deliveries and calls
            return
        try:
            data = self._show_message(obj) if kind == "message" else obj.to_json()
        except Exception:
            log.exception("the chat page could not show a new %s", kind)
            return
        with self._changed:
            self._append(kind, data)
            self._changed.notify_all()

    def sync(self, force: bool = False) -> None:
        """Log the deliveries, calls and incoming requests recorded since the last look, and a change of
        people, rooms or incoming routes."""
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
        logs = {"delivery": self._deliverer.records(), "call": self._traffic.calls(),
                "incoming": self._traffic.incoming()}
        people, rooms = self._store.everyone(), self._store.all_rooms()
        world = (len(people), len(rooms), sum(len(r.members) for r in rooms), len(self._routes.list()))
        names = {p.id: p.display_name for p in people}
        with self._changed:
            before = self._seq
            news: list[tuple[str, dict[str, Any]]] = []
            for kind, records in logs.items():
                news += [(kind, r) for r in _fresh(records, self._last.get(kind))]
                if records:
                    self._last[kind] = records[-1]
            news = [(kind, {**r, "callerName": names.get(r["caller"])} if kind == "call" else r) for kind, r in news
                    if kind != "call" or r["path"] not in PAGE_PATHS]
            # The logs stamp a record when its answer came back; in that order they tell the story.
            for kind, record in sorted(news, key=lambda item: item[1]["at"]):
                self._append(kind, record)
            if world != self._world:
                self._world = world
                self._append("world", None)
            if self._seq != before:
                self._changed.notify_all()

    def snapshot(self, traffic: int = 150) -> tuple[int, list[dict[str, Any]]]:
        """The cursor now and the latest traffic entries, for a page that has just loaded."""
        self.sync(force=True)
        with self._changed:
            recent = [e for e in self._log if e["kind"] in TRAFFIC_KINDS]
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
