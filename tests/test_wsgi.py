"""BackgroundServer: stopped once however many threads ask, and never writing to a descriptor it closed."""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterator

import pytest
import requests

from bot.wsgi import BackgroundServer
from support import until


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"hi"]


def refused(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False


def inode(fd: int) -> tuple[int, int]:
    stat = os.fstat(fd)
    return stat.st_dev, stat.st_ino


def descriptors(server: BackgroundServer) -> dict[int, tuple[int, int]]:
    """The server's own descriptors (listening socket, trigger pipe and its copy), each with its inode."""
    waitress = server._server
    numbers = [waitress.socket.fileno(), waitress.trigger.socket.fileno(), *waitress.trigger._fds]
    return {fd: inode(fd) for fd in numbers}


def closed(owned: dict[int, tuple[int, int]]) -> bool:
    """Whether every one of ``owned`` is closed: gone, or its number now another file's."""
    def gone(fd: int, was: tuple[int, int]) -> bool:
        try:
            return inode(fd) != was
        except OSError:
            return True
    return all(gone(fd, was) for fd, was in owned.items())


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    started = BackgroundServer(hello, threads=2, name="test-wsgi").start()
    yield started
    started.stop(2)


def test_stop_twice_closes_once(server: BackgroundServer) -> None:
    owned = descriptors(server)
    assert requests.get(server.url, timeout=5).text == "hi"
    server.stop(2)
    server.stop(2)
    assert server._thread is not None and not server._thread.is_alive()
    assert closed(owned) and refused(server.url)


def test_stops_racing_each_other_all_return_and_close_once() -> None:
    for _ in range(20):
        server = BackgroundServer(hello, threads=2, name="test-wsgi").start()
        owned = descriptors(server)
        with requests.Session() as keep_alive:  # an open connection: the loop closes it too
            assert keep_alive.get(server.url, timeout=5).text == "hi"
            barrier = threading.Barrier(6)
            failures: list[BaseException] = []

            def stop() -> None:
                barrier.wait()
                try:
                    server.stop(2)
                except BaseException as exc:  # noqa: B902 (any failure fails the test)
                    failures.append(exc)

            stoppers = [threading.Thread(target=stop) for _ in range(6)]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join(10)
        assert failures == [] and not any(s.is_alive() for s in stoppers)
        assert server._thread is not None and not server._thread.is_alive()
        assert closed(owned) and refused(server.url)


def test_a_server_never_started_closes_what_it_opened() -> None:
    server = BackgroundServer(hello, name="test-wsgi")
    owned = descriptors(server)
    server.stop(1)
    assert closed(owned)
    with pytest.raises(RuntimeError, match="was stopped"):
        server.start()


def test_a_trigger_the_loop_closed_itself_is_not_written_and_stop_still_ends_the_loop() -> None:
    """waitress closes the server and its trigger when its listening socket's handler raises, and an open
    connection keeps the loop running; the kernel then hands the freed numbers to the next pipe."""
    server = BackgroundServer(hello, threads=2, name="test-wsgi").start()
    trigger = server._server.trigger
    with requests.Session() as keep_alive:
        assert keep_alive.get(server.url, timeout=5).text == "hi"
        assert trigger.wake(server._server.close)
        until(lambda: trigger._closed, "the loop to close its server and trigger")
        reused = [os.pipe() for _ in range(4)]  # likely given the trigger's old numbers
        try:
            server.stop(5)
            assert server._thread is not None and not server._thread.is_alive(), "stop ended the loop"
            for read_end, _ in reused:
                os.set_blocking(read_end, False)
                with pytest.raises(BlockingIOError):  # nothing was written into another file
                    os.read(read_end, 1)
        finally:
            for pair in reused:
                for fd in pair:
                    os.close(fd)
