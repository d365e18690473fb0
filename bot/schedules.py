"""The scheduler: ``@every`` and ``@cron`` runs, and ``ctx.schedule`` reminders, that survive restarts.

One thread sleeps until the next due time and hands each run to the dispatcher's workers, like any
event. Both are recorded in the bot's storage: a schedule's last due time, a reminder until it is
sent. A run is claimed by a compare-and-set on that record *before* it starts, so it happens at most
once: not twice after a restart in the middle of it, nor on two instances sharing one store. Runs
missed while the bot was down collapse into the latest one, which runs at start only when it is
less late than the schedule's ``misfire_grace``; a reminder that came due meanwhile is sent at start
however late (late is better than never for "remind me").
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, Protocol, Sequence, Union

from .events import Outcome
from .registry import Handler
from .replies import Reply, replies_of
from .storage import Storage

log = logging.getLogger(__name__)
SCHEDULES = "_schedules"  # storage scope: schedule name -> {"last": the last due time claimed}
REMINDERS = "_reminders"  # storage scope: reminder id -> {"at", "to", "replies"}
LONGEST_SLEEP = 30.0  # seconds: wake this often anyway (a clock change, a reminder another instance filed)
BUSY_RETRY = 1.0  # seconds between offers of a claimed run to a full dispatcher


class Jobs(Protocol):
    """What the scheduler needs of the dispatcher."""

    def submit_job(self, name: str, work: Callable[[], None]) -> Outcome: ...

    def run_handler(self, handler: Handler, *, room: Optional[str] = None) -> None: ...

    def deliver(self, to: str, reply: Any) -> None: ...


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def encode_replies(reply: Any) -> list[dict[str, Any]]:
    """What a handler may return, as JSON to keep until it is sent (a file as its path)."""
    return [{k: str(v) if k == "file" and v is not None else v for k, v in dataclasses.asdict(one).items()}
            for one in replies_of(reply)]


def decode_replies(kept: list[dict[str, Any]]) -> list[Reply]:
    return [Reply(**fields) for fields in kept]


class Scheduler:
    def __init__(self, *, schedules: Sequence[Handler], storage: Storage, jobs: Jobs,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.schedules = tuple(schedules)
        self.backend = storage.backend
        self.jobs = jobs
        self.clock = clock
        self.runs = 0  # runs and reminders handed to the workers, for whoever waits for one
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "Scheduler":
        for handler in self.schedules:
            assert handler.trigger is not None
            log.info("schedule '%s': %s", handler.name, handler.trigger.describe())
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def remind(self, when: Union[datetime, timedelta], reply: Any, to: str) -> str:
        """File a reminder: ``reply`` to ``to`` at ``when`` (a naive time is this machine's local time)."""
        at = self.clock() + when if isinstance(when, timedelta) else when.astimezone(timezone.utc)
        reminder_id = uuid.uuid4().hex
        record = {"at": at.isoformat(), "to": to, "replies": encode_replies(reply)}
        self.backend.put(REMINDERS, reminder_id, json.dumps(record, allow_nan=False))
        self._wake.set()
        return reminder_id

    # -- the loop --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            now = self.clock()
            try:
                upcoming = [self._schedule(handler, now) for handler in self.schedules]
                upcoming += self._reminders(now)
            except Exception:  # the store failing must not end the schedules: try again shortly
                log.exception("the scheduler could not read its record; trying again")
                upcoming = [now + timedelta(seconds=BUSY_RETRY)]
            soonest = min(upcoming, default=now + timedelta(seconds=LONGEST_SLEEP))
            self._wake.wait(min(max((soonest - self.clock()).total_seconds(), 0.0), LONGEST_SLEEP))
            self._wake.clear()

    def _schedule(self, handler: Handler, now: datetime) -> datetime:
        """Run ``handler`` when it is due (once, whatever was missed); its next due time."""
        assert handler.trigger is not None
        kept = self.backend.get(SCHEDULES, handler.name)
        if kept is None:  # the first start: counted from now
            self._claim(handler.name, None, now)
            return handler.trigger.next_after(now)
        last = datetime.fromisoformat(json.loads(kept)["last"])
        due = handler.trigger.latest(last, now)
        if due is None:
            return handler.trigger.next_after(last)
        if not self._claim(handler.name, kept, due):
            return now  # another instance claimed it: read its record again
        late = (now - due).total_seconds()
        if late > handler.misfire_grace:
            log.warning("schedule '%s' missed its run of %s (%.0f s ago, more than its grace of %.0f s); "
                        "it runs next at its next time", handler.name, due.isoformat(), late, handler.misfire_grace)
        else:
            self._hand_over(f"schedule {handler.name}", lambda: self.jobs.run_handler(handler, room=handler.room))
        return handler.trigger.next_after(due)

    def _claim(self, name: str, kept: Optional[str], due: datetime) -> bool:
        return self.backend.swap(SCHEDULES, name, kept, json.dumps({"last": due.isoformat()}))

    def _reminders(self, now: datetime) -> list[datetime]:
        """Send the reminders that are due; the due times of the others."""
        upcoming = []
        for reminder_id in self.backend.keys(REMINDERS):
            kept = self.backend.get(REMINDERS, reminder_id)
            if kept is None:
                continue
            record = json.loads(kept)
            at = datetime.fromisoformat(record["at"])
            if at > now:
                upcoming.append(at)
            elif self.backend.swap(REMINDERS, reminder_id, kept, None):  # claimed: sent by us only
                send = functools.partial(self.jobs.deliver, record["to"], decode_replies(record["replies"]))
                self._hand_over(f"reminder {reminder_id}", send)
        return upcoming

    def _hand_over(self, name: str, work: Callable[[], None]) -> None:
        """Give a claimed run to the workers, waiting while they are full (it is ours alone now)."""
        while self.jobs.submit_job(name, work) is Outcome.BUSY:
            if self._stopping.wait(BUSY_RETRY):
                log.warning("%s was due but the bot stopped before a worker was free; it does not run", name)
                return
        self.runs += 1
