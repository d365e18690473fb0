"""The device websocket transport's connection over its life, end to end (the real bot on the
websocket against the emulator's Mercury, broken in the ways Webex breaks it; WEBEX_PROTOCOL.md,
section 3): reconnects after a drop, a shutdown frame or a lost pong; devices deleted, out of room or
left stale; close codes that stop the transport and one that does not; falling back from a tunnel that
cannot start or keeps dying; and run_bot.py on the websocket with no ngrok anywhere.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from bot.emulator import ControlClient, Emulator
from bot.ids import uuid_of
from bot.runner import StartupError
from bot.testing import Chat
from bot.wdm import DeviceRegistry
from bot.webhooks import HOOKS
from bot.websocket import WebsocketTransport
from support import Bots, answers, deliveries_of, fakes_running, program_env, settle, until
from websocket_transport_kit import Json, device_ids, device_of, fetches, lookups, status, transport_of
from websocket_transport_kit import bots  # noqa: F401 (a fixture, used by name)
ROOT = Path(__file__).resolve().parent.parent
FAKE_NGROK = str(Path(__file__).parent / "fake_ngrok" / "ngrok")
OUR_DEVICE = "webex-laptop-bot-testbot"  # what the bot names its device under start_test_bot's instance


def running(transport: WebsocketTransport) -> bool:
    """Whether the transport's connection thread still runs (it ends only on a permanent close)."""
    return transport._thread is not None and transport._thread.is_alive()


def wdm_register(emulator: Emulator, token: str, name: str) -> Json:
    """A device registered straight at WDM, as an earlier run or another program left it."""
    fields = {"deviceName": name, "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
              "name": name, "systemName": "other", "systemVersion": "1"}
    response = requests.post(f"{emulator.url}/wdm/api/v1/devices", json=fields, timeout=5,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


# -- 1. reconnects ---------------------------------------------------------------------------------
def test_a_drop_and_a_shutdown_frame_reconnect(bots: Bots) -> None:
    control = bots.control
    runner = bots.start()
    transport, device, chat = transport_of(runner), device_of(runner), bots.chat()
    control.drop_websocket(device)
    until(lambda: transport.connections == 2 and transport.connected, "a reconnect after the drop")
    chat.say("yell after drop")
    assert chat.reply() == "AFTER DROP"
    control.send_shutdown(device)
    until(lambda: transport.connections == 3 and transport.connected, "a reconnect after shutdown")
    chat.say("yell after shutdown")
    assert chat.reply() == "AFTER SHUTDOWN"
    assert device_of(runner) == device, "a reconnect keeps the device"


def test_a_lost_pong_reconnects(bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    control = bots.control
    runner = bots.start(ws_ping_interval=0.2, ws_pong_timeout=0.5)
    transport = transport_of(runner)
    with caplog.at_level(logging.WARNING, logger="bot.websocket"):
        control.settings(answerPings=False)
        until(lambda: transport.connections >= 2, "a reconnect while no pong comes", timeout=15)
        control.settings(answerPings=True)
    assert any("no pong within 0.5s; reconnecting" in r.getMessage() for r in caplog.records)
    chat = bots.chat()
    chat.say("yell pong is back")
    assert chat.reply() == "PONG IS BACK"
    settle(control, runner)
    assert answers(control, bots.bot, chat.room, "PONG IS BACK") == 1


# -- 2. devices ------------------------------------------------------------------------------------
def test_a_device_deleted_behind_the_bots_back_is_registered_again(bots: Bots) -> None:
    control = bots.control
    runner = bots.start()
    old = device_of(runner)
    control.drop_websocket(old)
    control.delete_device(old)  # before the reconnect, which waits a second
    until(lambda: transport_of(runner).connected and device_of(runner) != old, "a new device")
    assert device_ids(control) == {device_of(runner)}
    chat = bots.chat()
    chat.say("yell new device")
    assert chat.reply() == "NEW DEVICE"


def test_a_lost_device_with_no_room_for_a_new_one_is_reported(bots: Bots, webex_emulator: Emulator,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    control = bots.control
    runner = bots.start()
    transport, old = transport_of(runner), device_of(runner)
    control.settings(deviceLimit=1)
    control.drop_websocket(old)
    control.delete_device(old)
    foreign = wdm_register(webex_emulator, bots.bot["token"], "another-program")
    with caplog.at_level(logging.ERROR, logger="bot.websocket"):
        until(lambda: not running(transport), "the transport to give up")
    assert transport.fatal is not None and "device registrations" in transport.fatal
    assert not transport.connected
    assert [r for r in caplog.records if r.levelno == logging.ERROR and transport.fatal in r.getMessage()]
    assert device_ids(control) == {foreign["url"].rsplit("/", 1)[1]}


def test_our_stale_devices_make_room_and_foreign_ones_are_left_alone(bots: Bots, webex_emulator: Emulator) -> None:
    control, token = bots.control, bots.bot["token"]
    control.settings(deviceLimit=3)
    for _ in range(3):
        wdm_register(webex_emulator, token, OUR_DEVICE)
    runner = bots.start()
    assert device_ids(control) == {device_of(runner)}, "one device of ours is reused, the stale rest removed"
    chat = bots.chat()
    chat.say("yell reused")
    assert chat.reply() == "REUSED"
    bots.stop(runner)

    for _ in range(3):
        wdm_register(webex_emulator, token, OUR_DEVICE)
    registry = DeviceRegistry(token, webex_emulator.u2c_url, "testbot")
    fresh = registry.register()
    assert device_ids(control) == {fresh["url"].rsplit("/", 1)[1]}, "a full limit of ours: ours go, then it fits"
    registry.delete(fresh)

    foreign = {wdm_register(webex_emulator, token, "another-program")["url"].rsplit("/", 1)[1] for _ in range(3)}
    control.clear_calls()
    with pytest.raises(StartupError, match="device registrations") as refused:
        bots.start()
    assert "none of them is ours" in str(refused.value)
    assert device_ids(control) == foreign
    assert not [c for c in control.calls(bots.bot) if c["method"] != "GET" and c["path"].endswith(tuple(foreign))]


# -- 3. close codes --------------------------------------------------------------------------------
@pytest.mark.parametrize("code, reason", [(4401, "WEBEX_BOT_TOKEN"), (4000, "another connection")])
def test_a_permanent_close_code_stops_the_transport_with_its_reason(bots: Bots, code: int, reason: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    control = bots.control
    runner = bots.start()
    transport, device = transport_of(runner), device_of(runner)
    with caplog.at_level(logging.ERROR, logger="bot.websocket"):
        control.close_websocket(device, code, "test")
        until(lambda: not running(transport), "the transport to give up")
    assert transport.fatal is not None and reason in transport.fatal
    assert transport.connections == 1 and not transport.connected, "no reconnect"
    until(lambda: not status(control, device)["connected"], "Webex to see the connection gone")
    assert [r for r in caplog.records if r.levelno == logging.ERROR and reason in r.getMessage()]


def test_close_code_1011_reconnects(bots: Bots) -> None:
    runner = bots.start()
    transport = transport_of(runner)
    bots.control.close_websocket(device_of(runner), 1011, "try again")
    until(lambda: transport.connections == 2 and transport.connected, "a reconnect")
    chat = bots.chat()
    chat.say("yell still here")
    assert chat.reply() == "STILL HERE"
    assert transport.fatal is None


# -- 4. falling back from the tunnel ---------------------------------------------------------------
@pytest.fixture
def fake_ngrok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_stray_agents: None) -> Json:
    """Config fields for the fake agent with a token of its own; afterwards no agent of it runs
    (``no_stray_agents``: its state and log are in the test's folder)."""
    for name in ("NGROK_AUTHTOKEN", "FAKE_NGROK_FAIL", "FAKE_NGROK_START_DELAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_NGROK_STATE_DIR", str(tmp_path / "ngrok-state"))
    monkeypatch.setenv("FAKE_NGROK_LOG", str(tmp_path / "agent.log"))
    token = f"tok-{uuid.uuid4().hex}"
    return {"transport": "auto", "tunnel": "ngrok", "ngrok_path": FAKE_NGROK, "ngrok_authtoken": token,
            "ngrok_config": str(tmp_path / "ngrok.yml")}


def agents_of(tmp_path: Path) -> str:
    """The environment entry that tells the fake agents of one test from any other's."""
    return f"FAKE_NGROK_STATE_DIR={tmp_path / 'ngrok-state'}"


def refused(url: str) -> bool:
    try:
        requests.post(url, data=b"{}", timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_no_tunnel_falls_back_to_the_websocket(bots: Bots, fake_ngrok: Json, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("FAKE_NGROK_FAIL", "4018")
    with caplog.at_level(logging.WARNING, logger="bot.runner"):
        runner = bots.start(**fake_ngrok)
    assert runner.websocket is not None and runner.websocket.connected and runner.supervisor is None
    assert bots.control.webhooks() == []
    [line] = [r.getMessage() for r in caplog.records if "websocket" in r.getMessage()]
    assert "ERR_NGROK_4018" in line and "using the device websocket instead" in line
    chat = bots.chat()
    chat.say("yell no tunnel")
    assert chat.reply() == "NO TUNNEL"


def test_a_tunnel_that_keeps_dying_hands_over_to_the_websocket(bots: Bots, fake_ngrok: Json, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    control, bot = bots.control, bots.bot
    runner = bots.start(**fake_ngrok, health_interval=0.1)
    supervisor = runner.supervisor
    assert supervisor is not None and runner.websocket is None and len(control.webhooks()) == len(HOOKS)
    chat = bots.chat()
    chat.say("yell through the tunnel")
    assert chat.reply() == "THROUGH THE TUNNEL"

    monkeypatch.setenv("FAKE_NGROK_FAIL", "4018")  # every restart fails from now on
    [agent] = fakes_running("fake_ngrok", env=agents_of(tmp_path))
    os.kill(agent, signal.SIGKILL)
    until(lambda: refused(supervisor.target_url), "the public URL to go down")
    around = chat.say("yell around the switch")
    until(lambda: runner.websocket is not None and runner.websocket.connected and runner.supervisor is None,
               "the switch to the websocket", timeout=20)
    assert supervisor.failures == supervisor.max_failures
    until(lambda: control.webhooks() == [], "our webhooks to be removed")
    assert chat.reply() == "AROUND THE SWITCH"
    control.wait_deliveries_idle()
    # Neither transport brought it: its delivery hit the dead tunnel, and the device came later.
    assert [d["status"] for d in deliveries_of(control, around)] == [None]
    assert lookups(control, bot, around) == []
    chat.say("yell over the websocket")
    assert chat.reply() == "OVER THE WEBSOCKET"
    settle(control, runner)
    assert answers(control, bot, chat.room, "AROUND THE SWITCH") == 1
    assert len(fetches(control, bot, around)) == 1
    assert fakes_running("fake_ngrok", env=agents_of(tmp_path)) == []


# -- 5. run_bot.py -------------------------------------------------------------------------------
def run_bot(emulator: Emulator, bot: Json, state_dir: Path, *flags: str) -> subprocess.Popen[str]:
    """run_bot.py on the websocket, with no ngrok anywhere: none on PATH, BOT_NGROK_PATH missing."""
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not (Path(d) / "ngrok").exists())
    env = program_env(state_dir, PATH=path, WEBEX_BOT_TOKEN=bot["token"], WEBEX_U2C_URL=emulator.u2c_url,
                      BOT_STATE_DIR=str(state_dir), BOT_NGROK_PATH=str(state_dir / "no-such-ngrok"))
    return subprocess.Popen([sys.executable, str(ROOT / "run_bot.py"), "--transport", "websocket", "--api-url",
                             emulator.api_url, "--instance", "cli", *flags], cwd=state_dir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def answer_then_terminate(bot_process: subprocess.Popen[str], control: ControlClient, chat: Chat,
                          word: str) -> str:
    """Wait for run_bot.py's device to connect, have it answer, SIGTERM it; its device id."""
    try:
        [device] = until(lambda: [d["id"] for d in control.devices() if d["connected"]],
                              "run_bot.py to connect", timeout=15)
        chat.say(f"echo {word}")
        assert chat.reply() == word
        bot_process.send_signal(signal.SIGTERM)
        output, _ = bot_process.communicate(timeout=10)
    finally:
        bot_process.kill()
    assert bot_process.returncode == 0, output
    assert "ngrok" not in output.lower(), output
    return device


def test_run_bot_on_the_websocket_without_ngrok(bots: Bots, webex_emulator: Emulator, tmp_path: Path) -> None:
    control, chat = bots.control, bots.chat()
    kept = answer_then_terminate(run_bot(webex_emulator, bots.bot, tmp_path, "--keep-device"), control, chat, "kept")
    assert device_ids(control) == {kept}, "--keep-device leaves the device registered"
    until(lambda: not status(control, kept)["connected"], "the first run's connection to be gone")
    again = answer_then_terminate(run_bot(webex_emulator, bots.bot, tmp_path), control, chat, "removed")
    assert again == kept, "the device is found again by name"
    assert device_ids(control) == set(), "the device is removed on exit"


STALLS_ONCE = '''
"""`stall`: the first run's handler never ends (the process is killed in it); a later run answers."""
import time
from pathlib import Path

from bot import command


@command("stall")
def stall(ctx):
    marker = Path(__file__).with_name("stalled-once")
    if not marker.exists():
        marker.write_text("")
        time.sleep(120)
    return "answered after the crash"
'''


def test_an_envelope_acked_then_lost_to_a_crash_is_answered_once_after_the_restart(
        bots: Bots, webex_emulator: Emulator, tmp_path: Path) -> None:
    """The websocket acks an envelope as soon as the dispatcher has taken it, before any REST call;
    a process killed after that ack (Webex will not send it again) answers it at the next start,
    from the catch-up, once."""
    control, chat = bots.control, bots.chat()
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "stall.py").write_text(STALLS_ONCE)
    first = run_bot(webex_emulator, bots.bot, tmp_path, "--commands", str(commands), "--keep-device")
    try:
        [device] = until(lambda: [d["id"] for d in control.devices() if d["connected"]], "run_bot.py to connect",
                         timeout=15)
        question = chat.say("stall")
        until(lambda: (commands / "stalled-once").exists(), "the handler to start")
        acked = until(lambda: [a for a in control.acks()
                               if a["device"] == device and a["activityId"] == uuid_of(question["id"])],
                      "the envelope's ack")
        assert [a["matched"] for a in acked] == [True]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert status(control, device)["unacked"] == 0, "nothing for Webex to replay"
    second = run_bot(webex_emulator, bots.bot, tmp_path, "--commands", str(commands))
    try:
        until(lambda: answers(control, bots.bot, chat.room, "answered after the crash"), "the answer after the restart",
              timeout=20)
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=10)
    finally:
        second.kill()
    assert answers(control, bots.bot, chat.room, "answered after the crash") == 1
