"""Control of the conditions a test runs under: injected faults, and the settings for UNSURE behaviours."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response

from ..faults import Faults
from ..http import body_json, fail, json_response
from ..settings import Settings

ROUTES = {
    "POST /_emulator/faults": "inject {kind: rate_limit|server_error|latency, count?, path?, method?, "
                              "status?, retryAfter?, seconds?}",
    "GET /_emulator/faults": "the active faults; DELETE clears them",
    "GET /_emulator/settings": "the emulator settings; PUT changes them",
}


def apply_body(change: Callable[[dict[str, Any]], Any]) -> None:
    """Hand the request's JSON object to ``change``; 400 with its words when it refuses (ValueError, TypeError)."""
    try:
        change(body_json())
    except (ValueError, TypeError) as exc:
        fail(400, str(exc))


def create_blueprint(faults: Faults, settings: Settings) -> Blueprint:
    bp = Blueprint("conditions", __name__)

    @bp.post("/faults")
    def faults_add() -> Response:
        apply_body(faults.add)
        return json_response({"items": faults.list()}, 201)

    @bp.get("/faults")
    def faults_list() -> Response:
        return json_response({"items": faults.list()})

    @bp.delete("/faults")
    def faults_clear() -> Response:
        faults.clear()
        return Response(status=204)

    @bp.get("/settings")
    def settings_get() -> Response:
        return json_response(settings.to_json())

    @bp.put("/settings")
    def settings_put() -> Response:
        apply_body(settings.update)
        return json_response(settings.to_json())

    return bp
