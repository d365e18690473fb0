"""The device websocket transport: Webex pushes events over an outbound connection, no public URL.

One thread owns the connection and is the only code that writes to it (authorization, pings, acks):
frames written from several threads corrupt a compressed stream. An activity becomes an ``Event``
on that thread, with a REST id built from its uuid and the bot's own cluster, and is acknowledged as
soon as the dispatcher has taken it: a REST lookup before the ack made Webex wait seconds in a burst.
Where the built id is wrong (a space homed in another cluster: Webex answers 404), the dispatcher
asks the conversation service for the right one, the lookup Webex's own clients make. An event acked
and then lost to a crash is found by the catch-up at the next start; one the dispatcher refuses is
left un-acked. Drops reconnect with backoff and jitter; close codes that mean "never" stop the
transport with a clear reason.
"""
from __future__ import annotations

import json
import logging
import queue
import random
import ssl
import threading
import time
import uuid
from typing import Any, Callable, Optional

import requests
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidProxyStatus, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from . import ids
from .errors import DeviceError, TransportError, WebexError, WebexUnavailable
from .events import CARD_ACTION, JOINED, LEFT, MESSAGE, Event, Outcome
from .logs import clip
from .metrics import Metrics
from .network import Network
from .retry import TRANSIENT, RetryPolicy, Verdict, rate_limited
from .wdm import DeviceRegistry

log = logging.getLogger(__name__)
QUERY = "outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true"
READY_EVENTS = ("mercury.buffer_state", "mercury.registration_status")
SPACE_VERBS = {"add": JOINED, "leave": LEFT}  # someone added to a space, or gone from it
PERMANENT_CLOSES = {
    4400: "Webex rejected the websocket request (4400)",
    4401: "Webex refused the bot token on the websocket (4401): check WEBEX_BOT_TOKEN",
    4403: "Webex forbids this bot the websocket (4403)",
    4000: "another connection replaced this one (4000): is the same bot instance running elsewhere? "
          "Give each run its own --instance",
}


class _Retryable(Exception):
    """A lookup answer worth asking again (429 or 5xx), carrying the response."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _classify_lookup(exc: Exception) -> Optional[Verdict]:
    if isinstance(exc, requests.ConnectionError):
        return TRANSIENT
    if isinstance(exc, _Retryable):
        if exc.response.status_code == 429:
            return rate_limited(float(exc.response.headers.get("Retry-After") or 15))
        return TRANSIENT
    return None


class WebsocketTransport:
    def __init__(self, *, registry: DeviceRegistry, token: str, my_id: str, submit: Callable[[Event], str],
                 catch_up: Callable[[], object], keep_device: bool = False, ping_interval: float = 15.0,
                 pong_timeout: float = 14.0, max_backoff: float = 32.0,
                 on_fatal: Optional[Callable[[str], None]] = None, retry: RetryPolicy = RetryPolicy(),
                 network: Optional[Network] = None, metrics: Optional[Metrics] = None) -> None:
        self.registry = registry
        self.metrics = metrics or Metrics()
        self.network = network or Network()
        self.token = token
        self.my_uuid = ids.uuid_of(my_id)
        self.cluster = ids.cluster_of(my_id)
        self.submit = submit
        self.catch_up = catch_up
        self.keep_device = keep_device
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.max_backoff = max_backoff
        self.on_fatal = on_fatal
        self.retry = retry
        self._catch_up_lock = threading.Lock()
        self._catch_up_pending = False
        self._catch_up_running = threading.Lock()
        self.device: Optional[dict[str, Any]] = None
        self.fatal: Optional[str] = None
        self.connections = 0
        self.gaps = 0
        self._ready = threading.Event()
        self._started = False
        self._stopping = threading.Event()
        self._reconnect = threading.Event()  # reconnect_now() asked; set by stop() too, to end a pause
        self._outbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._http = self.network.session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._last_sequence: Optional[int] = None
        self._ws: Optional[ClientConnection] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def start(self, timeout: float = 20.0) -> "WebsocketTransport":
        """Connect and wait until Webex says the connection is ready (TransportError otherwise)."""
        self._thread = threading.Thread(target=self._run, name="websocket", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.fatal:
                raise TransportError(self.fatal)
            if time.monotonic() > deadline:
                self.stop()
                raise TransportError(f"the Webex websocket was not ready within {timeout:.0f}s")
        self._started = True
        if self.fatal:
            raise TransportError(self.fatal)
        return self

    def reconnect_now(self) -> None:
        """Replace the connection at once, with no pause first: after a sleep or a network change it
        may be dead without knowing it, and the pings would take half a minute to tell."""
        self._reconnect.set()

    def stop(self) -> None:
        self._stopping.set()
        self._reconnect.set()
        ws = self._ws
        if ws is not None:
            ws.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self.device is not None and not self.keep_device:
            try:
                self.registry.delete(self.device)
                log.info("removed device %s", self.registry.name)
            except (DeviceError, KeyError) as exc:
                log.warning("could not remove the device: %s", exc)

    # -- the connection loop ---------------------------------------------------------------------
    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                if self.device is None:
                    self.device = self.registry.ensure()
                    self._last_sequence = None
                reason = self._session(self.device)
            except InvalidStatus as exc:
                if exc.response.status_code == 404:
                    log.info("the device is gone (404 on connect); registering again")
                    self.device = None
                    continue
                reason = f"websocket handshake failed (HTTP {exc.response.status_code})"
            except DeviceError as exc:
                if exc.permanent:
                    self.fatal = str(exc)
                reason = str(exc)
            except ssl.SSLCertVerificationError as exc:  # the same certificate on every try
                reason = self.fatal = str(self.network.untrusted(self._socket_url(), exc.verify_message))
            except InvalidProxyStatus as exc:
                status = exc.response.status_code
                if status in (403, 407):  # the proxy's rule, not a passing failure
                    self.fatal = str(self.network.refused(self._socket_url(), status))
                reason = f"the proxy answered {status} to the websocket's CONNECT"
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                reason = f"cannot connect ({type(exc).__name__})"
            if self.fatal:
                # Once start() has returned, nobody else reports it: the log must say it.
                if self._started:
                    log.error("websocket: %s; the bot no longer receives messages", self.fatal)
                    if self.on_fatal is not None:
                        self.on_fatal(self.fatal)
                self._ready.clear()
                return
            if self._stopping.is_set():
                return
            if self._ready.is_set():
                delay = 1.0
            self._ready.clear()
            if self._reconnect.is_set():
                self._reconnect.clear()
                log.info("websocket: %s; reconnecting now", reason)
                continue
            wait = min(delay, self.max_backoff) * random.uniform(0.7, 1.3)
            log.warning("websocket: %s; reconnecting in %.1fs", reason, wait)
            if self._reconnect.wait(wait):
                self._reconnect.clear()
            delay = min(delay * 2, self.max_backoff)

    def _socket_url(self) -> str:
        return str((self.device or {}).get("webSocketUrl", ""))

    def _session(self, device: dict[str, Any]) -> str:
        """One connection, from authorization to close; returns why it ended."""
        url = device["webSocketUrl"] + ("&" if "?" in device["webSocketUrl"] else "?") + QUERY
        with connect(url, ping_interval=None, open_timeout=15, close_timeout=2, max_size=2 ** 24,
                     additional_headers={"Authorization": f"Bearer {self.token}"},
                     **self.network.websocket_options(url)) as ws:
            self._ws = ws
            self.connections += 1
            if self.connections > 1:
                self.metrics.websocket_reconnected()
            self._reconnect.clear()  # this connection is new: it need not be replaced
            # Sequence numbers count per connection: the old connection's highest would hide every gap.
            self._last_sequence = None
            ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "authorization",
                                "data": {"token": f"Bearer {self.token}"}}))
            try:
                return self._converse(ws)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                if code in PERMANENT_CLOSES and not self._stopping.is_set():
                    self.fatal = PERMANENT_CLOSES[code]
                return f"connection closed ({code})"
            finally:
                self._ws = None

    def _converse(self, ws: ClientConnection) -> str:
        next_ping = time.monotonic() + self.ping_interval
        awaited_pong: Optional[str] = None
        pong_deadline = 0.0
        while not self._stopping.is_set():
            if self._reconnect.is_set():
                ws.close()
                return "asked to reconnect"
            while not self._outbox.empty():
                ws.send(json.dumps(self._outbox.get_nowait()))
            try:
                frame = json.loads(ws.recv(timeout=0.1))
            except TimeoutError:
                frame = None
            except ValueError:
                log.warning("websocket: ignored a frame that is not JSON")
                frame = None
            if frame is not None:
                if frame.get("type") == "pong" and frame.get("id") == awaited_pong:
                    awaited_pong = None
                elif frame.get("type") == "shutdown":
                    ws.close()
                    return "Webex asked to reconnect (shutdown)"
                else:
                    self._on_envelope(frame)
            now = time.monotonic()
            if awaited_pong is not None and now > pong_deadline:
                ws.close()
                return f"no pong within {self.pong_timeout:g}s"
            if awaited_pong is None and now >= next_ping:
                awaited_pong = str(uuid.uuid4())
                ws.send(json.dumps({"id": awaited_pong, "type": "ping"}))
                pong_deadline = now + self.pong_timeout
                next_ping = now + self.ping_interval
        ws.close()
        return "stopped"

    # -- envelopes -------------------------------------------------------------------------------
    def _ack(self, envelope_id: Optional[str]) -> None:
        if envelope_id:
            self._outbox.put({"type": "ack", "messageId": envelope_id})

    def _on_envelope(self, envelope: dict[str, Any]) -> None:
        data = envelope.get("data") or {}
        event_type = data.get("eventType")
        if event_type in READY_EVENTS:
            if not self._ready.is_set():
                log.info("websocket ready")
                if self.connections > 1:
                    # Webex may or may not replay what was sent while no connection was up: what it
                    # does replay is deduplicated, the rest is found over REST.
                    self.catch_up_soon("reconnected")
            self._ready.set()
            self._ack(envelope.get("id"))
            return
        self._check_sequence(envelope.get("sequenceNumber"))
        activity = data.get("activity")
        if event_type != "conversation.activity" or not isinstance(activity, dict):
            self._ack(envelope.get("id"))
            return
        self._deliver(envelope.get("id"), activity)

    def _check_sequence(self, number: Any) -> None:
        if not isinstance(number, int):
            return
        last = self._last_sequence
        if last is not None and number > last + 1:
            self.gaps += 1
            self.catch_up_soon(f"events {last + 1} to {number - 1} never arrived")
        self._last_sequence = number if last is None else max(last, number)

    def catch_up_soon(self, reason: str) -> None:
        """Ask REST for what this connection did not bring, off the connection's thread.

        Requests made while one catch-up waits to start are served by it: a burst of refusals asks
        once, not once each. One made while a catch-up runs starts one more after it.
        """
        with self._catch_up_lock:
            if self._catch_up_pending:
                return
            self._catch_up_pending = True
        log.warning("websocket: %s; catching up over REST", clip(reason))
        threading.Thread(target=self._run_catch_up, name="websocket-catch-up", daemon=True).start()

    def _run_catch_up(self) -> None:
        with self._catch_up_running:
            with self._catch_up_lock:
                self._catch_up_pending = False  # from here on, a new request needs a new catch-up
            self.catch_up()

    def _deliver(self, envelope_id: Optional[str], activity: dict[str, Any]) -> None:
        """Hand the activity's event to the dispatcher, then acknowledge it; an event the dispatcher
        refuses (full, or stopping) stays un-acked so that Webex sends it again."""
        try:
            event = self._event(activity)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("websocket: ignored a malformed activity %s (%s)", clip(activity.get("id"), 40), clip(str(exc)))
            event = None
        if event is not None and self.submit(event) is Outcome.BUSY:
            self.catch_up_soon("the bot was too busy to take an event")
            return
        self._ack(envelope_id)

    def _event(self, activity: dict[str, Any]) -> Optional[Event]:
        """The event an activity calls for, or None when there is nothing to do."""
        verb = activity.get("verb")
        if verb in SPACE_VERBS:
            return self._membership(activity, SPACE_VERBS[verb])
        if ids.same(str((activity.get("actor") or {}).get("id", "")), self.my_uuid):
            return None
        obj = activity.get("object") or {}
        if verb == "post":
            kind, type_, path, activity_uuid = MESSAGE, "MESSAGE", "messages", activity["id"]
        elif verb == "cardAction":
            kind, type_, path, activity_uuid = CARD_ACTION, "ATTACHMENT_ACTION", "attachment/actions", activity["id"]
        elif verb in ("share", "update") and obj.get("contentCategory") == "documents":
            activity_uuid = activity["id"] if verb == "share" else obj.get("id")
            items = (obj.get("files") or {}).get("items") or []
            if not (items and all(i.get("malwareQuarantineState") == "safe" for i in items) and activity_uuid):
                return None
            kind, type_, path = MESSAGE, "MESSAGE", "messages"
        else:
            return None
        target = activity["target"]
        if not (ids.valid_uuid(activity_uuid) and ids.valid_uuid(target["id"]) and isinstance(target["url"], str)):
            raise ValueError("the activity names no uuid")
        actor = activity.get("actor") or {}
        tags = target.get("tags") or []
        return Event(kind=kind, id=ids.build(self.cluster, type_, activity_uuid), room_id="", person_id="",
                     person_email=str(actor.get("emailAddress", "")),
                     room_type="direct" if "ONE_ON_ONE" in tags else "group",
                     created=str(activity.get("published", "")), transport="websocket",
                     resolve=lambda: self._lookup(target, path, activity_uuid))

    def _membership(self, activity: dict[str, Any], kind: str) -> Event:
        """Someone added to or gone from a space, as the webhook says it: the ids are built from the
        uuids (the dispatcher checks the space's), the membership's as Webex makes it, member and space."""
        person, target = activity["object"], activity["target"]
        actor = activity.get("actor") or {}
        if not (ids.valid_uuid(person["id"]) and ids.valid_uuid(target["id"])):
            raise ValueError("the activity names no uuid")
        actor_id = ids.build(self.cluster, "PEOPLE", actor["id"]) if ids.valid_uuid(actor.get("id")) else ""
        return Event(kind=kind, id=ids.build(self.cluster, "MEMBERSHIP", f"{person['id']}:{target['id']}"),
                     room_id=ids.build(self.cluster, "ROOM", target["id"]),
                     person_id=ids.build(self.cluster, "PEOPLE", person["id"]),
                     person_email=str(person.get("emailAddress", "")), person_name=str(person.get("displayName", "")),
                     room_type="direct" if "ONE_ON_ONE" in (target.get("tags") or []) else "group",
                     created=str(activity.get("published", "")), transport="websocket", actor_id=actor_id)

    def _lookup(self, target: dict[str, Any], kind: str, activity_uuid: str) -> str:
        """The REST id, from the conversation service of the activity's own cluster.

        A rate limit is waited out and a server error or dropped connection retried with backoff, as
        for the REST calls; what still fails is a ``WebexError`` like any failed REST call.
        """
        url = target["url"].replace(f"conversations/{target['id']}", f"{kind}/{activity_uuid}")

        def get() -> str:
            response = self._http.get(url, timeout=15)
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(response)
            response.raise_for_status()
            rest_id = response.json()["id"]
            if not ids.valid(rest_id):
                raise ValueError("the conversation service answered no Webex id")
            return str(rest_id)

        def note(exc: Exception, wait: float) -> None:
            log.info("websocket: looking up activity %s failed (%s); retrying in %.1fs", activity_uuid, exc, wait)

        what = f"look up activity {activity_uuid}"
        try:
            return self.retry.run(get, classify=_classify_lookup, sleep=self._stopping.wait, on_retry=note)
        except _Retryable as exc:
            raise WebexUnavailable(f"{what}: the conversation service kept answering "
                                   f"{exc.response.status_code}", status=exc.response.status_code) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            raise WebexError(f"{what}: the conversation service answered {status}", status=status) from None
        except requests.RequestException as exc:
            problem = self.network.problem(url, exc)
            if problem is not None:
                raise problem from None
            raise WebexUnavailable(f"{what}: cannot reach the conversation service ({type(exc).__name__})") from None
        except (ValueError, KeyError) as exc:
            raise WebexError(f"{what}: {clip(str(exc))}") from None
