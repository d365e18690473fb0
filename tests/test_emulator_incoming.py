"""The emulator sends test events to a bot's incoming routes, keyed or signed as the real senders do.

A tiny real HTTP server stands for the bot: it keeps what reached it and answers 202, as the bot does.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from bot.emulator import ControlClient, Emulator
from bot.emulator.client import ControlError

KEY = "the-incoming-key-0123456789"
SECRET = "the-github-secret-abcdef"


class Receiver(ThreadingHTTPServer):
    """A stand-in for the bot's receiver: every request it got, answered 202 ``{"status": "accepted"}``."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer = json.dumps({"status": "accepted"}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        """Quiet: pytest shows what matters."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def control(emulator: Emulator, receiver: Receiver) -> ControlClient:
    control = emulator.control
    control.register_incoming("deploy", f"{receiver.url}/incoming/deploy", "key", key=KEY)
    control.register_incoming("github", f"{receiver.url}/incoming/github", "github", secret=SECRET)
    return control


def test_a_key_route_gets_the_payload_with_the_key(control: ControlClient, receiver: Receiver) -> None:
    answer = control.send_incoming("deploy", {"version": "1.2.3"})
    assert (answer["status"], answer["response"]) == (202, {"status": "accepted"})
    [got] = receiver.seen
    assert got["path"] == "/incoming/deploy"
    assert got["headers"]["Authorization"] == f"Bearer {KEY}"
    assert got["headers"]["Content-Type"] == "application/json"
    assert json.loads(got["body"]) == {"version": "1.2.3"}


def test_a_github_route_gets_a_verifiable_signature_and_its_event(control: ControlClient, receiver: Receiver) -> None:
    control.send_incoming("github")
    control.send_incoming("github", {"zen": "Keep it simple."}, event="ping")
    first, second = receiver.seen
    for got in receiver.seen:
        expected = "sha256=" + hmac.new(SECRET.encode(), got["body"], hashlib.sha256).hexdigest()
        assert got["headers"]["X-Hub-Signature-256"] == expected
        assert "Authorization" not in got["headers"]
    assert (first["headers"]["X-GitHub-Event"], json.loads(first["body"])) == (
        "push", {"test": True, "sent_by": "the sandbox"})
    assert (second["headers"]["X-GitHub-Event"], json.loads(second["body"])) == ("ping", {"zen": "Keep it simple."})
    assert first["headers"]["X-GitHub-Delivery"] != second["headers"]["X-GitHub-Delivery"]


def test_the_list_and_the_traffic_hold_no_key_or_secret(emulator: Emulator, control: ControlClient,
                                                         receiver: Receiver) -> None:
    assert control.incoming_routes() == [
        {"name": "deploy", "url": f"{receiver.url}/incoming/deploy", "auth": "key"},
        {"name": "github", "url": f"{receiver.url}/incoming/github", "auth": "github"}]
    control.send_incoming("deploy")
    control.send_incoming("github", event="release")
    deploy, github = emulator.traffic.incoming()
    assert (deploy["name"], deploy["status"], deploy["auth"], deploy["request"]) == (
        "deploy", 202, "key", {"test": True, "sent_by": "the sandbox"})
    assert (github["name"], github["status"], github["event"]) == ("github", 202, "release")
    assert deploy["ms"] > 0 and deploy["response"] == {"status": "accepted"}
    state = json.dumps([control.incoming_routes(), emulator.traffic.incoming(), emulator.traffic.calls(),
                        control.calls()])
    assert KEY not in state and SECRET not in state
    assert "sha256=" not in state


def test_a_url_with_its_key_in_the_query_is_shown_without_it(control: ControlClient, receiver: Receiver) -> None:
    control.register_incoming("pasted", f"{receiver.url}/incoming/pasted?key={KEY}", "key", key=KEY)
    [shown] = [r for r in control.incoming_routes() if r["name"] == "pasted"]
    assert shown["url"] == f"{receiver.url}/incoming/pasted"
    control.send_incoming("pasted")
    assert receiver.seen[-1]["path"] == f"/incoming/pasted?key={KEY}"


def test_an_unreachable_route_answers_no_status_and_the_error(control: ControlClient) -> None:
    control.register_incoming("gone", "http://127.0.0.1:1/incoming/gone", "key", key=KEY)
    answer = control.send_incoming("gone")
    assert (answer["status"], answer["error"]) == (None, "ConnectionError")


@pytest.mark.parametrize("body, wrong", [
    ({"url": "http://127.0.0.1:1/incoming/x", "auth": "key", "key": KEY}, "name"),
    ({"name": "x/y", "url": "http://127.0.0.1:1/incoming/x", "auth": "key", "key": KEY}, "name"),
    ({"name": "x", "url": "ftp://127.0.0.1/x", "auth": "key", "key": KEY}, "url"),
    ({"name": "x", "url": "http://127.0.0.1:1/incoming/x", "auth": "basic", "key": KEY}, "auth"),
    ({"name": "x", "url": "http://127.0.0.1:1/incoming/x", "auth": "key"}, "key"),
    ({"name": "x", "url": "http://127.0.0.1:1/incoming/x", "auth": "github", "key": KEY}, "secret"),
])
def test_bad_fields_are_refused_with_400(emulator: Emulator, body: dict[str, Any], wrong: str) -> None:
    with pytest.raises(ControlError, match=f"400 {wrong}"):
        emulator.control._call("POST", "/incoming", json=body)
    assert emulator.control.incoming_routes() == []


def test_a_bad_send_is_400_and_an_unknown_route_404(control: ControlClient) -> None:
    with pytest.raises(ControlError, match="400 event"):
        control.send_incoming("github", event=" ")
    with pytest.raises(ControlError, match="400 The request body must be a JSON object"):
        control._call("POST", "/incoming/deploy/send", json=[1])
    with pytest.raises(ControlError, match="404"):
        control.send_incoming("nobody")


def test_the_control_index_lists_the_routes(emulator: Emulator) -> None:
    routes = emulator.control._call("GET", "")["routes"]
    assert {"POST /_emulator/incoming", "GET /_emulator/incoming", "POST /_emulator/incoming/<name>/send"} <= set(routes)
