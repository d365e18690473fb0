"""The sandbox: the real bot against a local Webex, with a chat page, and no token or account.

It starts the emulator, seeds a person, a direct space and a group space, and runs the bot exactly
as against Webex (signed webhooks into the real receiver), only with the emulator's token and URLs.
Plugins from --commands work as usual, so a workshop can write a command and try it at once.
"""
from __future__ import annotations

import dataclasses
import errno
import getpass
import logging
import os
import shutil
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Callable

from .config import Config
from .emulator import Emulator
from .runner import BotRunner

log = logging.getLogger(__name__)
SANDBOX_PORT = 8900


def _start_emulator(port: int) -> Emulator:
    """The emulator on ``port``, or on a free port when another program holds it."""
    try:
        return Emulator(port=port).start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        log.warning("port %d is in use; the sandbox takes a free one", port)
        return Emulator(port=0).start()


def _has_desktop() -> bool:
    if os.environ.get("CI"):
        return False
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Sandbox:
    """A running emulator plus the bot under ``config`` pointed at it."""

    def __init__(self, config: Config, port: int = SANDBOX_PORT,
                 redact: Callable[..., None] = lambda *secrets: None) -> None:
        self.emulator = _start_emulator(port)
        control = self.emulator.control
        self.bot = control.create_bot("Sandbox Bot", "sandbox-bot@webex.bot")
        name = (getpass.getuser() or "you").replace(".", " ").title()
        self.person = control.create_person(name, "you@example.com")
        ada = control.create_person("Ada Lovelace", "ada@example.com")
        self.direct = control.direct_room(self.person, self.bot)
        self.group = control.create_group("Workshop space", self.person, [self.bot, ada])
        self.state = Path(tempfile.mkdtemp(prefix="webex-sandbox-"))
        self.runner = BotRunner(dataclasses.replace(
            config, token=self.bot["token"], api_url=self.emulator.api_url, u2c_url=self.emulator.u2c_url,
            transport="webhook", tunnel="none", public_url=None, host="127.0.0.1", port=0,
            instance="sandbox", state_dir=self.state), redact=redact).start()

    @property
    def chat_url(self) -> str:
        return f"{self.emulator.chat_url}?as={self.person['id']}"

    def announce(self, open_browser: bool = True) -> None:
        print(f"\nThe sandbox bot is running. Open the chat page:\n\n    {self.chat_url}\n\n"
              "Say `help` to the bot in the direct space; in the group space, @-mention it first.\n"
              "Press Ctrl-C to stop.\n", flush=True)
        if open_browser and _has_desktop():
            webbrowser.open(self.chat_url)

    def stop(self) -> None:
        self.runner.stop(timeout=4)
        self.emulator.stop()
        shutil.rmtree(self.state, ignore_errors=True)
