"""The plugin surface, closed and stable: a read-only ``ctx``, ``help`` on the public surface alone,
built-ins inside ``bot``, examples only where the bot runs, and a console script."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot import CommandInfo, Context, command
from bot.plugins import load_plugins
from bot.testing import Chat
from support import until

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = {"count", "longtask", "notify", "poll", "remind", "report", "title"}
BUILT_IN = {"echo", "help", "whoami"}
seen: list[Context] = []


@command("poke", aliases=["p"])
def poke(ctx: Context, times: int = 1) -> str:
    """Poke back: `poke 3`

    Pokes as often as asked."""
    seen.append(ctx)
    for field in ("text", "words", "command", "room_id"):
        with pytest.raises(AttributeError):
            setattr(ctx, field, "changed")
    with pytest.raises(AttributeError):
        ctx.anything_new = 1  # type: ignore[attr-defined]
    ctx.words.append("not kept")
    return " ".join(["poke"] * times) + f" ({ctx.command}: {ctx.words})"


@pytest.fixture
def testbot_plugins() -> list:
    seen.clear()
    return [poke]


def test_ctx_is_read_only_and_complete_when_the_handler_runs(testbot: Chat) -> None:
    testbot.say("p 2")
    assert testbot.reply() == "poke poke (poke: ['2'])"
    [ctx] = seen
    assert (ctx.text, ctx.words, ctx.command) == ("2", ["2"], "poke")
    # The reply is in the room a moment before the bot's thread has noted it as sent.
    until(lambda: ctx.sent, "the reply noted in ctx.sent")
    assert all(isinstance(c, CommandInfo) for c in ctx.commands)


def test_help_is_built_from_read_only_descriptions(testbot: Chat) -> None:
    testbot.say("help poke")
    assert testbot.reply() == ("**poke**: Poke back: `poke 3`\n\nPokes as often as asked.\n\n"
                               "Usage: `poke [times:int]`\n\nAlso: `p`")
    assert seen == []  # help described the command without running it
    testbot.say("help")
    listing = testbot.reply()
    assert "- `poke`: Poke back: `poke 3`" in listing and "- `echo`:" in listing


def test_the_built_ins_come_from_the_package_and_the_examples_from_the_folder(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    here = {h.name for h in load_plugins(use_entry_points=False)[0].commands()}
    assert here == BUILT_IN | EXAMPLES
    monkeypatch.chdir(tmp_path)
    elsewhere = load_plugins(use_entry_points=False)[0]
    assert {h.name for h in elsewhere.commands()} == BUILT_IN
    assert elsewhere.find("help").source.startswith(str(REPO / "bot" / "builtins" / "help.py"))


def test_an_installed_distribution_brings_no_top_level_commands_package(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building writes build/ and egg-info beside the sources
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "tests"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"bot"}
    assert "bot/builtins/help.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "webex-bot = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_console_script_is_the_same_command(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("webex-bot")
    assert script.exists(), "the README's test command installs the project, and with it the script"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and "--transport" in done.stdout
    refused = subprocess.run([str(script), "--port", "x"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                             env={"WEBEX_BOT_TOKEN": "t", "PATH": ""})
    assert refused.returncode == 2 and refused.stderr.startswith("error: ")
