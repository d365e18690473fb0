"""What Cisco's webex-js-sdk 3.x reads from the emulator, each shape on its own (WEBEX_PROTOCOL.md,
section 6): tokens that name the org, the limited catalog, a host catalog of bare host names, a WDM
registration without ``deviceName``, activities naming no KMS key, a metrics sink and pongs with a
sequence number. ``test_conformance_webex_js.py`` runs the SDK itself.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests

from bot.emulator import ControlError, Emulator
from bot.emulator.ids import decode_id
from bot.emulator.models import ORG_UUID
from emulator_websocket_kit import World, bearer, envelope, open_socket
from emulator_websocket_kit import world  # noqa: F401 (a fixture, used by name)

# What the SDK sends (internal-plugin-device's config, in Node).
SDK_DEVICE = {"name": "node", "deviceType": "WEB", "model": "web-js-sdk", "localizedModel": "webex-js-sdk",
              "systemName": "WEBEX_JS_SDK", "systemVersion": "3.12.0"}


def test_tokens_name_the_org_as_the_sdk_reads_them(webex_emulator: Emulator) -> None:
    bot = webex_emulator.control.create_bot("Shaped")
    secret, cluster, org = bot["token"].split("_")  # credentials.extractOrgIdFromUserToken
    assert len(secret) == 64 and secret.isalnum() and cluster
    assert org == ORG_UUID and decode_id(bot["orgId"]) == ("ORGANIZATION", ORG_UUID)


def test_the_control_api_takes_a_chosen_token(webex_emulator: Emulator) -> None:
    control = webex_emulator.control
    person = control.create_person("Chosen", token="my-own-token")
    assert person["token"] == "my-own-token"
    me = requests.get(f"{webex_emulator.api_url}people/me", headers=bearer(person), timeout=5).json()
    assert me["id"] == person["id"]
    with pytest.raises(ControlError, match="409"):
        control.create_bot("Copycat", token="my-own-token")
    with pytest.raises(ControlError, match="400"):
        control.create_bot("Spaced", token="two words")


def test_the_limited_catalog_needs_no_token(webex_emulator: Emulator) -> None:
    limited = requests.get(f"{webex_emulator.urls.u2c}/limited/catalog",
                           params={"format": "hostmap", "orgId": ORG_UUID}, timeout=5)
    assert limited.status_code == 200
    assert limited.json()["serviceLinks"]["hydra"] == webex_emulator.api_url
    assert requests.get(f"{webex_emulator.urls.u2c}/limited/catalog", timeout=5).status_code == 400


def test_the_host_catalog_holds_bare_host_names(webex_emulator: Emulator, world: World) -> None:
    catalog = requests.get(webex_emulator.u2c_url, params={"format": "hostmap"}, headers=bearer(world.bot),
                           timeout=5).json()
    assert {"metrics", "wdm", "hydra", "u2c", "conversation"} <= set(catalog["serviceLinks"])
    root = urlsplit(webex_emulator.url)
    for name, link in catalog["serviceLinks"].items():
        # The SDK keys the catalog by the link's host:port and puts that port back on each entry's host.
        entries = catalog["hostCatalog"][urlsplit(link).netloc]
        assert {e["host"] for e in entries} == {root.hostname}, name
        assert all(len(e["id"].split(":")) == 4 and e["id"].startswith("urn:TEAM:us-east-2_a:") for e in entries)


def test_wdm_takes_the_sdk_registration_body(webex_emulator: Emulator, world: World) -> None:
    made = requests.post(f"{webex_emulator.url}/wdm/api/v1/devices", json=SDK_DEVICE, headers=bearer(world.bot),
                         timeout=5)
    assert made.status_code == 200
    device = made.json()
    assert device["deviceName"] == "node" and device["deviceType"] == "WEB" and device["webSocketUrl"]
    nameless = {k: v for k, v in SDK_DEVICE.items() if k != "name"}
    refused = requests.post(f"{webex_emulator.url}/wdm/api/v1/devices", json=nameless, headers=bearer(world.bot),
                            timeout=5)
    assert refused.status_code == 400 and "name" in refused.json()["message"]


def test_activities_come_in_clear_naming_no_key(webex_emulator: Emulator, world: World) -> None:
    card = {"contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.2", "body": []}}
    with open_socket(world.device, world.bot) as ws:
        posted = world.api.messages.create(world.direct["id"], markdown="see **this**", attachments=[card])
        webex_emulator.control.submit_card(world.alice, posted.to_dict(), {"answer": 42})
        activity, action = envelope(ws)["data"]["activity"], envelope(ws)["data"]["activity"]
    assert "encryptionKeyUrl" not in json.dumps([activity, action])
    assert activity["object"]["displayName"] == posted.text and activity["object"]["content"] == posted.html
    assert [json.loads(c) for c in activity["object"]["cards"]] == [card["content"]]
    assert json.loads(action["object"]["inputs"]) == {"answer": 42}


def test_metrics_posts_are_taken_and_counted(webex_emulator: Emulator) -> None:
    before = webex_emulator.client_metrics.posts
    for resource in ("clientmetrics", "clientmetrics-prelogin"):
        sent = requests.post(f"{webex_emulator.urls.metrics}/{resource}", json={"metrics": [{"key": "x"}]}, timeout=5)
        assert sent.status_code == 204
    assert webex_emulator.client_metrics.posts == before + 2


def test_a_pong_carries_the_last_sequence_number(webex_emulator: Emulator, world: World) -> None:
    with open_socket(world.device, world.bot) as ws:
        webex_emulator.control.post(world.alice, "one", room=world.direct)
        number = envelope(ws)["sequenceNumber"]
        ws.send(json.dumps({"id": "p1", "type": "ping"}))
        assert envelope(ws) == {"type": "pong", "id": "p1", "sequenceNumber": number}
        webex_emulator.control.post(world.alice, "two", room=world.direct)
        assert envelope(ws)["sequenceNumber"] == number + 1, "the pong took no number of its own"


def test_people_are_looked_up_with_a_trailing_slash(webex_emulator: Emulator, world: World) -> None:
    # webex-js-sdk 2.x (which webex-node-bot-framework pins) batches lookups as GET /people/?id=
    found = requests.get(f"{webex_emulator.api_url}people/", params={"id": world.alice["id"]},
                         headers=bearer(world.bot), timeout=5)
    assert found.status_code == 200 and [p["id"] for p in found.json()["items"]] == [world.alice["id"]]
