"""What the tests of the emulator's REST API share (``test_emulator_rest.py``, ``..._errors.py``,
``..._spec.py``): their world (a bot, two people, a group room and a direct one, the bot's
webexpythonsdk client), Webex's OpenAPI spec as amended (``openapi``) and the check of every answer
(``answers_conform``).

A test module imports the fixtures it uses by name. Importing ``answers_conform`` (autouse) is what has
every answer its tests got checked: error bodies carry ``message``, ``errors`` and ``trackingId``, every
status is one the spec documents for the operation, and every JSON body validates against the spec's
schema for that status. ``openapi`` keeps its module scope: each module that imports it loads the spec
once.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import pytest
from webexpythonsdk import ApiError, WebexAPI

from bot.emulator import Emulator
from webex_openapi import SPEC_ENV, WebexSpec, load_document, spec_path

Json = dict[str, Any]
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD = {"contentType": CARD_TYPE, "content": {
    "type": "AdaptiveCard", "version": "1.2", "body": [{"type": "Input.Text", "id": "name"}],
    "actions": [{"type": "Action.Submit", "title": "Send"}]}}
# What Webex answers for a card attachment, which the spec's Attachment schema (file attachments
# only) leaves out; see test_the_spec_schema_rejects_its_own_card_example in test_emulator_rest_spec.py.
CARD_ATTACHMENT = {"type": "object", "required": ["contentType", "content"], "properties": {
    "contentType": {"type": "string", "enum": [CARD_TYPE]},
    "content": {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["AdaptiveCard"]}}}}}


def sdk(emulator: Emulator, person: Json, **options: Any) -> WebexAPI:
    return WebexAPI(access_token=person["token"], base_url=emulator.api_url, **options)


def uri_of(rest_id: str) -> str:
    """What a Webex id stands for: the base64-decoded ``ciscospark://`` URI."""
    return base64.b64decode(rest_id + "=" * (-len(rest_id) % 4)).decode()


@dataclass
class World:
    emulator: Emulator
    bot: Json
    alice: Json
    bob: Json
    group: Json  # Alice's room, with Bob and the bot
    direct: Json  # Alice and the bot
    api: WebexAPI  # the bot's SDK

    @property
    def control(self) -> Any:
        return self.emulator.control


@pytest.fixture
def world(webex_emulator: Emulator) -> World:
    control = webex_emulator.control
    bot = control.create_bot("Helper Bot")
    alice = control.create_person("Alice Smith")
    bob = control.create_person("Bob Jones")
    group = control.create_group("Project", alice, [bob, bot])
    direct = control.direct_room(alice, bot)
    return World(webex_emulator, bot, alice, bob, group, direct, sdk(webex_emulator, bot))


@pytest.fixture(scope="module")
def openapi() -> Optional[WebexSpec]:
    """Webex's spec, amended only where it contradicts its own examples and WEBEX_PROTOCOL.md:
    ``Attachment`` also admits an adaptive card ``{contentType, content}``."""
    path = spec_path()
    if not path.exists():
        if os.environ.get(SPEC_ENV):
            pytest.fail(f"{SPEC_ENV}={path} does not exist")
        if os.environ.get("CI"):  # CI has shared/ beside the clone: a missing spec there is a broken run
            pytest.fail(f"no Webex OpenAPI spec at {path}: under CI the spec checks must run", pytrace=False)
        return None
    document = load_document(path)
    schemas = document["components"]["schemas"]
    schemas["Attachment"] = {"anyOf": [schemas["Attachment"], CARD_ATTACHMENT]}
    return WebexSpec(document)


def problems_in(calls: list[Json], spec: Optional[WebexSpec]) -> list[str]:
    """Everything wrong with the recorded answers of the REST API."""
    found = []
    for call in calls:
        if not call["path"].startswith("/v1/"):
            continue
        body = call["response"]
        where = f"{call['method']} {call['path']} -> {call['status']}"
        if call["status"] >= 400 and not (isinstance(body, dict) and body.get("message") and body.get("trackingId")
                                          and body.get("errors")):
            found.append(f"{where}: error body without message, errors and trackingId: {body!r}")
        if spec is not None and spec.template(call["path"]) is not None:
            found += spec.problems(call["method"], call["path"], call["status"],
                                   body if isinstance(body, (dict, list)) else None)
    return found


@pytest.fixture(autouse=True)
def answers_conform(webex_emulator: Emulator, openapi: Optional[WebexSpec]) -> Iterator[None]:
    yield
    problems = problems_in(webex_emulator.control.calls(), openapi)
    assert not problems, "\n".join(problems)


def api_error(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call(*args, **kwargs)
    return raised.value
