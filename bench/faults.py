"""Bad luck in the middle of a burst: how many commands are lost, and how many answered twice.

Run on demand, never by pytest::

    python bench/faults.py                  # about 3 minutes
    python bench/faults.py --only ws-drops-dropping --commands 50

Each scenario posts a burst of ``echo`` commands to a real bot against the emulator (in its own
process, as the real Webex would be), with ``--latency`` ms added to every Webex call, and injects
one kind of fault part way through:

- ``ws-drops-replaying`` / ``ws-drops-dropping``: the websocket closed with 1011 twice; Webex either
  replays what it sent while no connection was up, or (the unkind setting) drops it;
- ``agent-kill``: the (fake) ngrok agent SIGKILLed; the supervisor restarts it and re-points the webhooks;
- ``deactivated``: Webex switches the webhook to inactive;
- ``rate-limit`` / ``server-errors``: 429s and 503s on the bot's calls;
- ``sigkill-restart``: the bot process itself SIGKILLed and started again, ``--cycles`` times.

Then it waits until every command is answered or nothing has moved for ``--settle`` seconds, and
counts, from the emulator's record of every message: lost (no answer) and doubled (more than one).
Results go to stdout and to the ``faults`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules
from common import ROOT, Row, Run, emulator, listed, verdict  # noqa: E402

NAME = "faults"
FAKE_NGROK = ROOT / "tests" / "fake_ngrok" / "ngrok"
Json = dict[str, Any]


class Burst:
    """Commands posted by one person to one bot, and the count of answers to each."""

    def __init__(self, control: Any, person: Json, bot: Json, room: Json, tag: str) -> None:
        self.control, self.person, self.bot, self.room, self.tag = control, person, bot, room, tag
        self.sent: list[str] = []

    def post(self, count: int, at_fraction: float = 2.0, fault: Callable[[], None] = lambda: None,
             gap: float = 0.01) -> None:
        """Post ``count`` commands; call ``fault`` once ``at_fraction`` of them are out."""
        for n in range(count):
            if n == int(count * at_fraction):
                fault()
            word = f"{self.tag}-{len(self.sent)}"
            self.control.post(self.person, f"echo {word}", room=self.room)
            self.sent.append(word)
            time.sleep(gap)

    def answers(self) -> Counter[str]:
        said = (m.get("markdown") or m.get("text") or "" for m in self.control.messages(room=self.room,
                                                                                          author=self.bot))
        return Counter(word for word in said if word.startswith(self.tag + "-"))

    def settle(self, quiet: float, limit: float = 120.0) -> tuple[int, int]:
        """Wait until all are answered or nothing moved for ``quiet`` s; (lost, doubled)."""
        last, moved, deadline = None, time.monotonic(), time.monotonic() + limit
        while time.monotonic() < deadline:
            counts = self.answers()
            if all(counts[w] >= 1 for w in self.sent) and time.monotonic() - moved > 1.0:
                break
            if counts != last:
                last, moved = counts, time.monotonic()
            elif time.monotonic() - moved > quiet:
                break
            time.sleep(0.2)
        counts = self.answers()
        return sum(1 for w in self.sent if counts[w] == 0), sum(1 for w in self.sent if counts[w] > 1)


def add_latency(control: Any, seconds: float) -> None:
    for path in ("/v1/", "/conversation/"):
        control.inject("latency", seconds=seconds, path=path)


def with_bot(emu: Any, name: str, **settings: Any) -> tuple[Any, Json, Json, Json]:
    from bot.testing import start_test_bot

    control = emu.control
    bot = control.create_bot(f"{name} Bot", f"{name}@webex.bot")
    person = control.create_person(f"{name} Person", f"{name}.person@example.com")
    room = control.direct_room(person, bot)
    runner = start_test_bot(emu, bot["token"], workers=8, **settings)
    return runner, bot, person, room


def scenario(emu: Any, name: str, commands: int, quiet: float, fault: Callable[[Any, Any], None],
             **settings: Any) -> tuple[int, int]:
    runner, bot, person, room = with_bot(emu, name, **settings)
    try:
        burst = Burst(emu.control, person, bot, room, name)
        half = commands // 2
        burst.post(half, at_fraction=0.5, fault=lambda: fault(emu.control, runner))
        burst.post(commands - half, at_fraction=0.5, fault=lambda: fault(emu.control, runner))
        return burst.settle(quiet)
    finally:
        runner.stop(timeout=4)


def drop_websocket(control: Any, runner: Any) -> None:
    """Close the bot's websocket with 1011, once it is up again after an earlier drop."""
    from bot.emulator import ControlError

    deadline = time.monotonic() + 15
    while True:
        device = runner.websocket.device
        try:
            control.close_websocket(device["url"].rstrip("/").rsplit("/", 1)[-1], 1011, "try again")
            return
        except ControlError:  # not reconnected yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


KILLED: set[int] = set()


def kill_agent(control: Any, runner: Any) -> None:
    """SIGKILL the agent, once the supervisor has replaced the one killed before."""
    deadline = time.monotonic() + 15
    while True:
        try:
            pid = int(runner.supervisor.tunnel.pid_file.read_text())
            if pid not in KILLED:
                os.kill(pid, signal.SIGKILL)
                KILLED.add(pid)
                return
        except (OSError, ValueError):  # between agents: no pid file, or the old one
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the supervisor did not restart the agent within 15 s")
        time.sleep(0.05)


def deactivate(control: Any, runner: Any) -> None:
    for hook in control.webhooks():
        if hook["targetUrl"].startswith(runner.public_url or "http://"):
            control.deactivate_webhook(hook["id"])


def rate_limit(control: Any, runner: Any) -> None:
    control.inject("rate_limit", count=15, retryAfter=1, path="/v1/messages")


def server_errors(control: Any, runner: Any) -> None:
    control.inject("server_error", count=10, status=503, path="/v1/messages")


def sigkill_restart(emu: Any, commands: int, cycles: int, quiet: float) -> tuple[int, int]:
    """The bot as users run it, killed with SIGKILL in each burst and started again on its record."""
    control = emu.control
    bot = control.create_bot("Killed Bot", "killed@webex.bot")
    person = control.create_person("Killed Person", "killed.person@example.com")
    room = control.direct_room(person, bot)
    burst = Burst(control, person, bot, room, "sigkill")
    state = Path(tempfile.mkdtemp(prefix="faults-state-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "WEBEX_BOT_TOKEN": bot["token"], "WEBEX_API_URL": emu.api_url,
           "WEBEX_U2C_URL": emu.u2c_url, "BOT_STATE_DIR": str(state), "BOT_WORKERS": "8",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}
    args = [sys.executable, str(ROOT / "run_bot.py"), "--transport", "webhook", "--tunnel", "none", "--port",
            str(port), "--public-url", f"http://127.0.0.1:{port}", "--instance", "faults", "--env-file", os.devnull]

    def start() -> subprocess.Popen:
        log = open(state / "bot.log", "a")
        process = subprocess.Popen(args, env=env, stdout=log, stderr=log, cwd=state)
        deadline = time.monotonic() + 30
        while "bot is up" not in (state / "bot.log").read_text().split("--- start")[-1]:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bot did not start: " + (state / "bot.log").read_text()[-2000:])
            time.sleep(0.05)
        return process

    per_cycle = max(1, commands // cycles)
    process = start()
    try:
        for _ in range(cycles):
            killer = threading.Timer(random.uniform(0.2, 0.8) * per_cycle * 0.06, process.kill)
            killer.start()
            burst.post(per_cycle, gap=0.05)
            killer.join()
            process.wait(10)
            with open(state / "bot.log", "a") as log:
                log.write("--- start\n")
            process = start()
        return burst.settle(quiet)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100, help="commands in each burst (default 100)")
    parser.add_argument("--latency", type=float, default=50, help="ms added to every Webex call (default 50)")
    parser.add_argument("--cycles", type=int, default=10, help="SIGKILL-and-restart cycles (default 10)")
    parser.add_argument("--settle", type=float, default=15, help="s without a new answer that ends a scenario")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    options = parser.parse_args(argv)
    run = Run()
    os.environ.update({"FAKE_NGROK_STATE_DIR": tempfile.mkdtemp(prefix="faults-ngrok-")})
    agent = {"tunnel": "ngrok", "ngrok_path": str(FAKE_NGROK), "ngrok_authtoken": "faults-token",
             "ngrok_config": str(Path(tempfile.mkdtemp()) / "ngrok.yml"), "health_interval": 0.5}
    scenarios: dict[str, Callable[[Any], tuple[int, int]]] = {
        "ws-drops-replaying": lambda emu: scenario(emu, "wsreplay", options.commands, options.settle, drop_websocket,
                                                   transport="websocket"),
        "ws-drops-dropping": lambda emu: (emu.control.settings(ws_replay=False),
                                          scenario(emu, "wsdrop", options.commands, options.settle, drop_websocket,
                                                   transport="websocket"))[1],
        "agent-kill": lambda emu: scenario(emu, "agentkill", options.commands, options.settle, kill_agent, **agent),
        "deactivated": lambda emu: scenario(emu, "deactivated", options.commands, options.settle, deactivate,
                                            health_interval=0.5),
        "rate-limit": lambda emu: scenario(emu, "ratelimit", options.commands, options.settle, rate_limit),
        "server-errors": lambda emu: scenario(emu, "servererrors", options.commands, options.settle, server_errors),
        "sigkill-restart": lambda emu: sigkill_restart(emu, options.commands, options.cycles, options.settle),
    }
    chosen = options.only or list(scenarios)
    outcomes: dict[str, tuple[int, int]] = {}
    for name in chosen:
        with emulator() as emu:  # a fresh Webex for each: no fault or setting carries over
            add_latency(emu.control, options.latency / 1000)
            outcomes[name] = scenarios[name](emu)
        print(f"{name}: lost {outcomes[name][0]}, doubled {outcomes[name][1]}", flush=True)

    def report(header: str, table: Callable[[list[Row]], str]) -> tuple[list[Row], str]:
        rows: list[Row] = []
        for n, (name, (lost, doubled)) in enumerate(outcomes.items(), 1):
            total = options.commands
            rows.append((str(n), f"{name}: lost / doubled of {total}", f"{lost} / {doubled}", "0 / 0",
                         verdict(lost == 0 and doubled == 0)))
        section = (f"## Faults in the middle of a burst (`bench/faults.py`)\n\n{header}\n"
                   f"- {options.commands} `echo` commands per scenario, {options.latency:g} ms added to every "
                   f"Webex call; SIGKILL: {options.cycles} cycles\n\n{table(rows)}\n\n"
                   f"Warnings logged by the in-process bots:\n{listed(dict(run.logs.counts))}\n")
        return rows, section

    return run.publish(NAME, not options.no_write, report)


if __name__ == "__main__":
    sys.exit(main())
