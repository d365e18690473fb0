"""Space events: people and bots joining and leaving group spaces, as webhooks and as the device
websocket's ``add``/``leave`` activities tell a bot, the control routes that make them, and the cards
Webex refuses. Every REST answer is checked against Webex's spec by ``answers_conform``; membership
webhooks' ``data`` and the control API's memberships against the spec's Membership schema."""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import pytest
import requests
from websockets.sync.client import ClientConnection

from emulator_rest_kit import CARD, World, api_error
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)
from emulator_websocket_kit import assert_quiet, envelope, open_socket, register, uuid_of
from test_delivery import Receiver, receiver  # noqa: F401 (a fixture, used by name)
from test_emulator_rest_webhooks import delivered, hook
from webex_openapi import WebexSpec

Json = dict[str, Any]
MEMBERSHIP_FIELDS = {"id", "roomId", "roomType", "personId", "personEmail", "personDisplayName", "personOrgId",
                     "isModerator", "isMonitor", "created"}
ENVELOPE_FIELDS = {"id", "name", "targetUrl", "resource", "event", "orgId", "createdBy", "appId", "ownedBy",
                   "status", "created", "actorId", "data"}


@contextmanager
def bot_socket(world: World) -> Iterator[ClientConnection]:
    """A device of the bot, registered now (after the world's spaces were made), connected."""
    response = register(world.emulator, world.bot)
    assert response.status_code == 200, response.text
    with open_socket(response.json(), world.bot) as ws:
        yield ws


def activity(ws: ClientConnection) -> Json:
    return envelope(ws)["data"]["activity"]


def assert_membership_conforms(membership: Json, spec: Optional[WebexSpec]) -> None:
    assert MEMBERSHIP_FIELDS <= membership.keys()
    if spec is not None:
        assert spec.problems("GET", "/v1/memberships/x", 200, membership) == []


def assert_names(seen: Json, verb: str, actor: Json, person: Json, room: Json) -> None:
    """``seen`` is ``verb`` by ``actor`` of ``person`` in ``room``, with the person's email and name."""
    assert (seen["verb"], seen["objectType"], seen["actor"]["id"]) == (verb, "activity", uuid_of(actor["id"]))
    assert seen["object"] == {"id": uuid_of(person["id"]), "objectType": "person",
                              "emailAddress": person["emails"][0], "displayName": person["displayName"]}
    assert seen["target"]["id"] == uuid_of(room["id"]) and seen["target"]["objectType"] == "conversation"
    assert str(uuid.UUID(seen["id"])) == seen["id"] and seen["published"].endswith("Z")


def test_membership_webhooks_carry_the_spec_fields(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "memberships", "created")
    hook(world, receiver, "memberships", "deleted")
    carol = world.control.create_person("Carol King")
    room = world.control.create_group("Later", world.alice, [world.bob])
    joined = world.control.add_member(room, world.bot)
    assert_membership_conforms(joined, openapi)
    world.control.add_member(room, carol, actor=world.bob)
    world.control.remove_member(room, carol, actor=world.bob)
    world.control.remove_member(room, world.bot)
    got = sorted(delivered(world, receiver, openapi), key=lambda e: (e["event"], e["data"]["personDisplayName"]))
    assert [(e["event"], e["actorId"], e["data"]["personId"]) for e in got] == [
        ("created", world.bob["id"], carol["id"]), ("created", world.alice["id"], world.bot["id"]),
        ("deleted", world.bob["id"], carol["id"]), ("deleted", world.alice["id"], world.bot["id"])]
    for delivery in got:
        assert delivery.keys() == ENVELOPE_FIELDS and delivery["resource"] == "memberships"
        assert delivery["createdBy"] == world.bot["id"] and delivery["name"] == f"memberships/{delivery['event']}"
        assert_membership_conforms(delivery["data"], openapi)
        assert (delivery["data"]["roomId"], delivery["data"]["roomType"]) == (room["id"], "group")
        if openapi is not None:
            webhook = {k: v for k, v in delivery.items() if k not in ("actorId", "data")}
            assert openapi.problems("GET", "/v1/webhooks/x", 200, webhook) == []
    assert got[1]["data"] == {**joined, "created": got[1]["data"]["created"]}


def test_a_bot_made_a_member_of_a_new_group_space_is_told(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "memberships", "created")
    room = world.control.create_group("Greet me", world.alice, [world.bot, world.bob])
    got = delivered(world, receiver, openapi)
    # Members join in turn (the creator first): the bot hears of itself and of who came after it.
    assert sorted(e["data"]["personId"] for e in got) == sorted(p["id"] for p in (world.bot, world.bob))
    assert {(e["actorId"], e["data"]["roomId"]) for e in got} == {(world.alice["id"], room["id"])}


def test_the_bots_device_hears_people_join_and_leave(world: World) -> None:
    carol = world.control.create_person("Carol King")
    with bot_socket(world) as ws:
        world.control.add_member(world.group, carol)
        joined = envelope(ws)
        world.control.remove_member(world.group, carol, actor=world.bob)
        left = envelope(ws)
        assert_quiet(ws)
    assert left["sequenceNumber"] == joined["sequenceNumber"] + 1
    assert_names(joined["data"]["activity"], "add", world.alice, carol, world.group)
    assert_names(left["data"]["activity"], "leave", world.bob, carol, world.group)
    assert joined["data"]["activity"]["id"] != left["data"]["activity"]["id"]


def test_space_events_are_replayed_until_acknowledged(world: World) -> None:
    carol = world.control.create_person("Carol King")
    with bot_socket(world):
        pass
    [device] = [d for d in world.control.devices() if d["ownerId"] == world.bot["id"]]
    world.control.add_member(world.group, carol)
    assert [d["unacked"] for d in world.control.devices()] == [1]
    with open_socket(device, world.bot) as ws:
        replayed = envelope(ws)
        assert replayed["data"]["activity"]["verb"] == "add"
        ws.send(json.dumps({"type": "ack", "messageId": replayed["id"]}))
        world.control.wait_for(lambda: [a for a in world.control.acks() if a["messageId"] == replayed["id"]],
                               1, 5, "the ack")
    assert [a["matched"] for a in world.control.acks()] == [True]
    with open_socket(device, world.bot) as ws:
        assert_quiet(ws)


def test_the_bot_hears_it_was_added_and_by_default_not_that_it_was_removed(world: World) -> None:
    room = world.control.create_group("Later", world.alice, [world.bob])
    with bot_socket(world) as ws:
        world.control.add_member(room, world.bot, actor=world.bob)
        assert_names(activity(ws), "add", world.bob, world.bot, room)
        world.control.remove_member(room, world.bot)
        assert_quiet(ws)
        world.control.settings(leaveSeenByRemoved=True)
        world.control.add_member(room, world.bot)
        assert activity(ws)["verb"] == "add"
        world.control.remove_member(room, world.bot)
        assert_names(activity(ws), "leave", world.alice, world.bot, room)


def test_without_person_fields_the_object_names_only_the_person(world: World) -> None:
    carol = world.control.create_person("Carol King")
    world.control.settings(spaceEventPersonFields=False)
    with bot_socket(world) as ws:
        world.control.add_member(world.group, carol)
        assert activity(ws)["object"] == {"id": uuid_of(carol["id"]), "objectType": "person"}


def test_members_a_space_is_made_with_get_add_only_with_the_setting(world: World) -> None:
    with bot_socket(world) as ws:
        world.control.create_group("Quiet", world.alice, [world.bot])
        assert_quiet(ws)
        world.control.settings(addSeenAtCreation=True)
        room = world.control.create_group("Told", world.alice, [world.bot, world.bob])
        own, after = activity(ws), activity(ws)
        assert_quiet(ws)  # the creator joined before the bot was in it
    assert_names(own, "add", world.alice, world.bot, room)
    assert_names(after, "add", world.alice, world.bob, room)


def test_member_control_errors(world: World) -> None:
    members = f"{world.emulator.control_url}/rooms/{world.group['id']}/members"

    def status(method: str, url: str, **kwargs: Any) -> int:
        response = requests.request(method, url, timeout=5, **kwargs)
        body = response.json()
        assert body["message"] and body["errors"] and body["trackingId"]
        return response.status_code

    direct = f"{world.emulator.control_url}/rooms/{world.direct['id']}/members"
    assert status("POST", direct, json={"personId": world.bob["id"]}) == 400
    assert status("DELETE", f"{direct}/{world.bot['id']}") == 400
    assert status("POST", members, json={"personId": world.bob["id"]}) == 409
    assert status("POST", members, json={"personId": "nobody"}) == 404
    assert status("POST", members, json={"personId": world.bob["id"], "actorId": "nobody"}) == 404
    nowhere = f"{world.emulator.control_url}/rooms/nowhere/members"
    assert status("POST", nowhere, json={"personId": world.bob["id"]}) == 404
    outsider = world.control.create_person("Outsider")
    assert status("DELETE", f"{members}/{outsider['id']}") == 404
    assert status("DELETE", f"{members}/nobody") == 404


def test_cards_newer_than_webex_renders_are_refused(world: World) -> None:
    newer = {**CARD, "content": {**CARD["content"], "version": "1.4"}}
    refused = api_error(world.api.messages.create, roomId=world.direct["id"], attachments=[newer])
    assert refused.status_code == 400 and "version 1.4" in refused.message
    not_a_card = {**CARD, "content": {"type": "HeroCard", "version": "1.0"}}
    assert api_error(world.api.messages.create, roomId=world.direct["id"], attachments=[not_a_card]).status_code == 400
    at_limit = {**CARD, "content": {**CARD["content"], "version": "1.3"}}
    posted = world.api.messages.create(roomId=world.direct["id"], attachments=[at_limit])
    assert posted.attachments[0]["content"]["version"] == "1.3"
    world.control.settings(cardMaxVersion="1.4")
    assert world.api.messages.create(roomId=world.direct["id"], attachments=[newer]).attachments


@pytest.mark.parametrize("version", ["1.10", "2", "one"])
def test_card_versions_compare_as_numbers(world: World, version: str) -> None:
    card = {**CARD, "content": {**CARD["content"], "version": version}}
    assert api_error(world.api.messages.create, roomId=world.direct["id"], attachments=[card]).status_code == 400
