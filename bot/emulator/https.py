"""Serving the emulator's app over HTTPS from a background thread.

waitress (``bot/wsgi.py``, the plain-HTTP server) speaks no TLS, and putting TLS under its
non-blocking loop would mean writing a TLS layer for it. werkzeug's threaded server takes an
``ssl.SSLContext`` and comes with Flask, so it adds no dependency; it is a server for development,
which is what a local emulator is. Two things are changed for it, in subclasses:

- the TLS handshake runs in each connection's own thread, on its first read, instead of in
  ``accept()`` on the serving thread (werkzeug's way), where one client that connects and says
  nothing would stall every other;
- ``stop()`` ends the open keep-alive connections too, so no client goes on talking to a stopped
  emulator, and an idle connection is closed after ``IDLE_TIMEOUT`` seconds.

Requests are not logged (the traffic log records them). A port in use makes werkzeug print why
and exit.
"""
from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, Callable, Optional

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

IDLE_TIMEOUT = 120.0


class _Handler(WSGIRequestHandler):
    timeout = IDLE_TIMEOUT
    server: "_TlsServer"

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Not logged: the emulator's traffic log has every call."""


class _TlsServer(ThreadedWSGIServer):
    """werkzeug's threaded server, whose connections shake hands in their own threads."""

    def __init__(self, host: str, port: int, app: Callable[..., Any], context: ssl.SSLContext) -> None:
        super().__init__(host, port, app, handler=_Handler)
        self.ssl_context = context  # werkzeug reads it for the URL scheme and to tell TLS errors apart
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        return self.ssl_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def end_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:  # already gone
                pass


class HttpsServer:
    """``app`` on ``https://host:port`` (``port`` 0 picks a free one), the same way round as ``BackgroundServer``."""

    def __init__(self, app: Callable[..., Any], host: str, port: int, context: ssl.SSLContext,
                 name: str = "https") -> None:
        self._server = _TlsServer(host, port, app, context)
        self.host = host
        self.port: int = self._server.port
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def start(self) -> "HttpsServer":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and end the open connections; wait for the server thread at most ``timeout`` s."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout)
        self._server.server_close()
        self._server.end_connections()
