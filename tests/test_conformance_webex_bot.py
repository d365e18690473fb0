"""Conformance: the third-party ``webex-bot`` package, unmodified, runs its echo command on the emulator.

webex-bot was written against the real Webex, so whatever it needs from U2C, WDM, Mercury and the
conversation service, the emulator must serve the same way. It runs in its own virtualenv (its
dependencies pin other versions than ours). The tests make that venv on first use in the user's cache
folder (``conformance_kit``: ``webex-laptop-bot/venv-webex-bot``), outside the
checkout and kept for the next run and the next clone, or take the python named in
WEBEX_BOT_CONFORMANCE_PYTHON. Offline they skip, except under CI, where a missing conformance run is a
failure. The emulator serves TLS, as Webex does, so webex-bot runs with its certificate checks on.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from bot.emulator import Emulator
from bot.emulator.ids import decode_id
from conformance_kit import conformance_venv

DRIVER = Path(__file__).parent / "conformance" / "webex_bot_driver.py"
WAIT = 30.0

PACKAGE = "webex-bot==1.3.1"


@pytest.fixture(scope="session")
def conformance_python() -> str:
    """A python with webex-bot installed, in a virtualenv of its own, made once and then reused."""
    return os.environ.get("WEBEX_BOT_CONFORMANCE_PYTHON") or conformance_venv("webex-bot", [PACKAGE])


@pytest.fixture
def webex_emulator() -> Iterator[Emulator]:
    """The emulator over ``https://`` and ``wss://``: webex-bot's websocket client insists on TLS."""
    with Emulator(tls=True) as emulator:
        yield emulator


class Driver:
    """webex-bot in a subprocess, its log kept for the failure message."""

    def __init__(self, python: str, emulator: Emulator, bot: dict[str, Any], log: Path, threads: bool) -> None:
        self.emulator = emulator
        self.log = log
        assert emulator.ca_file is not None
        env = {**os.environ, "WEBEX_BOT_TOKEN": bot["token"], "PYTHONUNBUFFERED": "1",
               "SSL_CERT_FILE": emulator.ca_file, "REQUESTS_CA_BUNDLE": emulator.ca_file}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [python, str(DRIVER), "--api-url", emulator.api_url, "--u2c-url", emulator.u2c_url,
                 *(["--threads"] if threads else [])],
                env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_for(self, read: Callable[[], list[Any]], what: str) -> list[Any]:
        try:
            return self.emulator.control.wait_for(read, 1, WAIT, what)
        except TimeoutError as exc:
            tail = self.log.read_text(errors="replace")[-4000:]
            pytest.fail(f"{exc}\nwebex-bot exited with {self.process.poll()}; its log ends:\n{tail}")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def driver(conformance_python: str, webex_emulator: Emulator,
           tmp_path: Path) -> Iterator[Callable[..., Driver]]:
    started: list[Driver] = []

    def start(bot: dict[str, Any], threads: bool = False) -> Driver:
        started.append(Driver(conformance_python, webex_emulator, bot, tmp_path / "webex_bot.log", threads))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def has_input(message: dict[str, Any], input_id: str) -> bool:
    """Whether ``message`` carries a card with an input named ``input_id``, wherever it is nested."""
    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return node.get("id") == input_id or any(walk(v) for v in node.values())
        return isinstance(node, list) and any(walk(v) for v in node)
    return walk(message.get("attachments", []))


def test_webex_bot_echo_round_trip(webex_emulator: Emulator, driver: Callable[..., Driver]) -> None:
    control = webex_emulator.control
    bot, alice = control.create_bot("Echo Bot"), control.create_person("Alice Smith")
    room = control.direct_room(alice, bot)
    webex_bot = driver(bot)
    device = webex_bot.wait_for(lambda: [d for d in control.devices() if d["connected"]], "webex-bot to connect")[0]
    assert device["ownerId"] == bot["id"] and device["name"] == "python-spark-client"

    # "echo hello": webex-bot posts a "Working on it" card, then the echo card (an input named
    # message_typed), then deletes the first card; the echo card's submit is what echoes the words.
    asked = control.post(alice, "echo hello", room=room)

    def bot_messages() -> list[dict[str, Any]]:
        return control.messages(room=room, author=bot)

    echo_card = webex_bot.wait_for(
        lambda: [m for m in bot_messages() if has_input(m, "message_typed")] if len(bot_messages()) == 1 else [],
        "the echo card alone (the 'Working on it' card deleted)")[0]
    action = control.submit_card(alice, echo_card, {"message_typed": "hello", "callback_keyword": "echo_callback"})
    reply = webex_bot.wait_for(
        lambda: [m for m in bot_messages() if "hello" in m.get("markdown", "")] if len(bot_messages()) == 1 else [],
        "the echoed words, the echo card deleted")[0]
    assert reply["markdown"] == "<blockquote class=info>hello</blockquote>"
    # The cardAction's parent names the card's message; webex-bot (threads=False) answers in the room.
    assert reply["roomId"] == room["id"] and "parentId" not in reply

    # webex-bot acknowledges with the REST id of the message or card action it fetched, where
    # Mercury (and Cisco's own SDK) use the envelope id: the emulator records these acks as matching
    # no envelope, so the envelopes stay un-acked and a reconnect would replay them. It sends each ack
    # with ``asyncio.run`` on a new event loop, outside its socket's own loop, and such an ack does not
    # always reach the wire (in one CI run neither did): which acks arrive is not asserted, only what
    # those that did arrive name (it acks its own messages too, before it ignores them).
    acks = [a for a in control.acks() if a["device"] == device["id"]]
    assert all(decode_id(a["messageId"])[0] in ("MESSAGE", "ATTACHMENT_ACTION") for a in acks), acks
    assert not any(a["matched"] for a in acks)
    assert webex_bot.process.poll() is None, "webex-bot stopped while it should keep listening"


def test_webex_bot_answers_a_mention_in_a_group_room(webex_emulator: Emulator,
                                                     driver: Callable[..., Driver]) -> None:
    control = webex_emulator.control
    bot, alice, bob = control.create_bot("Echo Bot"), control.create_person("Alice"), control.create_person("Bob")
    group = control.create_group("Team", alice, [bot, bob])
    webex_bot = driver(bot)
    webex_bot.wait_for(lambda: [d for d in control.devices() if d["connected"]], "webex-bot to connect")
    unmentioned = control.post(bob, "help me, anyone", room=group)
    control.post(alice, "help", room=group, mentions=(bot,))
    # webex-bot posts a "working on it" note, then the help card, then deletes the note.
    [answer] = webex_bot.wait_for(
        lambda: [sent for sent in [control.messages(room=group, author=bot)] if len(sent) == 1 and "attachments" in sent[0]],
        "the help card alone, its note deleted")
    assert answer[0]["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    # The unmentioned message never reached the bot: it neither resolved nor fetched it.
    paths = [call["path"] for call in control.calls(bot)]
    raw = decode_id(unmentioned["id"])
    assert raw is not None
    assert not [p for p in paths if unmentioned["id"] in p or raw[1] in p]


def echo_card_in_a_thread(control: Any, webex_bot: Driver, bot: dict[str, Any], alice: dict[str, Any],
                          room: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """webex-bot (threads on) asked for ``help`` in ``room``, its echo button pressed: (the question, the
    echo card webex-bot posts in the question's thread)."""
    webex_bot.wait_for(lambda: [d for d in control.devices() if d["connected"]], "webex-bot to connect")

    def bot_card(input_id: Optional[str] = None) -> list[dict[str, Any]]:
        """The bot's one message, when it is a card (with an input named ``input_id``, if given)."""
        sent = control.messages(room=room, author=bot)
        return [m for m in sent if "attachments" in m and (input_id is None or has_input(m, input_id))
                ] if len(sent) == 1 else []

    # With threads, webex-bot answers a message in that message's thread: it names the message's
    # activity uuid (a bare one) as the parentId, which the emulator takes as Webex does.
    asked = control.post(alice, "help", room=room)
    [help_card] = webex_bot.wait_for(bot_card, "the help card")
    assert help_card["parentId"] == asked["id"]

    # The help card's buttons carry the thread in their data, which a client submits with the inputs;
    # webex-bot deletes the help card and answers in its thread with the echo card.
    [echo_button] = [a for a in help_card["attachments"][0]["content"]["actions"]
                     if a["data"].get("command_keyword") == "echo"]
    control.submit_card(alice, help_card, echo_button["data"])
    [echo_card] = webex_bot.wait_for(lambda: bot_card("message_typed"), "the echo card alone, in the thread")
    assert echo_card["parentId"] == asked["id"]
    return asked, echo_card


def submit_echo_card(control: Any, webex_bot: Driver, bot: dict[str, Any], alice: dict[str, Any],
                     echo_card: dict[str, Any], said: str) -> dict[str, Any]:
    """Submit the echo card with ``said``: the answer webex-bot posts (as it sent it, from the call log)."""
    control.submit_card(alice, echo_card, {"message_typed": said, "callback_keyword": "echo_callback"})

    def answers() -> list[dict[str, Any]]:
        return [call["request"] for call in control.calls(bot)
                if call["method"] == "POST" and call["path"] == "/v1/messages"
                and said in (call["request"] or {}).get("markdown", "")]

    [answer] = webex_bot.wait_for(answers, "webex-bot's answer to the echo card")
    return answer


def test_webex_bot_with_threads_names_the_cards_parent_for_its_answer(
        webex_emulator: Emulator, driver: Callable[..., Driver]) -> None:
    """The echo card's submit carries no thread: webex-bot names the cardAction activity's parent as its
    answer's parentId, after it has deleted that card (the echo callback's delete_previous_message).
    With the parent naming the card itself (the emulator's default), that parent is gone and the
    emulator answers 404 (UNSURE what Webex does; the card is a reply too, which threads one level deep
    refuse), so what is asserted is the answer webex-bot posts."""
    control = webex_emulator.control
    bot, alice = control.create_bot("Echo Bot"), control.create_person("Alice Smith")
    room = control.direct_room(alice, bot)
    webex_bot = driver(bot, threads=True)
    _asked, echo_card = echo_card_in_a_thread(control, webex_bot, bot, alice, room)
    raw = decode_id(echo_card["id"])
    assert raw is not None
    answer = submit_echo_card(control, webex_bot, bot, alice, echo_card, "hello")
    assert answer["parentId"] == raw[1] and answer["roomId"] == room["id"]


def test_webex_bot_with_threads_answers_a_card_submit_in_the_cards_thread(
        webex_emulator: Emulator, driver: Callable[..., Driver]) -> None:
    """With the parent naming the card's thread root (``card_action_parent="thread"``, as a message's
    parent does), webex-bot's answer to the echo card lands in the thread the card was in."""
    control = webex_emulator.control
    control.settings(card_action_parent="thread")
    try:
        bot, alice = control.create_bot("Thread Bot"), control.create_person("Ann Thread")
        room = control.direct_room(alice, bot)
        webex_bot = driver(bot, threads=True)
        asked, echo_card = echo_card_in_a_thread(control, webex_bot, bot, alice, room)
        answer = submit_echo_card(control, webex_bot, bot, alice, echo_card, "in the thread")
        [landed] = webex_bot.wait_for(lambda: [m for m in control.messages(room=room, author=bot)
                                               if "in the thread" in (m.get("markdown") or "")],
                                      "the answer in the room")
        assert decode_id(asked["id"]) is not None and answer["parentId"] == decode_id(asked["id"])[1]
        assert landed["parentId"] == asked["id"]
    finally:
        control.settings(card_action_parent="card")


def test_driver_refuses_to_start_without_a_token(conformance_python: str) -> None:
    result = subprocess.run([conformance_python, str(DRIVER), "--api-url", "http://127.0.0.1:9/v1/", "--u2c-url", "x"],
                            env={k: v for k, v in os.environ.items() if k != "WEBEX_BOT_TOKEN"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "WEBEX_BOT_TOKEN" in result.stderr
