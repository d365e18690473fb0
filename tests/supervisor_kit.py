"""What the supervisor's end-to-end tests share (``test_supervisor.py``, ``test_supervisor_restarts.py``):
each test's own fake ngrok agent world (``agents``: a state folder, an authtoken, an agent log), the
same bot's production webhook that must come out of the test untouched (``foreign``), ``bots`` behind
this test's agent, and the instance name and agent pid the tests check.

A test module imports the fixtures it uses by name; ``bots`` needs ``agents`` imported beside it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from pyngrok import ngrok
from webexpythonsdk import WebexAPI

from bot.emulator import Emulator
from bot.runner import BotRunner
from support import Bots, agents_in, hook_name, logged

FAKE_NGROK = str(Path(__file__).parent / "fake_ngrok" / "ngrok")
INSTANCE = "t"
INTERVAL = 0.3
WEBHOOK_ON_ANY_PORT = ("--transport", "webhook", "--port", "0")
Json = dict[str, Any]


# -- agents: where the processes a test starts keep their state ----------------------------------

@dataclass
class Agents:
    """Where this test's agents keep their state and log, and the authtoken they run with."""

    folder: Path
    token: str = field(default_factory=lambda: f"tok-{uuid.uuid4().hex}")

    @property
    def state(self) -> Path:
        return self.folder / "agent-state"

    @property
    def log(self) -> Path:
        return self.folder / "agent.log"

    def forwarded(self) -> list[Json]:
        return logged(self.log, "forward")

    def env(self) -> dict[str, str]:
        return {"FAKE_NGROK_STATE_DIR": str(self.state), "FAKE_NGROK_LOG": str(self.log)}


@pytest.fixture
def agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_stray_agents: None) -> Agents:
    """A private agent world: every agent of this test keeps its state and log in the test's folder,
    which is how ``no_stray_agents`` finds any that outlives the test."""
    return agents_in(Agents(tmp_path), monkeypatch, ("NGROK_AUTHTOKEN", "FAKE_NGROK_FAIL", "FAKE_NGROK_START_DELAY"))


# -- the people, the bot and a webhook that is not ours --------------------------------------------

@pytest.fixture
def foreign(webex_emulator: Emulator, webex_bot_account: Json) -> Iterator[Json]:
    """The same bot's production webhook, made with the SDK; it must come out of the test untouched."""
    api = WebexAPI(access_token=webex_bot_account["token"], base_url=webex_emulator.api_url)
    hook = api.webhooks.create(name=hook_name("production"), targetUrl="https://bot.example.org/hook",
                               resource="messages", event="created", filter="personEmail=boss@example.com",
                               secret="production-secret-0123456789")
    before = next(h for h in webex_emulator.control.webhooks() if h["id"] == hook.id)
    yield before
    assert [h for h in webex_emulator.control.webhooks() if h["id"] == hook.id] == [before]


@pytest.fixture
def bots(bots: Bots, agents: Agents, tmp_path: Path) -> Bots:
    """Bots behind this test's fake agent, sharing one state folder (so a restart finds its record)."""
    bots.defaults.update(tunnel="ngrok", ngrok_path=FAKE_NGROK, ngrok_authtoken=agents.token,
                         ngrok_config=str(tmp_path / "ngrok.yml"), health_interval=INTERVAL,
                         state_dir=tmp_path / "state", instance=INSTANCE)
    return bots


def agent_pid(runner: BotRunner) -> int:
    """The pid of the runner's agent (asked only while it runs: pyngrok would start one otherwise)."""
    assert runner.supervisor is not None and runner.supervisor.tunnel.alive()
    return ngrok.get_ngrok_process(runner.supervisor.tunnel.config).proc.pid  # type: ignore[attr-defined]
