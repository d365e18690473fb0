"""The on-disk record of handled messages, per bot instance: what catch-up must not answer again.

It keeps the newest ``created`` time handled (the mark) and the ids of the recent messages, so after
a restart the bot neither misses what came while it was down nor answers twice what it had
answered just before going down. Written atomically after every handled message.
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
        self._ids: deque[str] = deque(maxlen=keep)
        self.mark: Optional[str] = None
        self._load()

    @classmethod
    def for_instance(cls, state_dir: Path, bot_id: str, instance: str) -> "HandledLog":
        """The record of one bot (by id) run as one instance, in ``state_dir``."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", instance)
        return cls(state_dir / f"handled-{bot_id.rstrip('=')[-16:]}-{safe}.json")

    def _load(self) -> None:
        try:
            saved = json.loads(self.path.read_text())
            self.mark = saved.get("mark")
            self._ids.extend(saved.get("ids", []))
        except FileNotFoundError:
            return
        except (ValueError, OSError, AttributeError) as exc:
            log.warning("ignoring the unreadable record %s (%s); catch-up starts afresh", self.path, exc)

    def __contains__(self, message_id: str) -> bool:
        with self._lock:
            return message_id.rstrip("=") in self._ids

    def record(self, message_id: str, created: str) -> None:
        """Remember one handled message and move the mark forward."""
        with self._lock:
            key = message_id.rstrip("=")
            if key not in self._ids:
                self._ids.append(key)
            if created and (self.mark is None or created > self.mark):
                self.mark = created
            self._save()

    def start_mark(self, now: str) -> None:
        """On the very first run, catch-up starts from now rather than from the bot's whole history."""
        with self._lock:
            if self.mark is None:
                self.mark = now
                self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"mark": self.mark, "ids": list(self._ids)})
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".handled-")
        with os.fdopen(handle, "w") as out:
            out.write(payload)
        os.replace(temporary, self.path)
