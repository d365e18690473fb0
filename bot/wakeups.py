"""Wake-ups: notice that the machine slept, or moved to another network, and say so once.

A laptop whose lid closed is frozen: its websocket may be dead without knowing it, the tunnel's session
may have expired, and messages came meanwhile. Nothing inside the process sees the time go by, but
the clocks do: on Linux the monotonic clock stops while the machine is suspended and the wall clock
does not, so a tick that finds the wall clock far ahead of the monotonic one (or either far beyond
the interval: a stopped process, a platform whose monotonic clock counts sleep) means a sleep. A new
set of local addresses means another network, where the old connections are just as dead.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable, Optional

log = logging.getLogger(__name__)
# Documentation addresses (TEST-NET-1, 2001:db8::): a UDP connect() to one only picks the route and
# the local address it would use; nothing is sent.
ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))


def local_addresses() -> frozenset[str]:
    """This machine's addresses: its host name's, and those its routes out would use; never raises."""
    found: set[str] = set()
    try:
        found.update(str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None))
    except (OSError, UnicodeError):
        pass
    for family, address in ROUTE_PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((address, 9))
                found.add(str(probe.getsockname()[0]))
        except OSError:  # no route of that family: offline, or no IPv6
            continue
    return frozenset(found)


class Wakeups:
    """Every ``interval`` seconds, compare the clocks and the addresses; the clocks and the address
    lookup are arguments so that a test makes a sleep by moving a clock, not by sleeping a machine."""

    def __init__(self, *, interval: float = 5.0, threshold: float = 30.0, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 addresses: Callable[[], frozenset[str]] = local_addresses) -> None:
        self.interval = interval
        self.threshold = threshold
        self.wall = wall
        self.monotonic = monotonic
        self.addresses = addresses
        self._clocks: Optional[tuple[float, float]] = None
        self._known: Optional[frozenset[str]] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self, on_wake: Callable[[str], None]) -> "Wakeups":
        """Watch from a thread of its own; ``on_wake`` is called with the reason, once a wake-up."""
        self._thread = threading.Thread(target=self._loop, args=(on_wake,), name="wakeups", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self, on_wake: Callable[[str], None]) -> None:
        self.check()
        while not self._stop.wait(self.interval):
            reason = self.check()
            if reason is None:
                continue
            try:
                on_wake(reason)
            except Exception:
                log.exception("checking the connections after a wake-up failed unexpectedly")
            self._clocks = self.wall(), self.monotonic()  # the time on_wake took is no sleep

    def check(self) -> Optional[str]:
        """One look: why the connections need checking (a sleep wins over a new network), or None.
        The first look only takes the measure."""
        wall, monotonic = self.wall(), self.monotonic()
        reason = None
        if self._clocks is not None:
            missed = max(wall - self._clocks[0], monotonic - self._clocks[1]) - self.interval
            if missed > self.threshold:
                reason = f"the machine slept for about {missed:.0f} s"
        addresses = self.addresses()
        if self._known is not None and addresses != self._known and reason is None:
            reason = f"the network changed (addresses {_listed(self._known)} -> {_listed(addresses)})"
        self._known = addresses
        # Measured after the lookup: a slow name lookup is no sleep either.
        self._clocks = self.wall(), self.monotonic()
        return reason


def _listed(addresses: frozenset[str]) -> str:
    return ", ".join(sorted(addresses)) or "none"
