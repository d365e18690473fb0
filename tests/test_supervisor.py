"""The supervisor end to end: the real bot, the real pyngrok driving the fake ngrok agent, the emulator.

Each test gets its own agent state folder, authtoken and agent log (``agents``), and afterwards no agent
it started may still run (``no_stray_agents``). Runners are stopped by the ``bots`` fixture even when a
test fails.
The pure parts (error texts, backoff, the handled record, the catch-up window) are tested at the end.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from pyngrok import ngrok
from webexpythonsdk import WebexAPI

from bot.catchup import catch_up, iso
from bot.emulator import ControlClient, Emulator
from bot.events import Event
from bot.handled import HandledLog
from bot.receiver import Receiver
from bot.runner import BotRunner
from bot.supervisor import Supervisor
from bot.testing import Chat
from bot.tunnels import StaticUrl, explain_ngrok_failure
from bot.webex import WebexClient
from bot.webhooks import Webhooks
from support import (NOWHERE, Bots, agents_in, alive, answers, assert_webhooks_moved, deliveries_of, finish, hook_name,
                     logged, lost_while_the_tunnel_is_down, ours, output, program_env, run_bot, settle,
                     until)

FAKE_NGROK = str(Path(__file__).parent / "fake_ngrok" / "ngrok")
INSTANCE = "t"
INTERVAL = 0.3
WEBHOOK_ON_ANY_PORT = ("--transport", "webhook", "--port", "0")
Json = dict[str, Any]


# -- agents: where the processes a test starts keep their state ----------------------------------

@dataclass
class Agents:
    """Where this test's agents keep their state and log, and the authtoken they run with."""

    folder: Path
    token: str = field(default_factory=lambda: f"tok-{uuid.uuid4().hex}")

    @property
    def state(self) -> Path:
        return self.folder / "agent-state"

    @property
    def log(self) -> Path:
        return self.folder / "agent.log"

    def forwarded(self) -> list[Json]:
        return logged(self.log, "forward")

    def env(self) -> dict[str, str]:
        return {"FAKE_NGROK_STATE_DIR": str(self.state), "FAKE_NGROK_LOG": str(self.log)}


@pytest.fixture
def agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_stray_agents: None) -> Agents:
    """A private agent world: every agent of this test keeps its state and log in the test's folder,
    which is how ``no_stray_agents`` finds any that outlives the test."""
    return agents_in(Agents(tmp_path), monkeypatch, ("NGROK_AUTHTOKEN", "FAKE_NGROK_FAIL", "FAKE_NGROK_START_DELAY"))


# -- the people, the bot and a webhook that is not ours --------------------------------------------

@pytest.fixture
def foreign(webex_emulator: Emulator, webex_bot_account: Json) -> Iterator[Json]:
    """The same bot's production webhook, made with the SDK; it must come out of the test untouched."""
    api = WebexAPI(access_token=webex_bot_account["token"], base_url=webex_emulator.api_url)
    hook = api.webhooks.create(name=hook_name("production"), targetUrl="https://bot.example.org/hook",
                               resource="messages", event="created", filter="personEmail=boss@example.com",
                               secret="production-secret-0123456789")
    before = next(h for h in webex_emulator.control.webhooks() if h["id"] == hook.id)
    yield before
    assert [h for h in webex_emulator.control.webhooks() if h["id"] == hook.id] == [before]


@pytest.fixture
def bots(bots: Bots, agents: Agents, tmp_path: Path) -> Bots:
    """Bots behind this test's fake agent, sharing one state folder (so a restart finds its record)."""
    bots.defaults.update(tunnel="ngrok", ngrok_path=FAKE_NGROK, ngrok_authtoken=agents.token,
                         ngrok_config=str(tmp_path / "ngrok.yml"), health_interval=INTERVAL,
                         state_dir=tmp_path / "state", instance=INSTANCE)
    return bots


def agent_pid(runner: BotRunner) -> int:
    """The pid of the runner's agent (asked only while it runs: pyngrok would start one otherwise)."""
    assert runner.supervisor is not None and runner.supervisor.tunnel.alive()
    return ngrok.get_ngrok_process(runner.supervisor.tunnel.config).proc.pid  # type: ignore[attr-defined]


def kill_agent(runner: BotRunner) -> int:
    pid = agent_pid(runner)
    os.kill(pid, signal.SIGKILL)
    until(lambda: not alive(pid), "the killed agent to end", 5)
    return pid


def repaired_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("repaired:")]


# -- 1. start -------------------------------------------------------------------------------------

def test_start_points_our_webhooks_at_the_tunnel_and_messages_come_through_it(
        bots: Bots, control: ControlClient, foreign: Json,
        agents: Agents, tmp_path: Path) -> None:
    runner = bots.start()
    assert runner.public_url and runner.public_url.startswith("http://127.0.0.1:")
    assert runner.server is not None and runner.public_url != runner.server.url
    assert runner.receiver is not None and runner.supervisor is not None
    target = runner.public_url + runner.receiver.path
    hooks = ours(control, INSTANCE)
    assert set(hooks) == {hook_name(INSTANCE), hook_name(INSTANCE, "attachmentActions")}
    for resource in ("messages", "attachmentActions"):
        hook = hooks[hook_name(INSTANCE, resource)]
        assert (hook["targetUrl"], hook["resource"], hook["event"], hook["status"]) == \
            (target, resource, "created", "active")
        assert hook["secret"] == runner.receiver.secret and len(hook["secret"]) >= 32
    assert int((tmp_path / "state" / f"ngrok-{INSTANCE}.pid").read_text()) == agent_pid(runner)
    command_line = Path(f"/proc/{agent_pid(runner)}/cmdline").read_bytes()
    assert agents.token.encode() not in command_line, "the authtoken must not show in the process list"

    chat = bots.chat()
    question = chat.say("echo through the tunnel")
    assert chat.reply() == "through the tunnel"
    [delivery] = deliveries_of(control, question)
    assert (delivery["targetUrl"], delivery["status"]) == (target, 200)
    assert any(e["path"] == runner.receiver.path and e["status"] == 200 for e in agents.forwarded())


# -- 2. the agent dies ----------------------------------------------------------------------------

def test_a_killed_agent_is_restarted_and_what_came_meanwhile_is_answered_once(
        bots: Bots, control: ControlClient, foreign: Json,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start()
    assert runner.supervisor is not None and runner.receiver is not None
    chat = bots.chat()
    chat.say("echo before")
    assert chat.reply() == "before"
    old_url = runner.public_url
    before, dead = lost_while_the_tunnel_is_down(control, runner, chat, INSTANCE, lambda: kill_agent(runner),
                                                 "echo while the agent was dead")
    assert chat.reply() == "while the agent was dead"
    assert runner.supervisor.repairs >= 1
    new_url = runner.public_url
    assert new_url and new_url != old_url
    assert_webhooks_moved(control, runner, INSTANCE, before)
    new_pid = int((tmp_path / "state" / f"ngrok-{INSTANCE}.pid").read_text())
    assert new_pid != dead and alive(new_pid)

    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "while the agent was dead") == 1
    assert answers(control, bots.bot, chat.room, "before") == 1
    [line] = repaired_lines(caplog)
    # Whichever check saw it first: the agent's process, or the probe through the public URL.
    assert any(line.startswith(f"repaired: {problem}; tunnel restarted (new URL {new_url}); updated webhook")
               for problem in ("the ngrok agent is not running", "the public URL does not reach the bot")), line
    assert any("catch-up: 1 message(s)" in r.getMessage() for r in caplog.records)


# -- 3. webhooks switched off or deleted behind the bot's back -------------------------------------

def reactivated_within(control: ControlClient, runner: BotRunner, hook: Json, checks: int = 3) -> None:
    """Switch ``hook`` off and see it back on within ``checks`` health checks (counted by their probes,
    so a loaded machine cannot make this flaky)."""
    assert runner.receiver is not None
    before = runner.receiver.probes
    control.deactivate_webhook(hook["id"])
    until(lambda: ours(control, INSTANCE)[hook["name"]]["status"] == "active", "the webhook re-activated")
    assert runner.receiver.probes - before <= checks


def test_a_deactivated_webhook_is_reactivated_and_what_came_meanwhile_is_answered_once(
        bots: Bots, control: ControlClient, foreign: Json,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start()
    messages = ours(control, INSTANCE)[hook_name(INSTANCE)]

    reactivated_within(control, runner, messages)
    assert ours(control, INSTANCE)[messages["name"]]["id"] == messages["id"]

    # Hold the supervisor inside its webhook check (Webex rate-limits it) so that the message surely
    # arrives while the webhook is off; then let it go and watch the repair answer it.
    control.inject("rate_limit", path="/v1/webhooks", retryAfter=1)
    until(lambda: [c for c in control.calls() if c["path"] == "/v1/webhooks" and c["status"] == 429],
          "the supervisor to be rate-limited")
    control.deactivate_webhook(messages["id"])
    chat = bots.chat()
    lost = chat.say("echo while it was off")
    assert control.wait_deliveries_idle()
    assert deliveries_of(control, lost) == []
    control.clear_faults()

    assert chat.reply() == "while it was off"
    hook = ours(control, INSTANCE)[messages["name"]]
    assert (hook["id"], hook["status"]) == (messages["id"], "active")
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "while it was off") == 1
    assert deliveries_of(control, lost) == []  # answered by the catch-up, not by a late delivery
    reactivated = [r for r in caplog.records if r.getMessage() == f"repaired: re-activated webhook '{messages['name']}'"]
    assert len(reactivated) == 2  # one line per repair


def test_a_deleted_webhook_is_made_again(bots: Bots, control: ControlClient, foreign: Json) -> None:
    runner = bots.start()
    assert runner.receiver is not None and runner.public_url
    before = ours(control, INSTANCE)
    for hook in before.values():
        control.delete_webhook(hook["id"])
    until(lambda: len(ours(control, INSTANCE)) == 2, "our webhooks made again")
    after = ours(control, INSTANCE)
    assert {h["id"] for h in after.values()}.isdisjoint(h["id"] for h in before.values())
    assert {(h["targetUrl"], h["status"], h["secret"]) for h in after.values()} == \
        {(runner.public_url + runner.receiver.path, "active", runner.receiver.secret)}

    chat = bots.chat()
    question = chat.say("echo made again")
    assert chat.reply() == "made again"
    assert [d["status"] for d in deliveries_of(control, question)] == [200]


def test_a_catch_up_that_fails_is_tried_again_at_the_next_check(
        bots: Bots, control: ControlClient, foreign: Json, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start(tunnel="none", health_interval=0.1)
    chat = bots.chat()
    hook = ours(control, INSTANCE)[hook_name(INSTANCE)]
    control.inject("server_error", path="/v1/rooms", status=503, count=4)  # every try of one catch-up
    control.inject("rate_limit", path="/v1/webhooks", retryAfter=1, count=3)
    until(lambda: [c for c in control.calls() if c["path"] == "/v1/webhooks" and c["status"] == 429],
          "the supervisor to be rate-limited")
    control.deactivate_webhook(hook["id"])
    lost = chat.say("echo after a failed catch-up")

    assert chat.reply(timeout=20) == "after a failed catch-up"
    assert deliveries_of(control, lost) == []
    assert [c["status"] for c in control.calls() if c["path"] == "/v1/rooms"][-5:] == [503] * 4 + [200]
    assert sum("catch-up failed, trying again at the next check" in m for m in caplog.messages) == 1
    assert runner.supervisor is not None and runner.supervisor.repairs == 1
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "after a failed catch-up") == 1


# -- 4. restarts ----------------------------------------------------------------------------------

def test_a_restart_reuses_our_webhooks_and_answers_what_came_while_down_once(
        bots: Bots, control: ControlClient, foreign: Json) -> None:
    first = bots.start(keep_webhooks=True)
    direct = bots.chat()
    team = control.create_group("Team", bots.person, [bots.person, bots.bot])
    group = bots.chat(team)
    direct.say("echo d1")
    assert direct.reply() == "d1"
    group.say("echo g1")
    assert group.reply() == "g1"
    kept = ours(control, INSTANCE)
    first_pid = agent_pid(first)
    bots.stop(first)
    assert not alive(first_pid)
    assert ours(control, INSTANCE) == kept

    down = [direct.say("echo d2"), group.say("echo g2"), control.post(bots.person, "echo not for the bot", room=team)]
    assert control.wait_deliveries_idle()
    assert all(d["status"] is None for m in down for d in deliveries_of(control, m))

    second = bots.start()
    assert second.receiver is not None and second.public_url
    again = ours(control, INSTANCE)
    assert {n: h["id"] for n, h in again.items()} == {n: h["id"] for n, h in kept.items()}
    assert {(h["targetUrl"], h["secret"]) for h in again.values()} == \
        {(second.public_url + second.receiver.path, second.receiver.secret)}
    assert second.receiver.secret != kept[hook_name(INSTANCE)]["secret"]

    assert direct.reply() == "d2"
    assert group.reply() == "g2"
    settle(control, second, checks=2)
    for chat, text in ((direct, "d1"), (direct, "d2"), (group, "g1"), (group, "g2")):
        assert answers(control, bots.bot, chat.room, text) == 1, text
    assert answers(control, bots.bot, team, "not for the bot") == 0


def run_bot_env(agents: Agents, tmp_path: Path, emulator: Emulator, bot: Json, **variables: str) -> dict[str, str]:
    """The environment of a run_bot.py subprocess: built from scratch and offline, pointed at this test's world."""
    return program_env(tmp_path, **{
        "WEBEX_BOT_TOKEN": bot["token"], "WEBEX_API_URL": emulator.api_url, "BOT_NGROK_PATH": FAKE_NGROK,
        "NGROK_AUTHTOKEN": agents.token, "BOT_NGROK_CONFIG": str(tmp_path / "ngrok.yml"),
        "BOT_STATE_DIR": str(tmp_path / "state"), "BOT_INSTANCE": INSTANCE, "BOT_HEALTH_INTERVAL": str(INTERVAL),
        **agents.env(), **variables})


def wait_until_up(control: ControlClient, process: subprocess.Popen, cwd: Path, pid_file: Path) -> int:
    """Wait for the program's webhooks and its agent's pid file; return the agent's pid."""
    def up() -> bool:
        assert process.poll() is None, output(cwd)[1]
        return len(ours(control, INSTANCE)) == 2 and pid_file.exists() and "bot is up" in output(cwd)[1]
    until(up, "run_bot.py to come up", 15)
    return int(pid_file.read_text())


def recorded(state_dir: Path, message: Json) -> bool:
    """Whether the on-disk record of handled messages names ``message`` (read as a restart reads it)."""
    return any(message["id"] in HandledLog(path) for path in state_dir.glob("handled-*"))


def test_a_crashed_run_leaves_an_agent_that_the_next_start_ends(
        bots: Bots, webex_emulator: Emulator, control: ControlClient, foreign: Json, agents: Agents,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    pid_file = tmp_path / "state" / f"ngrok-{INSTANCE}.pid"
    crashed = run_bot(tmp_path / "crashed", run_bot_env(agents, tmp_path, webex_emulator, bots.bot),
                      *WEBHOOK_ON_ANY_PORT)
    try:
        leftover = wait_until_up(control, crashed, tmp_path / "crashed", pid_file)
        chat = bots.chat()
        answered = chat.say("echo before the crash")
        assert chat.reply() == "before the crash"
        # The crash comes after the answer was recorded (a crash between the two answers it again).
        until(lambda: recorded(tmp_path / "state", answered), "the answer recorded on disk")
    finally:
        crashed.kill()
        finish(crashed, 5)
    assert alive(leftover), "SIGKILL of the program leaves its agent running, as a crash does"
    kept = ours(control, INSTANCE)
    lost = chat.say("echo during the crash")
    assert control.wait_deliveries_idle()

    runner = bots.start()
    assert not alive(leftover)
    assert f"ended the ngrok agent (pid {leftover}) left over by an earlier run" in caplog.messages
    assert int(pid_file.read_text()) == agent_pid(runner) != leftover
    assert {n: h["id"] for n, h in ours(control, INSTANCE).items()} == {n: h["id"] for n, h in kept.items()}
    assert chat.reply() == "during the crash"
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "during the crash") == 1
    assert answers(control, bots.bot, chat.room, "before the crash") == 1
    # Webex reached the left-over agent, which had no bot behind it (ngrok's 502, ERR_NGROK_8012).
    assert [d["status"] for d in deliveries_of(control, lost)] == [502]


def test_a_pid_file_naming_another_program_ends_nothing(bots: Bots, tmp_path: Path) -> None:
    """After a reboot the pid an old pid file names may be anyone's process: only an ngrok is ended."""
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = tmp_path / "state" / f"ngrok-{INSTANCE}.pid"
        pid_file.parent.mkdir()
        pid_file.write_text(str(stranger.pid))
        runner = bots.start()
        assert stranger.poll() is None
        assert int(pid_file.read_text()) == agent_pid(runner)
    finally:
        stranger.kill()
        stranger.wait(5)


# -- 5. run_bot.py stops cleanly ------------------------------------------------------------------

@pytest.mark.parametrize("signum, keep", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["sigterm", "sigint-keep-webhooks"])
def test_run_bot_stops_on_a_signal_and_leaves_no_agent(
        webex_emulator: Emulator, control: ControlClient, webex_bot_account: Json, webex_person: Json,
        foreign: Json, agents: Agents,
        tmp_path: Path, signum: int, keep: bool) -> None:
    pid_file = tmp_path / "state" / f"ngrok-{INSTANCE}.pid"
    process = run_bot(tmp_path / "run", run_bot_env(agents, tmp_path, webex_emulator, webex_bot_account),
                      *WEBHOOK_ON_ANY_PORT, *(["--keep-webhooks"] if keep else []))
    try:
        agent = wait_until_up(control, process, tmp_path / "run", pid_file)
        hooks = ours(control, INSTANCE)
        chat = Chat(control, webex_bot_account, webex_person)
        chat.say("echo up")
        assert chat.reply() == "up"
    finally:
        process.send_signal(signum)
        started = time.monotonic()
        code = finish(process, 10)
    err = (tmp_path / "run" / "stderr.txt").read_text()
    assert code == 0 and time.monotonic() - started < 10, err
    assert "Traceback" not in err and webex_bot_account["token"] not in err and agents.token not in err
    assert not alive(agent) and not pid_file.exists()
    assert ours(control, INSTANCE) == (hooks if keep else {})


# -- 6. clear failures ----------------------------------------------------------------------------

FAILURES = {  # case: what the one error line must say
    "missing-agent": ["not installed", "cannot be downloaded", "BOT_NGROK_PATH", "--transport websocket"],
    "no-authtoken": ["ERR_NGROK_4018", "NGROK_AUTHTOKEN", "--transport websocket"],
    "invalid-authtoken": ["ERR_NGROK_105", "NGROK_AUTHTOKEN", "--transport websocket"],
    "refused-authtoken": ["ERR_NGROK_105", "NGROK_AUTHTOKEN", "--transport websocket"],
    "session-taken": ["ERR_NGROK_108", "pkill ngrok", "--transport websocket"],
    "port-in-use": ["is in use", "--port"],
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_run_bot_explains_a_tunnel_that_cannot_start(
        case: str, webex_emulator: Emulator, control: ControlClient, webex_bot_account: Json, agents: Agents,
        tmp_path: Path) -> None:
    says = FAILURES[case]
    hidden = [webex_bot_account["token"], agents.token]
    variables: dict[str, str] = {}
    args: list[str] = []
    held: Optional[socket.socket] = None
    rival: Optional[subprocess.Popen] = None
    if case == "missing-agent":  # pyngrok then downloads the agent: through the proxies of run_bot_env, which fail
        variables["BOT_NGROK_PATH"] = str(tmp_path / "no-ngrok-here" / "ngrok")
    elif case == "no-authtoken":
        variables["NGROK_AUTHTOKEN"] = ""
    elif case == "invalid-authtoken":
        variables["NGROK_AUTHTOKEN"] = "invalid"
        hidden.append("invalid")
    elif case == "refused-authtoken":
        variables["FAKE_NGROK_FAIL"] = "105"  # the agent echoes the token it refused, as the real one does
    elif case == "session-taken":
        rival = subprocess.Popen([FAKE_NGROK, "start", "--none", "--log", "stdout", "--authtoken", agents.token],
                                 stdout=subprocess.PIPE, text=True, env={**os.environ, **agents.env()})
        lines = rival.stdout
        assert lines is not None
        until(lambda: "client session established" in lines.readline(), "the rival agent's session")
    elif case == "port-in-use":
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        args = ["--port", str(held.getsockname()[1])]
    try:
        env = run_bot_env(agents, tmp_path, webex_emulator, webex_bot_account, **variables)
        process = run_bot(tmp_path / "run", env, *WEBHOOK_ON_ANY_PORT, *args)
        started = time.monotonic()
        code = finish(process, 30)
        elapsed = time.monotonic() - started
    finally:
        if rival is not None:
            rival.kill()
            rival.wait(5)
        if held is not None:
            held.close()
    out, err = ((tmp_path / "run" / name).read_text() for name in ("stdout.txt", "stderr.txt"))
    assert code == 2, err
    assert elapsed < 30 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]), err
    for words in says:
        assert words in errors[0], (words, errors[0])
    # Everything else on stderr is a log line: nothing the agent wrote itself leaks through.
    assert all(line == errors[0] or line[:8].replace(":", "").isdigit() for line in err.splitlines() if line), err
    for secret in hidden:
        assert secret not in out + err, secret
    assert ours(control, INSTANCE) == {}


# -- 7. a fixed domain ----------------------------------------------------------------------------

def test_a_fixed_domain_keeps_its_url_across_a_repair(
        bots: Bots, control: ControlClient, foreign: Json,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start(ngrok_domain="my-bot.ngrok-free.app")
    supervisor = runner.supervisor
    assert supervisor is not None
    url, hooks = runner.public_url, ours(control, INSTANCE)
    kill_agent(runner)
    chat = bots.chat()
    chat.say("echo same place")
    assert chat.reply() == "same place"
    until(lambda: supervisor.repairs >= 1, "the repair")
    assert runner.public_url == url
    [line] = repaired_lines(caplog)
    assert "same URL" in line
    assert ours(control, INSTANCE) == hooks  # nothing to change: same URL, same secret
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "same place") == 1


# -- 8. your own URL, no tunnel -------------------------------------------------------------------

def test_your_own_url_is_probed_without_counting_as_a_message_and_webhooks_are_repaired(
        bots: Bots, control: ControlClient, foreign: Json) -> None:
    runner = bots.start(tunnel="none", health_interval=0.1)
    supervisor, receiver = runner.supervisor, runner.receiver
    assert supervisor is not None and receiver is not None and runner.dispatcher is not None
    assert isinstance(supervisor.tunnel, StaticUrl) and runner.server is not None
    assert runner.public_url == runner.server.url
    until(lambda: receiver.probes >= 3, "three probes")
    assert [c["path"] for c in control.calls() if c["path"].startswith("/v1/messages")] == []
    assert runner.dispatcher.handled == 0

    reactivated_within(control, runner, ours(control, INSTANCE)[hook_name(INSTANCE)])
    until(lambda: supervisor.repairs == 1, "the repair counted")
    chat = bots.chat()
    chat.say("echo still here")
    assert chat.reply() == "still here"


def test_your_own_url_that_does_not_reach_the_bot_is_reported_not_repaired(
        bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.supervisor")
    runner = bots.start(tunnel="none", public_url=NOWHERE, health_interval=0.1)
    supervisor = runner.supervisor
    assert supervisor is not None
    until(lambda: supervisor.failures >= 2, "two failed checks")
    bots.stop(runner)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("http://127.0.0.1:9 does not reach the bot yet: check that your reverse proxy")
               for line in lines)
    assert any("does not reach the bot (2 checks in a row): check your reverse proxy" in line for line in lines)
    assert not [line for line in lines if line.startswith("repaired:")]


# -- 9. the pure parts ----------------------------------------------------------------------------

def agent_error(code: str, body: str) -> str:
    """What the framework hands to explain_ngrok_failure: pyngrok's message and its error code."""
    return f"The ngrok process errored on start: authentication failed: {body}\r\n\r\nERR_NGROK_{code}\r\n. " \
           f"ERR_NGROK_{code}"


@pytest.mark.parametrize("code, says, permanent", [
    ("4018", ["ERR_NGROK_4018", "NGROK_AUTHTOKEN", "https://dashboard.ngrok.com", "--transport websocket"], True),
    ("105", ["ERR_NGROK_105", "NGROK_AUTHTOKEN", "your-authtoken", "--transport websocket"], True),
    ("107", ["ERR_NGROK_105", "NGROK_AUTHTOKEN"], True),
    ("108", ["ERR_NGROK_108", "pkill ngrok", "--transport websocket"], False),
])
def test_explain_ngrok_failure_names_the_way_out(code: str, says: list[str], permanent: bool) -> None:
    error = explain_ngrok_failure(agent_error(code, "Your authtoken: s3cret-authtoken-value\nmore"))
    for words in says:
        assert words in str(error)
    assert error.permanent is permanent
    assert "s3cret-authtoken-value" not in str(error) and "\n" not in str(error)


def test_explain_ngrok_failure_of_anything_else_quotes_its_first_line() -> None:
    error = explain_ngrok_failure("The ngrok process was unable to start.\nlogs follow")
    assert str(error) == "ngrok did not start: The ngrok process was unable to start." and not error.permanent
    assert str(explain_ngrok_failure("  \n")) == "ngrok did not start: no reason given"


def a_supervisor(interval: float) -> Supervisor:
    receiver = Receiver(lambda event: "accepted")
    webhooks = Webhooks(WebexClient("unused-token", "http://127.0.0.1:9/v1/"), bot_name="Helper", instance="t",
                        secret=receiver.secret)
    return Supervisor(tunnel=StaticUrl("http://127.0.0.1:9"), port=9, receiver=receiver, webhooks=webhooks,
                      interval=interval, catch_up=lambda: 0)


def test_the_wait_backs_off_with_jitter_while_repairs_fail_and_is_capped() -> None:
    supervisor = a_supervisor(1.0)
    assert supervisor._next_wait() == 1.0
    for failures in range(1, 12):
        supervisor.failures = failures
        waits = [supervisor._next_wait() for _ in range(200)]
        base = min(2.0 ** failures, 60.0)
        assert all(0.8 * base <= w <= 1.2 * base for w in waits), failures
        assert len(set(waits)) > 1  # jitter, so 30 laptops do not retry in step
    slow = a_supervisor(120.0)
    slow.failures = 5
    assert all(96.0 <= slow._next_wait() <= 144.0 for _ in range(100))  # never shorter than the interval


def test_the_handled_record_survives_a_restart(tmp_path: Path) -> None:
    record = HandledLog.for_instance(tmp_path / "state", "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3Q=", "my laptop/1")
    assert record.path.parent == tmp_path / "state" and " " not in record.path.name and "/" not in record.path.name
    assert record.mark is None and "m1" not in record
    record.start_mark("2024-08-05T13:00:00.000Z")
    record.start_mark("2024-08-05T14:00:00.000Z")  # only the very first start sets it
    assert record.mark == "2024-08-05T13:00:00.000Z"
    record.record("m1==", "2024-08-05T13:04:31.488Z")
    record.record("m2", "2024-08-05T13:01:00.000Z")  # handled out of order: the mark stays
    again = HandledLog(record.path)
    assert again.mark == "2024-08-05T13:04:31.488Z"
    assert "m1" in again and "m1==" in again and "m2" in again and "m3" not in again

    bounded = HandledLog(tmp_path / "bounded.json", keep=3)
    for n in range(5):
        bounded.record(f"id{n}", f"2024-08-05T13:00:0{n}.000Z")
    reloaded = HandledLog(tmp_path / "bounded.json", keep=3)
    assert [f"id{n}" in reloaded for n in range(5)] == [False, False, True, True, True]


def test_the_handled_record_stays_whole_under_many_threads_and_compactions(tmp_path: Path) -> None:
    path = tmp_path / "handled.jsonl"
    record = HandledLog(path, keep=50)  # 400 records: the file is compacted several times on the way
    failures: list[str] = []
    done = threading.Event()

    def read_while_writing() -> None:
        while not done.is_set():
            try:
                seen = HandledLog(path, keep=50)
                assert seen.mark is None or seen.mark.startswith("2024-08-05T13:00:")
            except (OSError, ValueError, AssertionError) as exc:
                failures.append(repr(exc))

    def write(worker: int) -> None:
        for n in range(50):
            record.record(f"w{worker}-{n}", f"2024-08-05T13:00:{n:02d}.000Z")

    reader = threading.Thread(target=read_while_writing)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    done.set()
    reader.join()
    assert failures == []
    assert all(json.loads(line) for line in path.read_text().splitlines())
    assert len(path.read_text().splitlines()) <= 2 * 50 + 1
    reloaded = HandledLog(path, keep=50)
    assert reloaded.mark == record.mark == "2024-08-05T13:00:49.000Z"
    ids = [f"w{w}-{n}" for w in range(8) for n in range(50)]
    assert [i for i in ids if i in reloaded] == [i for i in ids if i in record]
    assert sum(i in reloaded for i in ids) == 50
    assert [p.name for p in tmp_path.iterdir()] == ["handled.jsonl"]  # no temporary file left behind


def test_a_line_cut_short_by_a_crash_costs_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "handled.jsonl"
    path.write_text('{"created": "2024-08-05T13:00:00.000Z"}\n{"id": "m0", "created": "2024-08-05T13:00:01.000Z"}\n'
                    '{"id": "m1", "crea')
    record = HandledLog(path)
    assert (record.mark, "m0" in record, "m1" in record) == ("2024-08-05T13:00:01.000Z", True, False)
    record.record("m2", "2024-08-05T13:00:02.000Z")
    again = HandledLog(path)
    assert ("m0" in again, "m2" in again, again.mark) == (True, True, "2024-08-05T13:00:02.000Z")


def test_catch_up_submits_only_what_came_since_the_mark_and_was_not_handled(
        webex_emulator: Emulator, control: ControlClient, webex_bot_account: Json, webex_person: Json,
        tmp_path: Path) -> None:
    client = WebexClient(webex_bot_account["token"], webex_emulator.api_url)
    record = HandledLog(tmp_path / "handled.json")
    submitted: list[Event] = []

    def submit(event: Event) -> str:
        submitted.append(event)
        return "accepted"

    assert catch_up(client, record, submit) == 0  # no mark yet: nothing to catch up, nothing asked
    assert control.calls() == []

    record.start_mark(iso(datetime.now(timezone.utc)))
    direct = control.direct_room(webex_person, webex_bot_account)
    team = control.create_group("Team", webex_person, [webex_person, webex_bot_account])
    handled = control.post(webex_person, "echo handled already", room=direct)
    record.record(handled["id"], handled["created"])
    control.post(webex_bot_account, "the bot's own words", room=direct)
    control.post(webex_person, "echo not for the bot", room=team)
    wanted = [control.post(webex_person, "echo one", room=direct),
              control.post(webex_person, "echo two", room=team, mentions=(webex_bot_account,))]
    assert catch_up(client, record, submit) == 2
    assert [e.id for e in submitted] == [m["id"] for m in wanted]
    assert [(e.transport, e.room_type, e.person_email) for e in submitted] == \
        [("catchup", "direct", webex_person["emails"][0]), ("catchup", "group", webex_person["emails"][0])]

    assert catch_up(client, record, lambda event: "duplicate") == 0  # only what the dispatcher took counts

    later = HandledLog(tmp_path / "later.json")
    later.start_mark(iso(datetime.now(timezone.utc) + timedelta(minutes=10)))
    assert catch_up(client, later, submit) == 0 and len(submitted) == 2
