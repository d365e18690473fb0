"""U2C discovery and WDM device registration: how a bot without a public URL gets its websocket.

The bot finds WDM through U2C's catalog, registers a device there and connects to the device's
``webSocketUrl``, which ``mercury.py`` serves; Mercury also keeps the device registry these routes
change, because a device and its connection live and die together.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from .http import body_json, caller, fail, json_response
from .mercury import Device, Mercury
from .settings import Settings
from .store import Store
from .urls import U2C_PATH, WDM_PATH, Urls

DEVICE_FIELDS = ("deviceName", "deviceType", "localizedModel", "model", "name", "systemName", "systemVersion")
# webex-js-sdk registers with no ``deviceName``; its ``name`` stands in for it, so only that is optional.
REQUIRED_FIELDS = tuple(f for f in DEVICE_FIELDS if f != "deviceName")
TOO_MANY_DEVICES = "User has excessive device registrations"


def device_json(device: Device, websocket_url: str, urls: Urls) -> dict[str, Any]:
    """A device as WDM shows it to its owner."""
    body: dict[str, Any] = {"url": f"{urls.wdm}/devices/{device.uuid}", "webSocketUrl": websocket_url}
    body.update(device.fields)
    body.update({
        "userId": device.owner.uuid,
        "services": {f"{name}ServiceUrl": url for name, url in urls.service_links().items()},
        "features": {"developer": [], "entitlement": [], "user": []},
        "creationTime": device.created,
        "modificationTime": device.modified,
        "intranetInactivityDuration": 1800,
    })
    return body


def host_catalog(urls: Urls) -> dict[str, Any]:
    """``serviceLinks`` and ``hostCatalog``: keyed by the links' ``host:port``, each entry a bare host
    name, since webex-js-sdk puts the link's port back on it (a port in ``host`` would come twice)."""
    links = urls.service_links()
    root = urlsplit(urls.root)
    entries = [{"host": root.hostname, "ttl": -1, "priority": 5, "id": f"urn:TEAM:us-east-2_a:{name}"}
               for name in links]
    return {"serviceLinks": links, "hostCatalog": {root.netloc: entries}}


def create_wdm_blueprint(store: Store, mercury: Mercury, settings: Settings, urls: Urls) -> Blueprint:
    bp = Blueprint("webex_wdm", __name__)

    def shown(device: Device) -> dict[str, Any]:
        return device_json(device, mercury.websocket_url(device), urls)

    def own_device(uuid: str) -> Device:
        device = mercury.device(uuid, owner=caller(store))
        if device is None:
            fail(404, "Device not found.")
        return device

    def device_fields(required: bool) -> dict[str, str]:
        fields = body_json() if required or request.get_data() else {}
        missing = [f for f in REQUIRED_FIELDS if required and not isinstance(fields.get(f), str)]
        if missing:
            fail(400, f"Missing or invalid device fields: {', '.join(missing)}.")
        kept = {f: fields[f] for f in DEVICE_FIELDS if isinstance(fields.get(f), str)}
        if required:
            kept.setdefault("deviceName", kept["name"])
        return kept

    @bp.get(f"{U2C_PATH}/catalog")
    def catalog() -> Response:
        caller(store)
        return hostmap()

    @bp.get(f"{U2C_PATH}/limited/catalog")
    def limited_catalog() -> Response:
        """The pre-authorization catalog webex-js-sdk reads before it uses the token (asked by orgId)."""
        return hostmap()

    def hostmap() -> Response:
        if request.args.get("format") != "hostmap":
            fail(400, "Only format=hostmap is served.")
        return json_response({**host_catalog(urls), "format": "hostmap", "timestamp": str(int(time.time()))})

    @bp.get(f"{WDM_PATH}/devices")
    def devices_list() -> Response:
        return json_response({"devices": [shown(d) for d in mercury.devices(caller(store))]})

    @bp.post(f"{WDM_PATH}/devices")
    def devices_create() -> Response:
        owner = caller(store)
        device = mercury.register(owner, device_fields(required=True), settings.device_limit)
        if device is None:
            fail(403, TOO_MANY_DEVICES)
        return json_response(shown(device))

    @bp.get(f"{WDM_PATH}/devices/<uuid>")
    def devices_get(uuid: str) -> Response:
        return json_response(shown(own_device(uuid)))

    @bp.put(f"{WDM_PATH}/devices/<uuid>")
    def devices_refresh(uuid: str) -> Response:
        device = own_device(uuid)
        mercury.refresh(device, device_fields(required=False))
        return json_response(shown(device))

    @bp.delete(f"{WDM_PATH}/devices/<uuid>")
    def devices_delete(uuid: str) -> Response:
        mercury.remove(own_device(uuid).uuid)
        return Response(status=204)

    return bp
