"""The emulator's device websocket half: U2C, WDM, the conversation service and Mercury.

A real websocket client (``websockets.sync.client``) and real HTTP (requests, webexpythonsdk) talk to
it exactly as a bot without a public URL talks to Webex (WEBEX_PROTOCOL.md, section 3).
"""
from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from webexpythonsdk import WebexAPI
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.emulator import Emulator
from bot.emulator.ids import decode_id
from support import until

QUERY = "?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true"
DEVICE = {"deviceName": "laptop-bot", "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
          "name": "laptop-bot-test", "systemName": "laptop-bot", "systemVersion": "0.1"}
WAIT = 5.0  # for frames that must come
QUIET = 0.3  # for frames that must not
CARD = {"contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.2", "body": [{"type": "Input.Text", "id": "answer"}],
                    "actions": [{"type": "Action.Submit", "title": "Send"}]}}


def bearer(who: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {who['token']}"}


def wdm_url(emulator: Emulator, who: dict[str, Any]) -> str:
    response = requests.get(emulator.u2c_url, params={"format": "hostmap"}, headers=bearer(who), timeout=5)
    assert response.status_code == 200
    return response.json()["serviceLinks"]["wdm"]


def register(emulator: Emulator, who: dict[str, Any]) -> requests.Response:
    return requests.post(f"{wdm_url(emulator, who)}/devices", json=DEVICE, headers=bearer(who), timeout=5)


def uuid_of(rest_id: str) -> str:
    """The uuid inside a REST id: what activities name things by."""
    decoded = decode_id(rest_id)
    assert decoded is not None, rest_id
    return decoded[1]


def authorize(ws: ClientConnection, token: str) -> None:
    ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "authorization", "data": {"token": f"Bearer {token}"}}))


@contextmanager
def open_socket(device: dict[str, Any], who: dict[str, Any]) -> Iterator[ClientConnection]:
    """Connect and authorize; yield once the ready event came."""
    with connect(device["webSocketUrl"] + QUERY) as ws:
        authorize(ws, who["token"])
        ready = json.loads(ws.recv(timeout=WAIT))
        assert ready["data"]["eventType"] == "mercury.buffer_state"
        assert "sequenceNumber" not in ready
        yield ws


def envelope(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=WAIT))


def assert_quiet(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        ws.recv(timeout=QUIET)


def lookup(activity: dict[str, Any], who: dict[str, Any], kind: str = "messages") -> requests.Response:
    """What a bot does with an activity: swap ``conversations/<target>`` for ``<kind>/<activity id>``."""
    target = activity["target"]
    url = target["url"].replace(f"conversations/{target['id']}", f"{kind}/{activity['id']}")
    return requests.get(url, headers=bearer(who), timeout=5)


def now_in_milliseconds() -> str:
    """The time as Webex writes it (``2024-08-05T13:04:31.488Z``), so it compares with its timestamps."""
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def closed_code(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; the close code and reason the client saw."""
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=WAIT)
    return ws.close_code, ws.close_reason


@dataclass
class World:
    emulator: Emulator
    bot: dict[str, Any]
    alice: dict[str, Any]
    bob: dict[str, Any]
    direct: dict[str, Any]
    group: dict[str, Any]
    device: dict[str, Any]

    @property
    def api(self) -> WebexAPI:
        return WebexAPI(access_token=self.bot["token"], base_url=self.emulator.api_url)

    def device_status(self) -> dict[str, Any]:
        return next(d for d in self.emulator.control.devices() if d["id"] == self.device_id)

    @property
    def device_id(self) -> str:
        return self.device["url"].rsplit("/", 1)[1]

    def wait_unacked(self, count: int) -> None:
        self.emulator.control.wait_for(
            lambda: [d for d in [self.device_status()] if d["unacked"] == count], 1, WAIT, f"{count} un-acked")


@pytest.fixture
def world(webex_emulator: Emulator) -> Iterator[World]:
    control = webex_emulator.control
    bot, alice, bob = control.create_bot("Helper"), control.create_person("Alice Smith"), control.create_person("Bob")
    response = register(webex_emulator, bot)
    assert response.status_code == 200, response.text
    yield World(webex_emulator, bot, alice, bob, control.direct_room(alice, bot),
                control.create_group("Team", alice, [bot, bob]), response.json())


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
    assert "secret words" not in json.dumps(first)
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


@pytest.mark.parametrize("token", ["not-a-token", "alice"])
def test_wrong_token_closes_4401(world: World, token: str) -> None:
    with connect(world.device["webSocketUrl"] + QUERY) as ws:
        authorize(ws, world.alice["token"] if token == "alice" else token)
        assert closed_code(ws)[0] == 4401
    assert world.device_status()["connected"] is False


def test_first_frame_must_be_authorization(world: World) -> None:
    with connect(world.device["webSocketUrl"] + QUERY) as ws:
        ws.send(json.dumps({"id": "1", "type": "ping"}))
        assert closed_code(ws)[0] == 4401


def test_no_authorization_in_time_closes_1008(world: World) -> None:
    world.emulator.mercury.auth_timeout = 0.1
    with connect(world.device["webSocketUrl"] + QUERY) as ws:
        code, reason = closed_code(ws)
    assert code == 1008 and reason and "timeout window" in reason


def test_unknown_or_deleted_device_fails_the_handshake_with_404(world: World) -> None:
    stale = world.device["webSocketUrl"].replace(world.device_id, str(uuid.uuid4()))
    with pytest.raises(InvalidStatus) as unknown, connect(stale + QUERY):
        pass
    assert unknown.value.response.status_code == 404
    world.emulator.control.delete_device(world.device_id)
    with pytest.raises(InvalidStatus) as deleted, connect(world.device["webSocketUrl"] + QUERY):
        pass
    assert deleted.value.response.status_code == 404
    assert requests.get(world.device["url"], headers=bearer(world.bot)).status_code == 404


def test_device_limit_answers_403(world: World) -> None:
    world.emulator.control.settings(device_limit=2)
    assert register(world.emulator, world.bot).status_code == 200
    refused = register(world.emulator, world.bot)
    assert refused.status_code == 403
    assert refused.json()["message"] == "User has excessive device registrations"
    assert refused.json()["errors"][0]["description"] == refused.json()["message"] and refused.json()["trackingId"]
    assert register(world.emulator, world.alice).status_code == 200
    requests.delete(world.device["url"], headers=bearer(world.bot))
    assert register(world.emulator, world.bot).status_code == 200


def test_register_needs_the_device_fields(world: World) -> None:
    wdm = wdm_url(world.emulator, world.bot)
    response = requests.post(f"{wdm}/devices", json={"name": "x"}, headers=bearer(world.bot))
    assert response.status_code == 400 and "deviceType" in response.json()["message"]


def test_refresh_then_delete(world: World) -> None:
    url, headers = world.device["url"], bearer(world.bot)
    until(lambda: now_in_milliseconds() > world.device["modificationTime"], "the clock to pass the registration")
    refreshed = requests.put(url, json=DEVICE, headers=headers)
    assert refreshed.status_code == 200
    assert refreshed.json()["modificationTime"] > world.device["modificationTime"]
    assert refreshed.json()["webSocketUrl"] == world.device["webSocketUrl"]
    assert requests.put(url, json=DEVICE, headers=bearer(world.alice)).status_code == 404
    assert requests.delete(url, headers=headers).status_code == 204
    assert requests.put(url, json=DEVICE, headers=headers).status_code == 404
    assert requests.delete(url, headers=headers).status_code == 404


def test_ping_pong_and_silence_when_pings_are_not_answered(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        ws.send(json.dumps({"id": "ping-1", "type": "ping"}))
        assert envelope(ws) == {"type": "pong", "id": "ping-1"}
        world.emulator.control.settings(answer_pings=False)
        ws.send(json.dumps({"id": "ping-2", "type": "ping"}))
        assert_quiet(ws)


def test_unacked_envelopes_are_replayed_after_reconnect(world: World) -> None:
    control = world.emulator.control
    with open_socket(world.device, world.bot) as ws:
        control.post(world.alice, "one", room=world.direct)
        control.post(world.alice, "two", room=world.direct)
        first, second = envelope(ws), envelope(ws)
        ws.send(json.dumps({"type": "ack", "messageId": first["id"]}))
        world.wait_unacked(1)
    control.post(world.alice, "three", room=world.direct)
    assert world.device_status()["unacked"] == 2
    with open_socket(world.device, world.bot) as ws:
        replayed, buffered = envelope(ws), envelope(ws)
        assert_quiet(ws)
    assert replayed == {**second, "wsWriteTimestamp": replayed["wsWriteTimestamp"]}
    assert buffered["sequenceNumber"] == second["sequenceNumber"] + 1
    acks = [a for a in control.acks() if a["device"] == world.device_id]
    assert [(a["messageId"], a["matched"]) for a in acks] == [(first["id"], True)]


def test_no_replay_when_switched_off(world: World) -> None:
    world.emulator.control.settings(replay_unacked=False)
    world.emulator.control.post(world.alice, "while away", room=world.direct)
    assert world.device_status()["unacked"] == 1
    with open_socket(world.device, world.bot) as ws:
        assert_quiet(ws)
    assert world.device_status()["unacked"] == 0


def test_drop_is_an_abnormal_closure(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        world.emulator.control.drop_websocket(world.device_id)
        assert closed_code(ws) == (1006, "")
    world.emulator.control.wait_for(lambda: [1] if not world.device_status()["connected"] else [], 1, WAIT,
                                    "the device to be disconnected")


def test_shutdown_frame(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        world.emulator.control.send_shutdown(world.device_id)
        assert envelope(ws) == {"type": "shutdown"}


def test_close_with_code_4000(world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        world.emulator.control.close_websocket(world.device_id, 4000, "replaced")
        assert closed_code(ws) == (4000, "replaced")


def test_a_second_connection_replaces_the_first(world: World) -> None:
    with open_socket(world.device, world.bot) as old, open_socket(world.device, world.bot) as new:
        assert closed_code(old) == (4000, "replaced")
        world.emulator.control.post(world.alice, "to the new one", room=world.direct)
        assert envelope(new)["data"]["activity"]["verb"] == "post"


def test_skip_makes_a_sequence_gap(world: World) -> None:
    control = world.emulator.control
    with open_socket(world.device, world.bot) as ws:
        control.post(world.alice, "before", room=world.direct)
        before = envelope(ws)["sequenceNumber"]
        assert control.skip_sequence(world.device_id, 3)["sequenceNumber"] == before + 3
        control.post(world.alice, "after", room=world.direct)
        assert envelope(ws)["sequenceNumber"] == before + 4


def test_control_routes_refuse_unknown_or_idle_devices(world: World) -> None:
    base = world.emulator.control_url
    assert requests.post(f"{base}/devices/{uuid.uuid4()}/drop").status_code == 404
    assert requests.post(f"{base}/devices/{world.device_id}/shutdown").status_code == 409
    assert requests.post(f"{base}/devices/{world.device_id}/close", json={"code": 1006}).status_code == 400


def test_a_burst_with_pings_arrives_whole(world: World) -> None:
    """Posts from many threads and pings at once: one writer keeps the compressed stream intact."""
    control, count = world.emulator.control, 40
    with open_socket(world.device, world.bot) as ws:
        def post(start: int) -> None:
            for n in range(start, count, 4):
                control.post(world.alice, f"burst {n}", room=world.direct)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for n in range(10):
            ws.send(json.dumps({"id": f"p{n}", "type": "ping"}))
        for thread in threads:
            thread.join()
        frames = [envelope(ws) for _ in range(count + 10)]
        assert_quiet(ws)
    sequence = [f["sequenceNumber"] for f in frames if "data" in f]
    assert sequence == list(range(1, count + 1))
    assert sorted(f["id"] for f in frames if f.get("type") == "pong") == sorted(f"p{n}" for n in range(10))
