"""Helpers the end-to-end tests share: polling for a condition, waiting until the bot and the emulator
have nothing in flight, what the emulator saw of the bot (its webhooks, answers, deliveries), bots
started in the test process or as programs (offline but for loopback), and the fake agents a test
started (so that the ``no_stray_agents`` fixture can prove that none outlives its test)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import pytest

from bot.emulator import ControlClient, Emulator
from bot.runner import BotRunner
from bot.testing import Chat, start_test_bot

T = TypeVar("T")
Json = dict[str, Any]
REPO = Path(__file__).resolve().parents[1]
RUN_BOT = str(REPO / "run_bot.py")
BOT_NAME = "Test Bot"  # the display name of bot.testing's ``webex_bot_account``
FAKE_AGENTS = ("ngrok", "cloudflared")  # the names of the scripts in tests/fake_ngrok and tests/fake_cloudflared
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there
# A laptop with no way out: every proxy is a closed local port, loopback is reached directly. Both
# spellings, because Python's urllib (so pyngrok's download) prefers the lower-case one.
OFFLINE = {**{name: NOWHERE for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")},
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def unavailable(reason: str) -> None:
    """Something a test needs is missing (a browser, a client, the spec): a failure under CI, which
    installs everything, else a skip, so an offline laptop can still run the rest."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: under CI it must be there", pytrace=False)
    pytest.skip(reason)


# -- waiting ---------------------------------------------------------------------------------------

def until(read: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Poll ``read`` until it gives something truthy; fail naming ``what`` when it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.02)


def settle(control: ControlClient, runner: BotRunner, checks: int = 0, timeout: float = 10.0) -> None:
    """Wait until nothing is in flight: no delivery under way in the emulator, every websocket envelope
    acked, nothing queued or running in the dispatcher, and none of that changed while it was checked.
    With ``checks``, also wait for that many more health checks (each probes the receiver once) and
    settle again, so that what a check set off (a repair, a catch-up) is done too."""
    dispatcher = runner.dispatcher
    assert dispatcher is not None
    device = (runner.websocket.device or {}).get("url", "").rsplit("/", 1)[-1] if runner.websocket else ""

    def unacked() -> int:
        return sum(d["unacked"] for d in control.devices() if d["id"] == device) if device else 0

    def work() -> tuple[int, int, int]:
        """What grows whenever something happens: handled events, deliveries, acks."""
        return dispatcher.handled, len(control.deliveries()), len(control.acks()) if device else 0

    def quiet() -> bool:
        # A delivery or an envelope hands its event to the dispatcher before it counts as done, and a
        # handler's replies are deliveries of their own: hence the dispatcher is asked before and after.
        before = work()
        return (dispatcher.idle() and control.wait_deliveries_idle(timeout) and unacked() == 0
                and dispatcher.idle() and work() == before)

    until(quiet, "the bot and the emulator to settle", timeout)
    if checks:
        receiver = runner.receiver
        assert receiver is not None
        seen = receiver.probes
        until(lambda: receiver.probes >= seen + checks, f"{checks} more health checks", timeout)
        until(quiet, "the bot and the emulator to settle after the health checks", timeout)


# -- what the emulator saw -------------------------------------------------------------------------

def hook_name(instance: str, resource: str = "messages") -> str:
    """The name the bot under test gives its webhook for ``resource`` (bot name and instance, as Webhooks does)."""
    return f"{BOT_NAME} [{instance}] {resource}"


def ours(control: ControlClient, instance: str) -> dict[str, Json]:
    """The bot's own webhooks of ``instance``, by name: no other instance's, no foreign one."""
    names = {hook_name(instance, resource) for resource in ("messages", "attachmentActions")}
    return {h["name"]: h for h in control.webhooks() if h["name"] in names}


def answers(control: ControlClient, bot: Json, room: Json, text: str) -> int:
    """How many times the bot said ``text`` in ``room`` (its markdown when it sent markdown)."""
    return sum(1 for m in control.messages(room=room, author=bot) if m.get("markdown", m.get("text")) == text)


def deliveries_of(control: ControlClient, message: Json) -> list[Json]:
    """The emulator's webhook deliveries of ``message``, in order."""
    return [d for d in control.deliveries() if d["body"]["data"]["id"] == message["id"]]


def lost_while_the_tunnel_is_down(control: ControlClient, runner: BotRunner, chat: Chat, instance: str,
                                  kill: Callable[[], int], text: str) -> tuple[dict[str, Json], int]:
    """Kill the bot's tunnel (``kill`` ends it and returns its pid) and have ``chat`` say ``text`` while
    Webex rate-limits moving the webhooks, so that its delivery surely fails at the dead URL.
    Returns our webhooks as they were before, and the dead pid."""
    before, old_url = ours(control, instance), runner.public_url
    control.inject("rate_limit", path="/v1/webhooks", method="PUT", retryAfter=1)
    dead = kill()
    lost = chat.say(text)
    assert control.wait_deliveries_idle()
    [failed] = deliveries_of(control, lost)
    assert failed["status"] is None and failed["targetUrl"].startswith(f"{old_url}/")
    control.clear_faults()
    return before, dead


def assert_webhooks_moved(control: ControlClient, runner: BotRunner, instance: str, before: dict[str, Json]) -> None:
    """Our webhooks are the very ones of ``before`` (updated, not made again), active, at the new public URL."""
    assert runner.receiver is not None and runner.public_url
    after = ours(control, instance)
    assert {n: h["id"] for n, h in after.items()} == {n: h["id"] for n, h in before.items()}
    assert {(h["targetUrl"], h["status"]) for h in after.values()} == {(runner.public_url + runner.receiver.path,
                                                                         "active")}


# -- bots in this process --------------------------------------------------------------------------

class Bots:
    """Starts the real bot (``start_test_bot``) against the test's emulator as its bot account; the
    ``bots`` fixture stops every one still running at the end, failed test or not.

    ``defaults`` are Config fields for every start (a module's own ``bots`` fixture adds its tunnel or
    transport); without a ``state_dir`` each start gets a fresh folder of its own under the test's.
    """

    def __init__(self, emulator: Emulator, bot: Json, person: Json, folder: Path) -> None:
        self.emulator, self.control, self.bot, self.person = emulator, emulator.control, bot, person
        self.folder = folder
        # Quiet in the spaces it is added to, so that a test's first reply there is the one it asked
        # for; the tests of the greeting itself pass ``greeting=None`` (the default line).
        self.defaults: dict[str, Any] = {"greeting": ""}
        self.plugins: list[Any] = []
        self.running: list[BotRunner] = []
        self._started = 0

    def start(self, *plugins: Any, token: Optional[str] = None, **settings: Any) -> BotRunner:
        """A running bot with the built-ins, ``plugins`` (else ``self.plugins``), ``defaults`` and ``settings``."""
        self._started += 1
        options = {"state_dir": self.folder / f"state-{self._started}", **self.defaults, **settings}
        runner = start_test_bot(self.emulator, token or self.bot["token"], plugins or self.plugins, **options)
        self.running.append(runner)
        return runner

    def track(self, runner: BotRunner) -> BotRunner:
        """Stop at the end, too, a bot the test started its own way (from ``load_config``, say)."""
        self.running.append(runner)
        return runner

    def stop(self, runner: BotRunner, timeout: float = 2.0) -> None:
        self.running.remove(runner)
        runner.stop(timeout=timeout)

    def stop_all(self) -> None:
        """Stop what still runs, newest first; every one is stopped even when one of them fails to."""
        failures = []
        for runner in reversed(list(self.running)):
            try:
                self.stop(runner)
            except Exception as exc:  # the others must stop all the same
                failures.append(exc)
        if failures:
            raise failures[0]

    def chat(self, room: Optional[Json] = None, person: Optional[Json] = None) -> Chat:
        """The person (``webex_person`` unless given) talking to the bot, in their direct room unless given."""
        return Chat(self.control, self.bot, person or self.person, room=room)


# -- bot programs ----------------------------------------------------------------------------------

def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def program_env(home: Path, **variables: str) -> dict[str, str]:
    """The environment of a program a test starts: built from scratch, so no token, proxy or setting of
    the developer's leaks in; offline (``OFFLINE``) as on a laptop without a way out; plus ``variables``."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1", **OFFLINE, **variables}


def run_bot(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """run_bot.py in ``cwd`` (so no stray .env is read), its output in stdout.txt and stderr.txt there
    (a pipe nobody reads could block it)."""
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "stdout.txt", "w") as out, open(cwd / "stderr.txt", "w") as err:
        return subprocess.Popen([sys.executable, RUN_BOT, *args], cwd=cwd, env=env, stdout=out, stderr=err,
                                text=True)


def output(cwd: Path) -> tuple[str, str]:
    """What run_bot.py in ``cwd`` wrote so far: (stdout, stderr)."""
    return (cwd / "stdout.txt").read_text(), (cwd / "stderr.txt").read_text()


def finish(process: subprocess.Popen[Any], timeout: float) -> int:
    """The program's exit code; one that does not end in ``timeout`` seconds is killed and fails the test."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise


# -- fake agents -----------------------------------------------------------------------------------

W = TypeVar("W")


def agents_in(world: W, monkeypatch: Any, clear: tuple[str, ...]) -> W:
    """Point the fake agents this test starts at ``world`` (the variables of its ``env()``, all in the
    test's folder) and take ``clear`` out of the environment: no setting of the developer's reaches them."""
    for name in clear:
        monkeypatch.delenv(name, raising=False)
    for name, value in world.env().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)
    return world


def logged(log: Path, kind: str) -> list[Json]:
    """The events of ``kind`` in a fake agent's log (one JSON object a line), oldest first."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [event for event in map(json.loads, lines) if event["kind"] == kind]


# -- processes -------------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def fake_running(pid: int, program: str, marker: str = "") -> bool:
    """Whether ``pid`` is a live ``program`` (a fake agent) whose command line names ``marker``: a pid
    that ended may since have been given to anyone's process."""
    command = command_of(pid)
    return program in command and marker in command and alive(pid)


def fakes_running(program: str, *, marker: str = "", env: str = "") -> list[int]:
    """Pids of live ``program`` processes whose command line names ``marker`` and whose environment
    holds the ``NAME=value`` entry ``env``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not fake_running(int(entry.name), program, marker):
            continue
        try:
            if not env or env.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def fake_agents_of(folder: Path) -> list[int]:
    """Live fake agents (ngrok, cloudflared, also through a symlink) that belong to the test whose
    folder is ``folder``: their command line or their environment (state dir, log) names it."""
    mark = str(folder).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            scripts = [Path(arg.decode(errors="replace")).name for arg in argv[:2]]
            if not any(name in FAKE_AGENTS for name in scripts):
                continue
            if mark in b" ".join(argv) or mark in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if alive(pid)]


def end_stray_agents(folder: Path, grace: float = 5.0) -> list[int]:
    """Wait up to ``grace`` seconds for the fake agents of ``folder`` to end (one just told to stop may
    take a moment); kill those still running and return their pids."""
    deadline = time.monotonic() + grace
    while (survivors := fake_agents_of(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return survivors
