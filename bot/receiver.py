"""The webhook receiver: a Flask app whose routes are the webhook, behind an unguessable path, and
the ``@incoming`` routes there are (``inbound.py``).

Order matters for safety: the size is bounded and the signature is checked on the raw bytes, in
constant time, before anything is parsed. Webex gets its 200 as soon as the event is queued.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Mapping, Optional

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .errors import BadEvent
from .events import Event, Outcome
from .logs import clip
from .refusals import Refusals

if TYPE_CHECKING:
    from .inbound import Incoming

log = logging.getLogger(__name__)
PROBE_RESOURCE = "webex-bot-probe"


def expected_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def signature_ok(secret: str, body: bytes, header: Optional[str]) -> bool:
    """Whether ``header`` is the HMAC-SHA1 of the raw ``body``; compared in constant time.

    Compared as bytes: ``compare_digest`` raises on a non-ASCII str, and the header is the sender's.
    """
    if not header:
        return False
    given = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected_signature(secret, body).encode(), given)


def is_stale(created: str, max_age: float, now: Optional[datetime] = None) -> bool:
    """True when ``created`` is older than ``max_age`` seconds (a replayed delivery)."""
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if moment.tzinfo is None:  # Webex writes UTC; a time without a zone must not crash the route
            moment = moment.replace(tzinfo=timezone.utc)
        return ((now or datetime.now(timezone.utc)) - moment).total_seconds() > max_age
    except (ValueError, OverflowError):  # an odd time (year 1 at -23:59) is no reason to refuse
        return False


class Receiver:
    """The Flask app of the webhook route; ``submit`` takes each verified event. ``incoming``: the
    ``@incoming`` routes to serve beside it, on the same port."""

    def __init__(self, submit: Callable[[Event], Outcome], *, secret: Optional[str] = None,
                 max_body_bytes: int = 1024 * 1024, max_age: float = 3600.0,
                 incoming: Optional["Incoming"] = None) -> None:
        self.secret = secret or secrets.token_hex(32)
        self.path = f"/webhook/{secrets.token_urlsafe(24)}"
        self.max_body_bytes = max_body_bytes
        self.max_age = max_age
        self.submit = submit
        self.incoming = incoming
        self.probes = 0
        self.refusals = Refusals()
        self.app = self._create_app()

    @property
    def secrets(self) -> tuple[str, str]:
        """What no log line may show: the signing secret and the path's random segment."""
        return self.secret, self.path.rsplit("/", 1)[1]

    def _create_app(self) -> Flask:
        app = Flask("bot.receiver", static_folder=None)  # Flask would serve /static/<file> otherwise
        app.config["MAX_CONTENT_LENGTH"] = self.max_body_bytes
        # Only POST: Flask would answer OPTIONS by itself, telling a prober the route exists.
        app.add_url_rule(self.path, "webhook", self._webhook, methods=["POST"], provide_automatic_options=False)
        if self.incoming is not None:
            self.incoming.register(app, self.refusals)

        @app.errorhandler(HTTPException)
        def plain_error(exc: HTTPException) -> Response:
            if exc.code == 405:
                self.refusals.note("wrong method", "refused a request with method %s on a route of the bot",
                                   clip(request.method, 10))
            return answer(exc.code or 500, exc.name.lower())

        @app.errorhandler(Exception)
        def unexpected(exc: Exception) -> Response:
            # Flask's own log line would name the request's URL, and with it the route's secret or the
            # incoming key of a ``?key=``.
            log.error("a route of the bot failed unexpectedly (%s); the sender may send again", type(exc).__name__,
                      exc_info=exc)
            return answer(500, "internal error")

        return app

    def _webhook(self) -> Response:
        body = request.get_data(cache=False)
        if len(body) > self.max_body_bytes:
            self.refusals.note("too large", "refused a webhook request of %d bytes from %s", len(body),
                               request.remote_addr)
            return answer(413, "body too large")
        header = request.headers.get("X-Spark-Signature")
        if not header:
            self.refusals.note("unsigned", "refused an unsigned webhook request from %s", request.remote_addr)
            return answer(401, "missing signature")
        if not signature_ok(self.secret, body, header):
            self.refusals.note("bad signature", "refused a webhook request with a bad signature from %s",
                               request.remote_addr)
            return answer(403, "bad signature")
        try:
            envelope = json.loads(body)
        except Exception:  # not only ValueError: deep nesting raises RecursionError
            self.refusals.note("malformed", "refused a signed webhook request that is not JSON")
            return answer(400, "malformed JSON")
        if not isinstance(envelope, dict):
            self.refusals.note("malformed", "refused a signed webhook request that is not a JSON object")
            return answer(400, "the body is not a JSON object")
        if envelope.get("resource") == PROBE_RESOURCE:
            self.probes += 1
            return answer(200, "probe")
        try:
            event = Event.from_webhook(envelope)
        except BadEvent as exc:
            self.refusals.note("malformed", "refused a signed webhook delivery: %s", exc)
            return answer(400, str(exc))
        if is_stale(event.created, self.max_age):
            self.refusals.note("stale", "ignored a delivery of %s created %s: older than %ss", event.id,
                               clip(event.created, 40), int(self.max_age))
            return answer(200, "stale")
        outcome = self.submit(event)
        return answer(503 if outcome is Outcome.BUSY else 200, outcome.value)


@functools.lru_cache(maxsize=64)
def _body(outcome: str) -> bytes:
    return json.dumps({"status": outcome}).encode()


def answer(status: int, outcome: str, headers: Optional[Mapping[str, str]] = None) -> Response:
    """A small JSON answer, its body made once per outcome: on the hot path, jsonify alone would cost
    several times the signature check."""
    return Response(_body(outcome), status=status, mimetype="application/json", headers=headers)
