"""Serving a WSGI app on waitress from a background thread, and stopping it promptly.

waitress is pure Python and runs alike on Linux, macOS and Windows laptops. Its loop only ends once
every connection is closed, so stopping closes the idle keep-alive connections too.

waitress wakes its loop by writing to a "trigger" (a pipe on POSIX) from other threads: each request
thread when its answer is ready, and ``stop()`` to hand the loop the closing. The loop closes the
trigger with everything else in its socket map, and neither side checks or locks: a write after the
close fails with EBADF, or, once the kernel has given the number to a new pipe or socket (the next
server's, say), lands in somebody else's file. So the trigger here is pulled and closed under one
lock and never written once closed, and ``stop()`` runs once, however many threads call it.
"""
from __future__ import annotations

import os
import socket
import threading
from typing import Any, Callable, Optional

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.trigger import trigger as WaitressTrigger


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
                 name: str = "wsgi", **options: Any) -> None:
        self._server: Any = create_server(app, host=host, port=port, threads=threads,
                                          ident=name, **options)
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
