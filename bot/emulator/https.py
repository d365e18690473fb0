"""Serving the emulator's app over HTTPS from a background thread.

waitress (``bot/wsgi.py``, the plain-HTTP server) speaks no TLS. cheroot (CherryPy's pure-Python
WSGI server, in the ``tls`` extra) does, with keep-alive: a client's connection serves call after
call, as Webex's API does, so a client is charged one TLS handshake per connection, not one per call
(werkzeug's server closes the connection after every response). It shakes hands as it accepts, so
a client that connects over TLS and says nothing holds up the next one for up to ``TIMEOUT`` s: fine
for a local emulator, whose clients are tests and benchmarks.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

TIMEOUT = 10  # seconds a connection may stay silent mid-request or in its handshake
THREADS = 64  # handler threads: a latency fault sleeps in one, and Webex serves far more calls at once
BACKLOG = 1024  # connections waiting to be accepted (cheroot's 5 drops a burst's, each retried 1 s later)
KEPT_ALIVE = 1024  # idle keep-alive connections kept open (cheroot's 10 would close a busy client's others)


class HttpsServer:
    """``app`` on ``https://host:port`` (``port`` 0 picks a free one), the same way round as ``BackgroundServer``.

    ``pem_file`` holds the server's private key and its certificate chain.
    """

    def __init__(self, app: Callable[..., Any], host: str, port: int, pem_file: str, name: str = "https") -> None:
        try:
            from cheroot import wsgi
            from cheroot.ssl.builtin import BuiltinSSLAdapter
        except ImportError:
            raise RuntimeError("TLS for the emulator needs the cheroot package: "
                               "pip install 'webex-laptop-bot[tls]'") from None
        self._server = wsgi.Server((host, port), app, numthreads=THREADS, server_name=name, timeout=TIMEOUT,
                                   request_queue_size=BACKLOG)
        self._server.ssl_adapter = BuiltinSSLAdapter(pem_file, pem_file)
        self._server.keep_alive_conn_limit = KEPT_ALIVE
        self._server.prepare()  # binds now, so a port in use fails here and ``port`` is known
        self.host = host
        self.port: int = self._server.bind_addr[1]
        self._thread = threading.Thread(target=self._server.serve, name=name, daemon=True)

    def start(self) -> "HttpsServer":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and end the open connections; wait for the server thread at most ``timeout`` s."""
        self._server.stop()
        self._thread.join(timeout)
