"""What the tests of the emulator's device websocket half share (``test_emulator_websocket.py``,
``test_emulator_websocket_connection.py``): a bot with a device registered at WDM, two people and
their rooms (``world``), and the client side of the protocol as a bot speaks it: discovery through
U2C, registration, connecting and authorizing, reading envelopes or making sure none comes.

A test module imports ``world`` by name.
"""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import requests
from webexpythonsdk import WebexAPI
from websockets.sync.client import ClientConnection, connect

from bot.emulator import Emulator
from bot.emulator.ids import decode_id

QUERY = "?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true"
DEVICE = {"deviceName": "laptop-bot", "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
          "name": "laptop-bot-test", "systemName": "laptop-bot", "systemVersion": "0.1"}
WAIT = 5.0  # for frames that must come
QUIET = 0.3  # for frames that must not


def bearer(who: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {who['token']}"}


def wdm_url(emulator: Emulator, who: dict[str, Any]) -> str:
    response = requests.get(emulator.u2c_url, params={"format": "hostmap"}, headers=bearer(who), timeout=5)
    assert response.status_code == 200
    return response.json()["serviceLinks"]["wdm"]


def register(emulator: Emulator, who: dict[str, Any]) -> requests.Response:
    return requests.post(f"{wdm_url(emulator, who)}/devices", json=DEVICE, headers=bearer(who), timeout=5)


def uuid_of(rest_id: str) -> str:
    """The uuid inside a REST id: what activities name things by."""
    decoded = decode_id(rest_id)
    assert decoded is not None, rest_id
    return decoded[1]


def authorize(ws: ClientConnection, token: str) -> None:
    ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "authorization", "data": {"token": f"Bearer {token}"}}))


@contextmanager
def open_socket(device: dict[str, Any], who: dict[str, Any]) -> Iterator[ClientConnection]:
    """Connect and authorize; yield once the ready event came."""
    with connect(device["webSocketUrl"] + QUERY) as ws:
        authorize(ws, who["token"])
        ready = json.loads(ws.recv(timeout=WAIT))
        assert ready["data"]["eventType"] == "mercury.buffer_state"
        assert "sequenceNumber" not in ready
        yield ws


def envelope(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=WAIT))


def assert_quiet(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        ws.recv(timeout=QUIET)


@dataclass
class World:
    emulator: Emulator
    bot: dict[str, Any]
    alice: dict[str, Any]
    bob: dict[str, Any]
    direct: dict[str, Any]
    group: dict[str, Any]
    device: dict[str, Any]

    @property
    def api(self) -> WebexAPI:
        return WebexAPI(access_token=self.bot["token"], base_url=self.emulator.api_url)

    def device_status(self) -> dict[str, Any]:
        return next(d for d in self.emulator.control.devices() if d["id"] == self.device_id)

    @property
    def device_id(self) -> str:
        return self.device["url"].rsplit("/", 1)[1]

    def wait_unacked(self, count: int) -> None:
        self.emulator.control.wait_for(
            lambda: [d for d in [self.device_status()] if d["unacked"] == count], 1, WAIT, f"{count} un-acked")


@pytest.fixture
def world(webex_emulator: Emulator) -> Iterator[World]:
    control = webex_emulator.control
    bot, alice, bob = control.create_bot("Helper"), control.create_person("Alice Smith"), control.create_person("Bob")
    response = register(webex_emulator, bot)
    assert response.status_code == 200, response.text
    yield World(webex_emulator, bot, alice, bob, control.direct_room(alice, bot),
                control.create_group("Team", alice, [bot, bob]), response.json())
