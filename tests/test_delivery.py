"""Webhook delivery as Webex does it, received by a plain HTTP server that is not the project's code."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from webexpythonsdk import WebexAPI

from bot.emulator import ControlClient, Emulator

SECRET = "s3cret-for-this-run"
Json = dict[str, Any]


class Receiver:
    """A stdlib HTTP server that keeps every POST and answers with a status chosen by the test."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def world(webex_emulator: Emulator) -> tuple[ControlClient, Json, Json, WebexAPI]:
    control = webex_emulator.control
    bot = control.create_bot("Delivery Bot")
    ada = control.create_person("Ada Lovelace")
    api = WebexAPI(access_token=bot["token"], base_url=webex_emulator.api_url)
    return control, bot, ada, api


def test_signed_envelope_verifies_with_hmac_over_the_raw_body(webex_emulator, receiver, world):
    control, bot, ada, api = world
    hook = api.webhooks.create(name="test", targetUrl=receiver.url, resource="messages", event="created",
                               secret=SECRET)
    room = control.direct_room(ada, bot)
    posted = control.post(ada, "hello", room=room)
    assert control.wait_deliveries_idle()

    headers, raw = receiver.requests[0]
    expected = hmac.new(SECRET.encode(), raw, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(headers["X-Spark-Signature"], expected)
    envelope = json.loads(raw)
    assert envelope["id"] == hook.id and envelope["name"] == "test"
    assert envelope["resource"] == "messages" and envelope["event"] == "created"
    assert envelope["actorId"] == ada["id"] and envelope["createdBy"] == bot["id"]
    assert "secret" not in envelope
    assert {"orgId", "appId", "ownedBy", "status", "created", "targetUrl"} <= envelope.keys()
    data = envelope["data"]
    assert data["id"] == posted["id"] and data["roomId"] == room["id"] and data["roomType"] == "direct"
    assert data["personEmail"] == ada["emails"][0] and "text" not in data


def test_unsigned_when_the_webhook_has_no_secret(webex_emulator, receiver, world):
    control, bot, ada, api = world
    api.webhooks.create(name="plain", targetUrl=receiver.url, resource="messages", event="created")
    control.post(ada, "hi", room=control.direct_room(ada, bot))
    control.wait_deliveries_idle()
    assert len(receiver.requests) == 1
    assert "X-Spark-Signature" not in receiver.requests[0][0]


def test_group_messages_reach_a_bot_only_when_it_is_mentioned(webex_emulator, receiver, world):
    control, bot, ada, api = world
    api.webhooks.create(name="g", targetUrl=receiver.url, resource="messages", event="created")
    group = control.create_group("Team", ada, [bot])
    control.post(ada, "chatter between people", room=group)
    mentioned = control.post(ada, "help", room=group, mentions=(bot,))
    control.wait_deliveries_idle()
    assert [b["data"]["id"] for b in receiver.bodies()] == [mentioned["id"]]
    assert receiver.bodies()[0]["data"]["mentionedPeople"] == [bot["id"]]


def test_the_bots_own_messages_come_back_to_it(webex_emulator, receiver, world):
    control, bot, ada, api = world
    api.webhooks.create(name="own", targetUrl=receiver.url, resource="messages", event="created")
    room = control.direct_room(ada, bot)
    api.messages.create(roomId=room["id"], text="from the bot")
    control.wait_deliveries_idle()
    assert receiver.bodies()[0]["data"]["personId"] == bot["id"]


@pytest.mark.parametrize("make_filter, should_match", [
    (lambda room, ada: f"roomId={room['id']}", True),
    (lambda room, ada: "roomId=Y2lzY29zcGFyazovL3VzL1JPT00vb3RoZXI", False),
    (lambda room, ada: "roomType=group", True),
    (lambda room, ada: "roomType=direct", False),
    (lambda room, ada: "mentionedPeople=me", True),
    (lambda room, ada: f"personEmail={ada['emails'][0]}", True),
    (lambda room, ada: "personEmail=someone@else.example", False),
    (lambda room, ada: f"roomType=group&personEmail={ada['emails'][0]}", True),
])
def test_webhook_filters(webex_emulator, receiver, world, make_filter, should_match):
    control, bot, ada, api = world
    group = control.create_group("Team", ada, [bot])
    api.webhooks.create(name="f", targetUrl=receiver.url, resource="messages", event="created",
                        filter=make_filter(group, ada))
    control.post(ada, "ping", room=group, mentions=(bot,))
    control.wait_deliveries_idle()
    assert len(receiver.requests) == (1 if should_match else 0)


def test_card_submit_goes_to_the_bot_that_posted_the_card(webex_emulator, receiver, world):
    control, bot, ada, api = world
    other = control.create_bot("Other Bot")
    other_api = WebexAPI(access_token=other["token"], base_url=webex_emulator.api_url)
    api.webhooks.create(name="cards", targetUrl=receiver.url, resource="attachmentActions", event="created")
    other_receiver = Receiver()
    other_api.webhooks.create(name="cards", targetUrl=other_receiver.url, resource="attachmentActions",
                              event="created")
    room = control.direct_room(ada, bot)
    card = api.messages.create(roomId=room["id"], text="vote", attachments=[{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.3", "body": [], "actions": [
            {"type": "Action.Submit", "title": "Yes", "data": {"vote": "yes"}}]}}])
    action = control.submit_card(ada, {"id": card.id}, {"vote": "yes"})
    control.wait_deliveries_idle()
    other_receiver.server.shutdown()

    [envelope] = receiver.bodies()
    assert envelope["resource"] == "attachmentActions"
    assert envelope["data"] == {"id": action["id"], "type": "submit", "messageId": card.id,
                                "personId": ada["id"], "roomId": room["id"], "created": action["created"]}
    assert api.attachment_actions.get(envelope["data"]["id"]).inputs == {"vote": "yes"}
    assert other_receiver.requests == []


def test_failing_deliveries_switch_the_webhook_inactive(webex_emulator, receiver, world):
    control, bot, ada, api = world
    control.settings(webhookInactiveAfter=3)
    receiver.status = 500
    hook = api.webhooks.create(name="flaky", targetUrl=receiver.url, resource="messages", event="created")
    room = control.direct_room(ada, bot)
    for n in range(4):
        control.post(ada, f"message {n}", room=room)
        control.wait_deliveries_idle()

    assert len(receiver.requests) == 3, "no delivery once inactive"
    assert api.webhooks.get(hook.id).status == "inactive"
    records = control.deliveries()
    assert [r["status"] for r in records] == [500, 500, 500]
    assert all(r["latencyMs"] >= 0 for r in records)

    receiver.status = 200
    api.webhooks.update(hook.id, name="flaky", targetUrl=receiver.url, status="active")
    control.post(ada, "after repair", room=room)
    control.wait_deliveries_idle()
    assert len(receiver.requests) == 4
    assert api.webhooks.get(hook.id).status == "active"


def test_a_success_resets_the_failure_count(webex_emulator, receiver, world):
    control, bot, ada, api = world
    control.settings(webhookInactiveAfter=2)
    hook = api.webhooks.create(name="w", targetUrl=receiver.url, resource="messages", event="created")
    room = control.direct_room(ada, bot)
    for status in (500, 200, 500, 200):
        receiver.status = status
        control.post(ada, "x", room=room)
        control.wait_deliveries_idle()
    assert api.webhooks.get(hook.id).status == "active"


def test_delivery_timeout_counts_as_a_failure(webex_emulator, receiver, world):
    control, bot, ada, api = world
    control.settings(deliveryTimeout=0.2)
    receiver.delay = 1.0
    api.webhooks.create(name="slow", targetUrl=receiver.url, resource="messages", event="created")
    control.post(ada, "x", room=control.direct_room(ada, bot))
    control.wait_deliveries_idle()
    [record] = control.deliveries()
    assert record["status"] is None and record["error"] == "ReadTimeout"


def test_retries_when_configured(webex_emulator, receiver, world):
    control, bot, ada, api = world
    control.settings(deliveryRetries=2)
    receiver.status = 503
    api.webhooks.create(name="r", targetUrl=receiver.url, resource="messages", event="created")
    control.post(ada, "x", room=control.direct_room(ada, bot))
    control.wait_deliveries_idle()
    assert len(receiver.requests) == 3
    assert len({body for _, body in receiver.requests}) == 1, "a retry resends the same bytes"


def test_unreachable_target_is_recorded(webex_emulator, world):
    control, bot, ada, api = world
    api.webhooks.create(name="gone", targetUrl="http://127.0.0.1:9/hook", resource="messages", event="created")
    control.post(ada, "x", room=control.direct_room(ada, bot))
    control.wait_deliveries_idle()
    [record] = control.deliveries()
    assert record["status"] is None and record["error"] == "ConnectionError"


def test_inactive_and_deleted_webhooks_through_the_control_api(webex_emulator, receiver, world):
    control, bot, ada, api = world
    hook = api.webhooks.create(name="c", targetUrl=receiver.url, resource="messages", event="created")
    control.deactivate_webhook(hook.id)
    assert api.webhooks.get(hook.id).status == "inactive"
    control.post(ada, "x", room=control.direct_room(ada, bot))
    control.wait_deliveries_idle()
    assert receiver.requests == []
    control.delete_webhook(hook.id)
    assert [h.id for h in api.webhooks.list()] == []
