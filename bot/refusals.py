"""Refused requests, logged so that a flood cannot fill the disk: the first of each kind in a
minute as a line, the rest as one line of counts.

Anyone who finds the tunnel's URL can send bad requests; each one logged in full is how a fuzz run
once wrote 95 MiB of log. A user still sees at once that something knocks, and how often.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Callable

log = logging.getLogger("bot.receiver")


class Refusals:
    def __init__(self, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._logged: set[str] = set()
        self._quiet: Counter[str] = Counter()
        self.total: Counter[str] = Counter()

    def note(self, kind: str, line: str, *args: object) -> None:
        """Count one refusal of ``kind``; log ``line % args`` when it is the first of its kind this window."""
        with self._lock:
            self.total[kind] += 1
            summary = self._roll()
            first = kind not in self._logged
            if first:
                self._logged.add(kind)
            else:
                self._quiet[kind] += 1
        if summary:
            log.warning("%s", summary)
        if first:
            log.warning(line + " (more of these are counted, not logged, for a minute)", *args)

    def flush(self) -> None:
        """Log what was counted and not yet said (at shutdown)."""
        with self._lock:
            summary = self._summary()
        if summary:
            log.warning("%s", summary)

    def _roll(self) -> str:
        if self._clock() - self._started < self.window:
            return ""
        summary = self._summary()
        self._started = self._clock()
        self._logged.clear()
        return summary

    def _summary(self) -> str:
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(self._quiet.items()))
        self._quiet.clear()
        return f"refused more requests without logging each: {counted}" if counted else ""
