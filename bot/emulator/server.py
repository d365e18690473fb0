"""The running emulator: one Flask app on a real WSGI server, plus the device websocket server."""
from __future__ import annotations

import time
from functools import cached_property
from typing import Any, Optional

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from ..wsgi import BackgroundServer
from .chat import create_chat_blueprint
from .client import ControlClient
from .client_metrics import ClientMetrics, create_metrics_blueprint
from .control import create_control_blueprint
from .conversations import create_conversations_blueprint
from .delivery import Deliverer
from .faults import Faults
from .http import error_response, token_owner
from .https import THREADS as HTTP_THREADS, HttpsServer
from .incoming import IncomingRoutes
from .mercury import Mercury
from .rest import create_rest_blueprint
from .settings import Settings
from .store import Store
from .tls import Authority
from .traffic import Traffic
from .urls import CONTROL_PATH, Urls
from .wdm import create_wdm_blueprint


def create_app(emulator: "Emulator") -> Flask:
    """Every service on one app; faults and the traffic log apply to all but the control API."""
    app = Flask("bot.emulator")
    app.config["MAX_CONTENT_LENGTH"] = 100 * 1024 * 1024
    store, mercury, urls = emulator.store, emulator.mercury, emulator.urls
    app.register_blueprint(create_rest_blueprint(store, emulator.settings))
    app.register_blueprint(create_control_blueprint(store, emulator.settings, emulator.faults, emulator.traffic,
                                                    emulator.deliverer, mercury, urls, emulator.incoming))
    app.register_blueprint(create_wdm_blueprint(store, mercury, emulator.settings, urls))
    app.register_blueprint(create_conversations_blueprint(store, urls, emulator.settings))
    app.register_blueprint(create_metrics_blueprint(emulator.client_metrics))
    app.register_blueprint(create_chat_blueprint(store, emulator.traffic, emulator.deliverer, emulator.incoming))

    @app.before_request
    def inject_faults() -> Optional[Response]:
        g.started = time.perf_counter()
        if request.path.startswith(CONTROL_PATH):
            return None
        return emulator.faults.apply(request.method, request.path)

    @app.after_request
    def record_call(response: Response) -> Response:
        if not request.path.startswith(CONTROL_PATH):
            who = g.get("caller") or token_owner(emulator.store)
            emulator.traffic.record(
                method=request.method, path=request.path, query=request.query_string.decode(),
                status=response.status_code, caller=who.id if who else None,
                millis=(time.perf_counter() - g.get("started", time.perf_counter())) * 1000,
                request_body=request.get_data(cache=True) if request.mimetype == "application/json" else b"",
                request_type=request.mimetype,
                response_body=response.get_data() if not response.direct_passthrough else b"",
                response_type=response.mimetype or "")
        return response

    @app.errorhandler(HTTPException)
    def webex_error(exc: HTTPException) -> Response:
        return error_response(exc.code or 500, exc.description or exc.name)

    return app


class Emulator:
    """A local Webex on loopback ports, for tests, benchmarks and the sandbox.

    Use it as a context manager; ``control`` is a client of its control API. With ``tls`` it serves
    ``https://`` and ``wss://`` only, with a certificate of an authority made for the run, whose
    certificate is in ``ca_file`` while it runs (see ``tls.py``).

    ``public_host`` and ``websocket_host`` are the names it hands out in place of ``host`` (the device
    websocket's URLs take ``websocket_host``, else ``public_host``): a test of the bot behind a forward
    proxy with the direct route closed gives names only the proxy resolves. It still listens on
    ``host``, and ``local_url`` and the control client use ``host``, since the test process cannot
    resolve those names.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, settings: Optional[Settings] = None,
                 *, tls: bool = False, public_host: Optional[str] = None,
                 websocket_host: Optional[str] = None) -> None:
        self.host = host
        self.public_host = public_host or host
        self.websocket_host = websocket_host or self.public_host
        self.port = port
        self.tls = tls
        self.store = Store()
        self.settings = settings or Settings()
        self.faults = Faults()
        self.traffic = Traffic()
        self.client_metrics = ClientMetrics()
        self.deliverer = Deliverer(self.store, self.settings)
        self.incoming = IncomingRoutes(self.traffic, self.settings)
        self.urls = Urls(lambda: self.url)
        self.mercury = Mercury(self.store, self.settings, host, lambda: self.urls.conversation,
                               public_host=self.websocket_host)
        self.app = create_app(self)
        self._server: Optional[BackgroundServer | HttpsServer] = None
        self._authority: Optional[Authority] = None

    @property
    def url(self) -> str:
        """The root of every URL handed out to clients, on ``public_host``."""
        return f"{self.scheme}://{self.public_host}:{self.port}"

    @property
    def local_url(self) -> str:
        """The same root on the listening ``host``: what this process reaches it at, names resolved or not."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def ca_file(self) -> Optional[str]:
        """The PEM file of the certificate authority clients must trust; None without TLS or when stopped."""
        return self._authority.ca_file if self._authority is not None else None

    @property
    def api_url(self) -> str:
        """What ``WebexAPI(base_url=...)`` takes: the REST root, with its trailing slash."""
        return self.urls.api

    @property
    def u2c_url(self) -> str:
        return self.urls.u2c_catalog

    @property
    def ws_url(self) -> str:
        """The root of the device websocket server (``ws://``, or ``wss://`` with TLS; each device's URL is
        in its registration)."""
        return self.mercury.url

    @property
    def chat_url(self) -> str:
        """The chat page: talk to the bot as a person and watch its webhooks and REST calls."""
        return self.urls.chat

    @property
    def control_url(self) -> str:
        """The control API, on the listening host: tests drive it directly, never through a proxy."""
        return f"{self.local_url}{CONTROL_PATH}"

    @cached_property
    def control(self) -> ControlClient:
        return ControlClient(self.control_url, verify=self.ca_file or True)

    def start(self) -> "Emulator":
        context = None
        if self.tls:
            self._authority = Authority(self.host, self.public_host, self.websocket_host)
            context = self._authority.server_context()
            try:
                self._server = HttpsServer(self.app, self.host, self.port, self._authority.server_pem(),
                                           name="webex-emulator")
            except BaseException:  # the port is in use, say: leave no CA folder behind
                self.stop()
                raise
        else:
            self._server = BackgroundServer(self.app, self.host, self.port, threads=HTTP_THREADS,
                                            name="webex-emulator")
        self.port = self._server.port
        self.store.base_url = self.url
        self._server.start()
        self.mercury.start(context)
        return self

    def stop(self) -> None:
        self.mercury.stop()
        self.deliverer.close()
        if self._server is not None:
            self._server.stop()
        if self._authority is not None:
            self._authority.remove()
            self._authority = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
