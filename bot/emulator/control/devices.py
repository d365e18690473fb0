"""Control of device websockets: list devices and acks, and break a connection the ways Webex does
(a dropped TCP connection, a shutdown frame, a close code, a deleted device, a sequence gap)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from websockets.frames import EXTERNAL_CLOSE_CODES

from ..http import body_json, fail, json_response
from ..mercury import Device, Link, Mercury
from ..urls import Urls
from ..wdm import device_json

ROUTES = {
    "GET /_emulator/devices": "every device with its owner, connection, sequence number and un-acked count",
    "GET /_emulator/devices/acks": "every ack received",
    "POST /_emulator/devices/<uuid>/drop": "drop the TCP connection without a close frame (client sees 1006)",
    "POST /_emulator/devices/<uuid>/shutdown": "send a {type: shutdown} frame",
    "POST /_emulator/devices/<uuid>/close": "close the websocket with {code, reason}",
    "DELETE /_emulator/devices/<uuid>": "delete the device behind its owner's back (next handshake: 404)",
    "POST /_emulator/devices/<uuid>/skip": "skip {count} sequence numbers (the client sees a gap)",
}


def create_blueprint(mercury: Mercury, urls: Urls) -> Blueprint:
    bp = Blueprint("devices", __name__)

    def any_device(uuid: str) -> Device:
        device = mercury.device(uuid)
        if device is None:
            fail(404, "No such device.")
        return device

    def shown(device: Device) -> dict[str, Any]:
        return {**device_json(device, mercury.websocket_url(device), urls), "id": device.uuid,
                "ownerId": device.owner.id, **mercury.status(device)}

    def live(uuid: str) -> Link:
        link = mercury.link(any_device(uuid))
        if link is None:
            fail(409, "The device has no live websocket.")
        return link

    @bp.get("/devices")
    def devices_list() -> Response:
        return json_response({"items": [shown(d) for d in mercury.devices()]})

    @bp.get("/devices/acks")
    def acks() -> Response:
        return json_response({"items": mercury.acks()})

    @bp.post("/devices/<uuid>/drop")
    def drop(uuid: str) -> Response:
        live(uuid).drop()
        return Response(status=204)

    @bp.post("/devices/<uuid>/shutdown")
    def shutdown(uuid: str) -> Response:
        live(uuid).send({"type": "shutdown"})
        return Response(status=204)

    @bp.post("/devices/<uuid>/close")
    def close(uuid: str) -> Response:
        fields = body_json()
        code, reason = fields.get("code"), fields.get("reason", "")
        if not isinstance(code, int) or not (code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000):
            fail(400, "code must be a close code a server may send (1000-1014 but 1004-1006, or 3000-4999).")
        live(uuid).close(code, str(reason))
        return Response(status=204)

    @bp.delete("/devices/<uuid>")
    def delete(uuid: str) -> Response:
        mercury.remove(any_device(uuid).uuid)
        return Response(status=204)

    @bp.post("/devices/<uuid>/skip")
    def skip(uuid: str) -> Response:
        count = body_json().get("count", 1)
        if not isinstance(count, int) or count < 1:
            fail(400, "count must be a positive integer.")
        device = any_device(uuid)
        mercury.skip(device, count)
        return json_response(shown(device))

    return bp
