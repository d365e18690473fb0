"""The emulator's REST API when a call goes wrong, driven by the real webexpythonsdk: bad tokens,
unknown ids, bad paging, padded ids and over-long text, each answered with Webex's status and error
body; and the faults a test injects: rate limits the SDK waits out or raises, server errors, latency,
faults limited to a path and a method.

As in every REST test, each answer is also checked against Webex's OpenAPI spec (``answers_conform``
in ``emulator_rest_kit``).
"""
from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import pytest
import requests
from webexpythonsdk import RateLimitError, RateLimitWarning, WebexAPI

from bot.emulator.ids import encode_id
from emulator_rest_kit import World, api_error, sdk, uri_of
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)


# -- errors ---------------------------------------------------------------------------------------
def test_a_bad_token_is_401_with_a_webex_error_body(world: World) -> None:
    refused = api_error(WebexAPI(access_token="not-a-token", base_url=world.emulator.api_url).people.me)
    assert refused.status_code == 401
    assert refused.message and refused.tracking_id
    assert refused.response.json()["errors"][0]["description"] == refused.message
    assert refused.response.headers["Content-Type"].startswith("application/json")


def test_a_bad_token_is_refused_before_the_body_is_read(world: World, tmp_path: Path) -> None:
    stranger = WebexAPI(access_token="not-a-token", base_url=world.emulator.api_url)
    assert api_error(stranger.rooms.create, "").status_code == 401
    upload = tmp_path / "secret.txt"
    upload.write_text("never stored")
    assert api_error(stranger.messages.create, roomId=world.direct["id"], files=[str(upload)]).status_code == 401
    assert world.emulator.store.files == {}


def test_unknown_ids_are_404(world: World) -> None:
    unknown_message = encode_id("MESSAGE", str(uuid.uuid4()))
    for call, rest_id in ((world.api.messages.get, unknown_message), (world.api.rooms.get, "garbage"),
                          (world.api.people.get, encode_id("ROOM", str(uuid.uuid4()))),
                          (world.api.webhooks.get, encode_id("WEBHOOK", str(uuid.uuid4()))),
                          (world.api.attachment_actions.get, unknown_message)):
        missing = api_error(call, rest_id)
        assert missing.status_code == 404 and missing.message and missing.tracking_id


def test_bad_paging_parameters_are_400(world: World) -> None:
    assert api_error(list, world.api.rooms.list(max=-1)).status_code == 400
    for cursor in ("not-base64!", base64.urlsafe_b64encode(b"-1").decode()):
        answer = requests.get(world.emulator.api_url + "rooms", params={"cursor": cursor}, timeout=10,
                              headers={"Authorization": f"Bearer {world.bot['token']}"})
        assert answer.status_code == 400 and "cursor" in answer.json()["message"]


def test_padded_ids_are_accepted(world: World) -> None:
    posted = world.api.messages.create(roomId=world.direct["id"], text="padded")
    assert world.api.messages.get(posted.id + "==").id == posted.id
    assert world.api.rooms.get(world.group["id"] + "==").id == world.group["id"]
    canonical = base64.b64encode(uri_of(world.alice["id"]).encode()).decode()
    assert canonical.endswith("=") and not world.alice["id"].endswith("=")
    assert world.api.people.get(canonical).id == world.alice["id"]


def test_an_id_naming_the_wrong_cluster_is_404_unless_any_cluster_is_allowed(world: World) -> None:
    """A client that builds ids guessing "us" breaks on a space homed elsewhere, as against Webex
    (UNSURE whether Webex resolves such an id; ``ids_any_cluster`` turns the kind answer on)."""
    control = world.control
    eu = control.create_group("EU", world.alice, [world.bot], cluster="eu-central-1_k")
    posted = control.post(world.alice, "homed in eu", room=eu)
    raw = uri_of(posted["id"]).rsplit("/", 1)[-1]
    guessed = encode_id("MESSAGE", raw)  # the "us" id of the same message
    alice = sdk(world.emulator, world.alice)  # in a group the bot sees only what mentions it
    assert guessed != posted["id"] and alice.messages.get(posted["id"]).id == posted["id"]
    assert api_error(alice.messages.get, guessed).status_code == 404
    assert alice.messages.get(raw).id == posted["id"], "a bare uuid names no cluster"
    control.settings(ids_any_cluster=True)
    try:
        assert alice.messages.get(guessed).id == posted["id"]
    finally:
        control.settings(ids_any_cluster=False)


def test_text_and_markdown_are_limited_to_7439_bytes(world: World) -> None:
    room = world.direct["id"]
    assert len(world.api.messages.create(roomId=room, text="x" * 7439).text) == 7439
    for field in ("text", "markdown"):
        too_long = api_error(world.api.messages.create, roomId=room, **{field: "x" * 7440})
        assert too_long.status_code == 400 and "7439" in too_long.message
    assert api_error(world.api.messages.create, roomId=room, text="é" * 3720).status_code == 400


# -- faults ---------------------------------------------------------------------------------------
def test_the_sdk_waits_out_a_rate_limit(world: World) -> None:
    world.control.inject("rate_limit", count=2, retryAfter=1)
    started = time.monotonic()
    with pytest.warns(RateLimitWarning):
        me = world.api.people.me()
    assert me.id == world.bot["id"]
    assert time.monotonic() - started >= 2.0
    assert [(c["path"], c["status"]) for c in world.control.calls()] == [("/v1/people/me", 429)] * 2 + [
        ("/v1/people/me", 200)]
    assert world.control.calls()[0]["response"]["message"] == "Too Many Requests"


def test_a_rate_limit_raises_when_the_sdk_does_not_wait(world: World) -> None:
    world.control.inject("rate_limit", count=1, retryAfter=1)
    impatient = sdk(world.emulator, world.bot, wait_on_rate_limit=False)
    with pytest.raises(RateLimitError) as raised:
        impatient.people.me()
    assert raised.value.status_code == 429 and raised.value.retry_after == 1
    assert impatient.people.me().id == world.bot["id"]


def test_an_injected_server_error(world: World) -> None:
    world.control.inject("server_error", count=1, status=503)
    failed = api_error(world.api.rooms.get, world.group["id"])
    assert failed.status_code == 503 and failed.tracking_id
    assert world.api.rooms.get(world.group["id"]).id == world.group["id"]


def test_injected_latency(world: World) -> None:
    world.control.inject("latency", seconds=0.3, count=1)
    started = time.monotonic()
    world.api.people.me()
    assert time.monotonic() - started >= 0.3


def test_a_fault_limited_by_path_and_method(world: World) -> None:
    world.control.inject("server_error", path="/v1/messages", method="post", status=502)
    assert list(world.api.messages.list(roomId=world.direct["id"])) == []
    assert world.api.people.me().id == world.bot["id"]
    assert api_error(world.api.messages.create, roomId=world.direct["id"], text="x").status_code == 502
    assert api_error(world.api.messages.create, roomId=world.direct["id"], text="x").status_code == 502
    world.control.clear_faults()
    assert world.api.messages.create(roomId=world.direct["id"], text="x").text == "x"
