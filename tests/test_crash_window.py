"""The crash window: a message answered just before the process died is not answered again after a
restart, and one whose answer never went out is answered once.

The record is written as the dead process would have left it (the state it was in when it died);
the restart is the real bot, whose catch-up finds the message and whose dispatcher decides.
SIGKILL in the middle of a burst is measured in bench/faults.py.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot import ids
from bot.emulator import Emulator
from bot.handled import reply_digest
from bot.testing import Chat, start_test_bot
from support import until

Json = dict[str, Any]


def leave_in_flight(state_dir: Path, message: Json, *entries: Json) -> None:
    """The record as a process that died while answering ``message`` leaves it: no "answered" line
    for it, and ``entries`` (how far each run got) in its place."""
    [path] = state_dir.glob("handled-*.jsonl")
    key = ids.key(message["id"])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kept = [line for line in lines
            if key not in {ids.key(line.get(name) or "") for name in ("id", "begun", "sending")}]
    path.write_text("".join(json.dumps(line) + "\n" for line in kept + list(entries)))


def restart_and_settle(emulator: Emulator, chat: Chat, state_dir: Path) -> list[str]:
    """Start the bot again on the same record, send a barrier, and return every answer in the room,
    sorted: the workers run side by side, so the barrier may be answered before the catch-up's work."""
    runner = start_test_bot(emulator, chat.bot["token"], state_dir=state_dir)
    try:
        until(lambda: runner.catch_ups, "the catch-up at start")
        chat.say("echo barrier")
        emulator.control.wait_for(lambda: [m for m in chat.control.messages(room=chat.room, author=chat.bot)
                                           if m.get("markdown") == "barrier"], 1, 10, "the barrier's answer")
        assert runner.dispatcher is not None and runner.dispatcher.drain(5)
    finally:
        runner.stop(timeout=4)
    return sorted(m.get("markdown", "") for m in chat.control.messages(room=chat.room, author=chat.bot))


@pytest.fixture
def answered_once(webex_emulator: Emulator, webex_bot_account: Json, webex_person: Json,
                  tmp_path: Path) -> tuple[Chat, Json]:
    """A first run of the bot that answered ``echo one`` and stopped."""
    chat = Chat(webex_emulator.control, webex_bot_account, webex_person)
    runner = start_test_bot(webex_emulator, webex_bot_account["token"], state_dir=tmp_path)
    try:
        question = chat.say("echo one")
        assert chat.reply() == "one"
    finally:
        runner.stop(timeout=4)
    return chat, question


def test_a_reply_that_reached_webex_before_the_crash_is_not_sent_again(
        webex_emulator: Emulator, answered_once: tuple[Chat, Json], tmp_path: Path) -> None:
    chat, question = answered_once
    leave_in_flight(tmp_path, question, {"sending": ids.unpadded(question["id"]),
                                         "digest": reply_digest("one", None)})
    assert restart_and_settle(webex_emulator, chat, tmp_path) == ["barrier", "one"]


def test_a_run_that_died_while_it_checked_leaves_the_doubt_to_the_next(
        webex_emulator: Emulator, answered_once: tuple[Chat, Json], tmp_path: Path) -> None:
    chat, question = answered_once
    key = ids.unpadded(question["id"])
    leave_in_flight(tmp_path, question, {"sending": key, "digest": reply_digest("one", None)}, {"begun": key})
    assert restart_and_settle(webex_emulator, chat, tmp_path) == ["barrier", "one"]


def test_a_reply_that_never_left_is_sent_once_after_the_restart(
        webex_emulator: Emulator, answered_once: tuple[Chat, Json], tmp_path: Path) -> None:
    chat, question = answered_once
    # It was being sent when the process died, but what Webex holds after the question is not it.
    leave_in_flight(tmp_path, question, {"sending": ids.unpadded(question["id"]),
                                         "digest": reply_digest("something else", None)})
    assert restart_and_settle(webex_emulator, chat, tmp_path) == ["barrier", "one", "one"]


def test_a_message_whose_handler_had_only_begun_is_answered_after_the_restart(
        webex_emulator: Emulator, answered_once: tuple[Chat, Json], tmp_path: Path) -> None:
    chat, question = answered_once
    leave_in_flight(tmp_path, question, {"begun": ids.unpadded(question["id"])})
    assert restart_and_settle(webex_emulator, chat, tmp_path) == ["barrier", "one", "one"]


def test_an_answered_message_is_not_answered_after_a_restart(
        webex_emulator: Emulator, answered_once: tuple[Chat, Json], tmp_path: Path) -> None:
    chat, _question = answered_once
    assert restart_and_settle(webex_emulator, chat, tmp_path) == ["barrier", "one"]
