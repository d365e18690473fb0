"""The ``ws_replay`` setting: whether Mercury replays, after a reconnect, what a device missed.

Whether Webex really replays after a reconnect is not settled, so the emulator does by default and
drops everything when ``ws_replay`` is off. Either way the sequence numbers keep counting,
so a client that was sent nothing sees the gap. A real websocket client connects as a bot does.
"""
from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import requests
from websockets.sync.client import ClientConnection, connect

from bot.emulator import ControlClient, Emulator
from bot.emulator.ids import decode_id

QUERY = "?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true"
DEVICE = {"deviceName": "replay-test", "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
          "name": "replay-test", "systemName": "replay-test", "systemVersion": "0.1"}
WAIT = 5.0
Json = dict[str, Any]


def register(emulator: Emulator, bot: Json) -> Json:
    headers = {"Authorization": f"Bearer {bot['token']}"}
    catalog = requests.get(emulator.u2c_url, params={"format": "hostmap"}, headers=headers, timeout=WAIT).json()
    response = requests.post(f"{catalog['serviceLinks']['wdm']}/devices", json=DEVICE, headers=headers, timeout=WAIT)
    assert response.status_code == 200, response.text
    return response.json()


@contextmanager
def online(device: Json, bot: Json) -> Iterator[ClientConnection]:
    """A connected, authorized socket, yielded once the ready event came."""
    with connect(device["webSocketUrl"] + QUERY) as ws:
        ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "authorization",
                            "data": {"token": f"Bearer {bot['token']}"}}))
        assert json.loads(ws.recv(timeout=WAIT))["data"]["eventType"] == "mercury.buffer_state"
        yield ws


def envelope(ws: ClientConnection) -> Json:
    return json.loads(ws.recv(timeout=WAIT))


def status(control: ControlClient, device: Json) -> Json:
    device_id = device["url"].rsplit("/", 1)[1]
    return next(d for d in control.devices() if d["id"] == device_id)


def wait_offline(control: ControlClient, device: Json) -> None:
    control.wait_for(lambda: [s for s in [status(control, device)] if not s["connected"]], 1, WAIT,
                     "the device to have no connection")


def message_uuid(env: Json) -> str:
    return env["data"]["activity"]["id"]


def uuid_of(message: Json) -> str:
    decoded = decode_id(message["id"])
    assert decoded is not None
    return decoded[1]


def go_offline_with_a_miss(control: ControlClient, device: Json, bot: Json, person: Json,
                           room: Json) -> tuple[Json, Json]:
    """One envelope arrives and is left un-acked, the connection ends, then a message is posted.

    Returns the envelope and the message posted while nobody was connected.
    """
    with online(device, bot) as ws:
        first = control.post(person, "while connected", room=room)
        delivered = envelope(ws)
    assert message_uuid(delivered) == uuid_of(first)
    wait_offline(control, device)
    return delivered, control.post(person, "while nobody is connected", room=room)


def test_replay_on_resends_the_unacked_and_the_missed(webex_emulator: Emulator, webex_bot_account: Json,
                                                     webex_person: Json) -> None:
    control, bot, person = webex_emulator.control, webex_bot_account, webex_person
    assert control.settings()["ws_replay"] is True
    room, device = control.direct_room(person, bot), register(webex_emulator, bot)
    delivered, missed = go_offline_with_a_miss(control, device, bot, person, room)
    assert status(control, device)["unacked"] == 2
    with online(device, bot) as ws:
        again, caught_up = envelope(ws), envelope(ws)
        latest = control.post(person, "after the reconnect", room=room)
        live = envelope(ws)
    assert again == {**delivered, "wsWriteTimestamp": again["wsWriteTimestamp"]}
    assert message_uuid(caught_up) == uuid_of(missed)
    assert message_uuid(live) == uuid_of(latest)
    sequence = delivered["sequenceNumber"]
    assert [caught_up["sequenceNumber"], live["sequenceNumber"]] == [sequence + 1, sequence + 2]


def test_replay_off_drops_what_no_connection_could_take(webex_emulator: Emulator, webex_bot_account: Json,
                                                        webex_person: Json) -> None:
    control, bot, person = webex_emulator.control, webex_bot_account, webex_person
    assert control.settings(wsReplay=False)["ws_replay"] is False
    room, device = control.direct_room(person, bot), register(webex_emulator, bot)
    delivered, _missed = go_offline_with_a_miss(control, device, bot, person, room)
    sequence = delivered["sequenceNumber"]
    offline = status(control, device)
    assert offline["unacked"] == 0, "the un-acked envelope went with its connection, the miss was not kept"
    assert offline["sequenceNumber"] == sequence + 1, "the dropped event still used its number"
    with online(device, bot) as ws:
        latest = control.post(person, "after the reconnect", room=room)
        first_after = envelope(ws)
    # Nothing was replayed: the first envelope of the new connection is the new message, after a gap.
    assert message_uuid(first_after) == uuid_of(latest)
    assert first_after["sequenceNumber"] == sequence + 2


def test_replay_window_drops_what_is_older_than_it(webex_emulator: Emulator, webex_bot_account: Json,
                                                   webex_person: Json) -> None:
    control, bot, person = webex_emulator.control, webex_bot_account, webex_person
    assert control.settings()["replay_window"] == 900.0, "Webex is reported to keep them about 15 minutes"
    window = 0.5
    control.settings(replayWindow=window)
    room, device = control.direct_room(person, bot), register(webex_emulator, bot)
    delivered, missed = go_offline_with_a_miss(control, device, bot, person, room)
    assert status(control, device)["unacked"] == 2
    # The window is measured on the envelopes' own timestamps: wait until both are older than it.
    time.sleep(max(0.0, missed_time(missed) + window - time.time()) + 0.05)
    with online(device, bot) as ws:
        latest = control.post(person, "after the window", room=room)
        first_after = envelope(ws)
    assert message_uuid(first_after) == uuid_of(latest), "nothing older than the window was replayed"
    assert first_after["sequenceNumber"] == delivered["sequenceNumber"] + 2, "the dropped ones left a gap"
    assert status(control, device)["unacked"] == 1


def missed_time(message: Json) -> float:
    """When ``message`` was created, in epoch seconds: its envelope is stamped no earlier."""
    return datetime.fromisoformat(message["created"].replace("Z", "+00:00")).timestamp()
