"""The on-disk record of handled messages, per bot instance: what catch-up must not answer again.

It keeps the newest ``created`` time handled (the mark) and the ids of the recent messages, so after
a restart the bot neither misses what came while it was down nor answers twice what it had answered
just before going down. Each handled message appends one line (cheap, and a crash loses at most the
line being written); the file is rewritten compactly when it has grown to twice what it keeps.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)


class HandledLog:
    def __init__(self, path: Path, keep: int = 1000) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keep = keep
        self._ids: deque[str] = deque(maxlen=keep)
        self._lines = 0
        self._cut = False  # the file ends in a line a crash cut short: the next line must not join it
        self.mark: Optional[str] = None
        # When this record began: catch-up never looks earlier, so a new instance does not answer
        # what another instance answered before it existed.
        self.floor: Optional[str] = None
        self._load()

    @classmethod
    def for_instance(cls, state_dir: Path, bot_id: str, instance: str) -> "HandledLog":
        """The record of one bot (by id) run as one instance, in ``state_dir``."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", instance)
        return cls(state_dir / f"handled-{bot_id.rstrip('=')[-16:]}-{safe}.jsonl")

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
            self._apply(entry.get("id"), entry.get("created"))
            self.floor = self.floor or entry.get("floor")
        self._lines = len(lines)

    def _apply(self, message_id: Optional[str], created: Optional[str]) -> None:
        if message_id and message_id not in self._ids:
            self._ids.append(message_id)
        if created and (self.mark is None or created > self.mark):
            self.mark = created

    def __contains__(self, message_id: str) -> bool:
        with self._lock:
            return message_id.rstrip("=") in self._ids

    def record(self, message_id: str, created: str) -> None:
        """Remember one handled message and move the mark forward."""
        with self._lock:
            self._apply(message_id.rstrip("="), created)
            self._append({"id": message_id.rstrip("="), "created": created})

    def start_mark(self, now: str) -> None:
        """On the very first run, catch-up starts from now rather than from the bot's whole history."""
        with self._lock:
            if self.mark is None:
                self._apply(None, now)
                self.floor = now
                self._append({"created": now, "floor": now})

    def _append(self, entry: dict[str, str]) -> None:
        if self._lines >= 2 * self._keep:
            self._compact()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(("\n" if self._cut else "") + json.dumps(entry) + "\n")
        self._cut = False
        self._lines += 1

    def _compact(self) -> None:
        """Rewrite the file with only what is kept, atomically."""
        head = {"created": self.mark, **({"floor": self.floor} if self.floor else {})}
        lines = [json.dumps(head)] + [json.dumps({"id": i}) for i in self._ids]
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".handled-")
        with os.fdopen(handle, "w") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(temporary, self.path)
        self._cut = False
        self._lines = len(lines)
