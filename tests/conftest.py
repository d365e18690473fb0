"""Fixtures the test modules share beyond the plugin kit's own (``bot.testing``, a pytest plugin:
``webex_emulator``, ``webex_person``, ``webex_bot_account``, ``testbot``, ``testbot_plugins``)."""
from __future__ import annotations

import logging
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.emulator import ControlClient, Emulator
from support import OFFLINE, Bots, end_stray_agents


@pytest.fixture
def control(webex_emulator: Emulator) -> ControlClient:
    """The emulator's control client, which most end-to-end tests drive it with."""
    return webex_emulator.control


@pytest.fixture
def no_stray_agents(tmp_path: Path) -> Iterator[None]:
    """Afterwards no fake agent of this test (fake ngrok, fake cloudflared: their state, log or command
    line lie in the test's folder) may still run; survivors are killed and fail the test. pyngrok keeps
    its agents in globals keyed by ``ngrok_path``, so one left over would leak into the next test."""
    yield
    survivors = end_stray_agents(tmp_path)
    assert not survivors, f"fake agents outlived their test: {sorted(survivors)}"


@pytest.fixture
def bots(webex_emulator: Emulator, webex_bot_account: dict[str, Any], webex_person: dict[str, Any],
         tmp_path: Path, no_stray_agents: None) -> Iterator[Bots]:
    """``bots.start(**settings)`` runs the real bot as ``webex_bot_account``; every bot still running is
    stopped at the end, failed test or not, and then no fake agent may be left (``no_stray_agents``).
    A module overrides this fixture to add its own ``defaults``."""
    started = Bots(webex_emulator, webex_bot_account, webex_person, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process as a laptop without a way out: the proxy variables (``OFFLINE``) point at a closed
    local port, loopback stays direct."""
    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)
    urllib.request.install_opener(None)  # urlopen keeps the proxies it read first: read them again now
    yield OFFLINE
    urllib.request.install_opener(None)  # and again, from the environment as it was


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was: the CLI's ``setup_logging`` points it at a stream that pytest
    closes after the test, and a later test's log line would fail there."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
