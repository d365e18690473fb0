"""The one seam to the Webex REST API, built on webexpythonsdk.

The real Webex, the emulator and a rate-limit retry all sit behind this class: the SDK itself waits
out a 429 for its Retry-After; here a 5xx or a dropped connection is retried with backoff, and a
refused token becomes a clear ``WebexAuthError``.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional, TypeVar

import requests
from webexpythonsdk import ApiError, WebexAPI

log = logging.getLogger(__name__)
T = TypeVar("T")


class WebexAuthError(Exception):
    """Webex refused the bot's token."""


class WebexUnavailable(Exception):
    """Webex kept failing (5xx or no connection) after the retries."""


class WebexClient:
    def __init__(self, token: str, api_url: str, *, retries: int = 3, backoff: float = 0.5,
                 timeout: int = 30) -> None:
        self.api = WebexAPI(access_token=token, base_url=api_url, wait_on_rate_limit=True,
                            single_request_timeout=timeout)
        self.token = token
        self._retries = retries
        self._backoff = backoff
        self._me: Any = None

    def call(self, what: str, function: Callable[[], T]) -> T:
        """Run one API call, retrying server errors and dropped connections with backoff."""
        for attempt in range(self._retries + 1):
            try:
                return function()
            except ApiError as exc:
                if exc.status_code == 401:
                    raise WebexAuthError(
                        "Webex refused the bot token (401): check WEBEX_BOT_TOKEN; a regenerated token "
                        "replaces the old one") from None
                if exc.status_code < 500 or attempt == self._retries:
                    if exc.status_code >= 500:
                        raise WebexUnavailable(f"{what}: Webex answered {exc.status_code} "
                                               f"{self._retries + 1} times (trackingId {exc.tracking_id})") from exc
                    raise
                log.warning("%s: Webex answered %s, retrying", what, exc.status_code)
            except requests.ConnectionError as exc:
                if attempt == self._retries:
                    raise WebexUnavailable(f"{what}: cannot reach Webex ({type(exc).__name__}): check the network "
                                           "or proxy (HTTPS_PROXY), and WEBEX_API_URL") from exc
                log.warning("%s: cannot reach Webex, retrying", what)
            time.sleep(self._backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    def me(self) -> Any:
        """The bot's own person, asked once and kept."""
        if self._me is None:
            self._me = self.call("people/me", self.api.people.me)
        return self._me

    def message(self, message_id: str) -> Any:
        return self.call("get message", lambda: self.api.messages.get(message_id))

    def card_action(self, action_id: str) -> Any:
        return self.call("get card action", lambda: self.api.attachment_actions.get(action_id))

    def send(self, **fields: Any) -> Any:
        """POST /messages; ``files`` may name one local file (sent as multipart by the SDK)."""
        return self.call("send message", lambda: self.api.messages.create(**fields))

    def room(self, room_id: str) -> Any:
        return self.call("get room", lambda: self.api.rooms.get(room_id))

    def webhooks(self) -> list[Any]:
        return self.call("list webhooks", lambda: list(self.api.webhooks.list()))

    def create_webhook(self, **fields: Any) -> Any:
        return self.call("create webhook", lambda: self.api.webhooks.create(**fields))

    def update_webhook(self, webhook_id: str, **fields: Any) -> Any:
        return self.call("update webhook", lambda: self.api.webhooks.update(webhook_id, **fields))

    def delete_webhook(self, webhook_id: str) -> None:
        self.call("delete webhook", lambda: self.api.webhooks.delete(webhook_id))

    def person(self, person_id: str) -> Optional[Any]:
        return self.call("get person", lambda: self.api.people.get(person_id))
