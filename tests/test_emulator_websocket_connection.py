"""The emulator's device websocket connection and device registrations, driven by a real websocket
client (``websockets.sync.client``) and real HTTP: the authorization frame and its time limit, unknown
or deleted devices, the device limit, registering, refreshing and deleting; pings and pongs, acks and
the replay of what was not acked, drops, shutdown frames, close codes and a second connection, sequence
gaps, the control routes, and a burst of posts with pings arriving whole (WEBEX_PROTOCOL.md, section 3).
"""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from emulator_websocket_kit import (DEVICE, QUERY, WAIT, World, assert_quiet, authorize, bearer, envelope,
                                    open_socket, register, wdm_url)
from emulator_websocket_kit import world  # noqa: F401 (a fixture, used by name)
from support import until


def now_in_milliseconds() -> str:
    """The time as Webex writes it (``2024-08-05T13:04:31.488Z``), so it compares with its timestamps."""
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def closed_code(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; the close code and reason the client saw."""
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=WAIT)
    return ws.close_code, ws.close_reason


@pytest.mark.parametrize("token", ["not-a-token", "alice"])
def test_wrong_token_closes_4401(world: World, token: str) -> None:
    with connect(world.device["webSocketUrl"] + QUERY) as ws:
        authorize(ws, world.alice["token"] if token == "alice" else token)
        assert closed_code(ws)[0] == 4401
    assert world.device_status()["connected"] is False


def test_first_frame_must_be_authorization(world: World) -> None:
    with connect(world.device["webSocketUrl"] + QUERY) as ws:
        ws.send(json.dumps({"id": "1", "type": "ping"}))
        assert closed_code(ws)[0] == 4401


def test_no_authorization_in_time_closes_1008(world: World) -> None:
    world.emulator.mercury.auth_timeout = 0.1
    with connect(world.device["webSocketUrl"] + QUERY) as ws:
        code, reason = closed_code(ws)
    assert code == 1008 and reason and "timeout window" in reason


def test_unknown_or_deleted_device_fails_the_handshake_with_404(world: World) -> None:
    stale = world.device["webSocketUrl"].replace(world.device_id, str(uuid.uuid4()))
    with pytest.raises(InvalidStatus) as unknown, connect(stale + QUERY):
        pass
    assert unknown.value.response.status_code == 404
    world.emulator.control.delete_device(world.device_id)
    with pytest.raises(InvalidStatus) as deleted, connect(world.device["webSocketUrl"] + QUERY):
        pass
    assert deleted.value.response.status_code == 404
    assert requests.get(world.device["url"], headers=bearer(world.bot)).status_code == 404


def test_device_limit_answers_403(world: World) -> None:
    world.emulator.control.settings(device_limit=2)
    assert register(world.emulator, world.bot).status_code == 200
    refused = register(world.emulator, world.bot)
    assert refused.status_code == 403
    assert refused.json()["message"] == "User has excessive device registrations"
    assert refused.json()["errors"][0]["description"] == refused.json()["message"] and refused.json()["trackingId"]
    assert register(world.emulator, world.alice).status_code == 200
    requests.delete(world.device["url"], headers=bearer(world.bot))
    assert register(world.emulator, world.bot).status_code == 200


def test_register_needs_the_device_fields(world: World) -> None:
    wdm = wdm_url(world.emulator, world.bot)
    response = requests.post(f"{wdm}/devices", json={"name": "x"}, headers=bearer(world.bot))
    assert response.status_code == 400 and "deviceType" in response.json()["message"]


def test_refresh_then_delete(world: World) -> None:
    url, headers = world.device["url"], bearer(world.bot)
    until(lambda: now_in_milliseconds() > world.device["modificationTime"], "the clock to pass the registration")
    refreshed = requests.put(url, json=DEVICE, headers=headers)
    assert refreshed.status_code == 200
    assert refreshed.json()["modificationTime"] > world.device["modificationTime"]
    assert refreshed.json()["webSocketUrl"] == world.device["webSocketUrl"]
    assert requests.put(url, json=DEVICE, headers=bearer(world.alice)).status_code == 404
    assert requests.delete(url, headers=headers).status_code == 204
    assert requests.put(url, json=DEVICE, headers=headers).status_code == 404
    assert requests.delete(url, headers=headers).status_code == 404


def test_ping_pong_and_silence_when_pings_are_not_answered(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        ws.send(json.dumps({"id": "ping-1", "type": "ping"}))
        # The pong carries the last event's number (none yet), taking none of its own.
        assert envelope(ws) == {"type": "pong", "id": "ping-1", "sequenceNumber": 0}
        world.emulator.control.settings(answer_pings=False)
        ws.send(json.dumps({"id": "ping-2", "type": "ping"}))
        assert_quiet(ws)


def test_unacked_envelopes_are_replayed_after_reconnect(world: World) -> None:
    control = world.emulator.control
    with open_socket(world.device, world.bot) as ws:
        control.post(world.alice, "one", room=world.direct)
        control.post(world.alice, "two", room=world.direct)
        first, second = envelope(ws), envelope(ws)
        ws.send(json.dumps({"type": "ack", "messageId": first["id"]}))
        world.wait_unacked(1)
    control.post(world.alice, "three", room=world.direct)
    assert world.device_status()["unacked"] == 2
    with open_socket(world.device, world.bot) as ws:
        replayed, buffered = envelope(ws), envelope(ws)
        assert_quiet(ws)
    assert replayed == {**second, "wsWriteTimestamp": replayed["wsWriteTimestamp"]}
    assert buffered["sequenceNumber"] == second["sequenceNumber"] + 1
    acks = [a for a in control.acks() if a["device"] == world.device_id]
    assert [(a["messageId"], a["matched"]) for a in acks] == [(first["id"], True)]


def test_no_replay_when_switched_off(world: World) -> None:
    world.emulator.control.settings(replay_unacked=False)
    world.emulator.control.post(world.alice, "while away", room=world.direct)
    assert world.device_status()["unacked"] == 1
    with open_socket(world.device, world.bot) as ws:
        assert_quiet(ws)
    assert world.device_status()["unacked"] == 0


def test_drop_is_an_abnormal_closure(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        world.emulator.control.drop_websocket(world.device_id)
        assert closed_code(ws) == (1006, "")
    world.emulator.control.wait_for(lambda: [1] if not world.device_status()["connected"] else [], 1, WAIT,
                                    "the device to be disconnected")


def test_shutdown_frame(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        world.emulator.control.send_shutdown(world.device_id)
        assert envelope(ws) == {"type": "shutdown"}


def test_close_with_code_4000(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        world.emulator.control.close_websocket(world.device_id, 4000, "replaced")
        assert closed_code(ws) == (4000, "replaced")


def test_a_second_connection_replaces_the_first(world: World) -> None:
    with open_socket(world.device, world.bot) as old, open_socket(world.device, world.bot) as new:
        assert closed_code(old) == (4000, "replaced")
        world.emulator.control.post(world.alice, "to the new one", room=world.direct)
        assert envelope(new)["data"]["activity"]["verb"] == "post"


def test_skip_makes_a_sequence_gap(world: World) -> None:
    control = world.emulator.control
    with open_socket(world.device, world.bot) as ws:
        control.post(world.alice, "before", room=world.direct)
        before = envelope(ws)["sequenceNumber"]
        assert control.skip_sequence(world.device_id, 3)["sequenceNumber"] == before + 3
        control.post(world.alice, "after", room=world.direct)
        assert envelope(ws)["sequenceNumber"] == before + 4


def test_control_routes_refuse_unknown_or_idle_devices(world: World) -> None:
    base = world.emulator.control_url
    assert requests.post(f"{base}/devices/{uuid.uuid4()}/drop").status_code == 404
    assert requests.post(f"{base}/devices/{world.device_id}/shutdown").status_code == 409
    assert requests.post(f"{base}/devices/{world.device_id}/close", json={"code": 1006}).status_code == 400


def test_a_burst_with_pings_arrives_whole(world: World) -> None:
    """Posts from many threads and pings at once: one writer keeps the compressed stream intact."""
    control, count = world.emulator.control, 40
    with open_socket(world.device, world.bot) as ws:
        def post(start: int) -> None:
            for n in range(start, count, 4):
                control.post(world.alice, f"burst {n}", room=world.direct)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for n in range(10):
            ws.send(json.dumps({"id": f"p{n}", "type": "ping"}))
        for thread in threads:
            thread.join()
        frames = [envelope(ws) for _ in range(count + 10)]
        assert_quiet(ws)
    sequence = [f["sequenceNumber"] for f in frames if "data" in f]
    assert sequence == list(range(1, count + 1))
    assert sorted(f["id"] for f in frames if f.get("type") == "pong") == sorted(f"p{n}" for n in range(10))
