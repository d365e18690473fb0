"""Incoming routes: ``POST /incoming/<name>`` on the receiver's port, for systems that tell the bot
things (CI, monitoring, GitHub); each request's body goes to its ``@incoming`` handler.

Order matters for safety, as on the Webex route: the caller is authenticated first (the key before
the body is read; GitHub's signature on the raw bytes), the size is bounded before parsing, and the
rate limit counts only authenticated requests, so a stranger's flood cannot spend a sender's budget.
The sender gets its 202 as soon as the work is queued. (Named ``inbound``, not ``incoming``: a
module ``bot.incoming`` would take the place of the decorator plugins import by that name.)
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Protocol
from urllib.parse import parse_qsl

from flask import Flask, Response, request
from requests.structures import CaseInsensitiveDict
from werkzeug.exceptions import RequestEntityTooLarge

from .context import Request
from .dedupe import Dedupe
from .events import Outcome
from .logs import clip
from .receiver import answer
from .refusals import Refusals
from .registry import Handler

log = logging.getLogger(__name__)
KEY_FILE = "incoming-key"
SECRET_SETTING = "BOT_INCOMING_SECRET"
# What carries the key, the signature or a session: never handed to a handler.
PRIVATE_HEADERS = frozenset({"authorization", "x-hub-signature-256", "x-hub-signature", "cookie"})
DELIVERY_HEADERS = ("X-GitHub-Delivery", "Idempotency-Key")
BUSY_RETRY_AFTER = 5  # seconds a sender waits when the workers' queue is full


class Jobs(Protocol):
    """What the routes hand their work to (the dispatcher)."""

    def submit_job(self, name: str, work: Callable[[], None]) -> Outcome: ...

    def run_handler(self, handler: Handler, *, room: Optional[str] = None, args: tuple[Any, ...] = (),
                    context: Optional[dict[str, Any]] = None) -> None: ...


def incoming_key(state_dir: Path, configured: Optional[str]) -> str:
    """The key senders give: the configured one, else one made on the first start and kept in the state
    folder (readable by this user only), so the URLs people pasted into other systems keep working."""
    if configured:
        return configured
    path = state_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another instance with this state folder made it a moment ago
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def route_urls(base_url: str, routes: Iterable[Handler], key: str) -> list[str]:
    """Each route's full URL; a key route's carries its key, ready to paste into the sender."""
    base = base_url.rstrip("/")
    return [f"{base}/incoming/{h.name}" + (f"?key={key}" if h.auth == "key" else "") for h in routes]


def no_secret(name: str) -> str:
    """Why a github route refuses everything: said once at start and in each refusal."""
    return f"route {name!r} needs {SECRET_SETTING}; it refuses every request until it is set"


def github_signature_ok(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is ``sha256=<HMAC-SHA256 of the raw body>``; compared in constant time, as bytes."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("utf-8", "replace"))


class TokenBucket:
    """``per_minute`` requests a minute, in bursts of up to as many; thread-safe, with an injectable clock."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> int:
        """0 when a request may pass (and it is counted), else the whole seconds until one may."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0
            return max(1, math.ceil((1 - self._tokens) / self._rate))


class Refused(Exception):
    """A request answered with ``status``, ``reason`` and ``headers`` (already noted in the refusals log)."""

    def __init__(self, status: int, reason: str, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


class Incoming:
    """The ``@incoming`` routes of one bot, with their key, GitHub's secret, rate limits and dedupe."""

    def __init__(self, routes: Iterable[Handler], *, key: str, github_secret: Optional[str], jobs: Jobs,
                 rate_per_minute: int = 60, max_body_bytes: int = 1024 * 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.routes = {h.name: h for h in routes}
        self._key = key.encode()
        self._github_secret = github_secret
        self.jobs = jobs
        self.max_body_bytes = max_body_bytes
        self._buckets = {name: TokenBucket(rate_per_minute, clock) for name in self.routes}
        self._seen = Dedupe(clock=clock)
        self.refusals = Refusals()
        for name, handler in self.routes.items():
            if handler.auth == "github" and not github_secret:
                log.warning("%s", no_secret(name))

    def register(self, app: Flask, refusals: Optional[Refusals] = None) -> None:
        """Add ``POST /incoming/<name>`` for each route, and no other path; ``refusals``: the app's log
        of refused requests, when it keeps one, so that one window bounds both routes' lines."""
        if refusals is not None:
            self.refusals = refusals
        for name, handler in self.routes.items():
            # Only POST: Flask would answer OPTIONS by itself, telling a prober the route exists.
            app.add_url_rule(f"/incoming/{name}", f"incoming-{name}", self._view(handler), methods=["POST"],
                             provide_automatic_options=False)

    def _view(self, handler: Handler) -> Callable[[], Response]:
        def view() -> Response:
            try:
                return self._accept(handler)
            except Refused as refused:
                return answer(refused.status, refused.reason, refused.headers)

        return view

    def _refuse(self, status: int, reason: str, kind: str, line: str, *args: object,
                headers: Optional[dict[str, str]] = None) -> Refused:
        """Note a refusal of ``kind`` (``line % args``, never the URL: it may hold the key); the answer to raise."""
        self.refusals.note(kind, line, *args)
        return Refused(status, reason, headers)

    def _accept(self, handler: Handler) -> Response:
        name = handler.name
        if handler.auth == "github":
            body = self._signed_body(name)
        else:
            self._check_key(name)
            body = self._body(name)
        payload = self._payload(name, body)
        wait = self._buckets[name].take()
        if wait:
            raise self._refuse(429, "too many requests", "rate limited", "refused a request to route %r: over its rate "
                               "limit", name, headers={"Retry-After": str(wait)})
        delivery = next((request.headers[h] for h in DELIVERY_HEADERS if request.headers.get(h)), None)
        claim = f"{name}\0{delivery}" if delivery else None
        if claim is not None and not self._seen.first_time(claim):
            return answer(200, "duplicate")
        context = {"request": Request(name, types.MappingProxyType(CaseInsensitiveDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in PRIVATE_HEADERS)))}
        outcome = self.jobs.submit_job(f"incoming {name}", lambda: self.jobs.run_handler(
            handler, room=handler.room, args=(payload,), context=context))
        if outcome is Outcome.BUSY:
            if claim is not None:
                self._seen.forget(claim)  # not taken: the sender's retry must be
            raise self._refuse(503, "busy", "busy", "refused a request to route %r: the workers' queue is full", name,
                               headers={"Retry-After": str(BUSY_RETRY_AFTER)})
        return answer(202, "accepted")

    def _check_key(self, name: str) -> None:
        """The key from ``Authorization: Bearer`` or ``?key=``, before the body is read."""
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        given = bearer.strip() if scheme.lower() == "bearer" else request.args.get("key")
        if given is None:
            raise self._refuse(401, "missing key", "no key", "refused a request to route %r without a key from %s",
                               name, request.remote_addr)
        if not hmac.compare_digest(self._key, given.encode("utf-8", "replace")):
            raise self._refuse(403, "wrong key", "wrong key", "refused a request to route %r with a wrong key from %s",
                               name, request.remote_addr)

    def _signed_body(self, name: str) -> bytes:
        """The raw body, once GitHub's signature on it is checked."""
        if not self._github_secret:
            raise self._refuse(503, no_secret(name), "no secret",
                               "refused a request to route %r: %s is not set", name, SECRET_SETTING)
        header = request.headers.get("X-Hub-Signature-256")
        if not header:
            raise self._refuse(401, "missing signature", "unsigned", "refused an unsigned request to route %r from %s",
                               name, request.remote_addr)
        body = self._body(name)
        if not github_signature_ok(self._github_secret, body, header):
            raise self._refuse(403, "bad signature", "bad signature", "refused a request to route %r with a bad "
                               "signature from %s", name, request.remote_addr)
        return body

    def _body(self, name: str) -> bytes:
        """The raw body, at most ``max_body_bytes``: a larger declared length is refused unread."""
        declared = request.content_length
        body = b""
        if declared is None or declared <= self.max_body_bytes:
            try:
                body = request.get_data(cache=False)
            except RequestEntityTooLarge:
                declared = self.max_body_bytes + 1
        size = max(declared or 0, len(body))
        if size > self.max_body_bytes:
            raise self._refuse(413, "body too large", "too large", "refused a request of %d bytes to route %r from %s",
                               size, name, request.remote_addr)
        return body

    def _payload(self, name: str, body: bytes) -> Any:
        """The JSON value of the body, or a form as a dict (GitHub's ``payload=<json>`` form: that JSON)."""
        kind = request.mimetype
        try:
            if kind == "application/json":
                return json.loads(body)
            if kind == "application/x-www-form-urlencoded":
                form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
                return _form_payload(form)
        except Exception:  # not only ValueError: deep nesting raises RecursionError
            raise self._refuse(400, "malformed body", "malformed", "refused a request to route %r: its body is not "
                               "valid %s", name, kind) from None
        raise self._refuse(415, "unsupported content type", "content type", "refused a request to route %r with "
                           "content type %s", name, clip(kind or "(none)", 60))


def _form_payload(form: dict[str, str]) -> Any:
    """GitHub's form bodies carry the JSON in one ``payload`` field: hand over that JSON."""
    if list(form) == ["payload"]:
        try:
            return json.loads(form["payload"])
        except Exception:  # a field of that name that is no JSON is a form like any other
            return form
    return form
