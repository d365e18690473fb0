"""What the device websocket transport's end-to-end tests share (``test_websocket_transport.py``,
``test_websocket_transport_lifecycle.py``): the commands the bot runs there (``yell``, a ballot card and
its vote), ``bots`` on the websocket with those commands, and what a test reads of the transport, its
device and the bot's REST calls (conversation-service lookups, message fetches).

A test module imports ``bots`` by name to have it override the plain one of ``conftest.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import card, card_action, command
from bot.emulator import ControlClient
from bot.ids import uuid_of
from bot.runner import BotRunner
from bot.websocket import WebsocketTransport
from support import Bots

BALLOT = {"type": "AdaptiveCard", "version": "1.3",
          "body": [{"type": "Input.ChoiceSet", "id": "choice", "choices": [{"title": "Tea", "value": "tea"}]}],
          "actions": [{"type": "Action.Submit", "title": "Vote", "data": {"action": "ballot-vote"}}]}
Json = dict[str, Any]


@command("yell")
def yell(ctx):
    return ctx.text.upper()


@command("ballot")
def ballot(ctx):
    return card(BALLOT, fallback="A ballot")


@card_action("ballot-vote")
def ballot_vote(ctx):
    return f"{ctx.sender_email} voted {ctx.inputs['choice']}"


PLUGINS = [yell, ballot, ballot_vote]


def transport_of(runner: BotRunner) -> WebsocketTransport:
    assert runner.websocket is not None
    return runner.websocket


def device_of(runner: BotRunner) -> str:
    device = transport_of(runner).device
    assert device is not None
    return str(device["url"]).rsplit("/", 1)[1]


def status(control: ControlClient, device: str) -> Json:
    return next(d for d in control.devices() if d["id"] == device)


def lookups(control: ControlClient, bot: Json, message: Json) -> list[Json]:
    """The bot's conversation-service lookups of ``message`` (made only when the REST id it built from
    the activity is unknown to Webex: a space of another cluster)."""
    return [c for c in control.calls(bot) if c["path"] == f"/conversation/api/v1/messages/{uuid_of(message['id'])}"]


def fetches(control: ControlClient, bot: Json, message: Json) -> list[Json]:
    return [c for c in control.calls(bot) if c["method"] == "GET" and c["path"] == f"/v1/messages/{message['id']}"]


def device_ids(control: ControlClient) -> set[str]:
    return {d["id"] for d in control.devices()}


@pytest.fixture
def bots(bots: Bots, tmp_path: Path) -> Bots:
    """Bots on the websocket with this file's commands, sharing one state folder (a restart finds its record)."""
    bots.defaults.update(transport="websocket", state_dir=tmp_path / "state")
    bots.plugins = PLUGINS
    return bots
