"""Webhook delivery: the envelope Webex POSTs to a bot, signed, timed, and recorded.

Each event the store logs (a message, membership, room or card submit created, updated or deleted) is
matched against every active webhook of its resource and event (or ``all``) whose owner may see it (an
``ownedBy: org`` webhook sees the whole org); the exact envelope goes out on a small pool so that a
slow bot never holds up the API. A webhook that fails ``webhook_inactive_after`` times in a row is
switched to ``inactive``, as Webex does.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional
from urllib.parse import parse_qsl

import requests

from .ids import timestamp
from .settings import Settings
from .models import Event, Person, Webhook
from .store import Store


def sign(secret: str, body: bytes) -> str:
    """The ``X-Spark-Signature`` value: lowercase hex HMAC-SHA1 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def matches_filter(hook: Webhook, data: dict[str, Any], owner: Person) -> bool:
    """Webex's webhook filters: ``key=value`` pairs joined by ``&``, all of which must hold."""
    for key, value in parse_qsl(hook.filter or "", keep_blank_values=True):
        if key == "mentionedPeople":
            wanted = owner.id if value == "me" else value
            if wanted not in data.get("mentionedPeople", []):
                return False
        elif key == "personEmail":
            if str(data.get("personEmail", "")).lower() != value.lower():
                return False
        elif isinstance(data.get(key), bool):  # isModerator=true
            if data[key] != (value.lower() == "true"):
                return False
        elif data.get(key) != value:
            return False
    return True


class Deliverer:
    """Hears the store's new messages and card submits and delivers them to matching webhooks."""

    def __init__(self, store: Store, settings: Settings, history: int = 2000) -> None:
        self.store = store
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="emulator-delivery")
        self._records: deque[dict[str, Any]] = deque(maxlen=history)
        self._records_lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition()
        self._sessions = threading.local()
        store.subscribe(self.on_event)

    def on_event(self, kind: str, obj: Any) -> None:
        if kind == "event":
            self._fan_out(obj)

    def _fan_out(self, event: Event) -> None:
        with self.store.lock:
            hooks = [h for h in self.store.all_webhooks()
                     if h.status == "active" and h.resource in (event.resource, "all") and h.event in (event.type, "all")
                     and (h.owned_by == "org" or event.audience(h.owner)) and matches_filter(h, event.hook_data, h.owner)]
            jobs = [(h, self._envelope(h, event)) for h in hooks]
        for hook, body in jobs:
            with self._idle:
                self._pending += 1
            self._pool.submit(self._deliver, hook, body)

    @staticmethod
    def _envelope(hook: Webhook, event: Event) -> bytes:
        envelope = hook.to_json()
        envelope.pop("secret", None)
        envelope.update({"resource": event.resource, "event": event.type, "actorId": event.actor.id,
                         "data": event.hook_data})
        return json.dumps(envelope).encode()

    def _deliver(self, hook: Webhook, body: bytes) -> None:
        try:
            for _attempt in range(1 + max(0, self.settings.delivery_retries)):
                if self._attempt(hook, body):
                    return
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _attempt(self, hook: Webhook, body: bytes) -> bool:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Webex-Emulator-Webhook"}
        if hook.secret:
            headers["X-Spark-Signature"] = sign(hook.secret, body)
        started = time.perf_counter()
        status: Optional[int] = None
        error: Optional[str] = None
        try:
            response = self._session().post(hook.target_url, data=body, headers=headers,
                                            timeout=self.settings.delivery_timeout)
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        ok = status is not None and 200 <= status < 300
        self.store.count_delivery(hook, ok, self.settings.webhook_inactive_after)
        with self._records_lock:
            self._records.append({
                "webhookId": hook.id, "targetUrl": hook.target_url, "status": status, "error": error,
                "latencyMs": round(latency_ms, 3), "at": timestamp(), "body": json.loads(body)})
        return ok

    def _session(self) -> requests.Session:
        """One keep-alive session per delivery thread (a Session is not shared across threads)."""
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def records(self) -> list[dict[str, Any]]:
        with self._records_lock:
            return list(self._records)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is under way (tests use it to read settled records)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
