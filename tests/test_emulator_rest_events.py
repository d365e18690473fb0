"""The org's event log (``GET /events``) through webexpythonsdk, read by a compliance officer; every
answer is checked against Webex's spec by ``answers_conform``."""
from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from webexpythonsdk import WebexAPI

from emulator_rest_kit import World, api_error, sdk
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)


def data(event: Any) -> dict[str, Any]:
    """An event's ``data`` as JSON (the SDK wraps it)."""
    return event.json_data["data"]


@pytest.fixture
def officer(world: World) -> WebexAPI:
    """Alice, made the org's compliance officer."""
    world.control.settings(complianceOfficers=f"someone@example.com, {world.alice['emails'][0].upper()}")
    return sdk(world.emulator, world.alice)


def test_events_log_messages_memberships_rooms_and_card_submits(world: World, officer: WebexAPI) -> None:
    room = world.api.rooms.create("Logged")
    joined = world.api.memberships.create(room.id, personId=world.bob["id"])
    posted = world.api.messages.create(roomId=room.id, markdown="**one**")
    world.api.messages.edit(posted.id, roomId=room.id, text="two")
    world.api.memberships.update(joined.id, isModerator=True)
    world.api.rooms.update(room.id, title="Renamed")
    world.api.messages.delete(posted.id)
    world.api.memberships.delete(joined.id)
    card = world.api.messages.create(roomId=world.direct["id"], text="card", attachments=[
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard"}}])
    world.control.submit_card(world.alice, {"id": card.id}, {"a": "1"})
    seen = [(e.resource, e.type) for e in officer.events.list() if data(e).get("roomId", data(e)["id"]) == room.id]
    assert seen == [("memberships", "deleted"), ("messages", "deleted"), ("rooms", "updated"),
                    ("memberships", "updated"), ("messages", "updated"), ("messages", "created"),
                    ("memberships", "created"), ("memberships", "created"), ("rooms", "created")]
    edited = next(iter(officer.events.list(resource="messages", type="updated")))
    assert (data(edited)["id"], data(edited)["text"], edited.actorId) == (posted.id, "two", world.bot["id"])
    submit = next(iter(officer.events.list(resource="attachmentActions")))
    assert (submit.type, submit.actorId, data(submit)["inputs"]) == ("created", world.alice["id"], {"a": "1"})
    assert officer.events.get(submit.id).id == submit.id


def test_event_filters_and_paging(world: World, officer: WebexAPI) -> None:
    world.api.messages.create(roomId=world.direct["id"], text="before")
    time.sleep(0.01)
    cut = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
    time.sleep(0.01)
    for n in range(3):
        officer.messages.create(roomId=world.direct["id"], text=f"after {n}")
    mine = list(officer.events.list(actorId=world.alice["id"], resource="messages"))
    assert [data(e)["text"] for e in mine] == ["after 2", "after 1", "after 0"]
    assert [data(e)["text"] for e in officer.events.list(resource="messages", _from=cut)] == [
        "after 2", "after 1", "after 0"]
    assert [data(e)["text"] for e in officer.events.list(resource="messages", to=cut)] == ["before"]
    page = requests.get(f"{world.emulator.api_url}events", params={"resource": "messages", "max": 2},
                        headers={"Authorization": f"Bearer {world.alice['token']}"}, timeout=10)
    assert len(page.json()["items"]) == 2 and 'rel="next"' in page.headers["Link"]
    assert len(list(officer.events.list(resource="messages", max=1))) == 4  # the SDK follows the Link pages


def test_event_errors(world: World, officer: WebexAPI) -> None:
    assert api_error(lambda: list(world.api.events.list())).status_code == 403  # a bot is no compliance officer
    assert api_error(lambda: list(sdk(world.emulator, world.bob).events.list())).status_code == 403
    assert api_error(lambda: list(officer.events.list(resource="nothing"))).status_code == 400
    assert api_error(lambda: list(officer.events.list(type="moved"))).status_code == 400
    assert api_error(lambda: list(officer.events.list(max=1001))).status_code == 400
    assert api_error(lambda: list(officer.events.list(_from="yesterday"))).status_code == 400
    assert api_error(lambda: list(officer.events.list(to="2999-01-01T00:00:00.000Z"))).status_code == 400
    assert api_error(officer.events.get, "bm9wZQ").status_code == 404
    newest = next(iter(officer.events.list()))
    assert api_error(world.api.events.get, newest.id).status_code == 403
