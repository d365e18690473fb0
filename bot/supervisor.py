"""The supervisor: keeps the path from Webex to the receiver working, and repairs it when it breaks.

Every health interval it asks three things: does the tunnel's process run, does a signed probe sent to
the public URL come back through our own receiver, are our webhooks still there and active. A broken
tunnel is restarted (with backoff and jitter) and the webhooks pointed at its new URL; a webhook Webex
switched off is re-activated; a deleted one is made again. After each repair, catch-up answers what
arrived meanwhile. One log line per repair. Too many failed repairs in a row hand over to
``on_give_up`` (the websocket fallback).
"""
from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from typing import Callable, Optional

import requests

from .metrics import Metrics
from .network import Network
from .receiver import PROBE_RESOURCE, Receiver, expected_signature
from .tunnels import Tunnel
from .webhooks import Webhooks

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, *, tunnel: Tunnel, port: int, receiver: Receiver, webhooks: Webhooks, interval: float,
                 catch_up: Callable[[], int], on_give_up: Optional[Callable[[str], None]] = None,
                 max_failures: int = 3, probe_timeout: float = 5.0, network: Optional[Network] = None,
                 metrics: Optional[Metrics] = None) -> None:
        self.tunnel = tunnel
        self.port = port
        self.receiver = receiver
        self.webhooks = webhooks
        self.interval = interval
        self.catch_up = catch_up
        self.on_give_up = on_give_up
        self.max_failures = max_failures
        self.probe_timeout = probe_timeout
        self.metrics = metrics or Metrics()
        self._http = (network or Network()).session()  # the public URL is outside: through the proxy, if any
        self.public_url: Optional[str] = None
        self.failures = 0
        self.repairs = 0
        self._missed = False  # a repair was made and its catch-up has not yet succeeded
        self._stop = threading.Event()
        self._now = threading.Event()  # check_now() asked; set by stop() too, so the wait ends at once
        self._thread: Optional[threading.Thread] = None

    @property
    def target_url(self) -> str:
        assert self.public_url is not None
        return self.public_url.rstrip("/") + self.receiver.path

    def bring_up(self) -> str:
        """Start the tunnel and point our webhooks at it (raises TunnelError)."""
        self.public_url = self.tunnel.start(self.port)
        log.info("public URL: %s (%s)", self.public_url, self.tunnel.name)
        for change in self.webhooks.sync(self.target_url):
            log.info("%s", change)
        if not self.tunnel.restartable and not self.probe():
            log.warning("%s does not reach the bot yet: check that your reverse proxy forwards it to port %d",
                        self.public_url, self.port)
        return self.public_url

    def start(self, catch_up_first: bool = False) -> "Supervisor":
        """Check every interval from now on; ``catch_up_first`` catches up at once, off the caller's
        thread, so the bot's start does not wait for it."""
        self._missed = catch_up_first
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()
        return self

    def check_now(self) -> None:
        """Run the next health check at once, on the supervisor's thread: after a sleep or a network
        change the tunnel's session may be gone long before the interval says to look."""
        self._now.set()

    def stop(self, stop_tunnel: bool = True) -> None:
        self._stop.set()
        self._now.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if stop_tunnel:
            self.tunnel.stop()

    def _loop(self) -> None:
        if self._missed:
            self._catch_up()
        while not self._stop.is_set():
            self._now.wait(self._next_wait())
            self._now.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except Exception:
                log.exception("health check failed unexpectedly")
            if self.failures >= self.max_failures and self.on_give_up is not None:
                self.on_give_up(f"the {self.tunnel.name} tunnel failed {self.failures} repairs in a row")
                return

    def _next_wait(self) -> float:
        """The health interval, backing off (with jitter) while repairs keep failing."""
        if not self.failures:
            return self.interval
        return min(self.interval * 2 ** self.failures, max(self.interval, 60.0)) * random.uniform(0.8, 1.2)

    def check(self) -> list[str]:
        """One health check and whatever repair it calls for; returns the repairs made."""
        problem = None
        if not self.tunnel.alive():
            problem = f"the {self.tunnel.name} agent is not running"
        elif not self.probe():
            problem = "the public URL does not reach the bot"
        if problem and not self.tunnel.restartable:
            self.failures += 1
            log.warning("%s does not reach the bot (%d checks in a row): check your reverse proxy",
                        self.public_url, self.failures)
            return []
        try:
            if problem:
                repairs = [self._restart_tunnel(problem)]
            else:
                repairs = self.webhooks.sync(self.target_url)
                if repairs:
                    log.info("repaired: %s", "; ".join(repairs))
        except Exception as exc:  # TunnelError, or Webex failing while the webhooks are synced
            self.failures += 1
            log.warning("repair failed (%d in a row): %s", self.failures, exc)
            return []
        self.failures = 0
        if repairs:
            self.repairs += len(repairs)
            self._missed = True
        if self._missed:
            self._catch_up()
        return repairs

    def _catch_up(self) -> None:
        """Answer what came while the path was broken; a failed catch-up is tried again next check, or
        those messages would only be looked for after another repair."""
        try:
            self.catch_up()
        except Exception as exc:  # Webex failing: the messages wait for the next check
            log.warning("catch-up failed, trying again at the next check: %s", exc)
            return
        self._missed = False

    def _restart_tunnel(self, problem: str) -> str:
        self.tunnel.stop()
        self.metrics.tunnel_restarted()
        old = self.public_url
        self.public_url = self.tunnel.start(self.port)
        changes = self.webhooks.sync(self.target_url)
        moved = "same URL" if self.public_url == old else f"new URL {self.public_url}"
        line = f"repaired: {problem}; tunnel restarted ({moved})"
        if changes:
            line += "; " + "; ".join(changes)
        log.info("%s", line)
        return line

    def probe(self) -> bool:
        """Send a signed probe through the public URL; True when our own receiver answered it."""
        body = json.dumps({"resource": PROBE_RESOURCE, "id": str(uuid.uuid4())}).encode()
        try:
            answer = self._http.post(self.target_url, data=body, timeout=self.probe_timeout, headers={
                "Content-Type": "application/json",
                "X-Spark-Signature": expected_signature(self.receiver.secret, body)})
            return answer.status_code == 200 and answer.json().get("status") == "probe"
        except (requests.RequestException, ValueError):
            return False
