"""Operations: the bot's counters for Prometheus, and ``/healthz``, on a port of their own.

``--metrics-port`` (off by default; 127.0.0.1 unless ``--metrics-host``) serves ``/metrics`` through
the ``prometheus_client`` package (the ``metrics`` extra) and ``/healthz`` (200 when the bot can receive
and answer, 503 with the reason otherwise), for a process supervisor, a load balancer or Kubernetes'
probes. It is never the tunnelled port: nothing on it is meant for the internet.

Without a metrics port every call here is an attribute check, and ``prometheus_client`` is never
imported: an idle laptop bot pays nothing for it. A registry of its own per bot, not the package's
global one, so that several bots in one process (the tests) each count their own.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Optional

Health = Callable[[], tuple[bool, str]]  # (can receive and answer, why not)
PREFIX = "webex_bot"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """What the bot counts; each method a no-op when the metrics are off."""

    def __init__(self, enabled: bool = False) -> None:
        self.registry: Any = None
        if not enabled:
            return
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        except ImportError:
            from .errors import ConfigError

            raise ConfigError("--metrics-port needs the prometheus_client package: "
                              "pip install 'webex-laptop-bot[metrics]'") from None
        self.registry = registry = CollectorRegistry()

        def counter(name: str, what: str, labels: Iterable[str] = ()) -> Any:
            return Counter(f"{PREFIX}_{name}", what, list(labels), registry=registry)

        self._received = counter("events_received", "Events handed to the bot, by transport", ["transport"])
        self._duplicates = counter("duplicates_dropped", "Events dropped as seen already (redeliveries, "
                                                         "the other transport's or instance's copy)")
        self._answered = counter("answered", "Messages and card submits handled to the end")
        self._handler_errors = counter("handler_errors", "Handlers that raised")
        self._webex_calls = counter("webex_calls", "Webex REST calls, by outcome (HTTP status or 'error')",
                                    ["status"])
        self._tunnel_restarts = counter("tunnel_restarts", "Times the supervisor restarted the tunnel")
        self._reconnects = counter("websocket_reconnects", "Device websocket connections after the first")
        self._takeovers = counter("claim_takeovers", "Events claimed from an instance whose lease ran out")
        self._latency = Histogram(f"{PREFIX}_handler_seconds", "Time from an event's start to its end",
                                  buckets=LATENCY_BUCKETS, registry=registry)
        self._queue = Gauge(f"{PREFIX}_queue_depth", "Events and jobs waiting or running", registry=registry)

    @property
    def enabled(self) -> bool:
        return self.registry is not None

    def received(self, transport: str) -> None:
        if self.enabled:
            self._received.labels(transport=transport).inc()

    def duplicate(self) -> None:
        if self.enabled:
            self._duplicates.inc()

    def answered(self, seconds: float) -> None:
        if self.enabled:
            self._answered.inc()
            self._latency.observe(seconds)

    def handler_failed(self) -> None:
        if self.enabled:
            self._handler_errors.inc()

    def webex_call(self, status: str) -> None:
        if self.enabled:
            self._webex_calls.labels(status=status).inc()

    def tunnel_restarted(self) -> None:
        if self.enabled:
            self._tunnel_restarts.inc()

    def websocket_reconnected(self) -> None:
        if self.enabled:
            self._reconnects.inc()

    def claim_taken_over(self) -> None:
        if self.enabled:
            self._takeovers.inc()

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue's depth at each scrape rather than count it on every event."""
        if self.enabled:
            self._queue.set_function(lambda: float(depth()))


def metrics_app(metrics: Metrics, health: Health) -> Callable[..., Any]:
    """The WSGI app of the metrics port: ``/metrics``, ``/healthz``, and 404 for anything else."""
    from prometheus_client import make_wsgi_app

    exporter = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return exporter(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            healthy, reason = health()
            body = json.dumps({"status": "ok" if healthy else "unhealthy", "reason": reason}).encode()
            start_response("200 OK" if healthy else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]

    return app


class MetricsServer:
    """``metrics_app`` on its own port, on the bot's waitress server class."""

    def __init__(self, metrics: Metrics, health: Health, host: str, port: int) -> None:
        from .errors import StartupError
        from .wsgi import BackgroundServer

        try:
            self.server = BackgroundServer(metrics_app(metrics, health), host, port, threads=2, name="metrics")
        except OSError as exc:
            raise StartupError(f"cannot serve the metrics on {host}:{port} ({exc.strerror or exc}): pick another "
                               "--metrics-port") from None
        self.url: Optional[str] = None

    def start(self) -> "MetricsServer":
        self.server.start()
        self.url = self.server.url
        return self

    def stop(self) -> None:
        self.server.stop(1.0)
