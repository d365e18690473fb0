"""Device registration (U2C discovery, then WDM): what the websocket transport connects with.

One device per bot instance, found again by name on every start, so restarts do not pile up
registrations until Webex refuses more (403 "excessive device registrations").
"""
from __future__ import annotations

import logging
import platform
from typing import Any, Optional

import requests

from .errors import DeviceError
from .network import Network

log = logging.getLogger(__name__)
TOO_MANY = "excessive device registrations"


class DeviceRegistry:
    def __init__(self, token: str, u2c_url: str, instance: str, timeout: float = 15.0,
                 network: Optional[Network] = None) -> None:
        self.u2c_url = u2c_url
        self.name = f"webex-laptop-bot-{instance}"
        self.timeout = timeout
        self.network = network or Network()
        self._http = self.network.session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._wdm: Optional[str] = None

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            problem = self.network.problem(url, exc)
            if problem is not None:
                raise DeviceError(str(problem), permanent=True) from None
            raise DeviceError(f"cannot reach Webex device registration ({type(exc).__name__})") from None
        if response.status_code == 401:
            raise DeviceError("Webex refused the bot token (401): check WEBEX_BOT_TOKEN", permanent=True)
        return response

    def wdm_url(self) -> str:
        """The WDM service of the bot's own cluster, from the U2C catalog (never hard-coded)."""
        if self._wdm is None:
            response = self._request("GET", self.u2c_url, params={"format": "hostmap"})
            try:
                self._wdm = str(response.json()["serviceLinks"]["wdm"]).rstrip("/")
            except (ValueError, KeyError, TypeError):
                raise DeviceError(f"the U2C catalog gave no WDM link (HTTP {response.status_code})") from None
        return self._wdm

    def ours(self) -> list[dict[str, Any]]:
        response = self._request("GET", f"{self.wdm_url()}/devices")
        if response.status_code != 200:
            raise DeviceError(f"listing devices failed (HTTP {response.status_code})")
        return [d for d in response.json().get("devices", []) if d.get("name") == self.name]

    def ensure(self) -> dict[str, Any]:
        """Our device, refreshed; registered anew when there is none or it is gone.

        The newest of ours is kept (Webex buffers events for it); older ones left by earlier runs are
        removed, as each counts against Webex's device limit.
        """
        kept: Optional[dict[str, Any]] = None
        for device in sorted(self.ours(), key=lambda d: str(d.get("modificationTime", "")), reverse=True):
            if kept is not None:
                try:
                    self.delete(device)
                    log.info("removed a stale device of %s", self.name)
                except DeviceError as exc:
                    log.warning("could not remove a stale device of %s: %s", self.name, exc)
                continue
            response = self._request("PUT", device["url"], json=self._fields())
            if response.status_code == 200:
                kept = response.json()
            elif response.status_code != 404:
                raise DeviceError(f"refreshing the device failed (HTTP {response.status_code})")
        return kept if kept is not None else self.register()

    def register(self) -> dict[str, Any]:
        """A new device; on 403 "too many", our own stale devices go and it is tried once more."""
        for attempt in range(2):
            response = self._request("POST", f"{self.wdm_url()}/devices", json=self._fields())
            if response.status_code == 200:
                log.info("registered device %s", self.name)
                return response.json()
            if response.status_code == 403 and TOO_MANY in response.text and attempt == 0:
                stale = self.ours()
                for device in stale:
                    self.delete(device)
                log.warning("Webex has too many devices for this bot; removed %d stale one(s) of ours", len(stale))
                continue
            if response.status_code == 403 and TOO_MANY in response.text:
                raise DeviceError("Webex refuses more device registrations for this bot (about 100 allowed) and "
                                  "none of them is ours to remove: delete old devices of other programs using "
                                  "this bot token", permanent=True)
            raise DeviceError(f"device registration failed (HTTP {response.status_code})")
        raise AssertionError("unreachable")

    def delete(self, device: dict[str, Any]) -> None:
        if device.get("name") != self.name:
            raise ValueError("refusing to delete a device that is not ours")
        response = self._request("DELETE", device["url"])
        if response.status_code not in (200, 204, 404):
            raise DeviceError(f"deleting the device failed (HTTP {response.status_code})")

    def _fields(self) -> dict[str, str]:
        return {"deviceName": self.name, "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
                "name": self.name, "systemName": "webex-laptop-bot", "systemVersion": platform.python_version()}
