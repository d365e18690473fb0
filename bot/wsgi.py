"""Serving a WSGI app on waitress from a background thread, and stopping it promptly.

waitress is pure Python and runs alike on Linux, macOS and Windows laptops. Its loop only ends once
every connection is closed, so stopping closes the idle keep-alive connections too.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from waitress import wasyncore
from waitress.server import create_server


class BackgroundServer:
    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0, threads: int = 8,
                 name: str = "wsgi", **options: Any) -> None:
        self._server: Any = create_server(app, host=host, port=port, threads=threads,
                                          ident=name, **options)
        self.host = host
        self.port = int(self._server.effective_port)  # waitress gives it as a string
        self._thread: Optional[threading.Thread] = None
        self._name = name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        self._thread = threading.Thread(target=self._server.run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, end open connections and wait for the server thread."""
        server = self._server
        if self._thread is not None and self._thread.is_alive():
            # Closed from the loop's own thread, so no connection is torn down mid-write.
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            self._thread.join(timeout)
        server.task_dispatcher.shutdown()
