"""Control views of what went by: every webhook delivery and every API call, for tests to assert on."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..delivery import Deliverer
from ..http import json_response
from ..traffic import Traffic

ROUTES = {
    "GET /_emulator/deliveries": "every webhook delivery with status and latency",
    "POST /_emulator/deliveries/wait": "block until no delivery is under way {timeout?}",
    "GET /_emulator/calls": "every API call {personId?}; DELETE clears",
}


def create_blueprint(deliverer: Deliverer, traffic: Traffic) -> Blueprint:
    bp = Blueprint("logs", __name__)

    @bp.get("/deliveries")
    def deliveries() -> Response:
        return json_response({"items": deliverer.records()})

    @bp.post("/deliveries/wait")
    def deliveries_wait() -> Response:
        timeout = float((request.get_json(silent=True) or {}).get("timeout", 10))
        return json_response({"idle": deliverer.wait_idle(timeout)})

    @bp.get("/calls")
    def calls() -> Response:
        return json_response({"items": traffic.calls(request.args.get("personId"))})

    @bp.delete("/calls")
    def calls_clear() -> Response:
        traffic.clear()
        return Response(status=204)

    return bp
