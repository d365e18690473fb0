"""Faults a test injects into the emulated Webex APIs: rate limits, server errors, added latency."""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional

from flask import Response

from .http import error_response

KINDS = ("rate_limit", "server_error", "latency")


@dataclass
class Fault:
    kind: str
    remaining: Optional[int] = None  # calls still affected; None: until cleared
    path: str = "/v1/"  # affects calls whose path starts with this
    method: Optional[str] = None
    status: int = 500
    retry_after: Optional[int] = 1  # seconds; None leaves the Retry-After header out
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and self.method in (None, method)


class Faults:
    """The active faults, consumed call by call in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: dict[str, Any]) -> Fault:
        """Add a fault from its JSON form (``kind``, ``count``, ``path``, ``method``, ``status``,
        ``retryAfter``, ``seconds``); ValueError names what is wrong."""
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        count = spec.get("count")
        if count is not None and int(count) < 1:
            raise ValueError("count must be at least 1 (leave it out for a fault until cleared)")
        method = spec.get("method")
        fault = Fault(kind=kind, remaining=None if count is None else int(count),
                      path=str(spec.get("path", "/v1/")), method=str(method).upper() if method else None,
                      status=int(spec.get("status", 429 if kind == "rate_limit" else 500)),
                      retry_after=spec.get("retryAfter", 1), seconds=float(spec.get("seconds", 0.0)))
        if kind == "server_error" and not 500 <= fault.status <= 599:
            raise ValueError("a server_error needs a 5xx status")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def apply(self, method: str, path: str) -> Optional[Response]:
        """Sleep for latency faults; return the error response of the first failing fault, if any."""
        delay = 0.0
        failure: Optional[Fault] = None
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                if fault.kind == "latency":
                    delay += fault.seconds
                elif failure is None:
                    failure = fault
                else:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
        if delay:
            time.sleep(delay)
        if failure is None:
            return None
        if failure.kind == "rate_limit":
            headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            return error_response(429, "Too Many Requests", headers)
        return error_response(failure.status, "Internal Server Error (injected by the emulator)")
