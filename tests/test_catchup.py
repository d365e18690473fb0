"""Catch-up across runs: what arrived while no bot ran is answered once; nothing is answered twice."""
from __future__ import annotations

from bot.testing import Chat, start_test_bot


def test_a_new_instance_does_not_answer_what_another_instance_answered(emulator, tmp_path):
    control = emulator.control
    bot = control.create_bot("Helper")
    person = control.create_person("Ada")
    chat = Chat(control, bot, person)
    laptop = start_test_bot(emulator, bot["token"], instance="laptop", state_dir=tmp_path / "laptop")
    try:
        chat.say("echo answered by the laptop")
        assert chat.reply() == "answered by the laptop"
    finally:
        laptop.stop(timeout=2)
    server = start_test_bot(emulator, bot["token"], instance="server", state_dir=tmp_path / "server")
    try:
        chat.say("echo now the server")
        assert chat.reply() == "now the server"
    finally:
        server.stop(timeout=2)
    answers = [m["markdown"] for m in control.messages(room=chat.room, author=bot)]
    assert answers == ["answered by the laptop", "now the server"]


def test_what_came_while_the_bot_was_down_is_answered_once_on_restart(emulator, tmp_path):
    control = emulator.control
    bot = control.create_bot("Helper")
    person = control.create_person("Ada")
    chat = Chat(control, bot, person)
    first = start_test_bot(emulator, bot["token"], state_dir=tmp_path, keep_webhooks=False)
    try:
        chat.say("echo before")
        assert chat.reply() == "before"
    finally:
        first.stop(timeout=2)
    chat.say("echo while down")
    second = start_test_bot(emulator, bot["token"], state_dir=tmp_path)
    try:
        assert chat.reply() == "while down"
        chat.say("echo after")
        assert chat.reply() == "after"
    finally:
        second.stop(timeout=2)
    answers = [m["markdown"] for m in control.messages(room=chat.room, author=bot)]
    assert answers == ["before", "while down", "after"]
