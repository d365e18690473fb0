"""``ctx.send`` to a space or a person, and what Webex refuses caught before sending: a text over its
limit split in order (or sent as a file), two files, two cards or a card Webex cannot render."""
from __future__ import annotations

import logging

import pytest
import requests

import commands.notify
from bot import Reply, card, card_action, command, on
from bot.limits import MAX_TEXT_BYTES
from support import Bots, settle

PARAGRAPH = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12).strip()
LONG = "\n\n".join(f"{n}. {PARAGRAPH}" for n in range(1, 41))  # about 28 kB: four messages
OLD_CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "new"}]}
POLL = {"type": "AdaptiveCard", "version": "1.3", "body": [{"type": "TextBlock", "text": "Ping?"}],
        "actions": [{"type": "Action.Submit", "title": "Go", "data": {"action": "tell"}}]}


@command("essay")
def essay(ctx):
    return LONG


@command("essayfile")
def essay_file(ctx):
    return Reply(markdown=LONG, overflow="file")


@command("twocards")
def two_cards(ctx):
    return Reply(text="cards", card=[POLL, POLL])


@command("newcard")
def new_card(ctx):
    ctx.reply("working on it")
    return card(OLD_CARD)


@command("tellroom")
def tell_room(ctx, room_id: str):
    ctx.send(room_id, ["first", card(POLL)])
    return "told"


@command("ping")
def ping(ctx):
    return card(POLL)


@card_action("tell")
def tell(ctx):
    ctx.send(ctx.sender_email, "your card was submitted")


@on("person_joined")
def tell_the_newcomer(ctx):
    ctx.send(ctx.person.email, f"Welcome to the space, {ctx.person.display_name}")


@pytest.fixture(params=["webhook", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_long_text_arrives_as_several_messages_in_order(bots: Bots, transport: str) -> None:
    bots.start(essay, transport=transport)
    chat = bots.chat()
    chat.say("essay")
    parts = [m["markdown"] for m in chat.replies(4)]
    assert all(len(p.encode()) <= MAX_TEXT_BYTES for p in parts)
    assert "\n\n".join(parts) == LONG


def test_a_long_text_can_go_as_a_file_instead(bots: Bots) -> None:
    runner = bots.start(essay_file)
    chat = bots.chat()
    chat.say("essayfile")
    (message,) = chat.replies(1)
    assert "too long for one message" in message["markdown"]
    person_token = bots.person["token"]
    body = requests.get(message["files"][0], headers={"Authorization": f"Bearer {person_token}"}, timeout=10)
    assert body.text == LONG
    settle(bots.control, runner)


def test_replies_webex_would_refuse_get_a_clear_log_line_and_a_short_text(bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    bots.start(two_cards, new_card)
    chat = bots.chat()
    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        chat.say("twocards")
        assert chat.reply() == "Sorry, I could not send the answer of `twocards`: Webex would refuse it."
        chat.say("newcard")
        assert chat.reply() == "working on it"
        assert chat.reply() == "Sorry, I could not send the answer of `newcard`: Webex would refuse it."
    lines = [r.getMessage() for r in caplog.records if "would refuse" in r.getMessage()]
    assert len(lines) == 2 and "'twocards'" in lines[0] and "test_send_and_limits.py" in lines[0]
    assert "1.5" in lines[1] and "1.3" in lines[1]
    assert not any(call["status"] == 400 for call in bots.control.calls(bots.bot))


def test_send_reaches_a_space_and_a_person_from_commands_card_actions_and_events(bots: Bots, transport: str) -> None:
    bots.start(tell_room, ping, tell, tell_the_newcomer, transport=transport, greeting="")
    chat = bots.chat()
    other = bots.control.create_group("Elsewhere", bots.person, [bots.bot])
    chat.say(f"tellroom {other['id']}")
    assert chat.reply() == "told"
    texts = [m.get("markdown", m.get("text")) for m in bots.control.messages(room=other, author=bots.bot)]
    assert texts == ["first", card(POLL).text]
    chat.say("ping")
    (poll,) = chat.replies(1)
    bots.control.submit_card(bots.person, poll, {"action": "tell"})
    assert chat.reply() == "your card was submitted"
    grace = bots.control.create_person("Grace Hopper", "grace@example.com")
    bots.control.add_member(other, grace, actor=bots.person)
    welcome = bots.control.wait_for_messages(bots.bot, 1, room=bots.control.direct_room(grace, bots.bot))
    assert welcome[0]["markdown"] == "Welcome to the space, Grace Hopper"


def test_notify_to_someone_who_cannot_be_messaged_logs_one_line_and_goes_on(bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    bots.start(commands.notify)
    grace = bots.control.create_person("Grace", "grace@example.com")
    chat = bots.chat()
    chat.say("notify grace@example.com the build is green")
    assert chat.reply() == "Sent to grace@example.com."
    assert bots.control.messages(author=bots.bot, room=bots.control.direct_room(grace, bots.bot))[0]["markdown"] \
        .startswith("the build is green")
    with caplog.at_level(logging.ERROR, logger="bot.context"):
        chat.say("notify nobody@example.com hello")
        assert chat.reply() == "I could not message nobody@example.com."
    (line,) = [r for r in caplog.records if r.name == "bot.context"]
    assert "nobody@example.com" in line.getMessage() and line.exc_info is None
