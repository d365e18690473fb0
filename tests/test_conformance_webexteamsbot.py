"""Conformance: the third-party ``webexteamsbot`` package (a Flask webhook bot), unmodified, answers on
the emulator: it registers its own webhooks through the emulator's REST API, receives the emulator's
deliveries and answers ``/echo`` in a direct room and when mentioned in a group room, and posts an
Adaptive Card on ``/card`` and answers its submit (an ``attachmentActions`` webhook) with the inputs."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bot.emulator import Emulator
from conformance_kit import conformance_venv
from support import free_port

DRIVER = Path(__file__).parent / "conformance" / "webexteamsbot_driver.py"
WAIT = 30.0
PACKAGES = ["webexteamsbot==0.1.4.2", "webexteamssdk==1.7"]


@pytest.fixture(scope="session")
def teamsbot_python() -> str:
    return conformance_venv("webexteamsbot", PACKAGES)


@pytest.fixture
def teamsbot(teamsbot_python: str, webex_emulator: Emulator,
             tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Callable[[Callable[[], list[Any]], str], list[Any]]]]:
    """``teamsbot(bot)`` starts webexteamsbot as ``bot``, waits for its webhook, and gives a ``wait_for``
    whose failure carries the bot's log."""
    started: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "webexteamsbot.log"
    control = webex_emulator.control

    def wait_for(read: Callable[[], list[Any]], what: str) -> list[Any]:
        try:
            return control.wait_for(read, 1, WAIT, what)
        except TimeoutError as exc:
            tail = log.read_text(errors="replace")[-4000:]
            pytest.fail(f"{exc}\nwebexteamsbot exited with {started[-1].poll()}; its log ends:\n{tail}")

    def start(bot: dict[str, Any]) -> Callable[[Callable[[], list[Any]], str], list[Any]]:
        env = {**os.environ, "WEBEX_BOT_TOKEN": bot["token"], "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            started.append(subprocess.Popen(
                [teamsbot_python, str(DRIVER), "--api-url", webex_emulator.api_url, "--email", bot["emails"][0],
                 "--port", str(free_port())], env=env, stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: [h for h in control.webhooks() if h["name"].startswith("conformance-webexteamsbot")],
                 "webexteamsbot to register its webhook")
        wait_for(lambda: ["up"] if "Running on" in log.read_text(errors="replace") else [],
                 "webexteamsbot's Flask server to listen")
        return wait_for

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)


def test_webexteamsbot_echoes_in_a_direct_room(webex_emulator: Emulator, teamsbot: Callable[..., Any]) -> None:
    control = webex_emulator.control
    bot, alice = control.create_bot("Teams Bot"), control.create_person("Alice Smith")
    room = control.direct_room(alice, bot)
    wait_for = teamsbot(bot)
    control.post(alice, "/echo hello there", room=room)
    [reply] = wait_for(lambda: control.messages(room=room, author=bot), "the echo")
    assert reply["text"].strip() == "hello there" and reply["roomId"] == room["id"]


def test_webexteamsbot_answers_a_mention_in_a_group_room(webex_emulator: Emulator,
                                                         teamsbot: Callable[..., Any]) -> None:
    control = webex_emulator.control
    bot, alice, bob = control.create_bot("Teams Bot"), control.create_person("Alice"), control.create_person("Bob")
    group = control.create_group("Team", alice, [bot, bob])
    wait_for = teamsbot(bot)
    control.post(bob, "/echo not for the bot", room=group)
    control.post(alice, "/echo from the group", room=group, mentions=(bot,))
    [reply] = wait_for(lambda: control.messages(room=group, author=bot), "the echo of the mention")
    assert reply["text"].strip() == "from the group" and reply["roomId"] == group["id"]
    assert control.wait_deliveries_idle() and len(control.messages(room=group, author=bot)) == 1


def test_webexteamsbot_answers_a_card_submit(webex_emulator: Emulator, teamsbot: Callable[..., Any]) -> None:
    control = webex_emulator.control
    bot, alice = control.create_bot("Teams Bot"), control.create_person("Alice Smith")
    room = control.direct_room(alice, bot)
    wait_for = teamsbot(bot)
    hooks = {h["resource"]: h for h in control.webhooks() if h["name"].startswith("conformance-webexteamsbot")}
    assert hooks["attachmentActions"]["name"] == "conformance-webexteamsbot.attachmentActions.created"
    assert hooks["attachmentActions"]["event"] == "created" and hooks["messages"]["event"] == "created"

    control.post(alice, "/card", room=room)
    [card] = wait_for(lambda: control.messages(room=room, author=bot), "the card")
    assert card["roomId"] == room["id"] and card["text"].strip() == "Fill in the card, please."
    [attachment] = card["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert [i["id"] for i in attachment["content"]["body"] if i["type"].startswith("Input.")] == ["name", "color"]

    inputs = {"name": "Alice", "color": "green", "form": "greeting"}
    action = control.submit_card(alice, card, inputs)
    answers = wait_for(lambda: control.messages(room=room, author=bot)[1:], "the answer to the card submit")
    assert [a["text"].strip() for a in answers] == [
        f"Card from {alice['id']} on {card['id']}: {json.dumps(inputs, sort_keys=True)}"]
    assert answers[0]["roomId"] == room["id"] and not answers[0].get("attachments")

    assert control.wait_deliveries_idle()
    submits = [d for d in control.deliveries() if d["body"]["resource"] == "attachmentActions"]
    assert [(d["webhookId"], d["status"], d["body"]["data"]["id"]) for d in submits] == [
        (hooks["attachmentActions"]["id"], 200, action["id"])]
    # the wrapped callback read the submit from the emulator (not the real Webex) and got the inputs
    read = f"/attachment/actions/{action['id']}"
    reads = [c for c in control.calls(bot) if c["method"] == "GET" and c["path"].endswith(read)]
    assert [(c["status"], c["response"]["inputs"]) for c in reads] == [(200, inputs)]
