"""Control of a bot's incoming routes: register the ones it serves, list them, send one a test event."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..incoming import IncomingRoutes, Route

ROUTES = {
    "POST /_emulator/incoming": "register a route the bot serves {name, url, auth: key|github, key?, secret?}",
    "GET /_emulator/incoming": "the registered routes (without their key or secret)",
    "POST /_emulator/incoming/<name>/send": "POST a test event to the route, keyed or signed {payload?, event?}; "
                                            "its status and body",
}


def create_blueprint(routes: IncomingRoutes) -> Blueprint:
    bp = Blueprint("incoming", __name__)

    @bp.post("/incoming")
    def incoming_register() -> Response:
        try:
            route = Route.from_json(body_json())
        except ValueError as exc:
            fail(400, str(exc))
        routes.register(route)
        return json_response(route.to_json(), 201)

    @bp.get("/incoming")
    def incoming_list() -> Response:
        return json_response({"items": routes.list()})

    @bp.post("/incoming/<name>/send")
    def incoming_send(name: str) -> Response:
        route = routes.get(name)
        if route is None:
            fail(404, f"No incoming route is named {name!r}.")
        body = body_json() if request.content_length else {}
        event = body.get("event")
        if event is not None and (not isinstance(event, str) or not event.strip()):
            fail(400, "event must be a non-empty string.")
        return json_response(routes.send(route, body.get("payload"), event))

    return bp
