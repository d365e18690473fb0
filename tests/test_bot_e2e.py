"""The plugin API end to end: the real bot (receiver, dispatcher, replies) against the emulator."""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Literal

import pytest
import requests

from bot import Reply, card, card_action, command, fallback, file
from bot.access import Access
from bot.receiver import expected_signature
from bot.testing import Chat
from support import Bots, deliveries_of, settle

VOTE_CARD = {
    "type": "AdaptiveCard", "version": "1.3",
    "body": [{"type": "Input.ChoiceSet", "id": "choice", "choices": [{"title": "Tea", "value": "tea"}]}],
    "actions": [{"type": "Action.Submit", "title": "Vote", "data": {"action": "vote"}}],
}


@command("shout", help="Shout your words back")
def shout(ctx):
    return ctx.text.upper()


@command("add", aliases=["plus"])
def add(ctx, a: int, b: int):
    """Add two whole numbers."""
    return f"{a + b}"


@command("greet")
def greet(ctx, name: str = "world", *, loud: bool = False, times: int = 1):
    words = " ".join([f"hello {name}"] * times)
    return words.upper() if loud else words


@command("level")
def level(ctx, value: Literal["low", "high"]):
    return f"level is {value}"


@command("plain")
def plain(ctx):
    return Reply(text="just *text*")


@command("export")
def export(ctx):
    path = Path(tempfile.gettempdir()) / (ctx.sender_email.replace("@", "_") + ".csv")
    path.write_text("name,score\nada,3\n")
    try:
        ctx.reply(file(path.resolve(), markdown="here is the report"))
    finally:
        path.unlink()


@command("quiz")
def quiz(ctx):
    return card(VOTE_CARD, fallback="A poll: open it in Webex")


@card_action("vote")
def vote(ctx):
    return f"{ctx.sender_email} voted {ctx.inputs['choice']}"


@card_action("rsvp")
def rsvp(ctx):
    return Reply(markdown=f"{ctx.room_type} rsvp from {ctx.sender_email}", thread=True)


@command("threaded")
def threaded(ctx):
    return Reply(markdown="in the thread", thread=True)


@command("private")
def private(ctx):
    return Reply(markdown="just for you", direct=True)


@command("many")
def many(ctx):
    yield "one"
    yield ["two", Reply(markdown="three")]


@command("slow")
def slow(ctx):
    ctx.reply("working on it…")
    return "done"


@command("boom")
def boom(ctx):
    raise RuntimeError("the handler broke")


@command("secret", people=["boss@example.com"])
def secret(ctx):
    return "the secret"


@command("silent")
def silent(ctx):
    return None


PLUGINS = [shout, add, greet, level, plain, export, quiz, vote, rsvp, threaded, private, many, slow, boom, secret, silent]


@pytest.fixture
def testbot_plugins():
    return PLUGINS


def test_the_readme_example(testbot):
    testbot.say("shout hello there")
    assert testbot.reply() == "HELLO THERE"


@pytest.mark.parametrize("said, answer", [
    ("add 2 3", "5"),
    ("ADD 2 3", "5"),
    ("Plus 4 5", "9"),
    ("greet", "hello world"),
    ("greet Ada --times 2", "hello Ada hello Ada"),
    ("greet “Ada Lovelace” —loud", "HELLO ADA LOVELACE"),
    ("level high", "level is high"),
])
def test_arguments_are_bound_by_type_hints(testbot, said, answer):
    testbot.say(said)
    assert testbot.reply() == answer


@pytest.mark.parametrize("said, expected", [
    ("add 2 x", "whole number"),
    ("add 2", "missing `b`"),
    ("level medium", "`low`, `high`"),
    ("greet --lod", "--loud"),
])
def test_arguments_that_do_not_fit_get_a_usage_message(testbot, said, expected):
    testbot.say(said)
    answer = testbot.reply()
    assert expected in answer and "Usage:" in answer


def test_text_reply(testbot):
    testbot.say("plain")
    [message] = testbot.replies()
    assert message["text"] == "just *text*" and "markdown" not in message


def test_local_file_reply_is_uploaded(testbot, webex_emulator, webex_bot_account, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the handler writes its file
    testbot.say("export")
    [message] = testbot.replies()
    assert message["markdown"] == "here is the report"
    [url] = message["files"]
    content = requests.get(url, headers={"Authorization": f"Bearer {webex_bot_account['token']}"}, timeout=5)
    assert content.content == b"name,score\nada,3\n"
    assert not list(tmp_path.glob("*.csv")), "the handler removes its file once sent"


def test_card_and_its_submit(testbot, webex_emulator):
    testbot.say("quiz")
    [message] = testbot.replies()
    assert message["attachments"][0]["content"] == VOTE_CARD
    assert message["text"] == "A poll: open it in Webex"
    webex_emulator.control.submit_card(testbot.person, message, {"action": "vote", "choice": "tea"})
    assert testbot.reply() == "test.user@example.com voted tea"


def test_card_submit_in_a_thread_answers_in_that_thread(testbot, webex_emulator):
    question = testbot.say("shout start a thread")
    testbot.replies()
    testbot.say("quiz", parent=question)
    [card_message] = testbot.replies()
    assert card_message["parentId"] == question["id"]
    webex_emulator.control.submit_card(testbot.person, card_message, {"action": "rsvp"})
    [answer] = testbot.replies()
    assert answer["markdown"] == "direct rsvp from test.user@example.com"
    assert answer["parentId"] == question["id"]


def test_thread_replies(testbot):
    question = testbot.say("threaded")
    [answer] = testbot.replies()
    assert answer["parentId"] == question["id"]
    follow_up = testbot.say("shout again", parent=question)
    [answer] = testbot.replies()
    assert answer["parentId"] == question["id"] and follow_up["parentId"] == question["id"]
    testbot.say("shout top level")
    assert "parentId" not in testbot.replies()[0]


def test_direct_reply_from_a_group(testbot, webex_emulator):
    group = webex_emulator.control.create_group("Team", testbot.person, [testbot.bot])
    in_group = Chat(webex_emulator.control, testbot.bot, testbot.person, room=group)
    in_group.say("private")
    [direct] = testbot.replies()
    assert direct["markdown"] == "just for you" and direct["roomType"] == "direct"


def test_several_replies_in_order(testbot):
    testbot.say("many")
    assert [m["markdown"] for m in testbot.replies(3)] == ["one", "two", "three"]


def test_reply_now_then_result(testbot):
    testbot.say("slow")
    assert [m["markdown"] for m in testbot.replies(2)] == ["working on it…", "done"]


def test_a_handler_that_raises_gets_an_apology_and_the_trace_goes_to_the_log(testbot, caplog):
    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        testbot.say("boom")
        answer = testbot.reply()
    assert answer.startswith("Sorry, something went wrong running `boom`")
    reference = answer.split("`")[-2]
    assert len(reference) == 6
    record = next(r for r in caplog.records if reference in r.getMessage())
    assert record.exc_info and "the handler broke" in str(record.exc_info[1])
    assert "the handler broke" not in answer
    testbot.say("shout still alive")
    assert testbot.reply() == "STILL ALIVE", "a crashing handler does not kill the bot"


def test_unknown_command_suggests_and_points_to_help(testbot):
    testbot.say("shuot hi")
    answer = testbot.reply()
    assert "`shuot`" in answer and "`shout`" in answer and "`help`" in answer


def test_a_bare_mention_points_to_help(testbot):
    chat = testbot.new_space("Team")
    assert chat.reply() == "Hello, I'm Test Bot. Mention me with `help` to see what I can do."  # the greeting
    chat.say("")
    assert chat.reply() == "Hello! Say `help` to see what I can do."


def test_handler_returning_none_sends_nothing(testbot):
    testbot.say("silent")
    testbot.say("shout after")
    assert testbot.reply() == "AFTER"


def test_group_room_mention_is_stripped(testbot, webex_emulator):
    chat = testbot.new_space("Team")
    chat.reply()  # the bot's greeting
    other = chat.join("Grace Hopper")
    group = chat.room
    chat.say("add 20 22")
    assert chat.reply() == "42"
    webex_emulator.control.post(other, "shout unmentioned", room=group)
    chat.say("shout mentioned")
    assert chat.reply() == "MENTIONED"


def test_help_lists_only_what_the_asker_may_run(testbot, webex_emulator):
    testbot.say("help")
    listing = testbot.reply()
    assert "`shout`: Shout your words back" in listing and "`add`: Add two whole numbers." in listing
    assert "`secret`" not in listing
    testbot.say("secret")
    assert testbot.reply() == "Sorry, you may not use `secret` here."
    boss = webex_emulator.control.create_person("The Boss", "boss@example.com")
    boss_chat = Chat(webex_emulator.control, testbot.bot, boss)
    boss_chat.say("help")
    assert "`secret`" in boss_chat.reply()
    boss_chat.say("secret")
    assert boss_chat.reply() == "the secret"
    testbot.say("help add")
    explained = testbot.reply()
    assert explained.startswith("**add**: Add two whole numbers.") and "Usage: `add <a:int> <b:int>`" in explained


def test_exactly_two_webex_calls_for_a_plain_command(testbot, webex_emulator):
    testbot.say("shout warm up")
    testbot.reply()
    control = webex_emulator.control
    assert testbot.runner is not None
    settle(control, testbot.runner)
    control.clear_calls()
    testbot.say("shout counted")
    testbot.reply()
    settle(control, testbot.runner)  # a late extra call is then made already, and counted
    calls = [(c["method"], c["path"].rsplit("/", 1)[0] if c["path"].count("/") > 2 else c["path"])
             for c in control.calls(testbot.bot)]
    assert sorted(calls) == [("GET", "/v1/messages"), ("POST", "/v1/messages")]


def redeliver(runner, envelope: dict) -> requests.Response:
    """POST a webhook envelope to the bot as Webex would, signed with the bot's secret."""
    body = json.dumps(envelope).encode()
    return requests.post(runner.local_url, data=body, timeout=5, headers={
        "X-Spark-Signature": expected_signature(runner.receiver.secret, body),
        "Content-Type": "application/json"})


def delivery_of(control, message: dict) -> dict:
    """The webhook envelope the emulator delivered for ``message``."""
    control.wait_deliveries_idle()
    return deliveries_of(control, message)[0]["body"]


def test_redelivery_is_answered_once(testbot, webex_emulator):
    said = testbot.say("shout once")
    testbot.reply()
    answer = redeliver(testbot.runner, delivery_of(webex_emulator.control, said))
    assert answer.status_code == 200 and answer.json() == {"status": "duplicate"}
    testbot.say("shout next")
    assert testbot.reply() == "NEXT"
    assert len(testbot.control.messages(room=testbot.room, author=testbot.bot)) == 2


def test_rate_limited_reply_waits_and_still_goes_out(testbot, webex_emulator):
    control = webex_emulator.control
    control.inject("rate_limit", count=1, retryAfter=1, path="/v1/messages", method="POST")
    started = time.monotonic()
    testbot.say("shout patience")
    assert testbot.reply(timeout=15) == "PATIENCE"
    assert time.monotonic() - started >= 1.0
    assert [c["status"] for c in control.calls(testbot.bot) if c["method"] == "POST"][-2:] == [429, 200]


def test_server_errors_are_retried(testbot, webex_emulator):
    webex_emulator.control.inject("server_error", count=2, status=503, path="/v1/messages/", method="GET")
    testbot.say("shout resilient")
    assert testbot.reply(timeout=15) == "RESILIENT"


def test_webex_down_for_good_loses_nothing_on_redelivery(testbot, webex_emulator):
    """Four failed fetches exhaust the retries: the message is let go, so a redelivery handles it."""
    control = webex_emulator.control
    control.inject("server_error", count=4, status=500, path="/v1/messages/", method="GET")
    said = testbot.say("shout later")
    dedupe = testbot.runner.dispatcher.dedupe
    control.wait_for(lambda: [] if said["id"] in dedupe or control.faults() else [1],
                     1, 15, "the failed event to be released")
    answer = redeliver(testbot.runner, delivery_of(control, said))
    assert answer.json() == {"status": "accepted"}
    assert testbot.reply() == "LATER"


def refused_before_the_barrier(control, runner, refused: Chat, barrier: Chat, text: str, answer: str) -> None:
    """``refused`` says ``text``, then ``barrier`` (whom the bot answers) does: once the barrier's
    ``answer`` came and the bot is idle, anything the bot said to ``refused`` would be there already."""
    refused.say(text)
    barrier.say(text)
    assert barrier.reply() == answer
    settle(control, runner)
    assert control.messages(room=refused.room, author=refused.bot) == []


def test_global_access_rules(bots: Bots, control):
    runner = bots.start(*PLUGINS, access=Access.of(domains=["allowed.example"]))
    friend = control.create_person("Friend", "friend@allowed.example")
    refused_before_the_barrier(control, runner, bots.chat(), bots.chat(person=friend), "shout hi", "HI")


def test_other_bots_are_ignored_unless_allowed(bots: Bots, control):
    other_bot = control.create_bot("Chatty Bot")
    runner = bots.start(*PLUGINS, allow_bots=False)
    refused_before_the_barrier(control, runner, bots.chat(person=other_bot), bots.chat(), "shout beep", "BEEP")
    bots.stop(runner)
    bots.start(*PLUGINS, allow_bots=True)
    chat = bots.chat(person=other_bot)
    chat.say("shout beep")
    assert chat.reply() == "BEEP"


def test_custom_fallback_gets_what_is_no_command(bots: Bots):
    @fallback
    def to_llm(ctx):
        return f"you said: {ctx.text}"

    bots.start(shout, to_llm)
    chat = bots.chat()
    chat.say("what is the weather")
    assert chat.reply() == "you said: what is the weather"
    chat.say("shout still works")
    assert chat.reply() == "STILL WORKS"


def test_open_bot_warns_at_start(bots: Bots, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.runner"):
        bots.stop(bots.start())
    assert any("answers everyone" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.runner"):
        bots.stop(bots.start(access=Access.of(["a@b.c"])))
    assert not any("answers everyone" in r.getMessage() for r in caplog.records)
