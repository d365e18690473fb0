"""Serving a WSGI app on waitress from a background thread, and stopping it promptly.

waitress is pure Python and runs alike on Linux, macOS and Windows laptops. Its loop only ends once
every connection is closed, so stopping closes the idle keep-alive connections too.

waitress wakes its loop by writing to a "trigger" (a pipe on POSIX) from other threads: each request
thread when its answer is ready, and ``stop()`` to hand the loop the closing. The loop closes the
trigger with everything else in its socket map, and neither side checks or locks: a write after the
close fails with EBADF, or, once the kernel has given the number to a new pipe or socket (the next
server's, say), lands in somebody else's file. So the trigger here is pulled and closed under one
lock and never written once closed, and ``stop()`` runs once, however many threads call it.

A server on a public URL must also not be deafened by connections that say nothing (waitress keeps
an idle one 120 s and accepts 100 in all) or that send a request a byte at a time (slowloris): the
server here accepts as many connections as the process may open, up to a few thousand, watches them
with poll() rather than select() (which stops at 1024), closes idle ones after ``idle_timeout``
and drops a request not complete within ``request_deadline`` of its first byte. A connection
holds no thread until its request is complete, so none of them keeps a signed delivery waiting.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any, Callable, Optional

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.trigger import trigger as WaitressTrigger

MAX_CONNECTIONS = 4096


def connection_limit() -> int:
    """As many connections as the process may open, leaving room for its other files."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to read
        return MAX_CONNECTIONS
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(50, min(MAX_CONNECTIONS, soft - 100)) if soft != resource.RLIM_INFINITY else MAX_CONNECTIONS


class _TimedChannel(HTTPChannel):
    """A connection that remembers when the request it is reading began."""

    request_began: Optional[float] = None

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_began = time.time()
        try:
            return bool(super().received(data))
        finally:
            if self.request is None:
                self.request_began = None


class _GuardedServer(TcpWSGIServer):
    """waitress's server whose regular clean-up also drops requests that take too long to arrive."""

    channel_class = _TimedChannel
    request_deadline: Optional[float] = None

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        if self.request_deadline is None:
            return
        cutoff = now - self.request_deadline
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.requests:
                channel.will_close = True


class _GuardedTrigger(WaitressTrigger):
    """waitress's trigger, pulled and closed under one lock, and inert once closed."""

    def __init__(self, socket_map: dict[int, Any]) -> None:
        self._guard = threading.Lock()
        super().__init__(socket_map)
        if isinstance(self.trigger, int):  # POSIX: a full pipe must not block a pull while close() waits
            os.set_blocking(self.trigger, False)

    def wake(self, thunk: Callable[[], None]) -> bool:
        """Have the loop thread run ``thunk``; False when the trigger is closed, so nothing will."""
        with self.lock:
            self.thunks.append(thunk)
        return self._pull()

    def _physical_pull(self) -> None:
        self._pull()

    def _pull(self) -> bool:
        with self._guard:
            if self._closed:
                return False
            try:
                super()._physical_pull()
            except BlockingIOError:  # full of wake-ups the loop has not read yet: one more adds nothing
                pass
            return True

    def close(self) -> None:
        with self._guard:
            super().close()


class BackgroundServer:
    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0, threads: int = 8,
                 name: str = "wsgi", *, idle_timeout: float = 120.0, request_deadline: Optional[float] = None,
                 **options: Any) -> None:
        """``options`` are waitress's adjustments; the two timeouts are in seconds."""
        adj = Adjustments(host=host, port=port, threads=threads, ident=name, channel_timeout=idle_timeout,
                          cleanup_interval=max(1, min(30, int(idle_timeout / 2))), asyncore_use_poll=True,
                          connection_limit=connection_limit(), **options)
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        self._server: Any = _GuardedServer(app, {}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
        self._server.request_deadline = request_deadline
        # No loop and no connection has used waitress's own trigger yet: swap it for the guarded one.
        self._server.trigger.close()
        self._trigger = self._server.trigger = _GuardedTrigger(self._server._map)
        self.host = host
        self.port = int(self._server.effective_port)  # waitress gives it as a string
        self._thread: Optional[threading.Thread] = None
        self._name = name
        self._lock = threading.Lock()
        self._stopping = False
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        with self._lock:
            if self._stopping:
                raise RuntimeError(f"{self._name} was stopped: make a new server")
            self._thread = threading.Thread(target=self._server.run, name=self._name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, end open connections and wait for the server thread (at most ``timeout`` s).

        Idempotent: a second call, or one racing the first, waits for the first to finish instead of
        closing anything again.
        """
        with self._lock:
            first, self._stopping = not self._stopping, True
            thread = self._thread
        if not first:
            self._stopped.wait(timeout)
            return
        try:
            if thread is not None and thread.is_alive():
                # Closed from the loop's own thread, so no connection is torn down mid-write.
                if not self._trigger.wake(self._close_all):
                    self._end_connections()
                thread.join(timeout)
            if thread is None or not thread.is_alive():
                self._close_all()  # never started, or ended: no loop to race, and nothing left if it closed
            self._server.task_dispatcher.shutdown()
        finally:
            self._stopped.set()

    def _close_all(self) -> None:
        """Close the listening socket, the connections and the trigger: the map holds only the server's own."""
        wasyncore.close_all(self._server._map)

    def _end_connections(self) -> None:
        """The loop closed its trigger itself and so cannot be woken (waitress closes the server, trigger
        and all, when the listening socket's handler raises, while open connections keep the loop
        running): shut the connections down without closing them under the loop, which then sees each
        one end, closes it and, its map empty, returns."""
        for channel in list(self._server._map.values()):
            connection = getattr(channel, "socket", None) if isinstance(channel, HTTPChannel) else None
            if connection is not None:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:  # already gone
                    pass
