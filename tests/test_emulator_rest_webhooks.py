"""Webhooks of every messaging resource and event, and org-wide ones (``ownedBy: org``), delivered to
a plain HTTP server; every REST answer is checked against Webex's spec by ``answers_conform``, and each
delivery's ``data`` against the spec's schema of the resource it names."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Optional

import pytest

from emulator_rest_kit import CARD, World, api_error, problems_in, sdk
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)
from test_delivery import Receiver, receiver  # noqa: F401 (a fixture, used by name)
from webex_openapi import WebexSpec

SECRET = "shh"
# The spec schema each resource's delivered ``data`` is: that of the resource's GET by id.
DATA_SCHEMA = {"memberships": "/v1/memberships/x", "rooms": "/v1/rooms/x", "messages": "/v1/messages/x",
               "attachmentActions": "/v1/attachment/actions/x"}


def delivered(world: World, receiver: Receiver, spec: Optional[WebexSpec]) -> list[dict[str, Any]]:
    """The envelopes received so far (in no set order: a pool delivers them), each signed with ``SECRET``
    and its ``data`` as the spec says."""
    assert world.control.wait_deliveries_idle()
    for headers, raw in receiver.requests:
        assert hmac.compare_digest(headers["X-Spark-Signature"], hmac.new(SECRET.encode(), raw, hashlib.sha1).hexdigest())
    envelopes = receiver.bodies()
    if spec is not None:
        assert [p for e in envelopes for p in spec.problems("GET", DATA_SCHEMA[e["resource"]], 200, e["data"])] == []
    return envelopes


def hook(world: World, receiver: Receiver, resource: str, event: str, who: Optional[dict[str, Any]] = None,
         **options: Any) -> Any:
    api = sdk(world.emulator, who) if who else world.api
    return api.webhooks.create(name=f"{resource}/{event}", targetUrl=receiver.url, resource=resource,
                               event=event, secret=SECRET, **options)


def test_the_bot_hears_it_was_added_to_and_removed_from_a_space(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "memberships", "created")
    hook(world, receiver, "memberships", "deleted")
    alice = sdk(world.emulator, world.alice)
    room = alice.rooms.create("Greet me")
    joined = alice.memberships.create(room.id, personId=world.bot["id"])
    alice.memberships.delete(joined.id)
    added, removed = sorted(delivered(world, receiver, openapi), key=lambda e: e["event"])  # created, deleted
    assert (added["resource"], added["event"], added["actorId"]) == ("memberships", "created", world.alice["id"])
    assert added["data"] == {**joined.json_data, "created": added["data"]["created"]}
    assert (added["data"]["personId"], added["data"]["roomId"], added["data"]["roomType"]) == (
        world.bot["id"], room.id, "group")
    assert (removed["event"], removed["data"]["id"]) == ("deleted", joined.id)


def test_membership_webhook_filters(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "memberships", "created", filter=f"personId={world.alice['id']}")
    hook(world, receiver, "memberships", "updated", filter=f"personId={world.alice['id']}&roomType=group")
    hook(world, receiver, "memberships", "updated", filter="isModerator=true")
    room = world.api.rooms.create("Filtered")
    joined = world.api.memberships.create(room.id, personId=world.alice["id"])
    world.api.memberships.create(room.id, personId=world.bob["id"])  # neither filter holds
    world.api.memberships.update(joined.id, isModerator=True)
    got = [(e["name"], e["event"], e["data"]["personId"]) for e in delivered(world, receiver, openapi)]
    assert sorted(got) == sorted([("memberships/created", "created", world.alice["id"]),
                                  ("memberships/updated", "updated", world.alice["id"]),
                                  ("memberships/updated", "updated", world.alice["id"])])


def test_rooms_created_and_updated(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "rooms", "created")
    hook(world, receiver, "rooms", "updated")
    made = world.control.create_group("Made with the bot in it", world.alice, [world.bot])
    world.api.rooms.update(made["id"], title="Renamed")
    world.control.create_group("Without the bot", world.alice, [world.bob])
    got = [(e["event"], e["data"]["id"], e["data"]["title"]) for e in delivered(world, receiver, openapi)]
    assert sorted(got) == [("created", made["id"], "Made with the bot in it"), ("updated", made["id"], "Renamed")]


def test_messages_updated_and_deleted(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "messages", "updated")
    hook(world, receiver, "messages", "deleted")
    posted = world.api.messages.create(roomId=world.direct["id"], text="first")
    world.api.messages.edit(posted.id, roomId=world.direct["id"], text="second")
    world.api.messages.delete(posted.id)
    got = [(e["event"], e["data"]["id"], e["actorId"]) for e in delivered(world, receiver, openapi)]
    assert sorted(got) == [("deleted", posted.id, world.bot["id"]), ("updated", posted.id, world.bot["id"])]
    assert all("text" not in e["data"] for e in receiver.bodies())


def test_card_submits(world: World, receiver: Receiver, openapi) -> None:
    hook(world, receiver, "attachmentActions", "created")
    card = world.api.messages.create(roomId=world.direct["id"], attachments=[CARD])
    action = world.control.submit_card(world.alice, {"id": card.id}, {"name": "Ada"})
    [envelope] = delivered(world, receiver, openapi)
    assert envelope["data"]["id"] == action["id"] and "inputs" not in envelope["data"]


def test_all_resources_and_events(world: World, receiver: Receiver, openapi) -> None:
    """``resource: all, event: all`` hears everything the owner may see. The spec's Webhook schema has
    no "all" in its enums (Webex's webhooks guide documents it), so that one answer is checked apart."""
    hook(world, receiver, "all", "all")
    if openapi is not None:
        gaps = problems_in(world.control.calls(), openapi)
        assert len(gaps) == 2 and all("is not one of" in gap for gap in gaps)
    world.control.clear_calls()
    room = world.api.rooms.create("Everything")
    world.api.messages.create(roomId=room.id, text="hi")
    world.api.rooms.update(room.id, title="Still everything")
    got = [(e["resource"], e["event"]) for e in delivered(world, receiver, openapi)]
    assert sorted(got) == [("memberships", "created"), ("messages", "created"), ("rooms", "created"),
                           ("rooms", "updated")]


def test_an_org_webhook_of_a_compliance_officer_hears_the_whole_org(world: World, receiver: Receiver,
                                                                    openapi) -> None:
    world.control.settings(complianceOfficers=world.alice["emails"][0])
    made = hook(world, receiver, "messages", "created", who=world.alice, ownedBy="org")
    assert made.ownedBy == "org"
    between_others = sdk(world.emulator, world.bob).messages.create(toPersonId=world.bot["id"], text="psst")
    [envelope] = delivered(world, receiver, openapi)
    assert (envelope["ownedBy"], envelope["data"]["id"]) == ("org", between_others.id)


@pytest.mark.parametrize("setting, answer", [("forbidden", 403), ("creator", "creator"), ("org", "org")])
def test_what_a_bot_gets_for_an_org_webhook(world: World, receiver: Receiver, setting: str, answer: Any) -> None:
    world.control.settings(orgWebhookByBot=setting)
    if answer == 403:
        assert api_error(hook, world, receiver, "messages", "created", ownedBy="org").status_code == 403
    else:
        assert hook(world, receiver, "messages", "created", ownedBy="org").ownedBy == answer


def test_org_webhook_errors(world: World, receiver: Receiver) -> None:
    assert api_error(hook, world, receiver, "messages", "created", who=world.bob, ownedBy="org").status_code == 403
    assert api_error(hook, world, receiver, "messages", "created", ownedBy="everyone").status_code == 400
    assert world.control.settings()["org_webhook_by_bot"] == "forbidden"
