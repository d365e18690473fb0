"""Exactly-once: remembers the ids of handled events across redeliveries and transports."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable


class Dedupe:
    """A bounded, thread-safe set of recently seen keys that forgets the oldest first."""

    def __init__(self, capacity: int = 20000, ttl: float = 24 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock

    def first_time(self, key: str) -> bool:
        """Mark ``key`` seen; True only for the first caller within the time to live."""
        now = self._clock()
        with self._lock:
            while self._seen and (len(self._seen) >= self._capacity or
                                  next(iter(self._seen.values())) < now - self._ttl):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def forget(self, key: str) -> None:
        """Let ``key`` be handled again (its handling failed before anything was answered)."""
        with self._lock:
            self._seen.pop(key, None)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._seen
