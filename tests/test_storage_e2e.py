"""``ctx.storage`` in the running bot: the ``count`` example under 20 people at once, values that last
across a restart, per-person and per-bot scopes, and a value that is not JSON refused whole."""
from __future__ import annotations

import datetime
import threading

import pytest

import commands.count
from bot import command
from bot.testing import Chat
from support import Bots, settle


@command("remember")
def remember(ctx, *words: str):
    ctx.storage.person["last"] = " ".join(words)
    ctx.storage.bot.update("remembered", lambda n: n + 1, default=0)
    return "noted"


@command("recall")
def recall(ctx):
    return f"{ctx.storage.person.get('last', 'nothing')} / {ctx.storage.bot.get('remembered', 0)}"


@command("when")
def when(ctx):
    ctx.storage.room["when"] = datetime.datetime(2026, 12, 2)
    return "unreachable"


@pytest.fixture(params=["webhook", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def test_twenty_people_counting_at_once_get_1_to_20_each_once(bots: Bots, transport: str) -> None:
    runner = bots.start(commands.count, transport=transport, workers=20, greeting="")
    people = [bots.control.create_person(f"Counter {n}", f"counter{n}@example.com") for n in range(20)]
    room = bots.control.create_group("Counting", people[0], [bots.bot, *people[1:]])
    chats = [Chat(bots.control, bots.bot, person, room) for person in people]
    go = threading.Barrier(len(chats))

    def count(chat: Chat) -> None:
        go.wait()
        chat.say("count")

    threads = [threading.Thread(target=count, args=(chat,)) for chat in chats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers = [m["markdown"] for m in chats[0].replies(20)]
    assert sorted(answers, key=lambda a: int(a.split()[2].rstrip("."))) == [f"That makes {n}." for n in range(1, 21)]
    settle(bots.control, runner)
    assert runner.storage.room(room["id"])["count"] == 20


def test_what_a_handler_keeps_lasts_across_a_restart(bots: Bots, transport: str, tmp_path) -> None:
    state = tmp_path / "kept-state"
    first = bots.start(remember, recall, commands.count, transport=transport, state_dir=state)
    chat = bots.chat()
    chat.say("remember the milk")
    assert chat.reply() == "noted"
    chat.say("count")
    assert chat.reply() == "That makes 1."
    bots.stop(first)
    bots.start(remember, recall, commands.count, transport=transport, state_dir=state)
    chat.say("recall")
    assert chat.reply() == "the milk / 1"
    chat.say("count")
    assert chat.reply() == "That makes 2."


def test_the_person_scope_follows_the_sender_and_the_bot_scope_is_shared(bots: Bots) -> None:
    bots.start(remember, recall)
    ada, grace = bots.chat(), bots.chat(person=bots.control.create_person("Grace", "grace@example.com"))
    ada.say("remember tea")
    assert ada.reply() == "noted"
    grace.say("recall")
    assert grace.reply() == "nothing / 1"


def test_a_value_that_is_not_json_is_refused_and_nothing_is_written(bots: Bots) -> None:
    runner = bots.start(when)
    chat = bots.chat()
    chat.say("when")
    assert chat.reply().startswith("Sorry, something went wrong running `when`.")
    assert "when" not in runner.storage.room(chat.room["id"])
