"""The on-disk record of handled messages, per bot instance: what catch-up must not answer again.

It keeps the newest ``created`` time handled (the mark) and the ids of the recent messages, so after
a restart the bot neither misses what came while it was down nor answers twice what it had answered
just before going down. Each handled message appends one line (cheap, and a crash loses at most the
line being written); the file is rewritten compactly when it has grown to twice what it keeps.

A message is answered when Webex accepts its first reply, and recorded then, not when its handler
ends. What was under way when the process died stays in the record as in flight: ``begun`` (no
reply went out yet: answer it) or ``sending`` (a reply was on its way, with the digest of what it
said: look in the room before answering again).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple, Optional, TextIO

from . import ids

log = logging.getLogger(__name__)


class InFlight(NamedTuple):
    state: str  # BEGUN | SENDING
    digest: str = ""  # of the reply that was being sent


BEGUN, SENDING = "begun", "sending"


class HandledLog:
    def __init__(self, path: Path, keep: int = 1000) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keep = keep
        self._ids: deque[str] = deque(maxlen=keep)  # oldest first, to forget in order
        self._known: set[str] = set()  # the same ids, to look up in constant time on every delivery
        self._in_flight: dict[str, InFlight] = {}
        self._lines = 0
        self._cut = False  # the file ends in a line a crash cut short: the next line must not join it
        self._out: Optional[TextIO] = None
        self.mark: Optional[str] = None
        # When this record began: catch-up never looks earlier, so a new instance does not answer
        # what another instance answered before it existed.
        self.floor: Optional[str] = None
        self._load()

    @classmethod
    def for_instance(cls, state_dir: Path, bot_id: str, instance: str) -> "HandledLog":
        """The record of one bot (by id) run as one instance, in ``state_dir``."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", instance)
        return cls(state_dir / f"handled-{ids.unpadded(bot_id)[-16:]}-{safe}.jsonl")

    def _load(self) -> None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("ignoring the unreadable record %s (%s); catch-up starts afresh", self.path, exc)
            return
        lines = text.splitlines()
        self._cut = bool(text) and not text.endswith("\n")
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if not isinstance(entry, dict):
                continue
            if entry.get(BEGUN):
                self._begun(ids.key(entry[BEGUN]))
            elif entry.get(SENDING):
                self._in_flight[ids.key(entry[SENDING])] = InFlight(SENDING, str(entry.get("digest", "")))
            self._apply(ids.key(entry["id"]) if entry.get("id") else None, entry.get("created"))
            self.floor = self.floor or entry.get("floor")
        self._lines = len(lines)

    def _apply(self, message_id: Optional[str], created: Optional[str]) -> None:
        if message_id:
            self._in_flight.pop(message_id, None)
        if message_id and message_id not in self._known:
            if len(self._ids) == self._keep:
                self._known.discard(self._ids[0])
            self._ids.append(message_id)
            self._known.add(message_id)
        if created and (self.mark is None or created > self.mark):
            self.mark = created

    def __contains__(self, message_id: str) -> bool:
        with self._lock:
            return ids.key(message_id) in self._known

    def record(self, message_id: str, created: str) -> None:
        """Remember one handled message and move the mark forward."""
        with self._lock:
            key = ids.key(message_id)
            self._apply(key, created)
            self._append({"id": key, "created": created})

    def begin(self, message_id: str) -> None:
        """A handler starts on the message: after a crash from here on, it is in flight.

        Nothing is written: a message without an "answered" line is answered again after a crash
        anyway, and a ``sending`` line already written is what the next run must see, kept as it is.
        (Records of earlier versions hold ``begun`` lines; they are read as in flight.)
        """
        with self._lock:
            self._begun(ids.key(message_id))

    def _begun(self, key: str) -> None:
        """Mark ``key`` begun unless a reply was already on its way: a run that dies while it checks
        for that reply must leave the doubt for the next."""
        if key in self._in_flight and self._in_flight[key].state == SENDING:
            return
        self._in_flight[key] = InFlight(BEGUN)
        if len(self._in_flight) > self._keep:  # handlers that keep failing must not grow it for ever
            self._in_flight.pop(next(iter(self._in_flight)))

    def sending(self, message_id: str, digest: str) -> None:
        """The first reply to the message is on its way to Webex."""
        with self._lock:
            key = ids.key(message_id)
            self._in_flight[key] = InFlight(SENDING, digest)
            self._append({SENDING: key, "digest": digest})

    def in_flight(self, message_id: str) -> Optional[InFlight]:
        """How far a message got when an earlier run stopped handling it, if it did not finish."""
        with self._lock:
            return self._in_flight.get(ids.key(message_id))

    def start_mark(self, now: str) -> None:
        """On the very first run, catch-up starts from now rather than from the bot's whole history."""
        with self._lock:
            if self.mark is None:
                self._apply(None, now)
                self.floor = now
                self._append({"created": now, "floor": now})

    def _append(self, entry: dict[str, str]) -> None:
        """One line, flushed to the operating system at once (a killed process loses nothing written);
        the file stays open between lines, as every answered message writes two."""
        if self._lines >= 2 * self._keep:
            self._compact()
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("a")
        self._out.write(("\n" if self._cut else "") + json.dumps(entry) + "\n")
        self._out.flush()
        self._cut = False
        self._lines += 1

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None

    def _compact(self) -> None:
        """Rewrite the file with only what is kept, atomically."""
        head = {"created": self.mark, **({"floor": self.floor} if self.floor else {})}
        lines = [json.dumps(head)] + [json.dumps({"id": i}) for i in self._ids]
        lines += [json.dumps({state.state: key, **({"digest": state.digest} if state.digest else {})})
                  for key, state in self._in_flight.items()]
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".handled-")
        with os.fdopen(handle, "w") as out:
            out.write("\n".join(lines) + "\n")
        if self._out is not None:
            self._out.close()
            self._out = None
        os.replace(temporary, self.path)
        self._cut = False
        self._lines = len(lines)


def reply_digest(markdown: Optional[str], text: Optional[str]) -> str:
    """What a reply said, shortly: the same words posted again in the room give the same digest."""
    said = markdown if markdown is not None else (text or "")
    return hashlib.sha1(said.encode()).hexdigest()[:16]


class Answering:
    """One message on its way through the record: begun, its first reply sending, answered.

    The record says "answered" as soon as Webex has accepted the first reply, so a crash after that
    cannot answer it twice; a message whose handler sends nothing is answered when it ends.
    """

    def __init__(self, record: HandledLog, message_id: str, created: str) -> None:
        self._record = record
        self._id = message_id
        self._created = created
        self._sending = False
        self.done = False
        self.interrupted = record.in_flight(message_id)  # how far an earlier run got, if it died
        record.begin(message_id)

    def sending(self, fields: dict[str, Any]) -> None:
        if not self._sending and not self.done:
            self._sending = True
            self._record.sending(self._id, reply_digest(fields.get("markdown"), fields.get("text")))

    def sent(self, _message: Any = None) -> None:
        if not self.done:
            self.done = True
            self._record.record(self._id, self._created)
