"""Benchmark of the event-to-reply latency over the device websocket against the webhook path.

Run on demand, never by pytest::

    python bench/ws_latency.py              # about half a minute
    python bench/ws_latency.py --commands 50

Two real bots run side by side against one emulator (in its own process by default, as the real
Webex would be): one with ``transport="webhook"`` (no tunnel: the emulator delivers to its local
receiver), one with ``transport="websocket"`` (WDM device, Mercury, the REST id built from the activity).
A person posts ``echo n`` to each in turn, interleaved and one at a time, each waiting for its reply,
so the numbers are latency, not throughput. Also the Webex REST calls each path makes per command.
Results go to stdout and to the ``websocket`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules
from common import (Row, Run, calls_per_command, emulator, epoch, listed, median, ms, percentile,  # noqa: E402
                    spread, verdict)

NAME = "websocket"
TRANSPORTS = ("webhook", "websocket")
BACKGROUND = ("/v1/webhooks", "/wdm/", "/v1/people/me")  # the supervisor's and the device's upkeep
CALLS_PER_COMMAND = 2  # the message fetch and the reply, on both paths (no lookup: the id is built)
Json = dict[str, Any]


class Side:
    """One bot, its direct room with the person, and what was measured on it."""

    def __init__(self, emu: Any, person: Json, transport: str) -> None:
        from bot.testing import start_test_bot

        control = emu.control
        self.transport = transport
        self.bot = control.create_bot(f"{transport.title()} Bot", f"{transport}-bot@webex.bot")
        self.room = control.direct_room(person, self.bot)
        self.runner = start_test_bot(emu, self.bot["token"], transport=transport)
        self.wall: list[float] = []  # perf_counter: before the control-API post -> reply seen
        self.stamped: list[float] = []  # emulator clock: the command's `created` -> the reply's `created`
        self.pairs: list[tuple[Json, Json]] = []  # (command, reply)


class Person:
    """Posts through the control API and watches the room through the REST API as the person (newest
    message only: a cheap call, so a 5 ms poll loads the emulator little)."""

    def __init__(self, emu: Any) -> None:
        self.control = emu.control
        self.me = self.control.create_person("Bench Person", "bench.person@example.com")
        self.api_url = emu.api_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.me['token']}"

    def newest(self, room: Json) -> Optional[Json]:
        response = self.http.get(f"{self.api_url}messages", params={"roomId": room["id"], "max": 1}, timeout=10)
        response.raise_for_status()
        items = response.json()["items"]
        return items[0] if items else None

    def ask(self, side: Side, text: str, answer: str, poll: float, timeout: float) -> tuple[Json, Json, float]:
        """Post ``text`` to the side's bot; wait for its reply saying ``answer``; (command, reply, seconds)."""
        began = time.perf_counter()
        command = self.control.post(self.me, text, room=side.room)
        deadline = began + timeout
        while True:
            newest = self.newest(side.room)
            if newest and newest["personId"] == side.bot["id"] and \
                    (newest.get("markdown") or newest.get("text") or "").strip() == answer:
                return command, newest, time.perf_counter() - began
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{side.transport}: no reply to {text!r} within {timeout:g}s")
            time.sleep(poll)


def stages(side: Side, calls: list[Json]) -> dict[str, list[float]]:
    """Per command, from the emulator's call log (each call stamped when it was answered): the command's
    `created` -> the lookup (websocket, only where the id built from the activity was wrong) -> the message
    fetch -> the reply's `created`."""
    at: dict[str, float] = {}
    for call in calls:
        at.setdefault(f"{call['method']} {call['path']}", epoch(call["at"]))
    from bot.ids import uuid_of

    out: dict[str, list[float]] = {"to lookup": [], "to fetch": [], "to reply": []}
    for command, reply in side.pairs:
        created, fetched = epoch(command["created"]), at.get(f"GET /v1/messages/{command['id']}")
        looked = at.get(f"GET /conversation/api/v1/messages/{uuid_of(command['id'])}")
        if fetched is None:
            continue
        if looked is not None:
            out["to lookup"].append(looked - created)
        out["to fetch"].append(fetched - (looked if looked is not None else created))
        out["to reply"].append(epoch(reply["created"]) - fetched)
    return out


def answers(control: Any, side: Side, commands: int) -> dict[str, int]:
    """How many of the measured commands the bot answered, and how many answers came more than once."""
    said = Counter((m.get("markdown") or m.get("text") or "").strip()
                   for m in control.messages(room=side.room, author=side.bot))
    expected = [str(n) for n in range(commands)]
    return {"answered": sum(1 for n in expected if said[n]), "twice": sum(said[n] - 1 for n in expected if said[n] > 1)}


def measure(args: argparse.Namespace) -> Json:
    out: Json = {}
    with emulator(args.emulator) as emu:
        person = Person(emu)
        sides = {t: Side(emu, person.me, t) for t in TRANSPORTS}
        try:
            for n in range(args.warmup):
                for side in sides.values():
                    person.ask(side, f"echo warm {n}", f"warm {n}", args.poll, args.timeout)
            emu.control.clear_calls()
            for n in range(args.commands):  # interleaved, swapping who goes first
                for transport in (TRANSPORTS if n % 2 == 0 else TRANSPORTS[::-1]):
                    side = sides[transport]
                    command, reply, seconds = person.ask(side, f"echo {n}", str(n), args.poll, args.timeout)
                    side.wall.append(seconds)
                    side.stamped.append(epoch(reply["created"]) - epoch(command["created"]))
                    side.pairs.append((command, reply))
            for side in sides.values():
                out[side.transport] = {"wall": side.wall, "stamped": side.stamped,
                                       "stages": stages(side, emu.control.calls(side.bot))}
            for side in sides.values():
                out[side.transport]["calls"] = calls_per_command(emu.control, side.bot, person.me, side.room,
                                                                 args.call_commands, args.timeout)
            out["answers"] = {t: answers(emu.control, s, args.commands) for t, s in sides.items()}
        finally:
            for side in sides.values():
                side.runner.stop(timeout=2)
    return out


def per_command(calls: Json) -> tuple[float, dict[str, int], dict[str, int]]:
    """(calls per command, routes of the commands, background routes) from ``calls_per_command``."""
    mine = {r: n for r, n in calls["by_route"].items() if not any(b in r for b in BACKGROUND)}
    other = {r: n for r, n in calls["by_route"].items() if r not in mine}
    return sum(mine.values()) / calls["commands"], mine, other


def report(args: argparse.Namespace, out: Json, header: str, table: Callable[[list[Row]], str]) -> tuple[list[Row], str]:
    hook, sock = out["webhook"], out["websocket"]
    rows: list[Row] = []
    for what, key in (("post to reply seen (wall clock)", "wall"), ("command to reply (emulator `created`)", "stamped")):
        for transport in TRANSPORTS:
            rows.append(("1", f"{transport}: {what}, p50 / p95 / max (ms)", spread(out[transport][key]), "", ""))
        ratios = [percentile(sock[key], p) / percentile(hook[key], p) if percentile(hook[key], p) else math.nan
                  for p in (50, 95)]
        rows.append(("1", f"ratio websocket / webhook, {what}, p50 / p95", f"{ratios[0]:.2f} / {ratios[1]:.2f}",
                     "", ""))
    for transport in TRANSPORTS:
        parts = out[transport]["stages"]
        shown = [name for name in ("to lookup", "to fetch", "to reply") if parts[name]]
        rows.append(("1", f"{transport}: " + " / ".join(shown) + ", medians (ms)",
                     " / ".join(ms(median(parts[name])) for name in shown), "", ""))
    for transport in TRANSPORTS:
        count, _mine, _other = per_command(out[transport]["calls"])
        rows.append(("2", f"{transport}: Webex REST calls per command", f"{count:.2f}",
                     f"{CALLS_PER_COMMAND}", verdict(count == CALLS_PER_COMMAND)))
    seen = out["answers"]
    rows.append(("3", "answered / answered more than once, webhook; websocket",
                 "; ".join(f"{seen[t]['answered']} / {seen[t]['twice']}" for t in TRANSPORTS),
                 f"{args.commands} / 0", verdict(all(seen[t] == {"answered": args.commands, "twice": 0}
                                                     for t in TRANSPORTS))))
    routes = "\n".join(f"   - {t}: {per_command(out[t]['calls'])[1]}; other calls in the window: "
                       f"{per_command(out[t]['calls'])[2] or 'none'}" for t in TRANSPORTS)
    text = f"""## Websocket against webhook latency (`bench/ws_latency.py`)

{header}
- Options: {args.commands} commands on each transport (after {args.warmup} warm-up each), poll every
  {args.poll * 1000:g} ms; {args.call_commands} commands counted for REST calls; emulator in
  {'a child process' if args.emulator == 'process' else 'this process'}

{table(rows)}

How each number is made:

1. Two bots from `start_test_bot` (built-in commands, 4 workers) against one emulator: `transport="webhook"`
   (no tunnel: the emulator's signed deliveries go straight to the local receiver) and
   `transport="websocket"`. A person posts `echo n` through the control API to one bot, waits for the
   reply, then the other; who goes first alternates. "Wall clock" runs from just before the
   control-API post to the poll that sees the reply (the person's `GET /v1/messages?max=1`, every
   {args.poll * 1000:g} ms: the poll's resolution and the post's own round trip are in it). "Emulator
   `created`" is the reply's `created` less the command's, both stamped by the emulator (1 ms
   resolution), free of the poll. The stages split that time with the emulator's call log (each call
   stamped when answered): "to lookup" is the command's `created` to the conversation-service lookup
   (delivery over Mercury and the lookup itself; made only where the REST id built from the activity's
   uuid was wrong, so shown only then), "to fetch" from there (or from `created` without a lookup:
   delivery, receiver or websocket, queue) to `GET /v1/messages/{{id}}` answered, "to reply" from the fetch to the
   reply's `created` (the handler and `POST /v1/messages`).
2. After clearing the call log, {args.call_commands} commands to each bot (posted back to back); the bot's
   calls by route:
{routes}
   Calls on the supervisor's or the device's upkeep routes are not counted per command.
3. Afterwards, the bot's messages in each room, counted by text: each measured `n` must be there once.

Log records of WARNING and above (counted, not printed during the run):
{out['logs']}
"""
    return rows, text


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/ws_latency.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--commands", type=int, default=300, help="commands measured on each transport (default 300)")
    add("--warmup", type=int, default=5, help="commands sent to each first and not measured (default 5)")
    add("--call-commands", type=int, default=20, help="commands whose REST calls are counted (default 20)")
    add("--poll", type=float, default=0.005, help="seconds between polls for the reply (default 0.005)")
    add("--timeout", type=float, default=30.0, help="seconds to wait for one reply (default 30)")
    add("--emulator", choices=("process", "thread"), default="process",
        help="run the emulator in a child process (default) or in this one")
    add("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    run = Run()
    out = measure(args)
    out["logs"] = listed(dict(run.logs.counts))
    return run.publish(NAME, not args.no_write, lambda header, table: report(args, out, header, table))


if __name__ == "__main__":
    raise SystemExit(main())
