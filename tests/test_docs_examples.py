"""The plugin examples of ``docs/plugins.md`` and ``docs/examples/`` run through the test kit: the
page's ``# commands/<name>.py`` blocks are written out as plugin files and loaded, then used in chat."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.plugins import load_plugins
from bot.testing import Chat, start_test_bot
from support import until

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "plugins.md"
EXAMPLES = ROOT / "docs" / "examples"
BLOCK = re.compile(r"```python\n# commands/(\w+)\.py\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def page_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("page-plugins")
    for name, source in BLOCK.findall(PAGE.read_text()):
        (folder / f"{name}.py").write_text(source)
    return folder


def test_every_plugin_block_of_the_page_loads(page_plugins: Path) -> None:
    names = sorted(p.stem for p in page_plugins.glob("*.py"))
    assert {"deploy_phrase", "team_events", "remember", "escalate", "shout"} <= set(names)
    registry, errors = load_plugins([page_plugins], packages=(), use_entry_points=False, local=False)
    assert errors == []
    assert [h.name for h in registry.phrases()] == [r"deploy (?P<service>\w+) to (?P<where>prod|staging)"]
    assert [h.function.__name__ for h in registry.on("bot_added")] == ["hello"]


def chat_with(emulator, bot, person, folder: Path, state: Path):
    runner = start_test_bot(emulator, bot["token"], [folder], state_dir=state)
    try:
        yield Chat(emulator.control, bot, person, runner=runner)
    finally:
        runner.stop(timeout=4)


@pytest.fixture
def chat(webex_emulator, webex_bot_account, webex_person, page_plugins, tmp_path):
    """A bot with the page's examples."""
    yield from chat_with(webex_emulator, webex_bot_account, webex_person, page_plugins, tmp_path / "state")


@pytest.fixture
def examples_chat(webex_emulator, webex_bot_account, webex_person, tmp_path):
    """A bot with ``docs/examples/`` copied into its plugins, as the page says to."""
    yield from chat_with(webex_emulator, webex_bot_account, webex_person, EXAMPLES, tmp_path / "state")


def test_the_page_examples_answer_in_chat(chat: Chat) -> None:
    chat.say("please deploy api to prod")
    assert chat.reply() == "Deploying api to prod…"
    chat.say("remember lunch at noon")
    assert chat.reply() == "I keep 1 note(s) here."
    chat.say("visits")
    chat.say("visits")
    assert [chat.reply(), chat.reply()] == ["Visit number 1.", "Visit number 2."]
    chat.say("escalate the disk is full")
    assert chat.reply() == "The on-call space knows; I could not reach the lead."
    chat.say("help")
    assert "I also listen for:\n- Say `deploy <service> to prod`" in chat.reply()


def test_the_test_kit_example_of_the_page(chat: Chat) -> None:
    space = chat.new_space("Team")
    assert "help" in space.reply()
    space.join("Grace Hopper")
    assert space.reply() == "Welcome, Grace Hopper!"


def test_the_copyable_examples(examples_chat: Chat) -> None:
    chat = examples_chat
    chat.say("thanks a lot")
    assert chat.reply() == 'You\'re welcome! (you said "thanks")'
    chat.say("help")
    assert "I also listen for:\n- Say thanks and I will answer" in chat.reply()
    space = chat.new_space("Greeted")
    assert space.reply() == f"Hello everyone! {chat.person['emails'][0]} added me. Mention me with `help` to see what I do."
    grace = space.join("Grace Hopper")
    assert space.reply() == "Welcome, Grace Hopper!"
    room_id = space.room["id"]
    assert chat.runner is not None and chat.runner.storage is not None
    chat.runner.storage.room(room_id)["kept"] = 1
    space.leave(chat.bot)  # the webhook tells the bot, and greeting.py deletes the space's data
    until(lambda: "kept" not in chat.runner.storage.room(room_id), "the space's data deleted")
    assert grace["displayName"] == "Grace Hopper"
