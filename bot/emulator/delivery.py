"""Webhook delivery: the envelope Webex POSTs to a bot, signed, timed, and recorded.

Each new message or card submit is matched against every active webhook whose owner may see it; the
exact envelope goes out on a small pool so that a slow bot never holds up the API. A webhook that fails
``webhook_inactive_after`` times in a row is switched to ``inactive``, as Webex does.
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
from .models import AttachmentAction, Message, Person, Webhook
from .store import Store


def sign(secret: str, body: bytes) -> str:
    """The ``X-Spark-Signature`` value: lowercase hex HMAC-SHA1 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def message_data(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message.id,
        "roomId": message.room.id,
        "roomType": message.room.type,
        "personId": message.author.id,
        "personEmail": message.author.email,
    }
    if message.rendered.mentioned_people:
        data["mentionedPeople"] = list(message.rendered.mentioned_people)
    if message.rendered.mentioned_groups:
        data["mentionedGroups"] = list(message.rendered.mentioned_groups)
    if message.files:
        data["files"] = list(message.files)
    data["created"] = message.created
    return data


def action_data(action: AttachmentAction) -> dict[str, Any]:
    return {
        "id": action.id,
        "type": "submit",
        "messageId": action.message.id,
        "personId": action.person.id,
        "roomId": action.message.room.id,
        "created": action.created,
    }


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
        if kind == "message":
            self._fan_out("messages", obj.author, message_data(obj), lambda owner: obj.visible_to(owner))
        elif kind == "action":
            self._fan_out("attachmentActions", obj.person, action_data(obj),
                          lambda owner: owner is obj.message.author)

    def _fan_out(self, resource: str, actor: Person, data: dict[str, Any], sees: Any) -> None:
        with self.store.lock:
            hooks = [h for h in self.store.all_webhooks()
                     if h.status == "active" and h.resource in (resource, "all") and h.event in ("created", "all")
                     and sees(h.owner) and matches_filter(h, data, h.owner)]
            jobs = [(h, self._envelope(h, resource, actor, data)) for h in hooks]
        for hook, body in jobs:
            with self._idle:
                self._pending += 1
            self._pool.submit(self._deliver, hook, body)

    @staticmethod
    def _envelope(hook: Webhook, resource: str, actor: Person, data: dict[str, Any]) -> bytes:
        envelope = hook.to_json()
        envelope.pop("secret", None)
        envelope.update({"resource": resource, "event": "created", "actorId": actor.id, "data": data})
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
