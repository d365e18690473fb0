"""A flood cannot deafen the receiver: 1,000 idle connections and 50 slowloris requests held open,
and signed deliveries are still answered; the idle and slow connections are closed after seconds.

How fast the acknowledgements stay under the same flood is measured in bench/flood.py.
"""
from __future__ import annotations

import socket
import time
from typing import Iterator

import pytest

from bot.runner import RECEIVER_IDLE_TIMEOUT, RECEIVER_REQUEST_DEADLINE
from bot.testing import Chat
from support import until

IDLE, SLOW = 1000, 50


def closed_by_peer(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


@pytest.fixture
def many_files() -> Iterator[None]:
    """Room for two thousand sockets (both ends live in this process)."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_and_slow_connections_neither_deafen_the_bot_nor_stay(many_files: None, testbot: Chat) -> None:
    assert testbot.runner is not None and testbot.runner.server is not None
    address = ("127.0.0.1", testbot.runner.server.port)
    path = testbot.runner.receiver.path if testbot.runner.receiver else "/"
    idle = [socket.create_connection(address, timeout=5) for _ in range(IDLE)]
    slow = [socket.create_connection(address, timeout=5) for _ in range(SLOW)]
    for connection in slow:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode())
    try:
        started = time.monotonic()
        for n in range(10):
            for connection in slow:  # a byte now and then keeps a slowloris request "active"
                connection.sendall(b"X")
            testbot.say(f"echo through the flood {n}")
            assert testbot.reply(timeout=20) == f"through the flood {n}"
        for connection in idle + slow:
            connection.setblocking(False)
        # Each kind is closed by the server, within a few seconds of its limit.
        until(lambda: all(closed_by_peer(c) for c in idle), "the idle connections to be closed",
              timeout=RECEIVER_IDLE_TIMEOUT + 15)
        until(lambda: all(closed_by_peer(c) for c in slow), "the slow requests to be dropped",
              timeout=RECEIVER_REQUEST_DEADLINE + 15)
        assert time.monotonic() - started < 60
        testbot.say("echo after the flood")
        assert testbot.reply() == "after the flood"
    finally:
        for connection in idle + slow:
            connection.close()
