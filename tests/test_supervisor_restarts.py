"""The supervisor across runs, end to end (the real bot and pyngrok, the fake ngrok agent, the
emulator): a restart that reuses our webhooks and answers what came while the bot was down, a crashed
run whose left-over agent the next start ends, a pid file naming another program; run_bot.py stopping
cleanly on a signal, and explaining in one line each way a tunnel cannot start.

As in ``test_supervisor.py``, each test has its own agents (``agents``) and none may outlive it.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from bot.emulator import ControlClient, Emulator
from bot.handled import HandledLog
from bot.testing import Chat
from supervisor_kit import FAKE_NGROK, INSTANCE, INTERVAL, WEBHOOK_ON_ANY_PORT, Agents, Json, agent_pid
from supervisor_kit import agents, bots, foreign  # noqa: F401 (fixtures, used by name)
from support import (Bots, alive, answers, deliveries_of, finish, hook_name, ours, output, program_env, run_bot,
                     settle, until)


# -- 1. restarts ----------------------------------------------------------------------------------

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


# -- 2. run_bot.py stops cleanly ------------------------------------------------------------------

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


# -- 3. clear failures ----------------------------------------------------------------------------

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
