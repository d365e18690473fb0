"""Space events end to end, on both transports: the bot added to a space (greeted by default), people
joining and leaving, the bot removed; each told once, to ``@on`` handlers, from the emulator's
memberships webhooks or its ``add``/``leave`` websocket activities."""
from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from bot import on
from bot.access import Access
from bot.runner import BotRunner
from support import Bots, settle, until

SEEN: list[tuple[str, str, str, str]] = []  # (event, member email, sender id, room id) told to the handlers
SEEN_LOCK = threading.Lock()


def _note(event: str, ctx: Any) -> None:
    with SEEN_LOCK:
        SEEN.append((event, ctx.person.email, ctx.sender_id, ctx.room_id))


@on("bot_added")
def hello(ctx):
    _note("bot_added", ctx)
    return f"Hi {ctx.sender_email}, thanks for adding me."


@on("person_joined")
def joined(ctx):
    _note("person_joined", ctx)
    return f"Welcome, {ctx.person.display_name}!"


@on("person_left")
def left(ctx):
    _note("person_left", ctx)
    return f"Goodbye, {ctx.person.email}."


@on("bot_removed")
def removed(ctx):
    _note("bot_removed", ctx)
    ctx.storage.room.clear()
    return "this cannot be sent anywhere"


HANDLERS = (hello, joined, left, removed)


@pytest.fixture(params=["webhook", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def fresh_record() -> None:
    SEEN.clear()


def seen(event: str) -> list[tuple[str, str, str, str]]:
    with SEEN_LOCK:
        return [s for s in SEEN if s[0] == event]


def start(bots: Bots, transport: str, *plugins: Any, **settings: Any) -> BotRunner:
    """The bot as users run it: greeting by default."""
    return bots.start(*plugins, transport=transport, **{"greeting": None, **settings})


def test_a_space_the_bot_is_added_to_is_greeted_once_with_help(bots: Bots, transport: str) -> None:
    runner = start(bots, transport)
    space = bots.chat().new_space("Planning")
    assert "`help`" in space.reply()
    space.say("help")
    assert "Here is what I can do" in space.reply()  # the greeting came once: the next message is help's
    settle(bots.control, runner)
    assert len(space.control.messages(room=space.room, author=bots.bot)) == 2


def test_no_greeting_in_a_direct_space_and_none_when_turned_off(bots: Bots, transport: str) -> None:
    runner = start(bots, transport, greeting="")
    space = bots.chat().new_space("Quiet")
    space.say("echo first")
    assert space.reply() == "first"
    direct = bots.chat()
    direct.say("echo hi")
    assert direct.reply() == "hi"
    settle(bots.control, runner)
    assert [m["text"] for m in bots.control.messages(room=space.room, author=bots.bot)] == ["first"]


def test_a_greeting_of_ones_own(bots: Bots, transport: str) -> None:
    start(bots, transport, greeting="Ahoy! I post the build status here.")
    assert bots.chat().new_space().reply() == "Ahoy! I post the build status here."


def test_handlers_hear_who_joined_left_and_that_the_bot_was_removed(bots: Bots, transport: str) -> None:
    runner = start(bots, transport, *HANDLERS)
    space = bots.chat().new_space("Team")
    assert space.reply() == f"Hi {bots.person['emails'][0]}, thanks for adding me."
    grace = space.join("Grace Hopper")
    assert space.reply() == "Welcome, Grace Hopper!"
    space.leave(grace)
    assert space.reply() == f"Goodbye, {grace['emails'][0]}."
    space.join(grace)  # who left may join again, and is welcomed again
    assert space.reply() == "Welcome, Grace Hopper!"
    added = seen("bot_added")
    assert [(e, who) for e, who, _, _ in seen("person_joined")] == [("person_joined", grace["emails"][0])] * 2
    assert added[0][2] == bots.person["id"] and added[0][3] == space.room["id"]
    settle(bots.control, runner)
    assert len(added) == 1 and len(seen("person_left")) == 1


def test_the_bot_removed_cleans_up_and_sends_nothing(bots: Bots, transport: str, caplog: pytest.LogCaptureFixture) -> None:
    if transport == "websocket":
        bots.control.settings(leave_seen_by_removed=True)
    runner = start(bots, transport, *HANDLERS)
    space = bots.chat().new_space("Short stay")
    space.reply()
    runner.storage.room(space.room["id"])["notes"] = ["kept until removed"]
    with caplog.at_level(logging.WARNING, logger="bot.dispatcher"):
        space.leave(bots.bot)
        until(lambda: seen("bot_removed"), "the bot_removed handler ran")
        settle(bots.control, runner)
    assert seen("bot_removed")[0][3] and dict(runner.storage.room(space.room["id"])) == {}
    assert any("returned a reply where the bot can send nothing" in r.getMessage() for r in caplog.records)
    assert len(bots.control.messages(room=space.room, author=bots.bot)) == 1


def test_without_the_leave_activity_the_websocket_bot_is_not_told_it_was_removed(bots: Bots) -> None:
    """Webex is not known to tell a removed bot's device: the unkind emulator does not; data stays."""
    runner = start(bots, "websocket", *HANDLERS)
    space = bots.chat().new_space("Unkind")
    space.reply()
    runner.storage.room(space.room["id"])["kept"] = True
    space.leave(bots.bot)
    settle(bots.control, runner)
    assert seen("bot_removed") == [] and runner.storage.room(space.room["id"])["kept"] is True


def test_a_member_without_email_in_the_activity_is_looked_up(bots: Bots) -> None:
    bots.control.settings(space_event_person_fields=False)
    start(bots, "websocket", *HANDLERS)
    space = bots.chat().new_space("Lookups")
    space.reply()
    grace = space.join("Grace Hopper")
    assert space.reply() == "Welcome, Grace Hopper!"
    assert seen("person_joined")[0][1] == grace["emails"][0]


def test_both_transports_at_once_tell_each_event_once(bots: Bots) -> None:
    """A bot moving from one transport to the other hears the same events twice: answered once."""
    runner = start(bots, "webhook", *HANDLERS)
    runner._start_websocket()
    space = bots.chat().new_space("Twice")
    space.reply()
    space.join("Alan Turing")
    space.reply()
    settle(bots.control, runner)
    assert len(seen("bot_added")) == 1 and len(seen("person_joined")) == 1
    assert len(bots.control.messages(room=space.room, author=bots.bot)) == 2


def test_access_rules_keep_the_bot_quiet_where_it_may_not_speak(bots: Bots, transport: str) -> None:
    runner = start(bots, transport, *HANDLERS, access=Access.of(["boss@example.com"]))
    space = bots.chat().new_space("Not allowed")
    settle(bots.control, runner)
    assert seen("bot_added") == [] and bots.control.messages(room=space.room, author=bots.bot) == []


def test_an_unknown_event_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="bot_added, person_joined, person_left, bot_removed"):
        on("bot_joined")


def test_without_a_handler_a_removed_bots_data_for_the_space_stays(bots: Bots) -> None:
    runner = start(bots, "webhook")
    space = bots.chat().new_space("Kept")
    space.reply()
    runner.storage.room(space.room["id"])["kept"] = [1, 2]
    space.leave(bots.bot)
    settle(bots.control, runner)
    assert any(d["body"]["resource"] == "memberships" and d["body"]["event"] == "deleted" and d["status"] == 200
               for d in bots.control.deliveries())
    assert runner.storage.room(space.room["id"])["kept"] == [1, 2]
