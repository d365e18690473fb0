"""The metrics service: where Cisco's JS SDK posts its client metrics (``clientmetrics``, the
pre-login ``clientmetrics-prelogin``, ``metrics``).

The SDK finds it in the catalog and reports its own failures when a post fails, so the emulator
takes every post, keeps nothing but the count, and answers 204 as a metrics sink would.
"""
from __future__ import annotations

import threading

from flask import Blueprint, Response

from .urls import METRICS_PATH


class ClientMetrics:
    """How many metrics posts arrived: enough to tell a test that the SDK reached the service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts = 0

    @property
    def posts(self) -> int:
        with self._lock:
            return self._posts

    def count(self) -> None:
        with self._lock:
            self._posts += 1


def create_metrics_blueprint(metrics: ClientMetrics) -> Blueprint:
    bp = Blueprint("webex_metrics", __name__, url_prefix=METRICS_PATH)

    @bp.post("/<path:resource>")
    def accept(resource: str) -> Response:
        metrics.count()
        return Response(status=204)

    return bp
