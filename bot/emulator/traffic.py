"""A bounded record of every API call made to the emulator, and of every request it sent to a bot's
incoming routes, for tests, benchmarks and teaching."""
from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any, Optional

from .ids import timestamp

BODY_LIMIT = 4096


def _body(raw: bytes, mimetype: str) -> Any:
    if mimetype != "application/json" or not raw:
        return None if not raw else f"<{len(raw)} bytes {mimetype}>"
    try:
        return json.loads(raw[:BODY_LIMIT]) if len(raw) <= BODY_LIMIT else f"<{len(raw)} bytes json>"
    except ValueError:
        return "<malformed json>"


HISTORY = 20_000  # calls kept: a burst of 1,600 commands at 9 calls each fits


class Traffic:
    def __init__(self, history: int = HISTORY) -> None:
        self._lock = threading.Lock()
        self._calls: deque[dict[str, Any]] = deque(maxlen=history)
        self._incoming: deque[dict[str, Any]] = deque(maxlen=history)

    def record(self, *, method: str, path: str, query: str, status: int, caller: Optional[str],
               millis: float, request_body: bytes, request_type: str, response_body: bytes,
               response_type: str) -> None:
        with self._lock:
            self._calls.append({
                "at": timestamp(), "method": method, "path": path, "query": query, "status": status,
                "caller": caller, "ms": round(millis, 3),
                "request": _body(request_body, request_type), "response": _body(response_body, response_type),
            })

    def record_incoming(self, *, name: str, url: str, auth: str, event: Optional[str], status: Optional[int],
                        error: Optional[str], millis: float, request_body: bytes, response_body: bytes,
                        response_type: str) -> dict[str, Any]:
        """Note a request sent to route ``name`` (its headers are not taken: they carry the key or
        signature); the record, which is also what the bot answered."""
        record = {"at": timestamp(), "name": name, "url": url, "auth": auth, "event": event, "status": status,
                  "error": error, "ms": round(millis, 3), "request": _body(request_body, "application/json"),
                  "response": _body(response_body, response_type)}
        with self._lock:
            self._incoming.append(record)
        return record

    def incoming(self) -> list[dict[str, Any]]:
        """Every request sent to a bot's incoming routes, oldest first."""
        with self._lock:
            return list(self._incoming)

    def calls(self, caller: Optional[str] = None) -> list[dict[str, Any]]:
        """Every recorded call, oldest first; only ``caller``'s (a person id) when given."""
        with self._lock:
            return [c for c in self._calls if caller in (None, c["caller"])]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._incoming.clear()
