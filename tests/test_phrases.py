"""``@hears`` end to end, on both transports: a command word wins, then phrases in load order, then
the fallback; ``ctx.match``, access rules, ``help`` listing, and a pattern that does not compile."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import command, fallback, hears
from bot.plugins import load_plugins
from support import Bots


@hears(r"\b(thanks|thank you)\b")
def thanks(ctx):
    return f"You're welcome ({ctx.match.group(1)})"


@hears(r"deploy (?P<service>\w+)", help="Say `deploy <service>` and I will deploy it")
def deploy_phrase(ctx):
    return f"deploying {ctx.match['service']}"


@hears(r"THANKS", flags=0)
def shouted_thanks(ctx):
    return "no need to shout"


@hears(r"secret", people=["boss@example.com"])
def secret(ctx):
    return "the secret"


@command("deploy")
def deploy_command(ctx, service: str):
    return f"command deploys {service}"


@fallback
def anything_else(ctx):
    return f"fallback: {ctx.text}"


PLUGINS = (thanks, deploy_phrase, shouted_thanks, secret, deploy_command, anything_else)


@pytest.fixture(params=["webhook", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_command_word_wins_then_phrases_in_load_order_then_the_fallback(bots: Bots, transport: str) -> None:
    bots.start(*PLUGINS, transport=transport)
    chat = bots.chat()
    for said, answer in [
        ("deploy api", "command deploys api"),  # the command word, although the phrase matches too
        ("please deploy web now", "deploying web"),
        ("many THANKS, bot", "You're welcome (THANKS)"),  # case-insensitive by default, and loaded first
        ("what is the secret", "fallback: what is the secret"),  # the phrase's access rule skips it
        ("hello there", "fallback: hello there"),
    ]:
        chat.say(said)
        assert chat.reply() == answer, said


def test_phrases_in_a_group_space_hear_the_text_without_the_mention(bots: Bots, transport: str) -> None:
    bots.start(*PLUGINS, transport=transport)
    room = bots.control.create_group("Ops", bots.person, [bots.bot])
    chat = bots.chat(room=room)
    chat.say("thank you!")
    assert chat.reply() == "You're welcome (thank you)"


def test_help_lists_only_the_phrases_given_help(bots: Bots) -> None:
    bots.start(*PLUGINS)
    chat = bots.chat()
    chat.say("help")
    text = chat.reply()
    assert "I also listen for:\n- Say `deploy <service>` and I will deploy it" in text
    assert "thanks" not in text.lower() and "secret" not in text


def test_flags_are_the_authors_choice() -> None:
    assert shouted_thanks.__webex_bot_handler__.pattern.flags & re.IGNORECASE == 0
    assert thanks.__webex_bot_handler__.pattern.flags & re.IGNORECASE


def test_a_pattern_that_does_not_compile_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("from bot import hears\n\n\n@hears('(unclosed')\ndef oops(ctx):\n    pass\n")
    (tmp_path / "fine.py").write_text("from bot import hears\n\n@hears('hi')\ndef hi(ctx):\n    return 'hi'\n")
    registry, errors = load_plugins([tmp_path], packages=(), use_entry_points=False, local=False)
    assert [h.name for h in registry.phrases()] == ["hi"]
    (error,) = errors
    assert error.source.endswith("broken.py") and "(line 4)" in error.reason
    assert "'(unclosed' does not compile" in error.reason
