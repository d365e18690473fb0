"""Benchmark of the ``@incoming`` routes: how long a sender waits for its 202.

Run on demand, never by pytest::

    python bench/incoming.py             # about 15 s
    python bench/incoming.py --quick     # about 5 s

In one run, so that the ratios compare like with like: the real bot (``start_test_bot``, its
receiver, dispatcher and workers) against an emulator in a child process, and a bare Flask route
that answers 202 at once on a server with the bot's own settings; requests one at a time on a
keep-alive connection, bare and ours alternating round by round. Results go to stdout and to the
``incoming`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when imported
from common import Row, Run, emulator, listed, ms, percentile, verdict  # noqa: E402
from ackbot import serve  # noqa: E402

NAME = "incoming"
KEY = "bench-incoming-key"
SECRET = "bench-incoming-secret"
Request = tuple[str, bytes, dict[str, str]]  # (path, body, headers)


def bare_app() -> Any:
    """One route that answers 202 at once: what a sender's wait cannot go below."""
    from flask import Flask, Response

    app = Flask("bench.bare")
    app.add_url_rule("/incoming/bare", "bare", lambda: Response(b'{"status": "accepted"}', 202,
                                                                mimetype="application/json"), methods=["POST"])
    return app


def routes(ran: list[str]) -> list[Any]:
    """The two routes under test; each run only notes itself in ``ran`` (nothing is posted to Webex)."""
    from bot import incoming

    @incoming("notify")
    def notify(ctx: Any, payload: Any) -> None:
        ran.append("notify")  # one bytecode-level call: safe from the workers' threads

    @incoming("hub", auth="github")
    def hub(ctx: Any, payload: Any) -> None:
        ran.append("hub")

    return [notify, hub]


def requests_of(kind: str, body: bytes) -> Callable[[int], Request]:
    """Request ``n`` of ``kind``: the bare route, the key route (Bearer) or the github route (signed)."""
    json_type = {"Content-Type": "application/json"}
    if kind == "bare":
        return lambda n: ("/incoming/bare", body, json_type)
    if kind == "key":
        return lambda n: ("/incoming/notify", body, {**json_type, "Authorization": f"Bearer {KEY}"})
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return lambda n: ("/incoming/hub", body, {**json_type, "X-GitHub-Event": "push", "X-GitHub-Delivery": f"d-{n}",
                                              "X-Hub-Signature-256": signature})


def one_at_a_time(port: int, make: Callable[[int], Request], count: int, first: int) -> dict[str, Any]:
    """``count`` requests, each sent when the last was answered: the sender's wait for each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    for n in range(first, first + count):
        path, body, headers = make(n)
        sent = time.perf_counter()
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - sent)
        statuses[str(response.status)] += 1
    conn.close()
    return {"latencies": latencies, "statuses": statuses}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from bot.testing import start_test_bot

    ran: list[str] = []
    body = json.dumps({"service": "api", "version": "1.4.2", "status": "succeeded",
                       "notes": "x" * (args.body_bytes - 70)}).encode()
    out: dict[str, Any] = {"body": len(body)}
    with emulator("process") as webex, tempfile.TemporaryDirectory(prefix="bench-incoming-") as state:
        account = webex.control.create_bot("Incoming Bot", "incoming-bot@webex.bot")
        runner = start_test_bot(webex, account["token"], routes(ran), state_dir=Path(state), incoming_key=KEY,
                                incoming_secret=SECRET, incoming_rate=10**9, greeting="")
        assert runner.server is not None and runner.receiver is not None
        bare = serve(bare_app(), "bench-bare", runner.receiver.max_body_bytes)
        try:
            ports = {"bare": bare.port, "key": runner.server.port, "github": runner.server.port}
            results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ports}
            for kind in ports:  # warm-up, not counted
                one_at_a_time(ports[kind], requests_of(kind, body), args.warmup, 10**6)
            for n in range(args.rounds):  # alternate, and rotate who goes first, so all see the same noise
                order = list(ports)[n % 3:] + list(ports)[:n % 3]
                for kind in order:
                    results[kind].append(one_at_a_time(ports[kind], requests_of(kind, body), args.requests,
                                                       n * args.requests))
            accepted = sum(r["statuses"].get("202", 0) for kind in ("key", "github") for r in results[kind])
            deadline = time.monotonic() + 30
            while len(ran) < accepted + 2 * args.warmup and time.monotonic() < deadline:
                time.sleep(0.05)  # the handlers run after the 202: wait until each has run, or give up
            for kind, runs in results.items():
                out[kind] = {"latencies": [x for r in runs for x in r["latencies"]],
                             "statuses": dict(sum((r["statuses"] for r in runs), Counter()))}
            out["accepted"], out["handled"] = accepted, len(ran) - 2 * args.warmup
        finally:
            bare.stop(2)
            runner.stop(timeout=4)
    return out


def report(args: argparse.Namespace, out: dict[str, Any], logs: dict[str, int], header: str,
           table: Callable[[list[Row]], str]) -> tuple[list[Row], str]:
    def p(kind: str, q: float) -> float:
        return percentile(out[kind]["latencies"], q)

    def ratio(kind: str, q: float) -> str:
        return f"{p(kind, q) / p('bare', q):.2f}" if p("bare", q) else "n/a"

    rows: list[Row] = [("1", "bare route, p50 / p99 (ms)", f"{ms(p('bare', 50))} / {ms(p('bare', 99))}", "", "")]
    for n, kind, what in (("2", "key", "key route (Bearer)"), ("3", "github", "github route (HMAC-SHA256)")):
        rows += [(n, f"{what}, p50 / p99 (ms)", f"{ms(p(kind, 50))} / {ms(p(kind, 99))}", "", ""),
                 (n, f"{what} over bare, p50 / p99", f"{ratio(kind, 50)} / {ratio(kind, 99)}", "", "")]
    all_ran = out["handled"] == out["accepted"] and not math.isnan(p("key", 50))
    rows.append(("4", "accepted / handlers run", f"{out['accepted']} / {out['handled']}", "equal", verdict(all_ran)))
    text = f"""## Incoming routes (`bench/incoming.py`)

{header}
- Options: {args.rounds} rounds of {args.requests} requests to each of bare, key and github, after {args.warmup}
  warm-up requests each; bodies of {out['body']} bytes of JSON

{table(rows)}

How each number is made: the real bot (`start_test_bot`: receiver, dispatcher, 4 workers; rate limit
lifted) against an emulator in a child process, with two `@incoming` routes whose handlers only count
their runs; the bare route is a Flask app answering 202 at once, on `BackgroundServer` with the options
`BotRunner` gives the receiver. One keep-alive `http.client` connection per round sends a request when
the last was answered (latency, not throughput); its time runs from the send to the whole answer read.
Bare, key and github alternate round by round, who goes first rotating. The key route checks the
Bearer key, reads and parses the body, takes a rate-limit token and queues the handler; the github
route checks the HMAC-SHA256 of the raw body and claims the `X-GitHub-Delivery` (a new one each) too.
Statuses: bare {out['bare']['statuses']}, key {out['key']['statuses']}, github {out['github']['statuses']}.
The client runs in the bot's process (it shares the GIL with the servers, bare and ours alike).

Log records of WARNING and above (counted, not printed during the run):
{listed(logs)}
"""
    return rows, text


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/incoming.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--rounds", type=int, default=10, help="rounds of each, alternating (default 10)")
    add("--requests", type=int, default=500, help="requests per round (default 500)")
    add("--warmup", type=int, default=200, help="requests of each sent first, not counted (default 200)")
    add("--body-bytes", type=int, default=1024, help="size of each JSON body (default 1024)")
    add("--quick", action="store_true", help="4 rounds of 250 requests: about 5 s")
    add("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.warmup = 4, 250, 100
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    run = Run()
    out = measure(args)
    return run.publish(NAME, not args.no_write, lambda header, table: report(args, out, dict(run.logs.counts),
                                                                               header, table))


if __name__ == "__main__":
    raise SystemExit(main())
