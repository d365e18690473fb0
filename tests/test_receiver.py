"""The webhook receiver's security, end to end: the real bot on waitress, POSTed to over HTTP.

The bot's own webhooks are switched off in the emulator, so the only deliveries it gets are the
ones each test builds, signs (or mis-signs) and POSTs itself, as Webex or an attacker would.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest
import requests

from bot.receiver import is_stale, signature_ok
from bot.runner import BotRunner
from support import Bots, settle, until

Json = dict[str, Any]
SIGN = "sign"  # the default of ``deliver``: sign the body with the bot's secret


def hmac_sha1(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class World:
    """A bot account and a person in a direct room with it, in one emulator."""

    def __init__(self, bots: Bots) -> None:
        self.bots = bots
        self.control = bots.control
        self.bot = self.control.create_bot("Receiver Bot", "receiver-bot@webex.bot")
        self.person = self.control.create_person("Ada Lovelace", "ada@example.com")
        self.room = self.control.direct_room(self.person, self.bot)

    def start(self, **settings: Any) -> BotRunner:
        """The real bot, with its webhooks switched off so that only the test delivers to it.

        The health checks are kept out of the way: they would switch the webhooks back on. The
        catch-up at start is waited for: running late, it would find the test's messages itself.
        """
        runner = self.bots.start(token=self.bot["token"], health_interval=3600, **settings)
        for hook in self.control.webhooks():
            self.control.deactivate_webhook(hook["id"])
        until(lambda: runner.catch_ups, "the catch-up at start")
        return runner

    def envelope(self, message: Json, *, resource: str = "messages", **data: Any) -> Json:
        """What Webex POSTs for ``message``: the webhook's fields, minus its secret, and the event."""
        hook = next(h for h in self.control.webhooks() if h["resource"] == "messages")
        body = {k: v for k, v in hook.items() if k != "secret"}
        body.update({"status": "active", "resource": resource, "event": "created", "actorId": message["personId"],
                     "data": {"id": message["id"], "roomId": message["roomId"], "roomType": message["roomType"],
                              "personId": message["personId"], "personEmail": message["personEmail"],
                              "created": message["created"], **data}})
        return body

    def bot_replies(self) -> list[Json]:
        return self.control.messages(room=self.room, author=self.bot)

    def fetched(self, message: Json) -> bool:
        """Whether the bot asked Webex for ``message`` (what handling a delivery starts with)."""
        return any(c["method"] == "GET" and c["path"] == f"/v1/messages/{message['id']}"
                   for c in self.control.calls(self.bot))


def deliver(runner: BotRunner, raw: bytes, signature: Optional[str] = SIGN, *,
            path: Optional[str] = None) -> requests.Response:
    assert runner.receiver is not None and runner.server is not None
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "test"}
    if signature == SIGN:
        signature = hmac_sha1(runner.receiver.secret, raw)
    if signature is not None:
        headers["X-Spark-Signature"] = signature
    return requests.post(runner.server.url + (path or runner.receiver.path), data=raw, headers=headers, timeout=10)


@pytest.fixture
def world(bots: Bots) -> World:
    return World(bots)


@pytest.fixture
def runner(world: World) -> BotRunner:
    """The bot under test, stopped by the ``bots`` fixture."""
    return world.start()


def test_a_signed_delivery_is_answered(world, runner):
    message = world.control.post(world.person, "echo hi", room=world.room)
    response = deliver(runner, json.dumps(world.envelope(message)).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert world.control.wait_for_messages(world.bot, room=world.room)[0]["text"] == "hi"
    assert world.fetched(message)


def test_the_same_delivery_twice_is_answered_once(world, runner):
    message = world.control.post(world.person, "echo once", room=world.room)
    raw = json.dumps(world.envelope(message)).encode()
    assert deliver(runner, raw).json() == {"status": "accepted"}
    second = deliver(runner, raw)
    assert second.status_code == 200 and second.json() == {"status": "duplicate"}
    later = world.control.post(world.person, "echo later", room=world.room)
    assert deliver(runner, json.dumps(world.envelope(later)).encode()).status_code == 200
    settle(world.control, runner)
    assert sorted(m["text"] for m in world.bot_replies()) == ["later", "once"]


def test_an_unsigned_delivery_is_refused(world, runner):
    message = world.control.post(world.person, "echo unsigned", room=world.room)
    response = deliver(runner, json.dumps(world.envelope(message)).encode(), signature=None)
    assert response.status_code == 401
    settle(world.control, runner)
    assert not world.fetched(message) and world.bot_replies() == []


def test_a_bad_signature_is_refused(world, runner):
    message = world.control.post(world.person, "echo forged", room=world.room)
    raw = json.dumps(world.envelope(message)).encode()
    for signature in (hmac_sha1("not-the-secret", raw), "0" * 40, "sha1=abc",
                      "\u00e9" * 40):  # not even ASCII: refused, not a server error
        assert deliver(runner, raw, signature=signature).status_code == 403, signature
    settle(world.control, runner)
    assert not world.fetched(message) and world.bot_replies() == []


def test_the_signature_covers_the_raw_bytes_not_the_json(world, runner):
    message = world.control.post(world.person, "echo reformatted", room=world.room)
    envelope = world.envelope(message)
    raw = json.dumps(envelope, indent=2).encode()
    reserialised = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert raw != reserialised
    response = deliver(runner, raw, signature=hmac_sha1(runner.receiver.secret, reserialised))
    assert response.status_code == 403
    assert deliver(runner, raw, signature=hmac_sha1(runner.receiver.secret, raw).upper()).status_code == 200
    assert world.control.wait_for_messages(world.bot, room=world.room)[0]["text"] == "reformatted"


def test_a_body_over_the_limit_is_refused_before_anything_else(world):
    runner = world.start(max_body_bytes=2048)
    message = world.control.post(world.person, "echo big", room=world.room)
    padded = json.dumps({**world.envelope(message), "padding": "x" * 2000}).encode()
    assert 2048 < len(padded) < 4096
    assert deliver(runner, padded).status_code == 413
    assert deliver(runner, padded, signature=None).status_code == 413
    huge = json.dumps({**world.envelope(message), "padding": "x" * 100_000}).encode()
    assert deliver(runner, huge).status_code == 413
    settle(world.control, runner)
    assert not world.fetched(message) and world.bot_replies() == []
    assert runner.dispatcher.handled == 0


def test_signed_malformed_json_is_a_bad_request(runner):
    for raw in (b'{"resource": "messages", "data": {"id": ', b"\xff\xfe not json", b""):
        assert deliver(runner, raw).status_code == 400, raw


def test_signed_json_that_is_not_an_envelope_is_a_bad_request(runner):
    for body in ({"hello": "world"}, {"resource": "messages", "event": "created", "data": {"roomId": "x"}},
                 {"resource": "messages", "event": "created", "data": "id"}, ["resource", "messages"], "a string",
                 {"resource": "memberships", "event": "created", "data": {"id": "Zm9v", "personId": "Zm9v"}},
                 {"resource": "memberships", "event": "updated", "data": {"id": "Zm9v", "roomId": "Zm9v"}}):
        response = deliver(runner, json.dumps(body).encode())
        assert response.status_code == 400, body
    assert runner.dispatcher.handled == 0


def test_a_resource_the_bot_does_not_handle_is_a_bad_request(world, runner):
    message = world.control.post(world.person, "echo member", room=world.room)
    response = deliver(runner, json.dumps(world.envelope(message, resource="rooms")).encode())
    assert response.status_code == 400
    assert "rooms" in response.json()["status"]
    settle(world.control, runner)
    assert not world.fetched(message) and world.bot_replies() == []


def test_a_stale_delivery_is_acknowledged_and_dropped(world, runner):
    message = world.control.post(world.person, "echo replayed", room=world.room)
    two_hours_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    response = deliver(runner, json.dumps(world.envelope(message, created=two_hours_ago)).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "stale"}
    settle(world.control, runner)
    assert not world.fetched(message) and world.bot_replies() == []


def test_nothing_but_the_webhook_route_is_served(world, runner):
    message = world.control.post(world.person, "echo elsewhere", room=world.room)
    raw = json.dumps(world.envelope(message)).encode()
    for path in ("/", "/webhook", "/webhook/", "/webhook/wrong", runner.receiver.path + "/", runner.receiver.path + "x",
                 "/_emulator", "/static/x", "/favicon.ico", "/webhook/x/y"):
        assert requests.get(runner.server.url + path, timeout=10).status_code == 404, path
        assert deliver(runner, raw, path=path).status_code == 404, path
    assert requests.get(runner.local_url, timeout=10).status_code == 405
    assert requests.put(runner.local_url, data=raw, timeout=10).status_code == 405
    settle(world.control, runner)
    assert not world.fetched(message)


def test_the_path_and_the_secret_are_new_each_run(bots, world):
    first = world.start()
    other = bots.control.create_bot("Second Bot", "second-bot@webex.bot")
    second = bots.start(token=other["token"])
    for run in (first, second):
        segment = run.receiver.path.removeprefix("/webhook/")
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", segment)
        assert re.fullmatch(r"[0-9a-f]{64}", run.receiver.secret)
    assert first.receiver.path != second.receiver.path
    assert first.receiver.secret != second.receiver.secret
    hooks = {h["createdBy"]: h for h in bots.control.webhooks() if h["resource"] == "messages"}
    assert hooks[other["id"]]["targetUrl"] == second.local_url
    assert hooks[other["id"]]["secret"] == second.receiver.secret
    assert hooks[world.bot["id"]]["secret"] == first.receiver.secret


def test_the_bots_own_message_is_dropped_without_fetching_it(world, runner):
    own = world.control.post(world.bot, "echo from myself", room=world.room)
    assert own["personId"] == world.bot["id"]
    response = deliver(runner, json.dumps(world.envelope(own)).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    settle(world.control, runner)
    assert not world.fetched(own)
    assert [m["text"] for m in world.bot_replies()] == ["echo from myself"]


# -- the pure checks ---------------------------------------------------------------------------

def test_signature_ok_accepts_only_the_hmac_of_the_exact_bytes():
    body = b'{"id": "1"}'
    good = hmac_sha1("s3cret", body)
    assert signature_ok("s3cret", body, good)
    assert signature_ok("s3cret", body, f"  {good.upper()} ")
    assert not signature_ok("s3cret", body + b" ", good)
    assert not signature_ok("other", body, good)
    assert not signature_ok("s3cret", body, good[:-1])
    assert not signature_ok("s3cret", body, None)
    assert not signature_ok("s3cret", body, "")
    assert not signature_ok("s3cret", body, "\u00e9\u4e2d")


def test_is_stale_compares_created_with_the_clock():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert not is_stale("2024-05-01T11:30:00.000Z", 3600, now)
    assert is_stale("2024-05-01T10:59:59.000Z", 3600, now)
    assert is_stale("2024-05-01T10:00:00+00:00", 3600, now)
    assert is_stale("2024-05-01T10:00:00", 3600, now)  # no zone: read as UTC, as Webex writes
    assert not is_stale("2024-05-01T12:00:05Z", 3600, now)
    assert not is_stale("", 3600, now)
    assert not is_stale("yesterday", 3600, now)
