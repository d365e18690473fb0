"""The load-generating client of bench/receiver.py: signed webhook deliveries, closed loop or paced,
and a WSGI app called directly (``app_cost``).

Standard library only, so that it starts quickly as its own process (``python bench/loadclient.py``
reads one JSON spec on stdin and writes one JSON result on stdout). In the server's process its
threads would take the same GIL as waitress and the app, and hide part of the app's cost; with
``where="thread"`` it runs in-process all the same.

A spec names a ``target`` (host, port, path, secret and a webhook ``envelope``) and a ``mode``:
``closed`` (``concurrency``, ``warmup``, ``duration``) or ``paced`` (``rate``, ``seconds``, ``threads``).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional


def iso_now() -> str:
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _message_id() -> str:
    """A fresh, well-formed Webex message id that no message has (so every delivery is new)."""
    uri = f"ciscospark://us/MESSAGE/{uuid.uuid4()}"
    return base64.b64encode(uri.encode()).decode().rstrip("=")


class Deliveries:
    """Signed webhook deliveries as the emulator (and Webex) send them, each with a new message id."""

    def __init__(self, target: dict[str, Any]) -> None:
        self.host, self.port, self.path = target["host"], target["port"], target["path"]
        self.secret = target["secret"].encode()
        self.envelope = target["envelope"]

    def next(self) -> tuple[bytes, dict[str, str]]:
        envelope = dict(self.envelope)
        envelope["data"] = {**self.envelope["data"], "id": _message_id(), "created": iso_now()}
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Webex-Emulator-Webhook",
                   "X-Spark-Signature": hmac.new(self.secret, body, hashlib.sha1).hexdigest()}
        return body, headers

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        conn.connect()
        return conn


def _send(conn: Optional[http.client.HTTPConnection], deliveries: Deliveries, body: bytes,
          headers: dict[str, str]) -> tuple[Optional[http.client.HTTPConnection], Optional[int]]:
    """POST one delivery on a keep-alive connection; (connection, status), status None on error."""
    try:
        if conn is None:
            conn = deliveries.connect()
        conn.request("POST", deliveries.path, body, headers)
        response = conn.getresponse()
        response.read()
        if response.will_close:
            conn.close()
            conn = None
        return conn, response.status
    except (OSError, http.client.HTTPException):
        if conn is not None:
            conn.close()
        return None, None


def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """``concurrency`` threads each send back to back for ``warmup`` + ``duration`` seconds."""
    deliveries = Deliveries(spec["target"])
    threads = int(spec["concurrency"])
    conns = [deliveries.connect() for _ in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    statuses: list[Counter[str]] = [Counter() for _ in range(threads)]
    answered = [0] * threads
    start = time.perf_counter() + 0.05
    warm_end = start + float(spec["warmup"])
    end = warm_end + float(spec["duration"])

    def run(k: int) -> None:
        conn: Optional[http.client.HTTPConnection] = conns[k]
        mine, seen = latencies[k], statuses[k]
        while time.perf_counter() < start:
            time.sleep(0.001)
        while True:
            body, headers = deliveries.next()
            sent = time.perf_counter()
            if sent >= end:
                break
            conn, status = _send(conn, deliveries, body, headers)
            done = time.perf_counter()
            answered[k] += 1
            if sent >= warm_end and done <= end:
                seen[str(status) if status else "error"] += 1
                if status is not None:
                    mine.append(done - sent)
        if conn is not None:
            conn.close()

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total: Counter[str] = Counter()
    for seen in statuses:
        total.update(seen)
    return {"latencies": [x for mine in latencies for x in mine], "statuses": dict(total),
            "seconds": float(spec["duration"]), "answered": sum(answered)}


def paced(spec: dict[str, Any]) -> dict[str, Any]:
    """Open loop: request i is due at t0 + i/rate, thread i % threads sends it; latency counts from
    the due time, so a stalled server is charged for the requests it made the sender hold back."""
    deliveries = Deliveries(spec["target"])
    rate, seconds, threads = float(spec["rate"]), float(spec["seconds"]), int(spec["threads"])
    total = int(rate * seconds)
    conns = [deliveries.connect() for _ in range(threads)]
    from_due: list[list[float]] = [[] for _ in range(threads)]
    service: list[list[float]] = [[] for _ in range(threads)]
    late: list[int] = [0] * threads
    statuses: list[Counter[str]] = [Counter() for _ in range(threads)]
    last_done: list[float] = [0.0] * threads
    t0 = time.perf_counter() + 0.1

    def run(k: int) -> None:
        conn: Optional[http.client.HTTPConnection] = conns[k]
        for i in range(k, total, threads):
            due = t0 + i / rate
            body, headers = deliveries.next()
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            if sent - due > 0.001:
                late[k] += 1
            conn, status = _send(conn, deliveries, body, headers)
            done = time.perf_counter()
            statuses[k][str(status) if status else "error"] += 1
            if status is not None:
                from_due[k].append(done - due)
                service[k].append(done - sent)
            last_done[k] = done
        if conn is not None:
            conn.close()

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    counts: Counter[str] = Counter()
    for seen in statuses:
        counts.update(seen)
    elapsed = max(last_done) - t0
    return {"latencies": [x for mine in from_due for x in mine],
            "service": [x for mine in service for x in mine], "statuses": dict(counts),
            "sent": total, "elapsed": elapsed, "late_sends": sum(late)}



def merge_paced(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One paced result from several pieces: latencies pooled, elapsed times and counts added."""
    statuses: Counter[str] = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    return {"latencies": [x for r in runs for x in r["latencies"]], "service": [x for r in runs for x in r["service"]],
            "statuses": dict(statuses), "sent": sum(r["sent"] for r in runs),
            "elapsed": sum(r["elapsed"] for r in runs), "late_sends": sum(r["late_sends"] for r in runs)}


def envelope(bot: dict[str, Any], person: dict[str, Any], room: dict[str, Any], url: str) -> dict[str, Any]:
    """A webhook envelope shaped like the emulator's (and Webex's) for a direct message."""
    return {"id": "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svYmVuY2g", "name": "bench", "targetUrl": url,
            "resource": "messages", "event": "created", "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9iZW5jaA",
            "createdBy": bot["id"], "appId": "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL2JlbmNo", "ownedBy": "creator",
            "status": "active", "created": iso_now(), "actorId": person["id"],
            "data": {"id": "", "roomId": room["id"], "roomType": "direct", "personId": person["id"],
                     "personEmail": person["emails"][0], "created": ""}}



def app_cost(app: Any, target: dict[str, Any], count: int) -> float:
    """CPU seconds per request of the WSGI app alone (no server, no sockets), on this thread."""
    from werkzeug.test import EnvironBuilder

    deliveries = Deliveries(target)
    environs = []
    for _ in range(count):
        body, headers = deliveries.next()
        builder = EnvironBuilder(path=target["path"], method="POST", data=body, headers=list(headers.items()))
        environs.append(builder.get_environ())
    statuses: Counter[str] = Counter()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses[status[:3]] += 1

    started = time.thread_time()
    for environ in environs:
        for _chunk in app(environ, start_response):
            pass
    spent = time.thread_time() - started
    if set(statuses) != {"200"}:
        raise RuntimeError(f"the app answered {dict(statuses)} to well-formed deliveries")
    return spent / count


def run_client(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """Run one load spec in a child process (``process``) or in threads of this process (``thread``)."""
    if where == "thread":
        return closed_loop(spec) if spec["mode"] == "closed" else paced(spec)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve())], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"the load client failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def main() -> int:
    spec = json.loads(sys.stdin.read())
    result = closed_loop(spec) if spec["mode"] == "closed" else paced(spec)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
