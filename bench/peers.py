"""Benchmark of this bot on both transports against the two public Python Webex bot frameworks.

Run on demand, never by pytest, with nothing else running on the machine::

    python bench/peers.py                     # 20 to 30 minutes
    python bench/peers.py --quick --no-write  # bursts of 50 and 100: a check that it runs

Four bots, each in its own process answering a plain-text echo: ours with webhooks, ours over the
device websocket (its built-in ``echo``), webexteamsbot 0.1.4.2 (webhooks, its ``/echo``) and webex_bot
1.3.1 (websocket, ``say``: a command its driver adds with ``--plain-echo``, its demo echo answering
with cards), the peers installed unmodified in their own virtualenvs and started by the conformance
tests' drivers (bench/peer_bots.py). For each bot and each ``--latencies`` value (added by the emulator to every
call but the control API's) a fresh emulator serving TLS in a child process and a fresh bot; then bursts of
``--bursts`` commands, each from its own person in its own direct room, posted through the control
API as fast as ``--post-threads`` threads can. Per burst: commands/s, reply latency, lost and doubled
answers, REST calls and CPU per command, websocket ack latency; per bot, its RSS once started.
Results go to stdout and to the ``peers`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules
from common import (Row, Run, arg_list, by_route, emulator, epoch, listed, ms, percentile,  # noqa: E402
                    verdict)
from peer_bots import CONTENDERS, Contender  # noqa: E402

from bot.emulator.traffic import HISTORY  # noqa: E402  (common puts the checkout on the path)

NAME = "peers"
CALL_LOG = HISTORY  # the calls the emulator's call log keeps
Json = dict[str, Any]


# -- the bot's process ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def tail(log: Path) -> str:
    return "its log ends:\n" + log.read_text(errors="replace")[-3000:]


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str,
               timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit {process.poll()}); {tail(log)}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


# -- one burst ------------------------------------------------------------------------------------


def people(emu: Any, account: Json, count: int, threads: int) -> list[tuple[Json, Json]]:
    """``count`` (person, direct room with the bot): each command comes from a room of its own, so that an
    answer is tied to its command by its room as well as its words, and a late answer to an earlier burst
    is not counted in a later one."""
    local = threading.local()

    def make(i: int) -> tuple[Json, Json]:
        if not hasattr(local, "control"):
            local.control = emu.client()
        person = local.control.create_person(f"Peer Person {i}", f"peer.person.{i}@example.com")
        return person, local.control.direct_room(person, account)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(make, range(count)))


def post_all(emu: Any, bot: Contender, rooms: list[tuple[Json, Json]], tokens: list[str],
             threads: int) -> list[Optional[Json]]:
    """Post command i from rooms[i], as fast as ``threads`` threads can; the emulator's messages, in order
    (None for a post the control API refused or dropped: counted, and the burst goes on)."""
    import requests
    from bot.emulator import ControlError

    posted: list[Optional[Json]] = [None for _ in tokens]

    def share(k: int) -> None:
        control = emu.client()
        for i in range(k, len(tokens), threads):
            person, room = rooms[i]
            try:
                posted[i] = control.post(person, bot.command(tokens[i]), room=room)
            except (ControlError, requests.RequestException):
                pass

    posters = [threading.Thread(target=share, args=(k,)) for k in range(threads)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join()
    return posted


def answers_by_command(bot: Contender, messages: list[Json], rooms: list[tuple[Json, Json]],
                       tokens: list[str]) -> list[list[Json]]:
    """For each command, the bot's messages in its room that answer it."""
    index = {room["id"]: i for i, (_person, room) in enumerate(rooms)}
    found: list[list[Json]] = [[] for _ in tokens]
    for message in messages:
        i = index.get(message["roomId"])
        if i is not None and bot.answers(message, tokens[i]):
            found[i].append(message)
    return found


def earliest(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """The smallest value for each key: a command's first ack, when its envelope came and was acked again."""
    first: dict[str, float] = {}
    for key, value in pairs:
        first[key] = min(value, first.get(key, math.inf))
    return first


def ack_latencies(control: Any, account: Json, commands: list[Json]) -> tuple[list[float], str]:
    """Seconds to the first ack, per command the bot's device acked, and what they are: ``envelope`` when acks
    matched the commands' envelopes (the emulator's ``afterMs``: from the envelope being queued); else
    ``REST id``, from the acks that matched none but name a command's REST id (webex_bot's), less its
    ``created``, about when the emulator queued the envelope."""
    from bot.emulator.ids import decode_id

    devices = {d["id"] for d in control.devices() if d["ownerId"] == account["id"]}
    acks = [a for a in control.acks() if a["device"] in devices]
    by_activity = earliest((str(a["activityId"]).lower(), a["afterMs"] / 1000) for a in acks
                           if a["afterMs"] is not None)
    activities = [(decode_id(c["id"]) or ("", ""))[1].lower() for c in commands]
    matched = [by_activity[uuid] for uuid in activities if uuid in by_activity]
    if matched:
        return matched, "envelope"
    by_id = earliest((a["messageId"], epoch(a["time"])) for a in acks if a["afterMs"] is None)
    return [by_id[c["id"]] - epoch(c["created"]) for c in commands if c["id"] in by_id], "REST id"


def burst(emu: Any, bot: Contender, account: Json, pid: int, rooms: list[tuple[Json, Json]], tag: str,
          args: argparse.Namespace) -> Json:
    """Post one command from each of ``rooms`` (fresh ones: whatever the bot says there answers this burst)
    at once, tokens ``<tag>-<i>``; wait until each is answered (or nothing moved for ``--settle`` s), then
    count, from the emulator's records, answers, calls and acks."""
    control = emu.control
    tokens = [f"{tag}-{i}" for i in range(len(rooms))]
    control.wait_deliveries_idle(10)
    control.clear_calls()
    cpu = cpu_seconds(pid)
    posted = post_all(emu, bot, rooms, tokens, args.post_threads)
    expected = sum(1 for command in posted if command is not None)
    moved, last, used = time.monotonic(), -1, math.nan
    deadline = moved + args.timeout
    while time.monotonic() < min(deadline, moved + args.settle):
        answered = sum(1 for a in answers_by_command(bot, control.messages(author=account), rooms, tokens) if a)
        if answered == expected:
            used = cpu_seconds(pid) - cpu
            break
        if answered != last:
            moved, last = time.monotonic(), answered
        time.sleep(args.poll)
    if math.isnan(used):
        used = cpu_seconds(pid) - cpu
    control.wait_deliveries_idle(10)
    time.sleep(1.0)  # an answer given twice comes soon after the first
    found = answers_by_command(bot, control.messages(author=account), rooms, tokens)
    calls = control.calls(account)
    sent = [(command, answers) for command, answers in zip(posted, found) if command is not None]
    first = [min(epoch(m["created"]) for m in answers) for _command, answers in sent if answers]
    latency = [min(epoch(m["created"]) for m in answers) - epoch(command["created"]) for command, answers in sent
               if answers]
    acked, acked_by = ack_latencies(control, account, [c for c, _answers in sent])
    start = min((epoch(c["created"]) for c, _answers in sent), default=math.nan)
    span = max(first, default=start) - start
    # A full call log holds the calls from some point on: count the commands posted from then on.
    covered = [c for c, _answers in sent if not calls or len(calls) < CALL_LOG or
               epoch(c["created"]) >= epoch(calls[0]["at"])]
    return {"commands": len(tokens), "post_errors": len(tokens) - len(sent), "answered": len(first),
            "lost": sum(1 for _command, answers in sent if not answers),
            "doubled": sum(1 for _command, answers in sent if len(answers) > 1),
            "rate": len(first) / span if span > 0 else math.nan,
            "p50": percentile(latency, 50), "p99": percentile(latency, 99),
            "calls": len(calls) / max(1, len(covered)), "log_full": len(calls) >= CALL_LOG,
            "routes": by_route(calls), "statuses": dict(Counter(str(c["status"]) for c in calls)),
            "cpu": used / len(tokens), "acked": len(acked), "acked_by": acked_by, "ack_p50": percentile(acked, 50),
            "ack_p99": percentile(acked, 99)}


# -- one bot at one latency -----------------------------------------------------------------------


def scenario(bot: Contender, latency: float, args: argparse.Namespace) -> Json:
    """A fresh emulator and a fresh bot process; its RSS once up, a warm-up command, then the bursts."""
    out: Json = {"bursts": {}}
    with emulator(tls=True) as emu, tempfile.TemporaryDirectory(prefix="peers-") as state:
        control, folder = emu.control, Path(state)
        account = control.create_bot("Peer Bot", "peer-bot@webex.bot")
        rooms = people(emu, account, 1 + sum(args.bursts), args.post_threads)
        process = bot.start(emu, account, folder)
        try:
            wait_until(lambda: bot.ready(emu, account, folder), process, folder / "bot.log", bot.name, 60)
            time.sleep(args.idle)
            out["rss"] = rss_mib(process.pid)
            warm = burst(emu, bot, account, process.pid, rooms[:1], "warm", args)
            if warm["lost"]:
                raise RuntimeError(f"{bot.name} did not answer the warm-up command; {tail(folder / 'bot.log')}")
            if latency:
                control.inject("latency", seconds=latency, path="/")
            used = 1
            for n in args.bursts:
                out["bursts"][n] = burst(emu, bot, account, process.pid, rooms[used:used + n],
                                         f"t{latency * 1000:g}-{n}", args)
                used += n
                print(f"{bot.name}, {latency * 1000:g} ms, {n}: {summary(out['bursts'][n])}", flush=True)
        finally:
            stop(process)
    return out


def summary(b: Json) -> str:
    calls = ("~" if b["log_full"] else "") + f"{b['calls']:.2f}"
    by = "" if b["acked_by"] == "envelope" else f", by {b['acked_by']}"
    ack = f"{ms(b['ack_p50'])} / {ms(b['ack_p99'])} ({b['acked']}{by})" if b["acked"] else "n/a"
    failed = f" ({b['post_errors']} posts failed)" if b["post_errors"] else ""
    return (f"{b['rate']:.1f}; {ms(b['p50'])} / {ms(b['p99'])}; {b['lost']} / {b['doubled']}{failed}; {calls}; "
            f"{b['cpu'] * 1000:.2f}; {ack}")


# -- report ---------------------------------------------------------------------------------------

FIGURES = ("commands/s; reply p50 / p99 (ms); lost / doubled; REST calls per command; CPU ms per command; "
           "ack p50 / p99 (ms) (acks counted: of the command's envelope, from its queueing; `by REST id`: naming "
           "the command's message, from its `created`)")


def over(mine: float, theirs: float) -> float:
    return mine / theirs if theirs > 0 else math.nan


def ratio_rows(results: dict[str, Json], latency: float, n: int) -> list[Row]:
    """Ours over the best peer: the fastest for commands/s, the thriftiest for CPU per command."""
    peers = {name: r["bursts"][n] for name, r in results.items() if not name.startswith("ours")}
    if not peers:
        return []
    fastest = max(peers, key=lambda name: peers[name]["rate"] if peers[name]["rate"] > 0 else 0.0)
    thriftiest = min(peers, key=lambda name: peers[name]["cpu"] if peers[name]["cpu"] > 0 else math.inf)
    rows: list[Row] = []
    for name, r in results.items():
        if name.startswith("ours"):
            b = r["bursts"][n]
            rows.append(("2", f"{name} / best peer, {latency * 1000:g} ms, burst {n}: commands/s; CPU per command",
                         f"{over(b['rate'], peers[fastest]['rate']):.2f} (vs {fastest}); "
                         f"{over(b['cpu'], peers[thriftiest]['cpu']):.2f} (vs {thriftiest})", "", ""))
    return rows


def report(args: argparse.Namespace, bots: dict[str, Contender], results: dict[float, dict[str, Json]],
           logs: str, header: str, table: Callable[[list[Row]], str]) -> tuple[list[Row], str]:
    rows: list[Row] = []
    for latency, by_bot in results.items():
        for name, r in by_bot.items():
            ours = name.startswith("ours")
            for n, b in r["bursts"].items():
                rows.append(("1", f"{name}, {latency * 1000:g} ms, burst {n}", summary(b),
                             "0 / 0 lost / doubled" if ours else "",
                             verdict(not b["lost"] and not b["doubled"]) if ours else ""))
    for latency, by_bot in results.items():
        for n in args.bursts:
            rows += ratio_rows(by_bot, latency, n)
    for name in bots:
        rows.append(("3", f"{name}: RSS once started, idle (MiB)",
                     " / ".join(f"{results[latency][name]['rss']:.1f}" for latency in results), "", ""))
    smallest = min(args.bursts)
    routes = "\n".join(f"   - {name}, {latency * 1000:g} ms, burst {smallest}: {r['bursts'][smallest]['routes']}, "
                       f"statuses {r['bursts'][smallest]['statuses']}"
                       for latency, by_bot in results.items() for name, r in by_bot.items())
    pointed = "\n".join(f"- **{name}**: {bot.pointed}." for name, bot in bots.items())
    text = f"""## This bot against the public Python Webex bot frameworks (`bench/peers.py`)

{header}
- Options: bursts of {arg_list(args.bursts)} commands, latency added
  {arg_list([x * 1000 for x in args.latencies], 'g')} ms, posted by {args.post_threads} threads; a burst ends when
  every command is answered, or after {args.settle:g} s without a new answer (at most {args.timeout:g} s)

Row 1 gives, per bot, added latency and burst: {FIGURES}.

{table(rows)}

How each bot is pointed at the emulator (each in a process of its own, every proxy a closed port):

{pointed}

How each number is made:

1. For each bot and each added latency: a fresh emulator in a child process (`emulator(tls=True)` of
   `bench/common.py`: `https://` and `wss://` with an authority made for the run, trusted by each bot through
   `REQUESTS_CA_BUNDLE` and `SSL_CERT_FILE`; webex_bot's driver speaks only TLS, so all four get the
   same; its work takes neither the bot's CPU nor the benchmark's), a fresh bot account,
   {1 + sum(args.bursts)} people each with a direct room with the bot, and the bot's process; one
   warm-up command; then the latency (`inject("latency", path="/")`: every REST, U2C, WDM,
   conversation-service and metrics call; not the control API, not the webhook deliveries to the
   bot, not the Mercury websocket), then the bursts. Each command comes from a person and room of its
   own, so an answer is tied to its command by its room and by its token `<latency>-<burst>-<i>`
   (every bot echoes it as plain text), and a late answer to one burst is not counted in the next.
   Commands/s: answered commands over the time from the first command's `created` to the last first
   answer's `created` (the emulator's clock). Reply latency: per command, its first answer's
   `created` less the command's. Lost: no answer when the burst ended; doubled: more than one answer.
   REST calls: the emulator's call log for the bot's token over the burst, over the commands; a
   `~` marks a burst whose calls overflowed the log ({CALL_LOG} calls kept), counted over the commands
   posted after its oldest call. CPU: the bot process's user + system time (/proc/<pid>/stat) from
   the first post to the poll that saw every answer, over the commands posted, answered or not (a bot
   that lost some looks thriftier than it is). Ack: the emulator records each ack a device sends and,
   for one naming an envelope it sent, that envelope's activity and the ms from its being queued to
   the ack; per command of the burst, the first such ack from the bot's device whose activity is the
   command's (its REST id ends in the activity's uuid): ours. webex_bot acks with the REST id of the
   message it fetched, which names no envelope, so none of its acks has a queue time: its figure
   (marked `by REST id`) is the first ack naming the command's REST id less the command's `created`
   (about when the emulator queues the envelope); n/a where no ack arrived. As its acks match no
   envelope, the emulator keeps every envelope it sent un-acked, and when webex_bot's connection
   drops (it writes its acks with `asyncio.run` from its worker threads, off the socket's own loop)
   it gets them all again on the new one and runs those commands again: its doubled answers come
   from that.
2. Ours over the best peer at the same latency and burst: commands/s over the fastest peer's, CPU per
   command over the lowest peer's (above 1 for commands/s, below 1 for CPU, is ours better).
3. VmRSS of the bot's process {args.idle:g} s after it was ready (ours: its log says it is up; webexteamsbot:
   its webhook registered and its server listening; webex_bot: its device connected), before the
   warm-up; one value per added latency (a fresh process each).

The bot's calls by route in the first burst of each run:
{routes}

Log records of WARNING and above in this process:
{logs}
"""
    return rows, text


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/peers.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--bursts", type=lambda s: [int(x) for x in s.split(",")], default=[100, 400, 1600],
        help="commands per burst, comma-separated (default 100,400,1600)")
    add("--latencies", type=lambda s: [float(x) / 1000 for x in s.split(",")], default=[0.0, 0.05],
        help="ms added to every Webex call, comma-separated (default 0,50)")
    add("--quick", action="store_true", help="bursts of 50 and 100 only: a check that it runs")
    add("--bots", type=lambda s: s.split(","), default=list(CONTENDERS),
        help=f"which bots, comma-separated (default {','.join(CONTENDERS)})")
    add("--post-threads", type=int, default=4, help="threads posting a burst (default 4)")
    add("--settle", type=float, default=30.0, help="s without a new answer that end a burst (default 30)")
    add("--timeout", type=float, default=600.0, help="s a burst may take at most (default 600)")
    add("--poll", type=float, default=0.5, help="s between looks at the answers (default 0.5)")
    add("--idle", type=float, default=2.0, help="s after a bot is ready before its RSS is read (default 2)")
    add("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.bursts = [50, 100]
    unknown = set(args.bots) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown bots {', '.join(sorted(unknown))}; choose from {', '.join(CONTENDERS)}")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    run = Run()
    bots = {bot.name: bot for bot in (CONTENDERS[name]() for name in args.bots)}
    results = {latency: {name: scenario(bot, latency, args) for name, bot in bots.items()}
               for latency in args.latencies}
    logs = listed(dict(run.logs.counts))
    return run.publish(NAME, not args.no_write, lambda header, table: report(args, bots, results, logs, header, table))


if __name__ == "__main__":
    raise SystemExit(main())
