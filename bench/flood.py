"""The receiver under attack: acknowledgements while idle and slowloris connections are held open,
and the size of the log after a flood of bad requests.

Run on demand, never by pytest::

    python bench/flood.py                  # about 2 minutes
    python bench/flood.py --bad 20000      # a shorter log-volume part

1. Signed deliveries at a fixed rate (open loop, from a child process) to the real Receiver and
   Dispatcher on the bot's own server settings, first with no flood (the reference, the same run),
   then with ``--idle`` idle connections and ``--slow`` slowloris requests (a byte a second) held
   open by this process: p50 and p99 of the acknowledgement, and the ratio of the two p99s.
2. ``--bad`` bad requests (unsigned, badly signed, signed but malformed or nested 5,000 deep, wrong
   method) over keep-alive connections: the bytes the bot's log handler wrote, in its own format.
Results go to stdout and to the ``flood`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import io
import logging
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules
from common import Row, Run, listed, ms, percentile, verdict  # noqa: E402
from loadclient import run_client  # noqa: E402
from ackbot import AckBot  # noqa: E402

NAME = "flood"


class Flood:
    """Idle connections and slowloris requests held open against one port until ``stop``."""

    def __init__(self, port: int, path: str, idle: int, slow: int) -> None:
        self.address, self.path = ("127.0.0.1", port), path
        self.sockets = [socket.create_connection(self.address, timeout=5) for _ in range(idle)]
        self.slow = [socket.create_connection(self.address, timeout=5) for _ in range(slow)]
        for connection in self.slow:
            connection.sendall(f"POST {path} HTTP/1.1\r\nHost: bench\r\n".encode())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        """A byte a second on each slow request; a request the server dropped is opened again."""
        while not self._stop.wait(1.0):
            for n, connection in enumerate(self.slow):
                try:
                    connection.sendall(b"X")
                except OSError:
                    connection.close()
                    self.slow[n] = socket.create_connection(self.address, timeout=5)
                    self.slow[n].sendall(f"POST {self.path} HTTP/1.1\r\nHost: bench\r\n".encode())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self.sockets + self.slow:
            connection.close()


def acknowledgements(bot: AckBot, rate: float, seconds: float) -> dict[str, Any]:
    bot.discard_backlog()
    result = run_client({"mode": "paced", "rate": rate, "seconds": seconds, "threads": 4, "target": bot.target()},
                        "process")
    latencies = result["latencies"]
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "statuses": result["statuses"]}


def bad_requests(bot: AckBot, count: int, threads: int = 4) -> dict[str, Any]:
    """``count`` bad requests; the bytes the bot's log handler wrote meanwhile."""
    from bot.logs import setup_logging

    out = io.StringIO()
    setup_logging("INFO", [bot.receiver.secret])
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_webex_bot", False))
    handler.setStream(out)  # type: ignore[attr-defined]
    secret, path = bot.receiver.secret.encode(), bot.receiver.path
    deep = b"[" * 5000 + b"]" * 5000

    def signed(body: bytes) -> dict[str, str]:
        return {"X-Spark-Signature": hmac.new(secret, body, hashlib.sha1).hexdigest()}

    kinds: list[Callable[[int], tuple[str, bytes, dict[str, str]]]] = [
        lambda n: ("POST", b'{"n": %d}' % n, {}),
        lambda n: ("POST", b'{"n": %d}' % n, {"X-Spark-Signature": "0" * 40}),
        lambda n: ("POST", b"not json %d" % n, signed(b"not json %d" % n)),
        lambda n: ("POST", deep, signed(deep)),
        lambda n: ("POST", b'{"resource": "messages", "event": "created", "data": {"id": "../x%d"}}' % n,
                   signed(b'{"resource": "messages", "event": "created", "data": {"id": "../x%d"}}' % n)),
        lambda n: ("OPTIONS", b"", {}),
    ]
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def run(k: int) -> None:
        conn = http.client.HTTPConnection(bot.server.host, bot.server.port, timeout=15)
        for n in range(k, count, threads):
            method, body, headers = kinds[n % len(kinds)](n)
            try:
                conn.request(method, path, body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(bot.server.host, bot.server.port, timeout=15)
                status = 0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    bot.receiver.refusals.flush()
    text = out.getvalue()
    return {"bytes": len(text.encode()), "lines": text.count("\n"), "longest": max(map(len, text.splitlines()),
                                                                                     default=0),
            "statuses": statuses, "seconds": time.perf_counter() - started,
            "secret_logged": bot.receiver.secrets[1] in text or bot.receiver.secret in text, "text": text}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held open (default 1000)")
    parser.add_argument("--slow", type=int, default=50, help="slowloris requests held open (default 50)")
    parser.add_argument("--rate", type=float, default=100, help="signed deliveries per second (default 100)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of deliveries per phase (default 10)")
    parser.add_argument("--bad", type=int, default=100_000, help="bad requests for the log volume (default 100000)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    options = parser.parse_args(argv)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    run = Run()
    from bot.emulator import Emulator

    with Emulator() as emulator:
        # The workers fetch fabricated ids (404s): slow them, as in bench/receiver.py, so that what is
        # measured is the acknowledgement.
        emulator.control.inject("latency", seconds=1.0, path="/v1/messages/", method="GET")
        bot = AckBot(emulator, "Flood Bot", 100_000)
        try:
            calm = acknowledgements(bot, options.rate, options.seconds)
            flood = Flood(bot.server.port, bot.receiver.path, options.idle, options.slow)
            time.sleep(1.0)  # held open: measured once the server has taken them all in
            try:
                stormy = acknowledgements(bot, options.rate, options.seconds)
            finally:
                flood.stop()
            bot.discard_backlog()  # the fabricated deliveries' 404s would be logged in part 2
            time.sleep(1.5)  # and the fetches still running end
            logged = bad_requests(bot, options.bad)
        finally:
            bot.stop()
    logging.getLogger().handlers[:] = []
    logged.pop("text")

    def report(header: str, table: Callable[[list[Row]], str]) -> tuple[list[Row], str]:
        ratio = stormy["p99"] / calm["p99"] if calm["p99"] else float("nan")
        rows: list[Row] = [
            ("1", "ack p50 / p99, no flood (ms)", f"{ms(calm['p50'])} / {ms(calm['p99'])}", "", ""),
            ("1", f"ack p50 / p99, {options.idle} idle + {options.slow} slowloris held open (ms)",
             f"{ms(stormy['p50'])} / {ms(stormy['p99'])}", "p99 < 100", verdict(stormy["p99"] < 0.1)),
            ("1", "p99 ratio flood / no flood", f"{ratio:.2f}", "", ""),
            ("1", "statuses, flood", str(stormy["statuses"]), "all 200", verdict(set(stormy["statuses"]) == {"200"})),
            ("2", f"log bytes after {options.bad} bad requests", str(logged["bytes"]),
             "< 1 MiB" if options.bad >= 100_000 else "", verdict(logged["bytes"] < 2 ** 20)),
            ("2", "log lines / longest line (chars)", f"{logged['lines']} / {logged['longest']}", "", ""),
            ("2", "statuses of the bad requests", str(dict(sorted(logged["statuses"].items()))), "no 5xx",
             verdict(not any(s >= 500 or s == 0 for s in logged["statuses"]))),
            ("2", "a secret in the log", str(logged["secret_logged"]), "False", verdict(not logged["secret_logged"])),
        ]
        section = (f"## The receiver under a flood (`bench/flood.py`)\n\n{header}\n"
                   f"- {options.rate:g} signed deliveries/s for {options.seconds:g} s per phase, open loop from a "
                   f"child process; the bot's server settings (idle connections closed after 5 s, a request "
                   f"dropped 5 s after its first byte)\n\n{table(rows)}\n\n"
                   f"Warnings logged meanwhile:\n{listed(dict(run.logs.counts))}\n")
        return rows, section

    return run.publish(NAME, not options.no_write, report)


if __name__ == "__main__":
    sys.exit(main())
