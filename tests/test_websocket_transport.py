"""The device websocket transport end to end: the real bot with ``transport="websocket"`` (its real
websockets client, WDM registration and conversation-service lookups) against the emulator's Mercury,
broken in the ways Webex breaks it (WEBEX_PROTOCOL.md, section 3).

REST calls per plain command on this path: three, not the webhook path's two. The envelope names an
activity uuid, so the bot asks the conversation service of the message's own cluster for its REST id
(1), fetches the message (2) and posts the reply (3). The bot's own messages come back as activities
too; they are dropped by their actor without any call.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import pytest
import requests

from bot import card, card_action, command
from bot.emulator import ControlClient, Emulator
from bot.ids import uuid_of
from bot.runner import BotRunner, StartupError
from bot.testing import Chat
from bot.wdm import DeviceRegistry
from bot.websocket import WebsocketTransport
from support import Bots, answers, deliveries_of, fakes_running, program_env, settle, until

ROOT = Path(__file__).resolve().parent.parent
FAKE_NGROK = str(Path(__file__).parent / "fake_ngrok" / "ngrok")
OUR_DEVICE = "webex-laptop-bot-testbot"  # what the bot names its device under start_test_bot's instance
BALLOT = {"type": "AdaptiveCard", "version": "1.3",
          "body": [{"type": "Input.ChoiceSet", "id": "choice", "choices": [{"title": "Tea", "value": "tea"}]}],
          "actions": [{"type": "Action.Submit", "title": "Vote", "data": {"action": "ballot-vote"}}]}
Json = dict[str, Any]


@command("yell")
def yell(ctx):
    return ctx.text.upper()


@command("ballot")
def ballot(ctx):
    return card(BALLOT, fallback="A ballot")


@card_action("ballot-vote")
def ballot_vote(ctx):
    return f"{ctx.sender_email} voted {ctx.inputs['choice']}"


PLUGINS = [yell, ballot, ballot_vote]


def transport_of(runner: BotRunner) -> WebsocketTransport:
    assert runner.websocket is not None
    return runner.websocket


def device_of(runner: BotRunner) -> str:
    device = transport_of(runner).device
    assert device is not None
    return str(device["url"]).rsplit("/", 1)[1]


def running(transport: WebsocketTransport) -> bool:
    """Whether the transport's connection thread still runs (it ends only on a permanent close)."""
    return transport._thread is not None and transport._thread.is_alive()


def status(control: ControlClient, device: str) -> Json:
    return next(d for d in control.devices() if d["id"] == device)


def lookups(control: ControlClient, bot: Json, message: Json) -> list[Json]:
    """The bot's conversation-service lookups of ``message`` (one per websocket activity it acted on)."""
    return [c for c in control.calls(bot) if c["path"] == f"/conversation/api/v1/messages/{uuid_of(message['id'])}"]


def fetches(control: ControlClient, bot: Json, message: Json) -> list[Json]:
    return [c for c in control.calls(bot) if c["method"] == "GET" and c["path"] == f"/v1/messages/{message['id']}"]


def wdm_register(emulator: Emulator, token: str, name: str) -> Json:
    """A device registered straight at WDM, as an earlier run or another program left it."""
    fields = {"deviceName": name, "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
              "name": name, "systemName": "other", "systemVersion": "1"}
    response = requests.post(f"{emulator.url}/wdm/api/v1/devices", json=fields, timeout=5,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def device_ids(control: ControlClient) -> set[str]:
    return {d["id"] for d in control.devices()}


@pytest.fixture
def bots(bots: Bots, tmp_path: Path) -> Bots:
    """Bots on the websocket with this file's commands, sharing one state folder (a restart finds its record)."""
    bots.defaults.update(transport="websocket", state_dir=tmp_path / "state")
    bots.plugins = PLUGINS
    return bots


# -- 1. what the bot answers, and how few calls it makes ------------------------------------------
def test_messages_threads_cards_and_files_are_answered_over_the_websocket(bots: Bots, tmp_path: Path) -> None:
    control, bot, alice = bots.control, bots.bot, bots.person
    runner = bots.start()
    assert runner.websocket is not None and runner.websocket.connected
    assert runner.receiver is None and runner.supervisor is None and control.webhooks() == []
    direct = bots.chat()

    direct.say("yell warm up")
    assert direct.reply() == "WARM UP"
    settle(control, runner)
    control.clear_calls()
    direct.say("yell counted")
    assert direct.reply() == "COUNTED"
    until(lambda: len(control.calls(bot)) >= 3, "the reply's call to be recorded")
    settle(control, runner)
    calls = sorted((c["method"], re.sub(r"/[^/]{30,}$", "/<id>", c["path"])) for c in control.calls(bot))
    assert calls == [("GET", "/conversation/api/v1/messages/<id>"), ("GET", "/v1/messages/<id>"),
                     ("POST", "/v1/messages")]

    bob = control.create_person("Bob", "bob@example.com")
    group = control.create_group("EU team", alice, [bot, bob], cluster="eu-central-1_k")
    unmentioned = control.post(bob, "yell nobody asked", room=group)
    in_group = bots.chat(group)
    in_group.say("yell mentioned")
    assert in_group.reply() == "MENTIONED"

    question = direct.say("yell question")
    assert direct.reply() == "QUESTION"
    direct.say("yell follow up", parent=question)
    [answer] = direct.replies()
    assert answer["markdown"] == "FOLLOW UP" and answer["parentId"] == question["id"]

    direct.say("ballot")
    [ballot_card] = direct.replies()
    control.submit_card(alice, ballot_card, {"action": "ballot-vote", "choice": "tea"})
    assert direct.reply() == f"{alice['emails'][0]} voted tea"

    upload = tmp_path / "notes.txt"
    upload.write_text("some notes")
    with_file = control.post(alice, "echo file", room=direct.room, file=upload)
    assert direct.reply() == "file"

    settle(control, runner)
    assert [m["markdown"] for m in control.messages(room=group, author=bot)] == ["MENTIONED"]
    assert lookups(control, bot, unmentioned) == [] and fetches(control, bot, unmentioned) == []
    # A file comes as "share" (pending the malware scan) then "update" (safe): one lookup, one answer.
    assert len(lookups(control, bot, with_file)) == 1 and answers(control, bot, direct.room, "file") == 1
    for reply in control.messages(author=bot):
        assert fetches(control, bot, reply) == [] and lookups(control, bot, reply) == [], reply["markdown"]


def test_a_failing_lookup_is_retried_without_waiting_for_a_reconnect(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    runner = bots.start()
    chat = bots.chat()
    control.inject("server_error", count=2, status=503, path="/conversation/api/v1/messages/")
    question = chat.say("yell despite errors")
    assert chat.reply() == "DESPITE ERRORS"
    control.inject("rate_limit", count=1, retryAfter=1, path="/conversation/api/v1/messages/")
    started = time.monotonic()
    chat.say("yell after the limit")
    assert chat.reply() == "AFTER THE LIMIT" and time.monotonic() - started >= 1.0
    settle(control, runner)
    assert [c["status"] for c in lookups(control, bot, question)] == [503, 503, 200]
    assert transport_of(runner).connections == 1


# -- 2. acknowledgements ---------------------------------------------------------------------------
def test_every_envelope_is_acknowledged_once(bots: Bots) -> None:
    control = bots.control
    runner = bots.start()
    device = device_of(runner)
    chat = bots.chat()
    for word in ("one", "two", "three"):
        chat.say(f"yell {word}")
        chat.reply()
    settle(control, runner)
    state = status(control, device)
    acks = [a for a in control.acks() if a["device"] == device]
    sequenced = [a["messageId"] for a in acks if a["matched"]]
    # Three questions and three answers: six envelopes, each acked once; plus the ready event.
    assert state["unacked"] == 0 and state["sequenceNumber"] == 6
    assert len(sequenced) == len(set(sequenced)) == 6
    assert [a["matched"] for a in acks].count(False) == transport_of(runner).connections == 1


# -- 3. reconnects ---------------------------------------------------------------------------------
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


# -- 4. what arrives while the bot is away ---------------------------------------------------------
def test_unacked_envelopes_are_replayed_and_answered_once(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    first = bots.start(keep_device=True)
    device = device_of(first)
    chat = bots.chat()
    chat.say("yell before")
    assert chat.reply() == "BEFORE"
    settle(control, first)
    # Stopping drains the dispatcher first: what the websocket hands over meanwhile is refused and so
    # must stay un-acked, for Webex to bring it again.
    assert first.dispatcher is not None
    first.dispatcher.drain(1)
    transport = transport_of(first)
    done: dict[str, str] = {}  # activity id -> its envelope, once the transport is through with it
    acked: list[Optional[str]] = []
    deliver, ack = transport._deliver, transport._ack

    def traced_deliver(envelope_id: str, activity: Json) -> None:
        deliver(envelope_id, activity)
        done[activity["id"]] = envelope_id

    def traced_ack(envelope_id: Optional[str]) -> None:
        acked.append(envelope_id)
        ack(envelope_id)

    transport._deliver, transport._ack = traced_deliver, traced_ack  # type: ignore[method-assign]
    during = chat.say("yell during shutdown")
    envelope = until(lambda: done.get(uuid_of(during["id"])), "the websocket to be through with the message")
    assert lookups(control, bot, during) and envelope not in acked
    assert status(control, device)["unacked"] == 1
    bots.stop(first)
    assert device in device_ids(control), "keep_device leaves the device registered"
    until(lambda: not status(control, device)["connected"], "the connection to be gone")
    team = bots.chat(control.create_group("Team", bots.person, [bot]))
    away = [team.say(f"yell away {n}") for n in range(3)]
    assert status(control, device)["unacked"] == 4

    second = bots.start(keep_device=True)
    assert device_of(second) == device, "the device is found again by name"
    assert chat.reply() == "DURING SHUTDOWN"
    assert sorted(m["markdown"] for m in team.replies(3)) == [f"AWAY {n}" for n in range(3)]
    settle(control, second)
    for question, (room, answer) in zip([during, *away], [(chat.room, "DURING SHUTDOWN")] +
                                        [(team.room, f"AWAY {n}") for n in range(3)]):
        assert answers(control, bot, room, answer) == 1, answer
        assert len(fetches(control, bot, question)) == 1, "replay and catch-up dedupe before the fetch"
    # Both ways found them: the replayed envelopes were looked up (the refused one before, too), and
    # the catch-up's listing of the group room (mentions of the bot only) holds the three.
    assert len(lookups(control, bot, during)) == 2 and all(len(lookups(control, bot, q)) == 1 for q in away)
    [listing] = [c["response"] for c in control.calls(bot)
                 if c["path"] == "/v1/messages" and f"roomId={team.room['id']}" in c["query"]]
    assert sorted(m["id"] for m in listing["items"]) == sorted(q["id"] for q in away)
    assert second.catch_up() == 0


# -- 5. devices ------------------------------------------------------------------------------------
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


# -- 6. lost events --------------------------------------------------------------------------------
def test_a_sequence_gap_runs_the_catch_up(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    runner = bots.start()
    transport, device, chat = transport_of(runner), device_of(runner), bots.chat()
    chat.say("yell first")  # the transport learns where the sequence stands
    assert chat.reply() == "FIRST"
    settle(control, runner)
    control.clear_calls()
    control.skip_sequence(device, 3)
    chat.say("yell after the gap")
    assert chat.reply() == "AFTER THE GAP"
    until(lambda: transport.gaps == 1, "the gap to be noticed")
    until(lambda: [c for c in control.calls(bot) if c["path"] == "/v1/rooms"], "the catch-up")
    settle(control, runner)
    assert answers(control, bot, chat.room, "AFTER THE GAP") == 1

    # A real loss: Webex drops what it buffered for a connection that went away (replay off).
    control.settings(replayUnacked=False)
    control.drop_websocket(device)
    until(lambda: not status(control, device)["connected"], "the drop")
    lost = chat.say("yell lost in the gap")
    until(lambda: transport.connected and status(control, device)["connected"], "the reconnect")
    chat.say("yell after the loss")
    assert sorted(m["markdown"] for m in chat.replies(2)) == ["AFTER THE LOSS", "LOST IN THE GAP"]
    # Sequence numbers are tracked per connection: the new one shows no gap; the catch-up that every
    # reconnect runs is what brought the lost one.
    assert transport.gaps == 1 and lookups(control, bot, lost) == [], "the lost one came by the catch-up"
    settle(control, runner)
    assert answers(control, bot, chat.room, "LOST IN THE GAP") == 1
    assert answers(control, bot, chat.room, "AFTER THE LOSS") == 1


# -- 7. both transports at once --------------------------------------------------------------------
def test_webhook_and_websocket_together_answer_once(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    runner = bots.start(transport="webhook")
    assert runner.websocket is None and len(control.webhooks()) == 2
    runner._start_websocket()
    chat = bots.chat()
    question = chat.say("yell twice delivered")
    assert chat.reply() == "TWICE DELIVERED"
    control.wait_deliveries_idle()
    settle(control, runner)
    delivered = deliveries_of(control, question)
    assert [d["status"] for d in delivered] == [200]
    assert len(lookups(control, bot, question)) == 1, "the websocket brought it too"
    assert len(fetches(control, bot, question)) == 1
    assert answers(control, bot, chat.room, "TWICE DELIVERED") == 1


# -- 8. close codes --------------------------------------------------------------------------------
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


# -- 9. falling back from the tunnel ---------------------------------------------------------------
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
    assert supervisor is not None and runner.websocket is None and len(control.webhooks()) == 2
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


# -- 10. run_bot.py ------------------------------------------------------------------------------
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
