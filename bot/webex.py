"""The one seam to the Webex REST API, built on webexpythonsdk.

The real Webex, the emulator and rate limits all sit behind this class: every REST call of the bot
is a method here, run under the one retry policy (5xx and dropped connections with backoff, 429 for
its Retry-After). The SDK's own errors stay inside: callers see ``WebexError`` and its kinds, with
Webex's status and trackingId, and a refused token as a clear ``WebexAuthError``.
"""
from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Callable, Optional, TypeVar
from urllib.parse import quote

import requests
from webexpythonsdk import ApiError, RateLimitError, WebexAPI

from . import ids
from .errors import WebexAuthError, WebexError, WebexUnavailable
from .logs import clip
from .metrics import Metrics
from .network import Network
from .retry import TRANSIENT, RetryPolicy, Verdict, rate_limited

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_IDLE_CLIENTS = 64  # idle SDK clients kept (each holds a keep-alive connection) after a burst
AUTH_HELP = ("Webex refused the bot token (401): check WEBEX_BOT_TOKEN; a regenerated token replaces the old "
             "one")


def _classify(exc: Exception) -> Optional[Verdict]:
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return None  # a certificate or a proxy's refusal stays the same on the next try
    if isinstance(exc, RateLimitError):
        return rate_limited(exc.retry_after)
    if isinstance(exc, ApiError) and exc.status_code >= 500:
        return TRANSIENT
    if isinstance(exc, requests.ConnectionError):
        return TRANSIENT
    return None


def segment(value: str, what: str) -> str:
    """``value`` as one quoted URL path segment, once it is known to be a Webex id: an id from an
    envelope (``../webhooks``) must never change which endpoint is called."""
    if not ids.valid(value):
        raise WebexError(f"{what}: {clip(value)} is not a Webex id; not calling Webex with it")
    return quote(value, safe="")


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"Webex answered {exc.status_code}"
    return f"cannot reach Webex ({type(exc).__name__})"


class WebexClient:
    def __init__(self, token: str, api_url: str, *, retry: RetryPolicy = RetryPolicy(), timeout: int = 30,
                 network: Optional[Network] = None, metrics: Optional[Metrics] = None) -> None:
        self.token = token
        self.metrics = metrics or Metrics()
        self.api_url = api_url
        self.network = network or Network()
        self.timeout = timeout
        self.retry = retry
        self._me: Any = None
        self._idle: list[WebexAPI] = []  # SDK clients no call is using, the most recently used last
        self._idle_lock = threading.Lock()

    def _borrow(self) -> WebexAPI:
        """An SDK client for one call: an idle one, else a new one.

        Each SDK client brings its own HTTP session, and a requests session keeps at most 10
        connections: handlers sharing one would queue behind it (or open and drop a connection per
        call) once more than 10 wait on Webex at once. A client per thread would shake hands again with
        every new thread. Lent per call, the most recently used first, a warm connection serves each
        call, and as many exist as calls ever ran at once. Rate limits are waited out by our policy,
        not the SDK's: one policy, and no warnings printed past the bot's log format.
        """
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        api = WebexAPI(access_token=self.token, base_url=self.api_url, wait_on_rate_limit=False,
                       single_request_timeout=self.timeout)
        # The SDK makes its requests session itself and takes only a proxies dict and an on/off for
        # certificate checks: the network's adapter goes onto that session (the one private name read).
        self.network.equip(api._session._req_session)
        return api

    def _give_back(self, api: WebexAPI) -> None:
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE_CLIENTS:
                self._idle.append(api)

    def call(self, what: str, function: Callable[[WebexAPI], T]) -> T:
        """Run one API call under the retry policy; failures become ``WebexError``s."""
        def attempt() -> T:
            api = self._borrow()
            try:
                answer = function(api)
            except ApiError as exc:
                self.metrics.webex_call(str(exc.status_code))
                raise
            except requests.ConnectionError:
                self.metrics.webex_call("unreachable")
                raise
            finally:
                self._give_back(api)
            self.metrics.webex_call("ok")
            return answer

        def warn(exc: Exception, wait: float) -> None:
            log.warning("%s: %s, retrying in %.1fs", what, _describe(exc), wait)

        try:
            return self.retry.run(attempt, classify=_classify, on_retry=warn)
        except ApiError as exc:
            raise self._error(what, exc) from None
        except requests.ConnectionError as exc:
            problem = self.network.problem(self.api_url, exc)
            if problem is not None:
                raise problem from None
            raise WebexUnavailable(f"{what}: cannot reach Webex ({type(exc).__name__}): check the network or "
                                   "proxy (HTTPS_PROXY), and WEBEX_API_URL") from None

    def _error(self, what: str, exc: ApiError) -> WebexError:
        status, tracking = exc.status_code, exc.tracking_id or ""
        if status == 401:
            return WebexAuthError(AUTH_HELP, status=status, tracking_id=tracking, permanent=True)
        if isinstance(exc, RateLimitError):
            return WebexUnavailable(f"{what}: Webex kept answering 429 (rate limited) after "
                                    f"{self.retry.rate_limit_attempts} tries (trackingId {tracking})",
                                    status=status, tracking_id=tracking)
        if status >= 500:
            return WebexUnavailable(f"{what}: Webex answered {status} {self.retry.attempts} times "
                                    f"(trackingId {tracking})", status=status, tracking_id=tracking)
        return WebexError(f"{what}: Webex answered {status} {exc.message or exc.status or ''}".rstrip()
                          + f" (trackingId {tracking})", status=status, tracking_id=tracking)

    def me(self) -> Any:
        """The bot's own person, asked once and kept."""
        if self._me is None:
            self._me = self.call("people/me", lambda api: api.people.me())
        return self._me

    def message(self, message_id: str) -> Any:
        return self.call("get message", lambda api: api.messages.get(segment(message_id, "get message")))

    def card_action(self, action_id: str) -> Any:
        return self.call("get card action",
                         lambda api: api.attachment_actions.get(segment(action_id, "get card action")))

    def send(self, **fields: Any) -> Any:
        """POST /messages; ``files`` may name one local file (sent as multipart by the SDK)."""
        return self.call("send message", lambda api: api.messages.create(**fields))

    def room(self, room_id: str) -> Any:
        return self.call("get room", lambda api: api.rooms.get(segment(room_id, "get room")))

    def person(self, person_id: str) -> Optional[Any]:
        return self.call("get person", lambda api: api.people.get(segment(person_id, "get person")))

    def rooms_by_activity(self, limit: int) -> list[Any]:
        """The bot's rooms, the most recently active first, at most ``limit`` (pages read lazily)."""
        return self.call("list rooms", lambda api: list(itertools.islice(
            api.rooms.list(sortBy="lastactivity", max=100), limit)))

    def recent_messages(self, room_id: str, *, mentioning_me: bool, while_: Callable[[Any], bool],
                        limit: int) -> list[Any]:
        """The room's messages, newest first, as long as ``while_`` holds, at most ``limit``.

        ``mentioning_me`` lists only those that mention the bot: all a bot may list in a group room.
        """
        filters = {"mentionedPeople": "me"} if mentioning_me else {}
        return self.call("list messages", lambda api: list(itertools.takewhile(while_, itertools.islice(
            api.messages.list(roomId=room_id, max=50, **filters), limit))))

    def webhooks(self) -> list[Any]:
        return self.call("list webhooks", lambda api: list(api.webhooks.list()))

    def create_webhook(self, **fields: Any) -> Any:
        return self.call("create webhook", lambda api: api.webhooks.create(**fields))

    def update_webhook(self, webhook_id: str, **fields: Any) -> Any:
        return self.call("update webhook",
                         lambda api: api.webhooks.update(segment(webhook_id, "update webhook"), **fields))

    def delete_webhook(self, webhook_id: str) -> None:
        self.call("delete webhook", lambda api: api.webhooks.delete(segment(webhook_id, "delete webhook")))
