"""The emulator's device websocket half: U2C, WDM, the conversation service and Mercury, as a bot
first meets them (discovery, registration, connecting) and what they bring it: direct and mentioned
messages in sequence, activity ids that resolve to REST ids, card submits, files shared then updated
as safe, thread replies. Authorization, devices, pings, acks and replay, closes and sequence gaps are
tested in ``test_emulator_websocket_connection.py``.

A real websocket client (``websockets.sync.client``) and real HTTP (requests, webexpythonsdk) talk to
it exactly as a bot without a public URL talks to Webex (WEBEX_PROTOCOL.md, section 3).
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import requests

from bot.emulator import Emulator
from emulator_websocket_kit import DEVICE, World, assert_quiet, bearer, envelope, open_socket, uuid_of
from emulator_websocket_kit import world  # noqa: F401 (a fixture, used by name)
CARD = {"contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.2", "body": [{"type": "Input.Text", "id": "answer"}],
                    "actions": [{"type": "Action.Submit", "title": "Send"}]}}


def lookup(activity: dict[str, Any], who: dict[str, Any], kind: str = "messages") -> requests.Response:
    """What a bot does with an activity: swap ``conversations/<target>`` for ``<kind>/<activity id>``."""
    target = activity["target"]
    url = target["url"].replace(f"conversations/{target['id']}", f"{kind}/{activity['id']}")
    return requests.get(url, headers=bearer(who), timeout=5)


def test_discovery_register_connect_and_ready(webex_emulator: Emulator, world: World) -> None:
    catalog = requests.get(webex_emulator.u2c_url, params={"format": "hostmap"}, headers=bearer(world.bot)).json()
    assert catalog["format"] == "hostmap"
    assert catalog["serviceLinks"]["wdm"] == f"{webex_emulator.url}/wdm/api/v1"
    assert catalog["serviceLinks"]["hydra"] == webex_emulator.api_url
    assert catalog["hostCatalog"]
    assert requests.get(webex_emulator.u2c_url, params={"format": "hostmap"}).status_code == 401

    device = world.device
    assert device["url"] == f"{webex_emulator.url}/wdm/api/v1/devices/{world.device_id}"
    assert device["webSocketUrl"].startswith(webex_emulator.ws_url + "/")
    assert {k: device[k] for k in DEVICE} == DEVICE
    assert device["creationTime"].endswith("Z") and device["modificationTime"].endswith("Z")
    assert device["services"]["conversationServiceUrl"] == f"{webex_emulator.url}/conversation/api/v1"
    mine = requests.get(f"{webex_emulator.url}/wdm/api/v1/devices", headers=bearer(world.bot)).json()["devices"]
    assert [d["url"] for d in mine] == [device["url"]]
    theirs = requests.get(f"{webex_emulator.url}/wdm/api/v1/devices", headers=bearer(world.alice)).json()
    assert theirs == {"devices": []}
    assert requests.get(device["url"], headers=bearer(world.alice)).status_code == 404

    assert world.device_status()["connected"] is False
    with open_socket(device, world.bot):
        status = world.device_status()
        assert status["connected"] is True and status["ownerId"] == world.bot["id"]


def test_direct_and_mentioned_messages_arrive_in_sequence(world: World) -> None:
    control = world.emulator.control
    with open_socket(world.device, world.bot) as ws:
        direct = control.post(world.alice, "secret words", room=world.direct)
        control.post(world.alice, "not for the bot", room=world.group)
        mentioned = control.post(world.bob, "status", room=world.group, mentions=(world.bot,))
        first, second = envelope(ws), envelope(ws)
        assert_quiet(ws)
    assert second["sequenceNumber"] == first["sequenceNumber"] + 1
    for env, message, author, tags in ((first, direct, world.alice, ["ONE_ON_ONE"]),
                                       (second, mentioned, world.bob, [])):
        assert env["data"]["eventType"] == "conversation.activity" and env["filterMessage"] is False
        assert isinstance(env["timestamp"], int) and env["trackingId"] and env["id"] != message["id"]
        activity = env["data"]["activity"]
        assert activity["verb"] == "post" and activity["objectType"] == "activity"
        assert activity["id"] == uuid_of(message["id"])
        assert activity["actor"]["id"] == uuid_of(author["id"])
        assert activity["actor"]["type"] == "PERSON"
        assert activity["actor"]["emailAddress"] == author["emails"][0]
        assert activity["target"]["tags"] == tags
        assert activity["object"]["objectType"] == "comment"
    # In clear, naming no KMS key: the emulator has no KMS (bot/emulator/activities.py says why).
    assert first["data"]["activity"]["object"]["displayName"] == "secret words"
    assert "encryptionKeyUrl" not in json.dumps(first)
    assert second["data"]["activity"]["object"]["mentions"]["items"][0]["id"] == uuid_of(world.bot["id"])


def test_activity_id_resolves_to_the_rest_id(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        posted = world.emulator.control.post(world.alice, "hello there", room=world.direct)
        activity = envelope(ws)["data"]["activity"]
    found = lookup(activity, world.bot)
    assert found.status_code == 200
    assert found.json()["id"] == posted["id"] and found.json()["objectType"] == "activity"
    assert world.api.messages.get(found.json()["id"]).text == "hello there"
    assert lookup(activity, world.bob).status_code == 404
    conversation = requests.get(activity["target"]["url"], headers=bearer(world.bot))
    assert conversation.status_code == 200 and conversation.json()["id"] == activity["target"]["id"]
    assert lookup({**activity, "id": str(uuid.uuid4())}, world.bot).status_code == 404


def test_card_submit_arrives_as_card_action(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        card = world.api.messages.create(roomId=world.group["id"], text="card", attachments=[CARD])
        own = envelope(ws)["data"]["activity"]
        assert own["verb"] == "post" and own["actor"]["type"] == "BOT"
        action = world.emulator.control.submit_card(world.alice, card.to_dict(), {"answer": "42"})
        activity = envelope(ws)["data"]["activity"]
    assert activity["verb"] == "cardAction"
    assert activity["id"] == uuid_of(action["id"])
    assert activity["object"]["id"] == uuid_of(card.id)
    assert activity["actor"]["id"] == uuid_of(world.alice["id"])
    found = lookup(activity, world.bot, "attachment/actions")
    assert found.status_code == 200 and found.json()["id"] == action["id"]
    fetched = world.api.attachment_actions.get(found.json()["id"])
    assert fetched.inputs == {"answer": "42"} and fetched.messageId == card.id


def test_file_is_shared_then_updated_as_safe(world: World, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("numbers")
    with open_socket(world.device, world.bot) as ws:
        posted = world.emulator.control.post(world.alice, "the report", room=world.direct, file=report)
        share, update = envelope(ws), envelope(ws)
    assert update["sequenceNumber"] == share["sequenceNumber"] + 1
    share_activity, update_activity = share["data"]["activity"], update["data"]["activity"]
    assert share_activity["verb"] == "share" and update_activity["verb"] == "update"
    assert share_activity["id"] == uuid_of(posted["id"]) != update_activity["id"]
    for activity, state in ((share_activity, "pending"), (update_activity, "safe")):
        assert activity["object"]["objectType"] == "content"
        assert activity["object"]["contentCategory"] == "documents"
        assert [f["malwareQuarantineState"] for f in activity["object"]["files"]["items"]] == [state]
    assert update_activity["object"]["id"] == share_activity["id"]
    rest_id = lookup(share_activity, world.bot).json()["id"]
    assert rest_id == posted["id"] and len(world.api.messages.get(rest_id).files) == 1


def test_thread_reply_names_its_parent(world: World) -> None:
    control = world.emulator.control
    with open_socket(world.device, world.bot) as ws:
        parent = control.post(world.alice, "question", room=world.direct)
        control.post(world.alice, "more detail", room=world.direct, parent=parent)
        top, reply = envelope(ws)["data"]["activity"], envelope(ws)["data"]["activity"]
    assert "parent" not in top
    assert reply["parent"]["id"] == top["id"] and reply["parent"]["type"] == "reply"
