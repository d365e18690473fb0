"""The emulator over TLS: ``https://`` and ``wss://`` with a certificate authority made for the run.

A client that trusts the run's CA file works as against Webex, certificate checks on; one that does
not is refused at the handshake, which shows the emulator really speaks TLS and not plain HTTP.
"""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import certifi
import pytest
import requests
from webexpythonsdk import WebexAPI
from websockets.exceptions import InvalidMessage
from websockets.sync.client import connect

from bot.emulator import Emulator

pytest.importorskip("trustme")

ROOT = Path(__file__).parent.parent
DEVICE = {"deviceName": "tls-test", "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
          "name": "tls-test", "systemName": "tls-test", "systemVersion": "1"}


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as emulator:
        yield emulator


def test_every_url_it_hands_out_is_https_or_wss(tls_emulator: Emulator) -> None:
    assert tls_emulator.url.startswith("https://")
    assert tls_emulator.api_url.startswith("https://") and tls_emulator.u2c_url.startswith("https://")
    assert tls_emulator.ws_url.startswith("wss://")
    bot = tls_emulator.control.create_bot("TLS Bot")
    auth = {"Authorization": f"Bearer {bot['token']}"}
    catalog = requests.get(tls_emulator.u2c_url, params={"format": "hostmap"}, headers=auth,
                           verify=tls_emulator.ca_file, timeout=10).json()
    assert all(url.startswith("https://") for url in catalog["serviceLinks"].values()), catalog
    device = requests.post(f"{tls_emulator.urls.wdm}/devices", json=DEVICE, headers=auth,
                           verify=tls_emulator.ca_file, timeout=10).json()
    assert device["webSocketUrl"].startswith(tls_emulator.ws_url + "/")


def test_webexpythonsdk_works_over_https_when_it_trusts_the_ca(tls_emulator: Emulator,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bot = tls_emulator.control.create_bot("TLS Bot")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_emulator.ca_file))
    api = WebexAPI(access_token=bot["token"], base_url=tls_emulator.api_url)
    assert api.people.me().displayName == "TLS Bot"


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_emulator: Emulator) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_emulator.api_url + "people/me", verify=certifi.where(), timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP to the TLS port
        requests.get(tls_emulator.url.replace("https://", "http://") + "/v1/people/me", timeout=10)


def test_the_device_websocket_speaks_wss_only(tls_emulator: Emulator) -> None:
    bot = tls_emulator.control.create_bot("TLS Bot")
    device = requests.post(f"{tls_emulator.urls.wdm}/devices", json=DEVICE,
                           headers={"Authorization": f"Bearer {bot['token']}"},
                           verify=tls_emulator.ca_file, timeout=10).json()
    with connect(device["webSocketUrl"], ssl=ssl.create_default_context(cafile=tls_emulator.ca_file),
                 open_timeout=10) as websocket:
        websocket.send(json.dumps({"id": "auth", "type": "authorization",
                                   "data": {"token": f"Bearer {bot['token']}"}}))
        ready = json.loads(websocket.recv(timeout=10))
    assert ready["data"]["eventType"] == "mercury.buffer_state"
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(device["webSocketUrl"], ssl=ssl.create_default_context(cafile=certifi.where()), open_timeout=10)
    with pytest.raises(InvalidMessage):
        connect(device["webSocketUrl"].replace("wss://", "ws://", 1), open_timeout=10)


def test_our_bot_answers_over_wss_when_it_trusts_the_ca(tls_emulator: Emulator, tmp_path: Path) -> None:
    control = tls_emulator.control
    bot, alice = control.create_bot("Own Bot"), control.create_person("Alice")
    room = control.direct_room(alice, bot)
    env = {**os.environ, "WEBEX_BOT_TOKEN": bot["token"], "WEBEX_API_URL": tls_emulator.api_url,
           "WEBEX_U2C_URL": tls_emulator.u2c_url, "BOT_TRANSPORT": "websocket", "BOT_STATE_DIR": str(tmp_path),
           "SSL_CERT_FILE": str(tls_emulator.ca_file), "REQUESTS_CA_BUNDLE": str(tls_emulator.ca_file)}
    with (tmp_path / "bot.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "run_bot.py"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        control.wait_for(lambda: [d for d in control.devices() if d["connected"]], 1, 30, "the bot to connect")
        control.post(alice, "echo over tls", room=room)
        [answer] = control.wait_for_messages(bot, room=room, timeout=20)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert answer["text"] == "over tls"


def test_the_ca_file_lives_as_long_as_the_emulator() -> None:
    emulator = Emulator(tls=True)
    assert emulator.ca_file is None
    with emulator:
        ca_file = emulator.ca_file
        assert ca_file is not None and "BEGIN CERTIFICATE" in Path(ca_file).read_text()
    assert not Path(ca_file).exists() and emulator.ca_file is None


def test_the_command_line_prints_the_ca_file_and_the_env_lines() -> None:
    process = subprocess.Popen([sys.executable, "-m", "bot.emulator", "--tls", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while (line := process.stdout.readline()) and not line.startswith("Press Ctrl-C"):
            lines.append(line)
    finally:
        process.terminate()
        process.wait(timeout=10)
    text = "".join(lines)
    assert lines[0].startswith("Webex emulator running on https://"), text
    ca_line = next(line for line in lines if "CA file" in line)
    ca_file = ca_line.split()[2]
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert f"{name}={ca_file}" in [line.strip() for line in lines], text
    assert not Path(ca_file).exists(), "the CA folder outlived the emulator"
