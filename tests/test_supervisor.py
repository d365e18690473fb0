"""The supervisor end to end while the bot runs: the real bot, the real pyngrok driving the fake ngrok
agent, the emulator. Start; a killed agent; webhooks switched off or deleted behind the bot's back and
a catch-up that fails; a fixed domain; your own URL with no tunnel.

Each test gets its own agent state folder, authtoken and agent log (``agents``), and afterwards no agent
it started may still run (``no_stray_agents``). Runners are stopped by the ``bots`` fixture even when a
test fails. Restarts, crashed runs and run_bot.py (stopping, failing clearly) are tested in
``test_supervisor_restarts.py``; the pure parts in ``test_supervisor_units.py``.
"""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from bot.emulator import ControlClient
from bot.runner import BotRunner
from bot.tunnels import StaticUrl
from supervisor_kit import INSTANCE, Agents, Json, agent_pid
from supervisor_kit import agents, bots, foreign  # noqa: F401 (fixtures, used by name)
from support import (NOWHERE, Bots, alive, answers, assert_webhooks_moved, deliveries_of, hook_name,
                     lost_while_the_tunnel_is_down, ours, settle, until)


def kill_agent(runner: BotRunner) -> int:
    pid = agent_pid(runner)
    os.kill(pid, signal.SIGKILL)
    until(lambda: not alive(pid), "the killed agent to end", 5)
    return pid


def repaired_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("repaired:")]


# -- 1. start -------------------------------------------------------------------------------------

def test_start_points_our_webhooks_at_the_tunnel_and_messages_come_through_it(
        bots: Bots, control: ControlClient, foreign: Json,
        agents: Agents, tmp_path: Path) -> None:
    runner = bots.start()
    assert runner.public_url and runner.public_url.startswith("http://127.0.0.1:")
    assert runner.server is not None and runner.public_url != runner.server.url
    assert runner.receiver is not None and runner.supervisor is not None
    target = runner.public_url + runner.receiver.path
    hooks = ours(control, INSTANCE)
    assert set(hooks) == {hook_name(INSTANCE), hook_name(INSTANCE, "attachmentActions")}
    for resource in ("messages", "attachmentActions"):
        hook = hooks[hook_name(INSTANCE, resource)]
        assert (hook["targetUrl"], hook["resource"], hook["event"], hook["status"]) == \
            (target, resource, "created", "active")
        assert hook["secret"] == runner.receiver.secret and len(hook["secret"]) >= 32
    assert int((tmp_path / "state" / f"ngrok-{INSTANCE}.pid").read_text()) == agent_pid(runner)
    command_line = Path(f"/proc/{agent_pid(runner)}/cmdline").read_bytes()
    assert agents.token.encode() not in command_line, "the authtoken must not show in the process list"

    chat = bots.chat()
    question = chat.say("echo through the tunnel")
    assert chat.reply() == "through the tunnel"
    [delivery] = deliveries_of(control, question)
    assert (delivery["targetUrl"], delivery["status"]) == (target, 200)
    assert any(e["path"] == runner.receiver.path and e["status"] == 200 for e in agents.forwarded())


# -- 2. the agent dies ----------------------------------------------------------------------------

def test_a_killed_agent_is_restarted_and_what_came_meanwhile_is_answered_once(
        bots: Bots, control: ControlClient, foreign: Json,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start()
    assert runner.supervisor is not None and runner.receiver is not None
    chat = bots.chat()
    chat.say("echo before")
    assert chat.reply() == "before"
    old_url = runner.public_url
    before, dead = lost_while_the_tunnel_is_down(control, runner, chat, INSTANCE, lambda: kill_agent(runner),
                                                 "echo while the agent was dead")
    assert chat.reply() == "while the agent was dead"
    assert runner.supervisor.repairs >= 1
    new_url = runner.public_url
    assert new_url and new_url != old_url
    assert_webhooks_moved(control, runner, INSTANCE, before)
    new_pid = int((tmp_path / "state" / f"ngrok-{INSTANCE}.pid").read_text())
    assert new_pid != dead and alive(new_pid)

    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "while the agent was dead") == 1
    assert answers(control, bots.bot, chat.room, "before") == 1
    [line] = repaired_lines(caplog)
    # Whichever check saw it first: the agent's process, or the probe through the public URL.
    assert any(line.startswith(f"repaired: {problem}; tunnel restarted (new URL {new_url}); updated webhook")
               for problem in ("the ngrok agent is not running", "the public URL does not reach the bot")), line
    assert any("catch-up: 1 message(s)" in r.getMessage() for r in caplog.records)


# -- 3. webhooks switched off or deleted behind the bot's back -------------------------------------

def reactivated_within(control: ControlClient, runner: BotRunner, hook: Json, checks: int = 3) -> None:
    """Switch ``hook`` off and see it back on within ``checks`` health checks (counted by their probes,
    so a loaded machine cannot make this flaky)."""
    assert runner.receiver is not None
    before = runner.receiver.probes
    control.deactivate_webhook(hook["id"])
    until(lambda: ours(control, INSTANCE)[hook["name"]]["status"] == "active", "the webhook re-activated")
    assert runner.receiver.probes - before <= checks


def test_a_deactivated_webhook_is_reactivated_and_what_came_meanwhile_is_answered_once(
        bots: Bots, control: ControlClient, foreign: Json,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start()
    messages = ours(control, INSTANCE)[hook_name(INSTANCE)]

    reactivated_within(control, runner, messages)
    assert ours(control, INSTANCE)[messages["name"]]["id"] == messages["id"]

    # Hold the supervisor inside its webhook check (Webex rate-limits it) so that the message surely
    # arrives while the webhook is off; then let it go and watch the repair answer it.
    control.inject("rate_limit", path="/v1/webhooks", retryAfter=1)
    until(lambda: [c for c in control.calls() if c["path"] == "/v1/webhooks" and c["status"] == 429],
          "the supervisor to be rate-limited")
    control.deactivate_webhook(messages["id"])
    chat = bots.chat()
    lost = chat.say("echo while it was off")
    assert control.wait_deliveries_idle()
    assert deliveries_of(control, lost) == []
    control.clear_faults()

    assert chat.reply() == "while it was off"
    hook = ours(control, INSTANCE)[messages["name"]]
    assert (hook["id"], hook["status"]) == (messages["id"], "active")
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "while it was off") == 1
    assert deliveries_of(control, lost) == []  # answered by the catch-up, not by a late delivery
    reactivated = [r for r in caplog.records if r.getMessage() == f"repaired: re-activated webhook '{messages['name']}'"]
    assert len(reactivated) == 2  # one line per repair


def test_a_deleted_webhook_is_made_again(bots: Bots, control: ControlClient, foreign: Json) -> None:
    runner = bots.start()
    assert runner.receiver is not None and runner.public_url
    before = ours(control, INSTANCE)
    for hook in before.values():
        control.delete_webhook(hook["id"])
    until(lambda: len(ours(control, INSTANCE)) == 2, "our webhooks made again")
    after = ours(control, INSTANCE)
    assert {h["id"] for h in after.values()}.isdisjoint(h["id"] for h in before.values())
    assert {(h["targetUrl"], h["status"], h["secret"]) for h in after.values()} == \
        {(runner.public_url + runner.receiver.path, "active", runner.receiver.secret)}

    chat = bots.chat()
    question = chat.say("echo made again")
    assert chat.reply() == "made again"
    assert [d["status"] for d in deliveries_of(control, question)] == [200]


def test_a_catch_up_that_fails_is_tried_again_at_the_next_check(
        bots: Bots, control: ControlClient, foreign: Json, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start(tunnel="none", health_interval=0.1)
    chat = bots.chat()
    hook = ours(control, INSTANCE)[hook_name(INSTANCE)]
    control.inject("server_error", path="/v1/rooms", status=503, count=4)  # every try of one catch-up
    control.inject("rate_limit", path="/v1/webhooks", retryAfter=1, count=3)
    until(lambda: [c for c in control.calls() if c["path"] == "/v1/webhooks" and c["status"] == 429],
          "the supervisor to be rate-limited")
    control.deactivate_webhook(hook["id"])
    lost = chat.say("echo after a failed catch-up")

    assert chat.reply(timeout=20) == "after a failed catch-up"
    assert deliveries_of(control, lost) == []
    assert [c["status"] for c in control.calls() if c["path"] == "/v1/rooms"][-5:] == [503] * 4 + [200]
    assert sum("catch-up failed, trying again at the next check" in m for m in caplog.messages) == 1
    assert runner.supervisor is not None and runner.supervisor.repairs == 1
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "after a failed catch-up") == 1


# -- 4. a fixed domain ----------------------------------------------------------------------------

def test_a_fixed_domain_keeps_its_url_across_a_repair(
        bots: Bots, control: ControlClient, foreign: Json,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    runner = bots.start(ngrok_domain="my-bot.ngrok-free.app")
    supervisor = runner.supervisor
    assert supervisor is not None
    url, hooks = runner.public_url, ours(control, INSTANCE)
    kill_agent(runner)
    chat = bots.chat()
    chat.say("echo same place")
    assert chat.reply() == "same place"
    until(lambda: supervisor.repairs >= 1, "the repair")
    assert runner.public_url == url
    [line] = repaired_lines(caplog)
    assert "same URL" in line
    assert ours(control, INSTANCE) == hooks  # nothing to change: same URL, same secret
    settle(control, runner, checks=2)
    assert answers(control, bots.bot, chat.room, "same place") == 1


# -- 5. your own URL, no tunnel -------------------------------------------------------------------

def test_your_own_url_is_probed_without_counting_as_a_message_and_webhooks_are_repaired(
        bots: Bots, control: ControlClient, foreign: Json) -> None:
    runner = bots.start(tunnel="none", health_interval=0.1)
    supervisor, receiver = runner.supervisor, runner.receiver
    assert supervisor is not None and receiver is not None and runner.dispatcher is not None
    assert isinstance(supervisor.tunnel, StaticUrl) and runner.server is not None
    assert runner.public_url == runner.server.url
    until(lambda: receiver.probes >= 3, "three probes")
    assert [c["path"] for c in control.calls() if c["path"].startswith("/v1/messages")] == []
    assert runner.dispatcher.handled == 0

    reactivated_within(control, runner, ours(control, INSTANCE)[hook_name(INSTANCE)])
    until(lambda: supervisor.repairs == 1, "the repair counted")
    chat = bots.chat()
    chat.say("echo still here")
    assert chat.reply() == "still here"


def test_your_own_url_that_does_not_reach_the_bot_is_reported_not_repaired(
        bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.supervisor")
    runner = bots.start(tunnel="none", public_url=NOWHERE, health_interval=0.1)
    supervisor = runner.supervisor
    assert supervisor is not None
    until(lambda: supervisor.failures >= 2, "two failed checks")
    bots.stop(runner)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("http://127.0.0.1:9 does not reach the bot yet: check that your reverse proxy")
               for line in lines)
    assert any("does not reach the bot (2 checks in a row): check your reverse proxy" in line for line in lines)
    assert not [line for line in lines if line.startswith("repaired:")]
