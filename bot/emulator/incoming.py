"""A bot's incoming routes (``/incoming/<name>``), registered by the sandbox so that the chat page can
send them test events as CI or GitHub would.

The emulator keys or signs each request itself, so the key and GitHub's secret stay here, in memory:
no listing, traffic record or page ever holds them.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

import requests

from .ids import new_uuid
from .settings import Settings
from .traffic import Traffic

AUTHS = ("key", "github")
TEST_PAYLOAD = {"test": True, "sent_by": "the sandbox"}
TEST_EVENT = "push"  # GitHub's commonest event: a relay posts something, where a "ping" it would skip
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def github_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown_url(url: str) -> str:
    """``url`` without its query: a route URL pasted with ``?key=`` must not show the key."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string.")
    return value


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    auth: str
    key: Optional[str] = field(default=None, repr=False)
    secret: Optional[str] = field(default=None, repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Route":
        """The route a control request describes; ValueError saying which field is wrong."""
        name, url, auth = (_text(body, f) for f in ("name", "url", "auth"))
        if not NAME.fullmatch(name):
            raise ValueError("name is letters, digits, '-', '_' and '.'.")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError("url must be an http:// or https:// URL.")
        if auth not in AUTHS:
            raise ValueError("auth is 'key' or 'github'.")
        if auth == "key":
            return cls(name, url, auth, key=_text(body, "key"))
        return cls(name, url, auth, secret=_text(body, "secret"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": shown_url(self.url), "auth": self.auth}


class IncomingRoutes:
    """The registered routes by name (a new registration of a name replaces it: the bot restarted)."""

    def __init__(self, traffic: Traffic, settings: Settings) -> None:
        self._traffic = traffic
        self._settings = settings
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()

    def register(self, route: Route) -> None:
        with self._lock:
            self._routes[route.name] = route

    def get(self, name: str) -> Optional[Route]:
        with self._lock:
            return self._routes.get(name)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in sorted(self._routes.values(), key=lambda r: r.name)]

    def send(self, route: Route, payload: Any = None, event: Optional[str] = None) -> dict[str, Any]:
        """POST ``payload`` (JSON) to the route as its sender would, keyed or signed; record it in the
        traffic log (without those headers) and return what the bot answered."""
        payload = TEST_PAYLOAD if payload is None else payload
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Webex-Emulator-Incoming"}
        if route.auth == "key":
            headers["Authorization"] = f"Bearer {route.key}"
        else:
            assert route.secret is not None
            event = event or TEST_EVENT
            headers.update({"X-Hub-Signature-256": github_signature(route.secret, body), "X-GitHub-Event": event,
                            "X-GitHub-Delivery": new_uuid()})
        started = time.perf_counter()
        status: Optional[int] = None
        error: Optional[str] = None
        answer, answer_type = b"", ""
        try:
            response = requests.post(route.url, data=body, headers=headers, timeout=self._settings.delivery_timeout)
            status, answer, answer_type = response.status_code, response.content, response.headers.get(
                "Content-Type", "").split(";")[0]
        except requests.RequestException as exc:
            error = type(exc).__name__
        return self._traffic.record_incoming(
            name=route.name, url=shown_url(route.url), auth=route.auth, event=event if route.auth == "github" else None,
            status=status, error=error, millis=(time.perf_counter() - started) * 1000, request_body=body,
            response_body=answer, response_type=answer_type)
