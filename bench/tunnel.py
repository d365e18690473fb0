"""Benchmark of the bot's start-up beyond the tunnel's own, and of the repair after the tunnel dies.

Run on demand, never by pytest::

    python bench/tunnel.py                # about a minute and a half
    python bench/tunnel.py --runs 5 --kills 3 --intervals 0.5

Targets (from the issue): under 0.3 s of our own start-up; a dead tunnel repaired within 2 health
intervals. Everything is real but Webex and ngrok's service: the emulator (in its own process by
default, as the real Webex would be), real pyngrok driving the fake ngrok agent (tests/fake_ngrok).

1. Start-up. Pairs, alternating: (a) ``NgrokTunnel.start(port)`` alone (pyngrok + agent, what any bot
   behind ngrok pays), then (b) the whole ``BotRunner.start()`` with the same tunnel settings. Our own
   start-up is (b) - (a) per pair; it is also taken inside (b), as (b) less its own ``tunnel.start``,
   which the machine's noise moves less. Where the rest goes is stamped from outside: the public
   steps (people/me, plugins, the server, webhook sync, catch-up) are wrapped in ``perf_counter``
   stamps while the benchmark runs, and the Webex calls made during start are counted.
2. Repair. A bot runs with a short health interval; its agent is SIGKILLed at a random phase of the
   interval; the time runs until the emulator lists our webhooks pointing at a new URL and active
   (``control.webhooks()`` polled every 10 ms). Reported in seconds and in health intervals.

No agent outlives the run: whatever fake agent still runs with this run's folder is killed at the end.
"""
from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules
from common import (ROOT, Row, Run, by_route, emulator, listed, median, verdict)  # noqa: E402

NAME = "tunnel"
FAKE_NGROK = str(ROOT / "tests" / "fake_ngrok" / "ngrok")
INSTANCE = "bench"
ANSWER = ("GET /v1/messages/{id}", "POST /v1/messages")  # answering what catch-up found
Json = dict[str, Any]


class Stamps:
    """``perf_counter`` spans of the public steps of a start, by step, taken by wrapping them from
    outside while the benchmark runs (only the outermost call of a thread counts, so nothing twice)."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self._depth = threading.local()
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attribute: str, step: str) -> None:
        original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)

        @functools.wraps(original)
        def stamped(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            self._depth.n = depth + 1
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth.n = depth
                if depth == 0:
                    self.spans[step].append((began, time.perf_counter()))

        setattr(owner, attribute, stamped)
        self._undo.append((owner, attribute, original))

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)
        self._undo.clear()

    def within(self, step: str, began: float, ended: float) -> float:
        """Seconds spent in ``step`` between ``began`` and ``ended``."""
        return sum(b - a for a, b in self.spans[step] if a >= began and b <= ended)


def stamp_public_steps() -> Stamps:
    import bot.runner as runner_module
    from bot.runner import BotRunner
    from bot.tunnels import NgrokTunnel
    from bot.webex import WebexClient
    from bot.webhooks import Webhooks

    stamps = Stamps()
    stamps.wrap(WebexClient, "me", "people/me")
    stamps.wrap(runner_module, "load_plugins", "plugins")
    stamps.wrap(BotRunner, "_serve", "receiver's server")
    stamps.wrap(NgrokTunnel, "start", "tunnel.start")
    stamps.wrap(Webhooks, "sync", "webhook sync")
    stamps.wrap(runner_module, "catch_up", "catch-up")
    return stamps


class World:
    """This run's agent folder, authtoken, bot and emulator; ``cleanup`` kills every agent of the folder."""

    def __init__(self, emu: Any, folder: Path) -> None:
        self.emu, self.folder, self.control = emu, folder, emu.control
        self.token = f"bench-{uuid.uuid4().hex}"
        os.environ["FAKE_NGROK_STATE_DIR"] = str(folder / "agent-state")
        for name in ("FAKE_NGROK_FAIL", "FAKE_NGROK_START_DELAY", "FAKE_NGROK_LOG"):
            os.environ.pop(name, None)
        self.bot = self.control.create_bot("Tunnel Bench", "tunnel-bench@webex.bot")
        self.person = self.control.create_person("Tunnel Person", "tunnel.person@example.com")
        self.room = self.control.direct_room(self.person, self.bot)
        self.starts = 0
        self.upstream = socket.create_server(("127.0.0.1", 0))  # what (a) points its tunnel at

    def config(self, **fields: Any) -> Any:
        from bot.config import Config

        settings = {"transport": "webhook", "tunnel": "ngrok", "port": 0, "instance": INSTANCE, "workers": 4,
                    "ngrok_path": FAKE_NGROK, "ngrok_authtoken": self.token, "ngrok_config": str(self.folder / "ngrok.yml"),
                    "state_dir": self.folder / "state", **fields}
        return Config(token=self.bot["token"], api_url=self.emu.api_url, u2c_url=self.emu.u2c_url, **settings)

    def tunnel_alone(self) -> float:
        """(a): seconds of ``NgrokTunnel.start`` alone; the tunnel is stopped afterwards."""
        from bot.tunnels import NgrokTunnel

        tunnel = NgrokTunnel(state_dir=self.folder / "state-a", instance="alone", ngrok_path=FAKE_NGROK,
                             authtoken=self.token, config_path=str(self.folder / "ngrok.yml"))
        began = time.perf_counter()
        try:
            tunnel.start(self.upstream.getsockname()[1])
            return time.perf_counter() - began
        finally:
            tunnel.stop()

    def whole_start(self, stamps: Stamps) -> Json:
        """(b): seconds of ``BotRunner.start()``, its steps, and the Webex calls it made; stopped after."""
        from bot.runner import BotRunner

        self.starts += 1  # a message while the bot is down, so that catch-up has a room to read
        self.control.post(self.person, f"echo while down {self.starts}", room=self.room)
        self.control.clear_calls()
        began = time.perf_counter()
        runner = BotRunner(self.config())
        built = time.perf_counter()
        try:
            runner.start()
            ended = time.perf_counter()
            calls = [c for c in self.control.calls(self.bot) if by_route([c]).keys().isdisjoint(ANSWER)]
        finally:
            runner.stop(timeout=2)
        steps = {step: stamps.within(step, built, ended) for step in list(stamps.spans)}
        return {"construct": built - began, "start": ended - built, "steps": steps, "calls": calls}

    def agents(self) -> list[int]:
        """Pids of fake agents started with this run's folder (their config file is in it)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace") if entry.name.isdigit() else ""
            except OSError:
                continue
            if "fake_ngrok" in command and str(self.folder) in command:
                found.append(int(entry.name))
        return found

    def cleanup(self) -> list[int]:
        survivors = self.agents()
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.upstream.close()
        return survivors


def until(check: Callable[[], Any], what: str, timeout: float, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g}s for {what}")
        time.sleep(every)
    return value


def repairs(world: World, stamps: Stamps, interval: float, kills: int) -> list[Json]:
    """Kill the running bot's agent ``kills`` times; per kill: seconds to repaired webhooks, and parts."""
    from bot.runner import BotRunner
    from bot.webhooks import HOOKS, webhook_name

    control = world.control
    names = {webhook_name("Tunnel Bench", INSTANCE, label) for label in HOOKS}
    runner = BotRunner(world.config(health_interval=interval)).start()
    pid_file = world.folder / "state" / f"ngrok-{INSTANCE}.pid"
    out: list[Json] = []

    def ours() -> list[Json]:
        return [h for h in control.webhooks() if h["name"] in names]

    try:
        receiver, supervisor = runner.receiver, runner.supervisor
        assert receiver is not None and supervisor is not None
        for _ in range(kills):
            probes = receiver.probes  # a passed check first, so each kill finds the bot settled
            until(lambda: receiver.probes > probes and not supervisor.failures, "a passed health check", 30)
            time.sleep(random.uniform(0, interval))  # a random phase of the check cycle
            old = {h["targetUrl"] for h in ours()}
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            killed = time.perf_counter()
            until(lambda: (hooks := ours()) and len(hooks) == len(names) and all(
                h["targetUrl"] not in old and h["status"] == "active" for h in hooks), "the repair", 30)
            repaired = time.perf_counter()
            restart = [(a, b) for a, b in stamps.spans["tunnel.start"] if a >= killed]
            out.append({"seconds": repaired - killed, "detect": restart[0][0] - killed if restart else float("nan"),
                        "restart": restart[0][1] - restart[0][0] if restart else float("nan"),
                        "sync": repaired - restart[0][1] if restart else float("nan")})
    finally:
        runner.stop(timeout=2)
    return out


def measure(args: argparse.Namespace, folder: Path) -> Json:
    out: Json = {"a": [], "b": [], "pairs": []}
    with emulator(args.emulator) as emu:
        world = World(emu, folder)
        stamps = stamp_public_steps()
        try:
            out["cold_a"], out["cold_b"] = world.tunnel_alone(), world.whole_start(stamps)
            for n in range(args.runs):  # alternate, swapping who goes first, so both see the same noise
                a_first = n % 2 == 0
                first = world.tunnel_alone() if a_first else world.whole_start(stamps)
                second = world.whole_start(stamps) if a_first else world.tunnel_alone()
                a, b = (first, second) if a_first else (second, first)
                out["pairs"].append((a, b))
            emu.control.inject("latency", seconds=args.api_latency)  # every /v1/ call: a network round trip
            out["slow"] = [world.whole_start(stamps) for _ in range(args.slow_runs)]
            emu.control.clear_faults()
            out["repairs"] = {interval: repairs(world, stamps, interval, args.kills) for interval in args.intervals}
        finally:
            stamps.restore()
            out["survivors"] = world.cleanup()
    return out


def own(b: Json) -> float:
    """Our own start-up inside one run: the whole start less its own tunnel.start."""
    return b["start"] - b["steps"].get("tunnel.start", 0.0)


def report(args: argparse.Namespace, out: Json, header: str, table: Callable[[list[Row]], str]) -> tuple[list[Row], str]:
    pairs = out["pairs"]
    alone = [a for a, _ in pairs]
    whole = [b["start"] for _, b in pairs]
    diff = [b["start"] - a for a, b in pairs]
    inside = [own(b) for _, b in pairs]
    cold = out["cold_b"]
    rows: list[Row] = [
        ("1a", "tunnel.start alone, median / max (s)", f"{median(alone):.3f} / {max(alone):.3f}", "", ""),
        ("1b", "BotRunner.start() with it, median / max (s)", f"{median(whole):.3f} / {max(whole):.3f}", "", ""),
        ("1", "our own start-up (b) - (a), median (s)", f"{median(diff):.3f}", "< 0.3", verdict(median(diff) < 0.3)),
        ("1", "our own start-up (b) - (a), max (s)", f"{max(diff):.3f}", "< 0.3", verdict(max(diff) < 0.3)),
        ("1", "same, inside each (b): start - its tunnel.start, median / max (s)",
         f"{median(inside):.3f} / {max(inside):.3f}", "< 0.3", verdict(max(inside) < 0.3)),
        ("1", "first start in this process (cold imports): own / tunnel (s)",
         f"{own(cold):.3f} / {cold['steps'].get('tunnel.start', 0.0):.3f}", "", ""),
        ("1", "BotRunner(config) before start, median (ms)",
         f"{median([b['construct'] for _, b in pairs]) * 1000:.1f}", "", ""),
    ]
    steps = sorted({s for _, b in pairs for s in b["steps"]} - {"tunnel.start"})
    for step in steps:
        values = [b["steps"].get(step, 0.0) for _, b in pairs]
        rows.append(("1", f"  of which {step}, median (ms)", f"{median(values) * 1000:.1f}", "", ""))
    rest = [own(b) - sum(b["steps"].get(s, 0.0) for s in steps) for _, b in pairs]
    rows.append(("1", "  of which the rest (dispatcher, receiver, supervisor...), median (ms)",
                 f"{median(rest) * 1000:.1f}", "", ""))
    calls = [len(b["calls"]) for _, b in pairs]
    counted = f"{min(calls)}" if min(calls) == max(calls) else f"{min(calls)}-{max(calls)}"
    rows.append(("1", "Webex API calls during start, one after another", counted, "", ""))
    slow = [own(b) for b in out["slow"]]
    rows.append(("1c", f"own start-up with {args.api_latency * 1000:g} ms per Webex call, median / max (s)",
                 f"{median(slow):.3f} / {max(slow):.3f}", "< 0.3", verdict(max(slow) < 0.3)))
    slow_steps = ("people/me", "webhook sync", "catch-up")
    rows.append(("1c", "  of which " + " / ".join(slow_steps) + ", medians (s)",
                 " / ".join(f"{median([b['steps'].get(s, 0.0) for b in out['slow']]):.3f}" for s in slow_steps), "", ""))
    for interval, kills in out["repairs"].items():
        seconds = [k["seconds"] for k in kills]
        worst = max(seconds) / interval
        rows += [
            ("2", f"repair at interval {interval:g} s: median / max (s)", f"{median(seconds):.3f} / {max(seconds):.3f}",
             "", ""),
            ("2", f"repair at interval {interval:g} s: median / max (intervals)",
             f"{median(seconds) / interval:.2f} / {worst:.2f}", "<= 2", verdict(worst <= 2)),
            ("2", f"  parts at {interval:g} s: detect / tunnel restart / sync, medians (s)",
             " / ".join(f"{median([k[p] for k in kills]):.3f}" for p in ("detect", "restart", "sync")), "", ""),
        ]
    rows.append(("3", "fake agents left running after the run", str(len(out["survivors"])), "0",
                 verdict(not out["survivors"])))
    routes = by_route(pairs[-1][1]["calls"])
    text = f"""## Tunnel start-up and repair (`bench/tunnel.py`)

{header}
- Options: {args.runs} start pairs (a, b alternating), {args.kills} kills at each health interval of
  {', '.join(f'{i:g}' for i in args.intervals)} s; emulator in {'a child process' if args.emulator == 'process' else 'this process'};
  real pyngrok driving the fake agent tests/fake_ngrok/ngrok

{table(rows)}

How each number is made:

1. (a) `NgrokTunnel.start(port)` alone, timed around the call (pyngrok starts the agent, waits for its
   session lines, opens the tunnel through the agent's API), then `stop()`. (b) `BotRunner(config)`
   and `BotRunner.start()` with the same tunnel settings (`transport="webhook"`, `tunnel="ngrok"`,
   built-in commands, default health interval), then `stop()`; only `start()` is in (b). Before each
   (b) the person sends the bot one message, so catch-up reads one room (the bot answers it after
   `start()`; those two calls are not counted as start-up calls). One cold pair first, not in the
   medians (the bot's modules are imported before it; it pays the plugins' first import). Our own
   start-up per pair is (b) - (a), which carries the noise of two agent starts; "inside each (b)" is
   (b) less its own stamped `tunnel.start`. The steps are stamped by wrapping the public methods from
   outside during the run (outermost call per thread); each includes its Webex calls, answered by
   the emulator over loopback in about a millisecond. Calls of the last start: {routes}.
   Row 1c is (b) again, {args.slow_runs} times, while the emulator adds {args.api_latency * 1000:g} ms to every `/v1/` call:
   the bot makes its start-up calls one after another, so from a laptop the real Webex's round
   trips add up in the same way.
2. `health_interval` set to each value; before each kill one health check passes, then a random
   sleep in [0, interval) so the kill lands at a random phase of the check cycle. `os.kill(agent,
   SIGKILL)`, then the emulator's webhook list is polled every 10 ms until both of our webhooks
   point at a URL other than the dead one and are active. "detect" runs from the kill to the start of
   the supervisor's `tunnel.start` (the wait for the next check), "tunnel restart" is that start,
   "sync" the rest (the webhook update, and the poll's resolution).
   Per kill (s): {'; '.join(f"{i:g} s: " + ', '.join(f"{k['seconds']:.2f}" for k in ks) for i, ks in out['repairs'].items())}.
3. After the run, every process whose command line names the fake agent and this run's folder is
   killed; the row counts those still running at that point.

Log records of WARNING and above (counted, not printed during the run):
{out['logs']}
"""
    return rows, text


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/tunnel.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--runs", type=int, default=20, help="start pairs (a, b) measured (default 20)")
    add("--kills", type=int, default=10, help="agent kills at each health interval (default 10)")
    add("--intervals", type=float, nargs="+", default=[0.25, 0.5, 1.0],
        help="health intervals in s (default 0.25 0.5 1)")
    add("--slow-runs", type=int, default=5, help="starts with --api-latency added to each call (default 5)")
    add("--api-latency", type=float, default=0.1,
        help="seconds the emulator adds to every Webex call in row 1c, a network round trip (default 0.1)")
    add("--emulator", choices=("process", "thread"), default="process",
        help="run the emulator in a child process (default) or in this one")
    add("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    run = Run()
    folder = Path(tempfile.mkdtemp(prefix="bench-tunnel-"))
    try:
        out = measure(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out["logs"] = listed(dict(run.logs.counts))
    return run.publish(NAME, not args.no_write, lambda header, table: report(args, out, header, table))


if __name__ == "__main__":
    raise SystemExit(main())
