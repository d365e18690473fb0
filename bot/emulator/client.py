"""A Python client of the emulator's control API: what tests and the sandbox use to act as people."""
from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any, Callable, Optional

import requests

Json = dict[str, Any]


class ControlError(RuntimeError):
    """The control API refused a call; the message is the emulator's."""


def mention(person: Json) -> str:
    """The mention token for ``person`` in a message text, as a chat client writes it."""
    return f"<@personId:{person['id']}|{person['displayName']}>"


class ControlClient:
    def __init__(self, control_url: str, timeout: float = 30.0, *, verify: bool | str = True) -> None:
        """``verify`` is requests': the CA file of an emulator that serves TLS, say. It is given with each
        call, as requests lets REQUESTS_CA_BUNDLE override a session's own."""
        self.control_url = control_url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self._http = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, self.control_url + path, timeout=self.timeout, verify=self.verify,
                                      **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", response.text)
            except ValueError:
                detail = response.text
            raise ControlError(f"{method} {path}: {response.status_code} {detail}")
        return response.json() if response.content else None

    # -- the world -------------------------------------------------------------------------------
    def create_person(self, display_name: str, email: Optional[str] = None, token: Optional[str] = None) -> Json:
        """A person; ``token`` chooses their token (else Webex-shaped, ``<secret>_<cluster>_<orgId>``)."""
        return self._call("POST", "/people", json=self._who(display_name, email, "person", token))

    def create_bot(self, display_name: str, email: Optional[str] = None, token: Optional[str] = None) -> Json:
        """A bot account; its ``token`` (chosen, or made) is what the bot under test runs with."""
        return self._call("POST", "/people", json=self._who(display_name, email, "bot", token))

    @staticmethod
    def _who(display_name: str, email: Optional[str], kind: str, token: Optional[str]) -> Json:
        body: Json = {"displayName": display_name, "email": email, "type": kind}
        if token is not None:
            body["token"] = token
        return body

    def create_group(self, title: str, creator: Json, members: list[Json], cluster: str = "us") -> Json:
        return self._call("POST", "/rooms", json={"title": title, "type": "group", "creatorId": creator["id"],
                                                  "memberIds": [m["id"] for m in members], "cluster": cluster})

    def direct_room(self, one: Json, other: Json) -> Json:
        return self._call("POST", "/rooms", json={"type": "direct", "creatorId": one["id"],
                                                  "memberIds": [other["id"]]})

    def add_member(self, room: Json, person: Json, actor: Optional[Json] = None) -> Json:
        """Add ``person`` to a group ``room`` as ``actor`` (the room's creator by default); its membership."""
        body = {"personId": person["id"], **({"actorId": actor["id"]} if actor else {})}
        return self._call("POST", f"/rooms/{room['id']}/members", json=body)

    def remove_member(self, room: Json, person: Json, actor: Optional[Json] = None) -> None:
        params = {"actorId": actor["id"]} if actor else {}
        self._call("DELETE", f"/rooms/{room['id']}/members/{person['id']}", params=params)

    def people(self) -> list[Json]:
        return self._call("GET", "/people")["items"]

    def rooms(self) -> list[Json]:
        return self._call("GET", "/rooms")["items"]

    # -- acting as a person ----------------------------------------------------------------------
    def post(self, person: Json, text: str = "", *, room: Optional[Json] = None, to: Optional[Json] = None,
             mentions: tuple[Json, ...] = (), parent: Optional[Json] = None, markdown: Optional[str] = None,
             file: Optional[Path] = None, attachments: Optional[list[Json]] = None) -> Json:
        """Post as ``person`` in ``room`` (or directly ``to`` someone); ``mentions`` go in front."""
        body: Json = {"personId": person["id"]}
        if to is not None:
            body["toPersonId"] = to["id"]
        else:
            body["roomId"] = (room or {}).get("id")
        prefix = " ".join(mention(p) for p in mentions)
        if text or prefix:
            body["text"] = f"{prefix} {text}".strip() if prefix else text
        if markdown is not None:
            body["markdown"] = markdown
        if parent is not None:
            body["parentId"] = parent["id"]
        if file is not None:
            body["file"] = {"name": Path(file).name, "base64": base64.b64encode(Path(file).read_bytes()).decode()}
        if attachments:
            body["attachments"] = attachments
        return self._call("POST", "/messages", json=body)

    def submit_card(self, person: Json, message: Json, inputs: Json) -> Json:
        return self._call("POST", "/attachment-actions",
                          json={"personId": person["id"], "messageId": message["id"], "inputs": inputs})

    # -- reading everything ----------------------------------------------------------------------
    def messages(self, *, room: Optional[Json] = None, author: Optional[Json] = None) -> list[Json]:
        params = {}
        if room is not None:
            params["roomId"] = room["id"]
        if author is not None:
            params["personId"] = author["id"]
        return self._call("GET", "/messages", params=params)["items"]

    def wait_for_messages(self, author: Json, count: int = 1, *, room: Optional[Json] = None,
                          timeout: float = 10.0, after: int = 0) -> list[Json]:
        """Wait until ``author`` has posted ``count`` messages (beyond the first ``after``); raise when not."""
        return self.wait_for(lambda: self.messages(room=room, author=author)[after:], count, timeout,
                             f"{count} message(s) from {author['displayName']}")

    @staticmethod
    def wait_for(read: Callable[[], list[Any]], count: int, timeout: float, what: str) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = read()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {what}; saw {len(found)}: {found!r}")
            time.sleep(0.02)

    def deliveries(self) -> list[Json]:
        return self._call("GET", "/deliveries")["items"]

    def wait_deliveries_idle(self, timeout: float = 10.0) -> bool:
        return self._call("POST", "/deliveries/wait", json={"timeout": timeout})["idle"]

    def calls(self, person: Optional[Json] = None) -> list[Json]:
        params = {"personId": person["id"]} if person else {}
        return self._call("GET", "/calls", params=params)["items"]

    def clear_calls(self) -> None:
        self._call("DELETE", "/calls")

    # -- faults and settings ---------------------------------------------------------------------
    def inject(self, kind: str, **spec: Any) -> list[Json]:
        """``inject("rate_limit", count=2, retryAfter=1)``, ``inject("server_error", count=1, status=503)``,
        ``inject("latency", seconds=0.2)``; ``path`` limits a fault to calls under that path."""
        return self._call("POST", "/faults", json={"kind": kind, **spec})["items"]

    def faults(self) -> list[Json]:
        """The faults still active (a counted fault goes once its calls are used up)."""
        return self._call("GET", "/faults")["items"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def settings(self, **changes: Any) -> Json:
        if changes:
            return self._call("PUT", "/settings", json=changes)
        return self._call("GET", "/settings")

    def webhooks(self) -> list[Json]:
        return self._call("GET", "/webhooks")["items"]

    def deactivate_webhook(self, webhook_id: str) -> Json:
        return self._call("POST", f"/webhooks/{webhook_id}/deactivate")

    def delete_webhook(self, webhook_id: str) -> None:
        self._call("DELETE", f"/webhooks/{webhook_id}")

    # -- a bot's incoming routes -----------------------------------------------------------------
    def register_incoming(self, name: str, url: str, auth: str = "key", *, key: Optional[str] = None,
                          secret: Optional[str] = None) -> Json:
        """Tell the emulator of a route the bot serves at ``url``; ``key`` (auth "key") or ``secret``
        (auth "github") stays in the emulator, which uses it to send the route test events."""
        body: Json = {"name": name, "url": url, "auth": auth}
        body.update({k: v for k, v in (("key", key), ("secret", secret)) if v is not None})
        return self._call("POST", "/incoming", json=body)

    def incoming_routes(self) -> list[Json]:
        """The registered routes: ``name``, ``url`` and ``auth``, never their key or secret."""
        return self._call("GET", "/incoming")["items"]

    def send_incoming(self, name: str, payload: Any = None, *, event: Optional[str] = None) -> Json:
        """Have the emulator POST ``payload`` (else a test payload) to the route, keyed or signed, with
        GitHub's ``event`` (default "push"); what the bot answered: ``status``, ``response``, ``ms``."""
        body: Json = {k: v for k, v in (("payload", payload), ("event", event)) if v is not None}
        return self._call("POST", f"/incoming/{name}/send", json=body)

    # -- device websockets -----------------------------------------------------------------------
    def devices(self) -> list[Json]:
        """Every registered device, with ``ownerId``, ``connected``, ``sequenceNumber`` and ``unacked``."""
        return self._call("GET", "/devices")["items"]

    def acks(self) -> list[Json]:
        """Every ack a device websocket received: ``device``, ``messageId``, ``time``, ``matched``."""
        return self._call("GET", "/devices/acks")["items"]

    def drop_websocket(self, device_id: str) -> None:
        """Cut the device's TCP connection without a close frame (the client sees 1006)."""
        self._call("POST", f"/devices/{device_id}/drop")

    def send_shutdown(self, device_id: str) -> None:
        self._call("POST", f"/devices/{device_id}/shutdown")

    def close_websocket(self, device_id: str, code: int, reason: str = "") -> None:
        self._call("POST", f"/devices/{device_id}/close", json={"code": code, "reason": reason})

    def delete_device(self, device_id: str) -> None:
        """Delete a device behind its owner's back: its next handshake gets 404."""
        self._call("DELETE", f"/devices/{device_id}")

    def skip_sequence(self, device_id: str, count: int) -> Json:
        """Burn ``count`` sequence numbers so that the client sees a gap."""
        return self._call("POST", f"/devices/{device_id}/skip", json={"count": count})
