"""Benchmark of the webhook receiver and of the whole bot against the emulator.

Run on demand, never by pytest::

    python bench/receiver.py                 # about a minute
    python bench/receiver.py --duration 5 --concurrency 16 --rounds 3

In one run, so that the ratios compare like with like: (1) acknowledgement throughput and latency of
signed deliveries, our ``Receiver`` + ``Dispatcher.submit`` against a bare one-route Flask app on the
same server, closed loop; (2) the acknowledgement p99 at a fixed rate, open loop (no coordinated
omission); (3) end-to-end ``echo`` commands per second through the emulator and the real bot;
(4) Webex API calls per plain command. bench/README.md says how each row is made; the load client
(bench/loadclient.py) runs in a child process by default, so that it does not take the server's GIL.
Results go to stdout and to the ``receiver`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when imported
from common import (LogCounter, Row, Run, arg_list, calls_per_command, epoch, listed, ms,  # noqa: E402
                    percentile, verdict)
from ackbot import AckBot, serve  # noqa: E402
from loadclient import app_cost, merge_paced, run_client  # noqa: E402

NAME = "receiver"

# -- the servers under test ---------------------------------------------------------------------


def bare_app(path: str) -> Any:
    from flask import Flask

    app = Flask("bench.bare")

    @app.post(path)
    def hook() -> tuple[str, int]:
        return "ok", 200

    return app


# -- the measurements ---------------------------------------------------------------------------


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    lat = result["latencies"]
    return {"count": len(lat), "rps": len(lat) / result["seconds"], "p50": percentile(lat, 50),
            "p99": percentile(lat, 99), "statuses": result["statuses"]}


def ack_benchmarks(args: argparse.Namespace, logs: LogCounter) -> dict[str, Any]:
    """Parts 1 and 2: the acknowledgement of signed deliveries, ours against a bare Flask app."""
    from bot.emulator import Emulator

    out: dict[str, Any] = {}
    closed = {"mode": "closed", "concurrency": args.concurrency, "warmup": args.warmup, "duration": args.duration}
    with Emulator() as slow, Emulator() as live:
        # The throttled bot's workers fetch from an API that takes --fetch-latency s per GET
        # /v1/messages/{id}: the workers run, but do a few fetches a second, so what is measured is the
        # acknowledgement path. The fabricated ids are then answered 404 (the workers log an error).
        slow.control.inject("latency", seconds=args.fetch_latency, path="/v1/messages/", method="GET")
        throttled = AckBot(slow, "Ack Bot", args.queue_size)
        bare = bare_app(throttled.receiver.path)
        bare_server = serve(bare, "bench-bare", throttled.receiver.max_body_bytes)
        bare_target = {**throttled.target(), "port": bare_server.port}
        cpu, wall = sum(os.times()[:2]), time.perf_counter()
        time.sleep(2.0)  # no traffic: two emulators and two servers doing nothing
        out["idle_cpu"] = (sum(os.times()[:2]) - cpu) / (time.perf_counter() - wall)
        out["app_cost"] = {name: min(app_cost(app, throttled.target(), 2000) for _ in range(3))
                           for name, app in (("bare", bare), ("ours", throttled.receiver.app))}
        rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "ours": []}
        for n in range(args.rounds):  # alternate, and swap who goes first, so both see the same noise
            for name in (("bare", "ours") if n % 2 == 0 else ("ours", "bare")):
                target = bare_target if name == "bare" else throttled.target()
                throttled.discard_backlog()
                cpu = sum(os.times()[:2])
                rounds[name].append(run_client({**closed, "target": target}, args.client))
                rounds[name][-1]["server_cpu"] = sum(os.times()[:2]) - cpu
        for name, runs in rounds.items():
            merged = {"latencies": [x for r in runs for x in r["latencies"]],
                      "seconds": sum(r["seconds"] for r in runs),
                      "statuses": dict(sum((Counter(r["statuses"]) for r in runs), Counter()))}
            out[name] = summarize(merged)
            out[name]["per_round_rps"] = [len(r["latencies"]) / r["seconds"] for r in runs]
            out[name]["cpu_per_request"] = sum(r["server_cpu"] for r in runs) / sum(r["answered"] for r in runs)
        # The paced run is cut in --paced-chunks pieces, alternating with the bare reference likewise.
        chunk = {"mode": "paced", "rate": args.rate, "seconds": args.paced_seconds / args.paced_chunks,
                 "threads": args.paced_threads}
        pieces: dict[str, list[dict[str, Any]]] = {"bare": [], "ours": []}
        for n in range(args.paced_chunks):
            for name in (("bare", "ours") if n % 2 == 0 else ("ours", "bare")):
                target = bare_target if name == "bare" else throttled.target()
                throttled.discard_backlog()
                pieces[name].append(run_client({**chunk, "target": target}, args.client))
        out["bare_paced"], out["paced"] = merge_paced(pieces["bare"]), merge_paced(pieces["ours"])
        paced_spec = {**chunk, "seconds": args.paced_seconds}
        out["throttled_fetches"] = sum(1 for c in slow.control.calls(throttled.account)
                                       if c["method"] == "GET" and c["path"].startswith("/v1/messages/"))

        # The same receiver while its four workers fetch every delivery at full speed (404s, from the
        # emulator in this process): what a busy bot's acknowledgements look like.
        throttled.discard_backlog()
        busy = AckBot(live, "Busy Bot", args.queue_size)
        out["busy_paced"] = run_client({**paced_spec, "seconds": args.paced_seconds / 2, "target": busy.target()},
                                       args.client)
        out["busy_paced_fetches"] = len(live.control.calls(busy.account))
        busy.discard_backlog()
        out["busy"] = summarize(run_client({**closed, "target": busy.target()}, args.client))
        out["logs"] = dict(logs.counts)
        busy.stop()
        throttled.stop()
        bare_server.stop(2)
    return out


def e2e_benchmarks(args: argparse.Namespace) -> dict[str, Any]:
    """Parts 3 and 4: echo commands through the emulator to the real bot and back."""
    from bot.emulator import ControlClient, Emulator
    from bot.testing import start_test_bot

    out: dict[str, Any] = {}
    with Emulator() as emulator:
        control = emulator.control
        bot = control.create_bot("Echo Bot", "echo-bot@webex.bot")
        person = control.create_person("Echo Person", "echo.person@example.com")
        room = control.direct_room(person, bot)
        runner = start_test_bot(emulator, bot["token"])
        try:
            # warm up: one command through the whole path
            control.post(person, "echo warm-up", room=room)
            control.wait_for_messages(bot, 1, room=room, timeout=20)
            before = len(control.messages(room=room, author=bot))

            n, threads = args.commands, args.post_threads
            posted: dict[int, str] = {}
            errors: list[str] = []

            def post(k: int) -> None:
                mine = ControlClient(emulator.control_url)
                for i in range(k, n, threads):
                    try:
                        posted[i] = mine.post(person, f"echo {i}", room=room)["created"]
                    except Exception as exc:  # counted and reported, the run goes on
                        errors.append(f"{type(exc).__name__}: {exc}")

            first_post = time.time()
            posters = [threading.Thread(target=post, args=(k,)) for k in range(threads)]
            for poster in posters:
                poster.start()
            for poster in posters:
                poster.join()
            posted_in = time.time() - first_post
            deadline = time.monotonic() + args.e2e_timeout
            replies: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                replies = control.messages(room=room, author=bot)[before:]
                if len(replies) >= n:
                    break
                time.sleep(0.2)  # the end time comes from the replies' own timestamps, not from this poll
            seen_at = time.time()
            control.wait_deliveries_idle(10)
            time.sleep(0.5)
            replies = control.messages(room=room, author=bot)[before:]
            texts = Counter((r.get("markdown") or r.get("text") or "").strip() for r in replies)
            expected = {str(i) for i in range(n)}
            latencies = []
            for reply in replies:
                text = (reply.get("markdown") or reply.get("text") or "").strip()
                if text.isdigit() and int(text) in posted:
                    latencies.append(epoch(reply["created"]) - epoch(posted[int(text)]))
            last = max((epoch(r["created"]) for r in replies), default=seen_at)
            deliveries = [d for d in control.deliveries() if d["body"]["data"].get("personId") == person["id"]]
            out["e2e"] = {
                "commands": n, "threads": threads, "post_errors": errors[:3], "post_error_count": len(errors),
                "posted_in": posted_in, "elapsed": last - first_post, "answered": len(expected & set(texts)),
                "duplicates": sum(c - 1 for t, c in texts.items() if c > 1), "missing": len(expected - set(texts)),
                "unexpected": sum(c for t, c in texts.items() if t not in expected),
                "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                "delivery_statuses": dict(Counter(str(d["status"] or d["error"]) for d in deliveries)),
            }
            out["e2e"]["rate"] = out["e2e"]["answered"] / out["e2e"]["elapsed"] if out["e2e"]["elapsed"] > 0 else 0.0

            # Part 4: the bot's own API calls for K plain echo commands, counted by the emulator.
            out["calls"] = calls_per_command(control, bot, person, room, args.call_commands, args.e2e_timeout)
        finally:
            runner.stop(timeout=4)
    return out


# -- report -------------------------------------------------------------------------------------


def report(args: argparse.Namespace, ack: dict[str, Any], e2e: dict[str, Any], header: str,
           table: Any) -> tuple[list[Row], str]:
    """(rows, RESULTS.md section); ``table(rows)`` is the section's markdown table."""
    bare, ours, busy = ack["bare"], ack["ours"], ack["busy"]
    ratio = ours["rps"] / bare["rps"] if bare["rps"] else math.nan
    busy_ratio = busy["rps"] / bare["rps"] if bare["rps"] else math.nan
    paced_run, busy_paced, bare_paced = ack["paced"], ack["busy_paced"], ack["bare_paced"]
    paced_p99 = percentile(paced_run["latencies"], 99)
    busy_p99 = percentile(busy_paced["latencies"], 99)
    e, c = e2e["e2e"], e2e["calls"]
    command_routes = ("GET /v1/messages/{id}", "POST /v1/messages")
    for_commands = sum(n for route, n in c["by_route"].items() if route in command_routes)
    background = {route: n for route, n in c["by_route"].items() if route not in command_routes}
    per_command = for_commands / c["commands"] if c["commands"] else math.nan
    calls_ok = all(c["by_route"].get(route) == c["commands"] for route in command_routes)
    rows: list[Row] = [
        ("0", "CPU of this process with no traffic (cores)", f"{ack['idle_cpu']:.2f}", "< 0.05",
         verdict(ack["idle_cpu"] < 0.05)),
        ("1", "ack throughput, bare Flask (req/s)", f"{bare['rps']:.0f}", "", ""),
        ("1", "ack throughput, ours (req/s)", f"{ours['rps']:.0f}", "", ""),
        ("1", "ack throughput ratio ours/bare", f"{ratio:.3f}", ">= 0.80", verdict(ratio >= 0.8)),
        ("1", "ack latency p50 / p99 bare (ms)", f"{ms(bare['p50'])} / {ms(bare['p99'])}", "", ""),
        ("1", "ack latency p50 / p99 ours (ms)", f"{ms(ours['p50'])} / {ms(ours['p99'])}", "", ""),
        ("1", "server process CPU per delivery bare / ours (us)",
         f"{bare['cpu_per_request'] * 1e6:.0f} / {ours['cpu_per_request'] * 1e6:.0f}", "", ""),
        ("1b", "WSGI app alone, CPU per delivery bare / ours (us)",
         f"{ack['app_cost']['bare'] * 1e6:.0f} / {ack['app_cost']['ours'] * 1e6:.0f}", "", ""),
        ("1c", "ours while workers fetch at full speed (req/s, ratio)", f"{busy['rps']:.0f}, {busy_ratio:.3f}",
         ">= 0.80", verdict(busy_ratio >= 0.8)),
        ("2", f"ack p50 / p99 at {args.rate:.0f}/s (ms)",
         f"{ms(percentile(paced_run['latencies'], 50))} / {ms(paced_p99)}", "p99 < 10", verdict(paced_p99 < 0.010)),
        ("2", "achieved rate (req/s)", f"{len(paced_run['latencies']) / paced_run['elapsed']:.1f}", "", ""),
        ("2", f"reference: bare Flask p50 / p99 at {args.rate:.0f}/s (ms)",
         f"{ms(percentile(bare_paced['latencies'], 50))} / {ms(percentile(bare_paced['latencies'], 99))}", "", ""),
        ("2b", "same, workers fetching each delivery (ms)",
         f"{ms(percentile(busy_paced['latencies'], 50))} / {ms(busy_p99)}", "p99 < 10", verdict(busy_p99 < 0.010)),
        ("3", "end-to-end echo commands/s", f"{e['rate']:.1f}", "", ""),
        ("3", "command-to-reply latency p50 / p99 (ms)", f"{ms(e['p50'])} / {ms(e['p99'])}", "", ""),
        ("3", "answered / missing / duplicated", f"{e['answered']} / {e['missing']} / {e['duplicates']}",
         f"{e['commands']} / 0 / 0", verdict(e["answered"] == e["commands"] and not e["duplicates"]
                                             and not e["unexpected"])),
        ("4", "Webex API calls per echo command", f"{per_command:.2f}" + (
            f" (+{sum(background.values())} other in the window)" if background else ""), "exactly 2",
         verdict(calls_ok)),
    ]
    client = "a child process" if args.client == "process" else "threads of the server process"
    round_ratios = [o / b for o, b in zip(ours["per_round_rps"], bare["per_round_rps"]) if b]
    service = f"{ms(percentile(paced_run['service'], 50))}/{ms(percentile(paced_run['service'], 99))}"
    busy_rate = len(busy_paced["latencies"]) / busy_paced["elapsed"]
    text = f"""## Receiver and end-to-end (`bench/receiver.py`)

{header}
- Options: closed loop {args.rounds} rounds of each, {args.duration} s after {args.warmup} s warm-up,
  concurrency {args.concurrency}; paced {args.rate:.0f}/s for {args.paced_seconds} s in {args.paced_chunks} pieces
  on {args.paced_threads} threads; {args.commands} end-to-end commands from {args.post_threads} threads;
  {args.call_commands} commands counted for API calls; load client in {client}

{table(rows)}

How each number is made:

0. The CPU time (user + system) of the benchmark's process over 2 s in which nothing is sent, with the
   two emulators (rows 1-2), our receiver and the bare app started; an idle server should use none.
1. Closed loop: {args.concurrency} client threads, each with its own keep-alive `http.client` connection,
   send signed webhook envelopes (a new message id each, HMAC-SHA1 `X-Spark-Signature`) back to back.
   *Ours* is the real `Receiver` whose `submit` is a real `Dispatcher.submit` (dedupe + queue, queue
   size {args.queue_size}, 4 workers started); *bare* is a Flask app with one route returning `"ok", 200`.
   Both on `BackgroundServer` (waitress, 8 threads, the options `BotRunner` uses). Bare and ours
   alternate round by round; per-round req/s: bare {arg_list(bare['per_round_rps'])}; ours
   {arg_list(ours['per_round_rps'])}; ratios {arg_list(round_ratios, '.2f')}. Statuses: bare {bare['statuses']},
   ours {ours['statuses']}. The CPU row is the CPU time (user + system) of the server's process during
   the rounds over the deliveries answered (warm-up included): the whole cost of an acknowledgement
   with waitress, less sensitive to the machine's load than req/s.
   The message ids are fabricated, so the workers' fetches get 404 (accepted; the dispatcher logs each
   as an error). In rows 1 and 2 the workers fetch from an emulator that adds {args.fetch_latency} s to
   `GET /v1/messages/{{id}}`, so they made only {ack['throttled_fetches']} fetches in all and the rows measure
   the acknowledgement path. The queue's backlog of fabricated events is dropped before each round
   (the real bot's queue holds at most 1,000).
   Row 1b calls each WSGI app directly with 2,000 prepared deliveries (best of 3, thread CPU time): the
   app's own cost, without waitress or sockets and without the machine's noise.
   Row 1c is the same receiver while its workers fetch every delivery at full speed from the emulator,
   which runs in this process: statuses {busy['statuses']}, latency p50/p99 {ms(busy['p50'])}/{ms(busy['p99'])} ms.
2. Open loop: {paced_run['sent']} deliveries due every {1000 / args.rate:.1f} ms, sent by {args.paced_threads} threads,
   in {args.paced_chunks} pieces alternating with pieces against the bare app; latency counts from each
   request's due time (no coordinated omission), so a sender that wakes late (a busy machine) is
   charged too. Statuses {paced_run['statuses']}; sends more than 1 ms late: {paced_run['late_sends']};
   service time (from the actual send) p50/p99 {service} ms. The reference row is the bare app under
   the same sender in the alternate pieces (statuses {bare_paced['statuses']}, late sends
   {bare_paced['late_sends']}): what the machine allowed at that moment. Row 2b: the busy bot at the same
   rate for half as long, its workers fetching every delivery ({ack['busy_paced_fetches']} API calls);
   statuses {busy_paced['statuses']}, late sends {busy_paced['late_sends']}, achieved {busy_rate:.1f}/s.
3. `start_test_bot` with the built-in commands against an `Emulator` in this process (emulator, bot
   and posting threads share one interpreter). {e['commands']} `echo n` messages posted by {e['threads']} threads
   through the control API, in {e['posted_in']:.2f} s (faster than the bot answers, so the command-to-reply
   latency is mostly queueing); the rate is answered commands over the time from the first post to
   the last reply's `created`. Webhook deliveries by status: {e['delivery_statuses']}; post errors:
   {e['post_error_count']}.
4. After clearing the emulator's call log, {c['commands']} `echo` commands; the bot's calls by route:
   {c['by_route']}, statuses {c['statuses']}. Calls on other routes (the supervisor's periodic checks, if
   one fell in the window) are not counted per command: {background or 'none'}.

Log records of WARNING and above (counted, not printed during the run); rows 1-2:
{listed(ack['logs'])}
rows 3-4:
{listed(e2e['logs'])}
"""
    return rows, text


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/receiver.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--duration", type=float, default=1.5, help="seconds measured per closed-loop round (default 1.5)")
    add("--warmup", type=float, default=0.5, help="seconds sent and not measured before each round (default 0.5)")
    add("--rounds", type=int, default=6, help="closed-loop rounds of each, bare and ours alternating (default 6)")
    add("--concurrency", type=int, default=8, help="closed-loop client threads (default 8)")
    add("--rate", type=float, default=200.0, help="paced deliveries per second (default 200)")
    add("--paced-seconds", type=float, default=10.0, help="length of the paced run (default 10)")
    add("--paced-threads", type=int, default=4, help="threads of the paced sender (default 4)")
    add("--paced-chunks", type=int, default=5,
        help="pieces the paced run is cut in, alternating with the bare reference (default 5)")
    add("--commands", type=int, default=200, help="end-to-end echo commands (default 200)")
    add("--post-threads", type=int, default=4, help="threads posting them (default 4)")
    add("--call-commands", type=int, default=20, help="commands whose API calls are counted (default 20)")
    add("--queue-size", type=int, default=1_000_000, help="dispatcher queue size in rows 1-2 (default 1000000)")
    add("--fetch-latency", type=float, default=0.5,
        help="seconds the emulator adds to the throttled workers' fetches (default 0.5)")
    add("--e2e-timeout", type=float, default=60.0, help="seconds to wait for the end-to-end replies (default 60)")
    add("--client", choices=("process", "thread"), default="process",
        help="run the load client in a child process (default) or in threads of this process")
    add("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    run = Run()
    ack = ack_benchmarks(args, run.logs)
    run.logs.counts.clear()
    e2e = e2e_benchmarks(args)
    e2e["logs"] = dict(run.logs.counts)
    return run.publish(NAME, not args.no_write, lambda header, table: report(args, ack, e2e, header, table))


if __name__ == "__main__":
    raise SystemExit(main())
