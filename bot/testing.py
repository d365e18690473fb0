"""The test kit for plugin authors: a pytest plugin with a running emulator and a chat helper.

Installed with the package (entry point ``pytest11``), so in any project that depends on it::

    def test_echo(testbot):
        testbot.say("echo hi")
        assert testbot.reply() == "hi"

``webex_emulator`` gives a fresh local Webex per test; ``Chat`` plays one person talking to a bot;
``testbot`` runs the real bot (receiver, dispatcher, webhooks) against the emulator with the built-in
commands, the installed plugins and those named by the ``testbot_plugins`` fixture (override it to
return your modules, decorated functions or plugin folders).
"""
from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

import pytest

from .config import Config
from .emulator import ControlClient, Emulator
from .runner import BotRunner

Json = dict[str, Any]


class Chat:
    """One person talking to one bot in one room of the emulator (a direct room unless given)."""

    def __init__(self, control: ControlClient, bot: Json, person: Json, room: Optional[Json] = None,
                 runner: Optional[BotRunner] = None) -> None:
        self.control = control
        self.bot = bot
        self.person = person
        self.room = room or control.direct_room(person, bot)
        self.runner = runner
        self._seen = len(self._bot_messages())

    def new_space(self, title: str = "Test space") -> "Chat":
        """A new group space of this person's with the bot added to it (``bot_added``): the chat there.

        Its first ``reply()`` is the bot's greeting, when it greets.
        """
        room = self.control.create_group(title, self.person, [])
        chat = Chat(self.control, self.bot, self.person, room, self.runner)
        self.control.add_member(room, self.bot, actor=self.person)
        return chat

    def join(self, who: Union[str, Json]) -> Json:
        """Someone joins this (group) space (``person_joined``): a person, or a new one of that name."""
        person = self.control.create_person(who) if isinstance(who, str) else who
        self.control.add_member(self.room, person, actor=self.person)
        return person

    def leave(self, person: Json) -> None:
        """``person`` leaves this space: ``person_left``, or ``bot_removed`` when it is the bot."""
        self.control.remove_member(self.room, person, actor=self.person)

    @property
    def is_group(self) -> bool:
        return self.room["type"] == "group"

    def say(self, text: str, *, parent: Optional[Json] = None, **options: Any) -> Json:
        """Post ``text`` as the person; in a group room the bot is @-mentioned first, as people do."""
        mentions = (self.bot,) if self.is_group else ()
        return self.control.post(self.person, text, room=self.room, mentions=mentions, parent=parent, **options)

    def replies(self, count: int = 1, timeout: float = 10.0) -> list[Json]:
        """The bot's next ``count`` messages in this room (whole message objects)."""
        found = self.control.wait_for(lambda: self._bot_messages()[self._seen:], count, timeout,
                                      f"{count} repl{'y' if count == 1 else 'ies'} from {self.bot['displayName']}")
        taken = found[:count]
        self._seen += len(taken)
        return taken

    def reply(self, timeout: float = 10.0) -> str:
        """The text of the bot's next message: its markdown when it sent markdown."""
        message = self.replies(1, timeout)[0]
        return message.get("markdown", message.get("text", ""))

    def _bot_messages(self) -> list[Json]:
        return self.control.messages(room=self.room, author=self.bot)


@pytest.fixture
def webex_emulator() -> Iterator[Emulator]:
    """A started local Webex, stopped after the test."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def webex_person(webex_emulator: Emulator) -> Json:
    """A person who talks to the bot."""
    return webex_emulator.control.create_person("Test User", "test.user@example.com")


@pytest.fixture
def webex_bot_account(webex_emulator: Emulator) -> Json:
    """A bot account of the emulator; ``["token"]`` is the token a bot under test runs with."""
    return webex_emulator.control.create_bot("Test Bot", "test-bot@webex.bot")


def start_test_bot(emulator: Emulator, token: str, plugins: Iterable[Any] = (), **settings: Any) -> BotRunner:
    """Start the real bot against ``emulator``, its webhooks pointing at its own local receiver.

    ``settings`` are Config fields (``access=...``, ``transport="websocket"``, ``state_dir=...``).
    """
    plugins = list(plugins)
    folders = tuple(Path(p) for p in plugins if isinstance(p, (str, Path)))
    extra = [p for p in plugins if not isinstance(p, (str, Path))]
    own_state = "state_dir" not in settings
    settings.setdefault("state_dir", Path(tempfile.mkdtemp(prefix="webex-testbot-")))
    defaults = {"transport": "webhook", "tunnel": "none", "port": 0, "instance": "testbot", "workers": 4}
    config = Config(token=token, api_url=emulator.api_url, u2c_url=emulator.u2c_url, commands_paths=folders,
                    **{**defaults, **settings})
    runner = BotRunner(config, extra=extra)
    if own_state:
        weakref.finalize(runner, shutil.rmtree, config.state_dir, True)
    return runner.start()


@pytest.fixture
def testbot_plugins() -> list[Any]:
    """What the ``testbot`` loads besides the built-ins: override to return modules, functions or folders."""
    return []


@pytest.fixture
def testbot(webex_emulator: Emulator, webex_bot_account: Json, webex_person: Json,
            testbot_plugins: list[Any], tmp_path: Path) -> Iterator[Chat]:
    """A running bot and a person in a direct room with it: ``testbot.say(...)``, ``testbot.reply()``.

    The bot keeps its state (the record of handled messages) in the test's own ``tmp_path``.
    """
    runner = start_test_bot(webex_emulator, webex_bot_account["token"], testbot_plugins,
                            state_dir=tmp_path / "testbot-state")
    chat = Chat(webex_emulator.control, webex_bot_account, webex_person, runner=runner)
    try:
        yield chat
    finally:
        runner.stop(timeout=4)
