"""The cloudflared tunnel end to end: the real bot, the fake cloudflared (which really forwards HTTP),
the emulator; and run_bot.py in a subprocess for its error lines and its clean stop.

Every fake this file starts inherits ``FAKE_CLOUDFLARED_LOG`` naming the test's own folder, so
``no_stray_agents`` finds each one still running afterwards (in /proc), kills it and fails the test.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from bot.emulator import ControlClient, Emulator
from bot.runner import BotRunner
from bot.testing import Chat
from bot.tunnels import (CloudflaredTunnel, TunnelError, explain_cloudflared_failure, first_meaningful_line,
                         quick_tunnel_url)
from support import (Bots, agents_in, alive, answers, assert_webhooks_moved, deliveries_of, fakes_running, finish,
                     logged, lost_while_the_tunnel_is_down, ours, program_env, run_bot, settle, until)

FAKE = str(Path(__file__).parent / "fake_cloudflared" / "cloudflared")
INSTANCE = "cf"
INTERVAL = 0.2
Json = dict[str, Any]


class Fakes:
    def __init__(self, folder: Path) -> None:
        self.log = folder / "cloudflared.log"

    def events(self, kind: str) -> list[Json]:
        return logged(self.log, kind)

    def env(self) -> dict[str, str]:
        return {"FAKE_CLOUDFLARED_LOG": str(self.log)}


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_stray_agents: None) -> Fakes:
    """This test's fakes, which log into the test's folder: how ``no_stray_agents`` finds any left running."""
    return agents_in(Fakes(tmp_path), monkeypatch,
                     ("FAKE_CLOUDFLARED_FAIL", "FAKE_CLOUDFLARED_DELAY", "BOT_CLOUDFLARED_PATH"))


@pytest.fixture
def bots(bots: Bots, fakes: Fakes, tmp_path: Path) -> Bots:
    """Bots behind the fake cloudflared."""
    bots.defaults.update(tunnel="cloudflared", cloudflared_path=FAKE, health_interval=INTERVAL,
                         state_dir=tmp_path / "state", instance=INSTANCE)
    return bots


def tunnel_of(runner: BotRunner) -> CloudflaredTunnel:
    assert runner.supervisor is not None and isinstance(runner.supervisor.tunnel, CloudflaredTunnel)
    return runner.supervisor.tunnel


def pid_of(runner: BotRunner) -> int:
    process = tunnel_of(runner).process
    assert process is not None
    return process.pid


# -- through the tunnel ----------------------------------------------------------------------------

def test_webhooks_point_at_the_quick_tunnel_and_a_message_is_answered_through_it(
        bots: Bots, control: ControlClient, fakes: Fakes,
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.tunnels")
    runner = bots.start()
    assert runner.server is not None and runner.receiver is not None
    [started] = fakes.events("start")
    assert runner.public_url == f"http://{started['hostname']}" != runner.server.url
    assert started["upstream"] == f"http://127.0.0.1:{runner.server.port}"
    target = runner.public_url + runner.receiver.path
    assert {(h["targetUrl"], h["status"]) for h in ours(control, INSTANCE).values()} == {(target, "active")}
    pid = pid_of(runner)
    assert int((tmp_path / "state" / f"cloudflared-{INSTANCE}.pid").read_text()) == pid == started["pid"]
    assert "--no-autoupdate" in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert started["protocol"] == "quic" and started["proxy"] is None  # no proxy: cloudflared's own default

    chat = bots.chat()
    question = chat.say("echo through cloudflared")
    assert chat.reply() == "through cloudflared"
    assert [(d["targetUrl"], d["status"]) for d in deliveries_of(control, question)] == [(target, 200)]
    assert any(e["path"] == runner.receiver.path and e["status"] == 200 for e in fakes.events("forward"))
    # Its output reached the DEBUG logger, and nothing of it the terminal.
    output = [r.getMessage() for r in caplog.records if r.name == "bot.tunnels.cloudflared.output"]
    assert any("Requesting new quick Tunnel" in line for line in output)
    assert "quick Tunnel" not in "".join(capfd.readouterr())


def test_behind_a_proxy_cloudflared_gets_it_and_http2(bots: Bots, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """QUIC is UDP, which no HTTP proxy carries: with a proxy cloudflared is told to use HTTP/2, and the
    proxy the bot chose (BOT_PROXY here, over the variables) is in its environment, this machine exempt."""
    monkeypatch.setenv("HTTPS_PROXY", "http://ignored.example:1")
    bots.start(proxy="http://me:pw@proxy.example:3128")
    [started] = fakes.events("start")
    assert started["protocol"] == "http2" and started["proxy"] == "http://me:pw@proxy.example:3128"
    assert set(started["no_proxy"].split(",")) >= {"127.0.0.1", "localhost", "::1"}


def test_a_killed_cloudflared_is_restarted_and_the_webhooks_follow_its_new_url(
        bots: Bots, control: ControlClient, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start()
    assert runner.supervisor is not None and runner.receiver is not None
    chat = bots.chat()
    chat.say("echo before")
    assert chat.reply() == "before"
    old_url = runner.public_url

    def kill() -> int:
        dead = pid_of(runner)
        os.kill(dead, signal.SIGKILL)
        until(lambda: not alive(dead), "the killed cloudflared to end", 5)
        return dead

    before, dead = lost_while_the_tunnel_is_down(control, runner, chat, INSTANCE, kill, "echo while it was dead")
    assert chat.reply() == "while it was dead"
    new_url = runner.public_url
    assert new_url and new_url != old_url and runner.supervisor.repairs >= 1
    assert_webhooks_moved(control, runner, INSTANCE, before)
    new_pid = int((tmp_path / "state" / f"cloudflared-{INSTANCE}.pid").read_text())
    assert new_pid == pid_of(runner) != dead and alive(new_pid)

    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "while it was dead") == 1
    assert answers(control, bots.bot, chat.room, "before") == 1
    [line] = [m for m in caplog.messages if m.startswith("repaired:")]
    assert f"tunnel restarted (new URL {new_url})" in line and "updated webhook" in line
    assert any("catch-up: 1 message(s)" in m for m in caplog.messages)


def test_a_crashed_runs_cloudflared_is_ended_by_the_next_start(
        bots: Bots, fakes: Fakes, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    leftover = subprocess.Popen([FAKE, "tunnel", "--url", "http://127.0.0.1:9", "--metrics", "127.0.0.1:0"],
                                stderr=subprocess.DEVNULL)
    try:
        until(lambda: fakes.events("start"), "the leftover to come up")
        pid_file = tmp_path / "state" / f"cloudflared-{INSTANCE}.pid"
        pid_file.parent.mkdir()
        pid_file.write_text(str(leftover.pid))
        runner = bots.start()
        assert leftover.wait(5) == 0
        assert f"ended the cloudflared process (pid {leftover.pid}) left over by an earlier run" in caplog.messages
        assert int(pid_file.read_text()) == pid_of(runner) != leftover.pid
    finally:
        leftover.kill()
        leftover.wait(5)


def test_a_failing_cloudflared_under_auto_hands_over_to_the_websocket(
        bots: Bots, control: ControlClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("FAKE_CLOUDFLARED_FAIL", "1")
    with caplog.at_level(logging.WARNING, logger="bot.runner"):
        runner = bots.start(transport="auto")
    assert runner.websocket is not None and runner.websocket.connected and runner.supervisor is None
    assert control.webhooks() == []
    [line] = [m for m in caplog.messages if "using the device websocket instead" in m]
    assert "cloudflared did not start" in line and "429 Too Many Requests" in line
    chat = bots.chat()
    chat.say("echo over the websocket")
    assert chat.reply() == "over the websocket"


def test_a_cloudflared_that_never_connects_is_given_up_after_the_timeout(fakes: Fakes, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CLOUDFLARED_DELAY", "30")
    tunnel = CloudflaredTunnel(state_dir=tmp_path, instance=INSTANCE, cloudflared_path=FAKE, startup_timeout=1)
    started = time.monotonic()
    with pytest.raises(TunnelError) as failure:
        tunnel.start(9)
    assert time.monotonic() - started < 5
    assert str(failure.value).startswith("cloudflared did not connect within 1s (Starting metrics server on ")
    assert "port 7844" in str(failure.value) and "--transport websocket" in str(failure.value)
    [started_event] = fakes.events("start")
    until(lambda: not alive(started_event["pid"]), "the fake to be ended", 5)
    assert not tunnel.alive() and not (tmp_path / f"cloudflared-{INSTANCE}.pid").exists()


# -- run_bot.py ------------------------------------------------------------------------------------

def run_cloudflared_bot(cwd: Path, emulator: Emulator, bot: Json, fakes: Fakes, *args: str,
                        **variables: Optional[str]) -> subprocess.Popen:
    """run_bot.py with cloudflared for its tunnel, in ``cwd`` with an environment built from scratch
    (a variable given as None is left out)."""
    env = program_env(cwd, **{"WEBEX_BOT_TOKEN": bot["token"], "WEBEX_API_URL": emulator.api_url,
                              "BOT_STATE_DIR": str(cwd / "state"), "BOT_INSTANCE": INSTANCE,
                              "BOT_HEALTH_INTERVAL": str(INTERVAL), "BOT_CLOUDFLARED_PATH": FAKE, **fakes.env()})
    env.update(variables)
    return run_bot(cwd, {k: v for k, v in env.items() if v is not None}, "--tunnel", "cloudflared", "--port", "0",
                   *args)


def without_cloudflared(path: str) -> str:
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not (Path(d) / "cloudflared").exists())


FAILURES = {  # case: (variables, what the one error line must say)
    "not-on-path": ({"BOT_CLOUDFLARED_PATH": None}, ["cloudflared is not installed", "brew install cloudflared",
                                                      "BOT_CLOUDFLARED_PATH", "--transport websocket"]),
    "wrong-path": ({"BOT_CLOUDFLARED_PATH": "/nowhere/cloudflared"},
                   ["BOT_CLOUDFLARED_PATH names /nowhere/cloudflared", "install it", "--transport websocket"]),
    "cannot-run": ({"BOT_CLOUDFLARED_PATH": "{folder}/cloudflared"},  # an executable file that is no program
                   ["cannot run ", "(Exec format error): it may be built for another kind of machine",
                    "install it", "--transport websocket"]),
    "rate-limited": ({"FAKE_CLOUDFLARED_FAIL": "1"}, ["cloudflared did not start (Error unmarshaling QuickTunnel",
                                                       "429 Too Many Requests", "wait a few minutes",
                                                       "--transport websocket"]),
    "offline": ({"FAKE_CLOUDFLARED_FAIL": "offline"}, ["failed to request quick Tunnel",
                                                        "cannot reach api.trycloudflare.com", "--transport websocket"]),
}


def test_run_bot_explains_a_cloudflared_that_cannot_start(webex_emulator: Emulator, control: ControlClient,
                                                          webex_bot_account: Json, fakes: Fakes,
                                                          tmp_path: Path) -> None:
    path = without_cloudflared(os.environ.get("PATH", ""))
    broken = tmp_path / "broken" / "cloudflared"
    broken.parent.mkdir()
    broken.write_bytes(b"\x7fELF for another machine")
    broken.chmod(0o755)
    runs = {}
    for case, (variables, _) in FAILURES.items():  # all at once: each takes a second or two
        variables = {k: v.format(folder=broken.parent) if v else v for k, v in variables.items()}
        runs[case] = run_cloudflared_bot(tmp_path / case, webex_emulator, webex_bot_account, fakes,
                                         "--transport", "webhook", PATH=path, **variables)
    for case, process in runs.items():
        code = finish(process, 30)
        err = (tmp_path / case / "stderr.txt").read_text()
        assert code == 2, (case, err)
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and err.rstrip().endswith(errors[0]) and "Traceback" not in err, (case, err)
        for words in FAILURES[case][1]:
            assert words in errors[0], (case, words, errors[0])
        # Everything else is a log line of the bot's: nothing cloudflared printed reaches the terminal.
        assert all(line == errors[0] or line[:8].replace(":", "").isdigit() for line in err.splitlines() if line), err
        assert "quick Tunnel on trycloudflare.com" not in err and webex_bot_account["token"] not in err
    assert ours(control, INSTANCE) == {}


def test_run_bot_stops_on_sigterm_and_leaves_no_cloudflared(webex_emulator: Emulator, control: ControlClient,
                                                            webex_bot_account: Json, webex_person: Json, fakes: Fakes,
                                                            tmp_path: Path) -> None:
    process = run_cloudflared_bot(tmp_path / "run", webex_emulator, webex_bot_account, fakes, "--transport", "webhook")
    pid_file = tmp_path / "run" / "state" / f"cloudflared-{INSTANCE}.pid"
    stderr = tmp_path / "run" / "stderr.txt"
    try:
        def up() -> bool:
            assert process.poll() is None, stderr.read_text()
            return len(ours(control, INSTANCE)) == 2 and pid_file.exists() and "bot is up" in stderr.read_text()
        until(up, "run_bot.py to come up", 15)
        fake = int(pid_file.read_text())
        assert "public URL: http://127.0.0.1:" in stderr.read_text() and "(cloudflared)" in stderr.read_text()
        chat = Chat(control, webex_bot_account, webex_person)
        chat.say("echo up")
        assert chat.reply() == "up"
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = finish(process, 10)
    err = stderr.read_text()
    assert code == 0 and time.monotonic() - started < 10, err
    assert "Traceback" not in err and "quick Tunnel" not in err
    assert not alive(fake) and not pid_file.exists()
    assert fakes_running("fake_cloudflared", env=f"FAKE_CLOUDFLARED_LOG={fakes.log}") == []
    assert ours(control, INSTANCE) == {}


# -- the pure parts --------------------------------------------------------------------------------

def test_the_first_meaningful_line_is_the_first_error_else_the_last_line() -> None:
    assert first_meaningful_line([
        "2024-08-05T13:04:31Z INF Requesting new quick Tunnel on trycloudflare.com...",
        "2024-08-05T13:04:31Z INF |  Your quick Tunnel has been created!  |",
        "2024-08-05T13:04:32Z WRN Failed to create new quic connection",
        "2024-08-05T13:04:33Z ERR Serve tunnel error error=\"EOF\" connIndex=0",
        "failed to run: EOF"]) == 'Serve tunnel error error="EOF" connIndex=0'
    assert first_meaningful_line(["2024-08-05T13:04:31Z INF Requesting new quick Tunnel on trycloudflare.com...",
                                  "failed to request quick Tunnel: no such host"]) == \
        "failed to request quick Tunnel: no such host"
    assert first_meaningful_line(["2024-08-05T13:04:31Z INF one", "2024-08-05T13:04:31Z INF two"]) == "two"
    assert first_meaningful_line([]) == ""


def test_a_failure_that_says_nothing_gives_the_exit_code() -> None:
    error = explain_cloudflared_failure([], 3)
    assert str(error) == ("cloudflared did not start (it exited with code 3 and said nothing): try again, or run "
                          "with --transport websocket, which needs no tunnel") and not error.permanent


@pytest.mark.parametrize("hostname, url", [
    ("dawn-river-ocean-mild.trycloudflare.com", "https://dawn-river-ocean-mild.trycloudflare.com"),
    ("127.0.0.1:40123", "http://127.0.0.1:40123"),  # the local fake: plain http
    ("localhost:40123", "http://localhost:40123"),
])
def test_real_quick_tunnels_are_https_and_only_the_local_fake_is_http(hostname: str, url: str) -> None:
    assert quick_tunnel_url(hostname) == url
