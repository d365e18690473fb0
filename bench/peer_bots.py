"""The four bots bench/peers.py compares, each in a process of its own against one emulator: how each is
started and pointed at the emulator, when it is ready, and which of its messages answers a command.

The peers are the conformance tests' own: the same pinned packages in the same cached virtualenvs
(``conformance_kit.conformance_venv``) and the same driver scripts, whose command lines are read from
their ``--help``, so that a driver being edited is not started with options it no longer takes.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from common import ROOT

TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:  # the conformance kit and tests live beside the tests, not in a package
    sys.path.insert(0, str(TESTS))
import test_conformance_webex_bot as webex_bot_test  # noqa: E402
import test_conformance_webexteamsbot as teamsbot_test  # noqa: E402
from conformance_kit import conformance_venv  # noqa: E402
from support import OFFLINE, free_port  # noqa: E402

Json = dict[str, Any]
Launch = Callable[[Any, Json, Path], list[str]]


@dataclass(frozen=True)
class Contender:
    """One bot under test: ``command`` and ``answers`` take the per-command token."""

    name: str
    launch: Launch  # (emulator, bot account, folder) -> the command line, run with ``environment``
    ready: Callable[[Any, Json, Path], bool]  # (emulator, bot account, folder of its log) -> listening
    command: Callable[[str], str]
    answers: Callable[[Json, str], bool]  # (one of the bot's messages, token) -> it answers that command
    pointed: str  # how it is pointed at the emulator, for the RESULTS.md section

    def environment(self, emu: Any, account: Json, folder: Path) -> dict[str, str]:
        """Loopback only (every proxy a closed port), the emulator's authority trusted, the token and the
        emulator's URLs in the variables."""
        from bot.emulator.tls import client_env

        return {**os.environ, **OFFLINE, **client_env(emu.ca_file), "WEBEX_BOT_TOKEN": account["token"],
                "WEBEX_API_URL": emu.api_url, "WEBEX_U2C_URL": emu.u2c_url, "BOT_STATE_DIR": str(folder),
                "PYTHONUNBUFFERED": "1"}

    def start(self, emu: Any, account: Json, folder: Path) -> subprocess.Popen[bytes]:
        with (folder / "bot.log").open("wb") as log:
            return subprocess.Popen(self.launch(emu, account, folder), env=self.environment(emu, account, folder),
                                    cwd=folder, stdout=log, stderr=subprocess.STDOUT)


def said(message: Json) -> str:
    return (message.get("markdown") or message.get("text") or "").strip()


def logged(folder: Path, text: str) -> bool:
    return text in (folder / "bot.log").read_text(errors="replace")


# -- this project ---------------------------------------------------------------------------------

# No tunnel: the emulator delivers to the loopback receiver.
HOOK_FLAGS = " --tunnel none --port <port> --public-url http://127.0.0.1:<port>"


def plain_install() -> str:
    """A python with this project installed as a user installs it (``pip install``, no extras), in a
    venv of its own like each peer's: the development venv's test extras (trustme brings cryptography,
    which PyJWT then loads) would be charged to the bot's memory. Editable, so it runs this checkout;
    made again when setup.cfg changes."""
    stamp = hashlib.sha1((ROOT / "setup.cfg").read_bytes()).hexdigest()[:8]
    return conformance_venv(f"ours-{stamp}", ["-e", str(ROOT)])


def ours(transport: str) -> Contender:
    python = plain_install()

    def launch(emu: Any, account: Json, folder: Path) -> list[str]:
        line = [python, str(ROOT / "run_bot.py"), "--transport", transport, "--instance", "peers",
                "--env-file", os.devnull]
        if transport == "webhook":
            line += HOOK_FLAGS.replace("<port>", str(free_port())).split()
        return line

    return Contender(f"ours {transport}", launch, lambda emu, account, folder: logged(folder, "bot is up"),
                     lambda token: f"echo {token}", lambda message, token: said(message) == token,
                     f"`python run_bot.py --transport {transport}{HOOK_FLAGS if transport == 'webhook' else ''}` "
                     "(a plain `pip install -e .` in a venv of its own) with `WEBEX_API_URL`, `WEBEX_U2C_URL` "
                     "and the emulator's authority in `REQUESTS_CA_BUNDLE` "
                     "and `SSL_CERT_FILE`; its built-in `echo`")


# -- the peers, through the conformance drivers ---------------------------------------------------


def driver_line(python: str, driver: Path, values: dict[str, Optional[str]]) -> list[str]:
    """``python driver`` with each option its ``--help`` offers that ``values`` has (None: a flag); an option
    it requires that ``values`` lacks stops the run, naming it."""
    shown = subprocess.run([python, str(driver), "--help"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **OFFLINE}).stdout
    usage = shown.split("\n\n", 1)[0]
    required = set(re.findall(r"--[a-z][\w-]*", re.sub(r"\[[^\]]*\]", "", usage)))
    if required - set(values):
        raise RuntimeError(f"{driver.name} now requires {', '.join(sorted(required - set(values)))}, "
                           "which bench/peer_bots.py does not give")
    offered = set(re.findall(r"--[a-z][\w-]*", shown))
    return [python, str(driver), *[part for option, value in values.items() if option in offered
                                   for part in ([option] if value is None else [option, value])]]


def webexteamsbot() -> Contender:
    python = conformance_venv("webexteamsbot", teamsbot_test.PACKAGES)

    def launch(emu: Any, account: Json, folder: Path) -> list[str]:
        return driver_line(python, teamsbot_test.DRIVER, {"--api-url": emu.api_url, "--email": account["emails"][0],
                                                          "--port": str(free_port())})

    def ready(emu: Any, account: Json, folder: Path) -> bool:
        hooks = [h for h in emu.control.webhooks() if h["name"].startswith("conformance-webexteamsbot")]
        return bool(hooks) and logged(folder, "Running on")

    return Contender("webexteamsbot", launch, ready, lambda token: f"/echo {token}",
                     lambda message, token: said(message) == token,
                     f"`{' '.join(teamsbot_test.PACKAGES)}` through `tests/conformance/{teamsbot_test.DRIVER.name}`: "
                     "`TeamsBot(teams_api_url=<the emulator's /v1/>, teams_bot_url=http://127.0.0.1:<port>/)`, "
                     "which registers its own webhook at that URL through the emulator")


def webex_bot() -> Contender:
    python = os.environ.get("WEBEX_BOT_CONFORMANCE_PYTHON") or conformance_venv("webex-bot", [webex_bot_test.PACKAGE])

    def launch(emu: Any, account: Json, folder: Path) -> list[str]:
        return driver_line(python, webex_bot_test.DRIVER, {"--api-url": emu.api_url, "--u2c-url": emu.u2c_url,
                                                           "--plain-echo": None})

    def ready(emu: Any, account: Json, folder: Path) -> bool:
        return any(d["connected"] and d["ownerId"] == account["id"] for d in emu.control.devices())

    return Contender("webex_bot", launch, ready, lambda token: f"say {token}",
                     lambda message, token: said(message) == token,
                     f"`{webex_bot_test.PACKAGE}` through `tests/conformance/{webex_bot_test.DRIVER.name} "
                     "--plain-echo`: `webex_websocket_client.DEFAULT_U2C_URL` set to the emulator's catalog and its "
                     "`WebexAPI` given `base_url=<the emulator's /v1/>`; its TLS context is its own "
                     "(`ssl.create_default_context()` plus certifi's bundle), which trusts the emulator's "
                     "authority through `SSL_CERT_FILE`, as its REST calls do through `REQUESTS_CA_BUNDLE`. "
                     "Its demo `echo` answers with cards, so the driver adds, as webex_bot's README shows for "
                     "user commands (a `Command` subclass given to `bot.add_command`), `say <words>`, which "
                     "returns the words from `execute` (webex_bot sends a string as markdown) with no "
                     "pre-execute reply and nothing deleted")


CONTENDERS: dict[str, Callable[[], Contender]] = {
    "ours-webhook": lambda: ours("webhook"), "ours-websocket": lambda: ours("websocket"),
    "webexteamsbot": webexteamsbot, "webex_bot": webex_bot}
