"""Mercury, the device websocket: Webex's way to push events to a bot that has no public URL.

A device registered over WDM (see ``wdm.py``) gets a ``webSocketUrl`` here. Every new message or card
submit its owner may see, and every person who joins or leaves a space of its owner, becomes an
envelope in that device's queue, numbered by a per-device ``sequenceNumber`` and kept until the client
acknowledges it; a device with no live connection keeps its envelopes and gets them on the next one
(``bufferStates``). Whether Webex really replays is UNSURE, so two settings make it stricter:
``ws_replay`` off keeps nothing for a device without a live connection (events then are dropped, and
un-acked envelopes go with the connection that carried them), and ``replay_unacked`` off discards what
was kept when the next connection comes; what is kept is replayed for ``replay_window`` seconds only.
Either way a lost envelope still used its sequence number, so the client sees a gap, as it would at
Webex.

The server is the threaded ``websockets.sync`` one. Each connection has one writer thread, the only
code that writes to that socket, because acks, pongs and events written from several threads at once
corrupt a compressed stream (WEBEX_PROTOCOL.md, section 3).

A pong carries a ``sequenceNumber``, as Cisco's JS SDK expects: that of the last event, since a pong
that took a number of its own would look like a lost event to clients that count events only
(UNSURE which Webex does).
"""
from __future__ import annotations

import json
import logging
import operator
import queue
import re
import ssl
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from .activities import SPACE_VERBS, action_activity, membership_activity, message_activities
from .ids import new_uuid, timestamp
from .models import Event, MembershipChange, Person
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)

DEVICE_PATH = re.compile(r"^/v1/apps/wx2/registrations/([0-9a-f-]{36})/messages$")
AUTH_TIMEOUT = 30.0
# Mercury's own words (seconds sic); Cisco's SDK matches this reason to tell a timeout from other closes.
AUTH_TIMEOUT_REASON = "Authentication did not happen within the timeout window of 30000 seconds."
MAX_BUFFERED = 10_000
ACK_HISTORY = 10_000


def now_ms() -> int:
    return int(time.time() * 1000)


class Link:
    """One live connection of a device; its writer thread is the only code that writes to it."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self._outbox: queue.SimpleQueue[Optional[tuple[Any, ...]]] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="mercury-writer", daemon=True)
        self._writer.start()

    def send(self, frame: dict[str, Any]) -> None:
        self._outbox.put(("frame", frame))

    def close(self, code: int, reason: str = "") -> None:
        """Close with a close frame, after every frame queued before."""
        self._outbox.put(("close", code, reason))

    def drop(self) -> None:
        """Cut the TCP connection without a close frame: the client sees 1006 (abnormal closure)."""
        self.connection.close_socket()

    def finish(self) -> None:
        self._outbox.put(None)

    def _write(self) -> None:
        while (item := self._outbox.get()) is not None:
            try:
                if item[0] == "close":
                    self.connection.close(item[1], item[2])
                    return
                frame = item[1]
                if "data" in frame:
                    frame = {**frame, "wsWriteTimestamp": now_ms()}
                self.connection.send(json.dumps(frame))
            except ConnectionClosed:
                return


@dataclass
class Device:
    """A WDM device registration, and what Mercury holds for it."""

    uuid: str
    owner: Person
    fields: dict[str, str]
    created: str
    modified: str
    sequence: int = 0
    unacked: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    link: Optional[Link] = None


class Mercury:
    """The websocket server and the device registry it serves."""

    def __init__(self, store: Store, settings: Settings, host: str, conversation_url: Callable[[], str],
                 *, public_host: Optional[str] = None) -> None:
        """``conversation_url`` gives the conversation service's URL, which activities point to. It listens
        on ``host``; its URLs name ``public_host`` when given (a name only a proxy under test resolves)."""
        self.store = store
        self.settings = settings
        self.host = host
        self.public_host = public_host or host
        self._conversation_url = conversation_url
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}
        self._acks: deque[dict[str, Any]] = deque(maxlen=ACK_HISTORY)
        self._server: Optional[Server] = None
        self._thread: Optional[threading.Thread] = None
        self._port = 0
        self._tls = False
        self.auth_timeout = AUTH_TIMEOUT
        store.subscribe(self.on_event)

    @property
    def url(self) -> str:
        return f"{'wss' if self._tls else 'ws'}://{self.public_host}:{self._port}"

    def websocket_url(self, device: Device) -> str:
        """Shaped like Webex's ``wss://mercury-connection-a.wbx2.com/v1/apps/wx2/registrations/<id>/messages``."""
        return f"{self.url}/v1/apps/wx2/registrations/{device.uuid}/messages"

    def start(self, tls: Optional[ssl.SSLContext] = None) -> None:
        """Listen on a free port; with ``tls``, for ``wss://`` only."""
        self._tls = tls is not None
        self._server = serve(self._handle, self.host, 0, process_request=self._process_request,
                             ping_interval=None, logger=log, ssl=tls)
        self._port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator-mercury", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the device registry (WDM) ---------------------------------------------------------------
    def register(self, owner: Person, fields: dict[str, str], limit: int) -> Optional[Device]:
        """A new device of ``owner``; None when the owner holds ``limit`` devices already."""
        with self._lock:
            if sum(d.owner is owner for d in self._devices.values()) >= limit:
                return None
            now = timestamp()
            device = Device(new_uuid(), owner, dict(fields), now, now)
            self._devices[device.uuid] = device
            return device

    def device(self, uuid: str, owner: Optional[Person] = None) -> Optional[Device]:
        """The device ``uuid`` (of ``owner``, when given), or None."""
        with self._lock:
            device = self._devices.get(uuid)
        return device if device is not None and owner in (None, device.owner) else None

    def devices(self, owner: Optional[Person] = None) -> list[Device]:
        with self._lock:
            return [d for d in self._devices.values() if owner in (None, d.owner)]

    def refresh(self, device: Device, fields: dict[str, str]) -> None:
        with self._lock:
            device.fields.update(fields)
            device.modified = timestamp()

    def remove(self, uuid: str) -> bool:
        """Forget a device: its next handshake gets 404, as a stale device does at Webex."""
        with self._lock:
            return self._devices.pop(uuid, None) is not None

    # -- events ----------------------------------------------------------------------------------
    def on_event(self, kind: str, obj: Any) -> None:
        """Queue the activities of a new message, card submit or space membership for every device
        allowed to see it."""
        sees: Callable[[Person], bool]
        if kind == "message":
            activities, sees = message_activities(obj, self._conversation_url()), obj.visible_to
        elif kind == "action":
            activities = [action_activity(obj, self._conversation_url(), self.settings)]
            sees = partial(operator.is_, obj.message.author)
        elif kind == "event" and (change := self._space_change(obj)) is not None:
            activities = [membership_activity(obj, change, self._conversation_url(), self.settings)]
            sees = partial(self._sees_membership, obj.type, change)
        else:
            return
        with self.store.lock, self._lock:
            for device in self._devices.values():
                if sees(device.owner):
                    for activity in activities:
                        self._enqueue(device, activity)

    def _space_change(self, event: Event) -> Optional[MembershipChange]:
        """The join or leave ``event`` is, when the websocket tells of it."""
        change = event.membership
        if change is None or event.type not in SPACE_VERBS:
            return None
        return None if change.founding and not self.settings.add_seen_at_creation else change

    def _sees_membership(self, type: str, change: MembershipChange, owner: Person) -> bool:
        """The members after the change; the removed one only with ``leave_seen_by_removed``."""
        removed = type == "deleted" and owner is change.person
        return owner in change.members and (not removed or self.settings.leave_seen_by_removed)

    def _enqueue(self, device: Device, activity: dict[str, Any]) -> None:
        device.sequence += 1
        if device.link is None and not self.settings.ws_replay:
            return
        envelope_id = new_uuid()
        envelope = {
            "id": envelope_id,
            "data": {"eventType": "conversation.activity", "activity": activity},
            "timestamp": now_ms(),
            "trackingId": f"EMULATOR_{new_uuid()}",
            "sequenceNumber": device.sequence,
            "filterMessage": False,
            "alertType": "full",
            "headers": {},
        }
        device.unacked[envelope_id] = envelope
        while len(device.unacked) > MAX_BUFFERED:
            device.unacked.popitem(last=False)
        if device.link is not None:
            device.link.send(envelope)

    # -- connections -----------------------------------------------------------------------------
    def _device_at(self, path: str) -> Optional[Device]:
        match = DEVICE_PATH.match(urlsplit(path).path)
        return self.device(match.group(1)) if match else None

    def _process_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        if self._device_at(request.path) is None:
            return connection.respond(404, "No device is registered at this URL; register it again.\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        device = self._device_at(connection.request.path if connection.request else "")
        if device is None:
            connection.close(1011, "Device no longer registered")
            return
        if not self._authorize(connection, device):
            return
        link = Link(connection)
        with self._lock:
            replaced, device.link = device.link, link
            link.send(self._ready_envelope())
            if self.settings.ws_replay and self.settings.replay_unacked:
                self._drop_expired(device)
                for envelope in device.unacked.values():
                    link.send(envelope)
            else:
                device.unacked.clear()
        if replaced is not None:
            replaced.close(4000, "replaced")
        try:
            for raw in connection:
                self._on_frame(device, link, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if device.link is link:
                    device.link = None
                    if not self.settings.ws_replay:
                        device.unacked.clear()
            link.finish()

    def _drop_expired(self, device: Device) -> None:
        """Forget the un-acked envelopes older than the replay window: Webex keeps them only so long."""
        oldest = now_ms() - self.settings.replay_window * 1000
        for envelope_id in [k for k, e in device.unacked.items() if e["timestamp"] < oldest]:
            del device.unacked[envelope_id]

    def _authorize(self, connection: ServerConnection, device: Device) -> bool:
        """Wait for the authorization frame; close 4401 unless it carries the device owner's token."""
        try:
            frame = json.loads(connection.recv(timeout=self.auth_timeout))
        except TimeoutError:
            connection.close(1008, AUTH_TIMEOUT_REASON)
            return False
        except ConnectionClosed:
            return False
        except ValueError:
            frame = None
        token = ""
        if isinstance(frame, dict) and frame.get("type") == "authorization" and isinstance(frame.get("data"), dict):
            scheme, _, token = str(frame["data"].get("token", "")).partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
        if not token or self.store.person_by_token(token) is not device.owner:
            connection.close(4401, "Authentication failed")
            return False
        return True

    @staticmethod
    def _ready_envelope() -> dict[str, Any]:
        """The event a client waits for before it counts itself connected; it carries no sequence number."""
        return {
            "id": new_uuid(),
            "data": {"eventType": "mercury.buffer_state", "bufferState": {"conversation": "UNKNOWN",
                                                                         "locus": "UNKNOWN"}},
            "timestamp": now_ms(),
            "trackingId": f"EMULATOR_{new_uuid()}",
            "filterMessage": False,
        }

    def _on_frame(self, device: Device, link: Link, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.debug("device %s sent a frame that is no JSON", device.uuid)
            return
        if not isinstance(frame, dict):
            return
        if frame.get("type") == "ping" and self.settings.answer_pings:
            with self._lock:
                link.send({"type": "pong", "id": frame.get("id"), "sequenceNumber": device.sequence})
        elif frame.get("type") == "ack":
            message_id = frame.get("messageId")
            with self._lock:
                envelope = device.unacked.pop(message_id, None) if isinstance(message_id, str) else None
                # What it acknowledged and how long after the envelope was queued: a client's ack latency.
                activity = (envelope or {}).get("data", {}).get("activity") or {}
                self._acks.append({"device": device.uuid, "messageId": message_id, "time": timestamp(),
                                   "matched": envelope is not None, "activityId": activity.get("id"),
                                   "afterMs": now_ms() - envelope["timestamp"] if envelope else None})

    # -- what the control API does to devices ----------------------------------------------------
    def acks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._acks)

    def status(self, device: Device) -> dict[str, Any]:
        with self._lock:
            return {"connected": device.link is not None, "sequenceNumber": device.sequence,
                    "unacked": len(device.unacked)}

    def link(self, device: Device) -> Optional[Link]:
        with self._lock:
            return device.link

    def skip(self, device: Device, count: int) -> None:
        """Burn ``count`` sequence numbers, as lost events would: the client sees a gap."""
        with self._lock:
            device.sequence += count
