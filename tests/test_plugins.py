"""Plugin discovery: the built-ins, folders, BOT_COMMANDS_PATH, installed packages, and clear errors.

Plugins are real files written into temporary folders (and a real ``.dist-info`` for the entry
point), loaded by the real loader; the end-to-end tests run them in the real bot against the emulator.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.config import load_config
from bot.plugins import ENTRY_POINT_GROUP, PluginError, load_plugins
from bot.registry import DuplicateCommand
from bot.runner import BotRunner
from support import RUN_BOT, Bots, free_port, program_env

REPO = Path(__file__).resolve().parents[1]
SHOUT = '''
from bot import command

@command("shout", help="Shout your words back")
def shout(ctx):
    return ctx.text.upper()
'''

BUILTINS = ["count", "echo", "help", "longtask", "notify", "poll", "remind", "report", "title", "whoami"]


def write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def names(registry: Any) -> list[str]:
    return [h.name for h in registry.commands()]


def test_the_built_in_commands_load():
    registry, errors = load_plugins()
    assert errors == []
    assert names(registry) == BUILTINS
    assert registry.find("?") is registry.find("help")
    assert registry.find("ECHO").source.startswith(str(REPO / "bot" / "builtins" / "echo.py"))


def test_a_folder_of_plugins_loads(tmp_path):
    path = write(tmp_path / "mine", "shout.py", SHOUT)
    registry, errors = load_plugins([tmp_path / "mine"])
    assert errors == []
    assert names(registry) == sorted(BUILTINS + ["shout"])
    shout = registry.find("shout")
    assert shout.summary == "Shout your words back"
    assert shout.source == f"{path}:4"


def test_bot_commands_path_takes_two_folders_into_the_running_bot(tmp_path, bots: Bots, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "one", "shout.py", SHOUT)
    write(tmp_path / "two", "whisper.py", '''
        from bot import command

        @command("whisper")
        def whisper(ctx):
            return ctx.text.lower()
        ''')
    port = free_port()
    config = load_config(["--tunnel", "none", "--port", str(port), "--public-url", f"http://127.0.0.1:{port}"],
                         {"WEBEX_BOT_TOKEN": bots.bot["token"], "WEBEX_API_URL": bots.emulator.api_url,
                          "BOT_INSTANCE": "ci",
                          "BOT_STATE_DIR": str(tmp_path / "state"),
                          "BOT_COMMANDS_PATH": f"{tmp_path / 'one'}{os.pathsep}{tmp_path / 'two'}"})
    assert config.commands_paths == (tmp_path / "one", tmp_path / "two")
    bots.track(BotRunner(config).start())
    chat = bots.chat()
    chat.say("shout hello")
    assert chat.reply() == "HELLO"
    chat.say("whisper HELLO")
    assert chat.reply() == "hello"
    chat.say("help")
    assert "`shout`: Shout your words back" in chat.reply()


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package installed the way pip leaves one: a module and its .dist-info with the entry point."""
    site = tmp_path / "site-packages"
    module = write(site, "my_plugin_pkg.py", '''
        from bot import command

        @command("mine", aliases=["m"])
        def mine(ctx):
            """Proves installed plugins load"""
            return "from the package"
        ''')
    write(site / "my_plugin_pkg-1.0.dist-info", "METADATA",
          "Metadata-Version: 2.1\nName: my-plugin-pkg\nVersion: 1.0\n")
    write(site / "my_plugin_pkg-1.0.dist-info", "entry_points.txt", f"[{ENTRY_POINT_GROUP}]\nmine = my_plugin_pkg\n")
    monkeypatch.syspath_prepend(str(site))
    try:
        yield module
    finally:
        sys.modules.pop("my_plugin_pkg", None)


def test_an_installed_package_loads_through_its_entry_point(installed_plugin):
    registry, errors = load_plugins()
    assert errors == []
    assert names(registry) == sorted(BUILTINS + ["mine"])
    assert registry.find("m").source == f"{installed_plugin}:4"
    assert registry.find("mine").summary == "Proves installed plugins load"
    assert names(load_plugins(use_entry_points=False)[0]) == BUILTINS


def test_two_commands_with_one_name_name_both_files(tmp_path):
    first = write(tmp_path, "a_shout.py", SHOUT)
    second = write(tmp_path, "b_shout.py", SHOUT.replace("def shout", "def louder"))
    with pytest.raises(DuplicateCommand) as raised:
        load_plugins([tmp_path])
    message = str(raised.value)
    assert "'shout'" in message and f"{first}:4" in message and f"{second}:4" in message


def test_an_alias_clashing_with_a_name_is_a_duplicate(tmp_path):
    path = write(tmp_path, "yell.py", '''
        from bot import command

        @command("yell", aliases=["echo"])
        def yell(ctx):
            return ctx.text.upper()
        ''')
    with pytest.raises(DuplicateCommand) as raised:
        load_plugins([tmp_path])
    message = str(raised.value)
    assert "'echo'" in message
    assert str(REPO / "bot" / "builtins" / "echo.py") in message and f"{path}:4" in message


def test_run_bot_stops_on_a_duplicate_naming_both_files(tmp_path, webex_emulator):
    folder = tmp_path / "plugins"
    first = write(folder, "one.py", SHOUT)
    second = write(folder, "two.py", SHOUT)
    bot = webex_emulator.control.create_bot("Dup Bot", "dup-bot@webex.bot")
    port = free_port()
    env = program_env(tmp_path, WEBEX_BOT_TOKEN=bot["token"], BOT_LOG_LEVEL="ERROR")
    done = subprocess.run([sys.executable, RUN_BOT, "--commands", str(folder), "--tunnel", "none",
                           "--port", str(port), "--public-url", f"http://127.0.0.1:{port}",
                           "--api-url", webex_emulator.api_url], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: command 'shout' is defined twice")
    assert str(first) in lines[0] and str(second) in lines[0]
    assert webex_emulator.control.webhooks() == []


def test_a_broken_plugin_is_reported_while_the_others_load(tmp_path):
    syntax = write(tmp_path, "bad_syntax.py", '''
        from bot import command

        @command("broken")
        def broken(ctx:
            return "never"
        ''')
    missing = write(tmp_path, "bad_import.py", '''
        """Needs a package that is not installed."""
        from bot import command
        import no_such_package_for_webex_bot
        ''')
    failing = write(tmp_path, "bad_call.py", '''
        import json

        SETTINGS = json.loads("{not json")
        ''')
    write(tmp_path, "shout.py", SHOUT)
    registry, errors = load_plugins([tmp_path])
    assert names(registry) == sorted(BUILTINS + ["shout"])
    reasons = {error.source: error.reason for error in errors}
    assert set(reasons) == {str(syntax), str(missing), str(failing)}
    assert reasons[str(syntax)].startswith("SyntaxError:") and "line 5" in reasons[str(syntax)]
    assert reasons[str(missing)] == ("ModuleNotFoundError: No module named 'no_such_package_for_webex_bot' "
                                     "(line 4)")
    assert reasons[str(failing)].startswith("JSONDecodeError:") and reasons[str(failing)].endswith("(line 4)")
    assert all(isinstance(e, PluginError) and str(e).startswith(f"plugin {e.source} failed to load: ") for e in errors)


def test_importing_another_plugins_command_is_no_duplicate(tmp_path, monkeypatch):
    write(tmp_path / "first", "greet.py", SHOUT)
    write(tmp_path / "second", "reuse.py", '''
        from bot import command
        from bot.builtins.echo import echo
        from greet import shout

        @command("both")
        def both(ctx):
            return shout(ctx) + " " + echo(ctx)
        ''')
    monkeypatch.syspath_prepend(str(tmp_path / "first"))
    monkeypatch.delitem(sys.modules, "greet", raising=False)
    try:
        registry, errors = load_plugins([tmp_path / "first", tmp_path / "second"])
    finally:
        sys.modules.pop("greet", None)
    assert errors == []
    assert names(registry) == sorted(BUILTINS + ["both", "shout"])


def test_files_starting_with_an_underscore_are_not_plugins(tmp_path):
    write(tmp_path, "_helpers.py", '''
        from bot import command
        raise RuntimeError("a helper module must not be loaded as a plugin")

        @command("hidden")
        def hidden(ctx):
            return "no"
        ''')
    write(tmp_path, "__init__.py", "raise RuntimeError('not a plugin either')\n")
    write(tmp_path, "shout.py", SHOUT)
    (tmp_path / "notes.txt").write_text("@command('nope')\n")
    registry, errors = load_plugins([tmp_path])
    assert errors == []
    assert names(registry) == sorted(BUILTINS + ["shout"])


@pytest.fixture
def testbot_plugins(tmp_path: Path) -> list[Any]:
    write(tmp_path / "readme_plugins", "shout.py", SHOUT)
    return [tmp_path / "readme_plugins"]


def test_shout(testbot):
    testbot.say("shout hi")
    assert testbot.reply() == "HI"
