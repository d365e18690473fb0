"""The sandbox: the real bot against a local Webex, with a chat page, and no token or account.

It starts the emulator, seeds a person, a direct space and a group space, and runs the bot exactly
as against Webex (signed webhooks into the real receiver), only with the emulator's token and URLs.
Plugins from --commands work as usual, so a workshop can write a command and try it at once; their
``@incoming`` routes are registered with the emulator, whose chat page sends them test events.
"""
from __future__ import annotations

import dataclasses
import errno
import getpass
import logging
import os
import secrets
import shutil
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Callable

from .config import Config
from .emulator import ControlClient, Emulator
from .inbound import incoming_key
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


def register_routes(control: ControlClient, runner: BotRunner) -> list[str]:
    """Tell the emulator of the running bot's ``@incoming`` routes, with their key or secret, so that
    the chat page can send them test events; their names. A github route of a bot without a secret
    is left out: the bot refuses everything sent to it."""
    config, server = runner.config, runner.server
    routes = [r for r in (runner.registry.routes() if runner.registry is not None else ())
              if r.auth == "key" or config.incoming_secret]
    if not routes:
        return []
    assert server is not None
    key = incoming_key(config.state_dir, config.incoming_key)
    for route in routes:
        control.register_incoming(route.name, f"{server.url}/incoming/{route.name}", route.auth,
                                  key=key if route.auth == "key" else None,
                                  secret=config.incoming_secret if route.auth == "github" else None)
    return [route.name for route in routes]


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
        # Made before the plugins are loaded, so that any github route among them works.
        incoming_secret = config.incoming_secret or secrets.token_hex(32)
        redact(incoming_secret)
        self.runner = BotRunner(dataclasses.replace(
            config, token=self.bot["token"], api_url=self.emulator.api_url, u2c_url=self.emulator.u2c_url,
            transport="webhook", tunnel="none", public_url=None, host="127.0.0.1", port=0,
            instance="sandbox", state_dir=self.state, incoming_secret=incoming_secret), redact=redact).start()
        self.routes = register_routes(control, self.runner)

    @property
    def chat_url(self) -> str:
        return f"{self.emulator.chat_url}?as={self.person['id']}"

    def announce(self, open_browser: bool = True) -> None:
        routes = ""
        if self.routes:
            routes = f"incoming routes: {', '.join(self.routes)} (send test events from the chat page)\n"
        print(f"\nThe sandbox bot is running. Open the chat page:\n\n    {self.chat_url}\n\n"
              "Say `help` to the bot in the direct space; in the group space, @-mention it first.\n"
              f"{routes}Press Ctrl-C to stop.\n", flush=True)
        if open_browser and _has_desktop():
            webbrowser.open(self.chat_url)

    def stop(self) -> None:
        self.runner.stop(timeout=4)
        self.emulator.stop()
        shutil.rmtree(self.state, ignore_errors=True)
