"""Catch-up across runs: what arrived while no bot ran is answered once; nothing is answered twice."""
from __future__ import annotations

from support import Bots


def test_a_new_instance_does_not_answer_what_another_instance_answered(bots: Bots, tmp_path):
    chat = bots.chat()
    laptop = bots.start(instance="laptop", state_dir=tmp_path / "laptop")
    chat.say("echo answered by the laptop")
    assert chat.reply() == "answered by the laptop"
    bots.stop(laptop)
    bots.start(instance="server", state_dir=tmp_path / "server")
    chat.say("echo now the server")
    assert chat.reply() == "now the server"
    bots.stop_all()
    answers = [m["markdown"] for m in bots.control.messages(room=chat.room, author=bots.bot)]
    assert answers == ["answered by the laptop", "now the server"]


def test_what_came_while_the_bot_was_down_is_answered_once_on_restart(bots: Bots, tmp_path):
    chat = bots.chat()
    first = bots.start(state_dir=tmp_path, keep_webhooks=False)
    chat.say("echo before")
    assert chat.reply() == "before"
    bots.stop(first)
    chat.say("echo while down")
    bots.start(state_dir=tmp_path)
    assert chat.reply() == "while down"
    chat.say("echo after")
    assert chat.reply() == "after"
    bots.stop_all()
    answers = [m["markdown"] for m in bots.control.messages(room=chat.room, author=bots.bot)]
    assert answers == ["before", "while down", "after"]
