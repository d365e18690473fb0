"""Sleep and wake: the watcher with clocks the test moves, then the real bot against the emulator on
both transports, asleep while messages come and Webex forgets it, woken through the watcher's clock.

A sleep is made by moving the watcher's wall clock ahead while its monotonic one stands still, which
is what a suspended Linux machine looks like; no machine sleeps.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from bot.config import Config
from bot.emulator import ControlClient
from bot.runner import BotRunner
from bot.wakeups import Wakeups, local_addresses
from support import Bots, answers, deliveries_of, hook_name, ours, settle, until

INSTANCE = "testbot"
HOME = frozenset({"192.168.1.20"})


class Clocks:
    """The watcher's two clocks and its address lookup, moved by the test."""

    def __init__(self) -> None:
        self.wall_at, self.monotonic_at = 1_000_000.0, 500.0
        self.here = HOME
        self.looks = 0  # address lookups, one a tick

    def wall(self) -> float:
        return self.wall_at

    def monotonic(self) -> float:
        return self.monotonic_at

    def addresses(self) -> frozenset[str]:
        self.looks += 1
        return self.here

    def tick(self, seconds: float, slept: float = 0.0) -> None:
        """``seconds`` go by, of which the machine spent ``slept`` suspended (the monotonic clock stops)."""
        self.wall_at += seconds
        self.monotonic_at += seconds - slept


class RealTimeWall:
    """The real wall clock, plus the sleeps the test makes: the bot's watcher runs on real time."""

    def __init__(self) -> None:
        self.slept = 0.0

    def __call__(self) -> float:
        return time.time() + self.slept


def watcher(clocks: Clocks) -> Wakeups:
    watching = Wakeups(interval=5.0, wall=clocks.wall, monotonic=clocks.monotonic, addresses=clocks.addresses)
    assert watching.check() is None  # the first look takes the measure
    return watching


# -- the watcher ----------------------------------------------------------------------------------

def test_a_jump_of_the_wall_clock_is_a_sleep_of_about_that_long() -> None:
    clocks = Clocks()
    watching = watcher(clocks)
    clocks.tick(125.0, slept=120.0)
    assert watching.check() == "the machine slept for about 120 s"
    clocks.tick(5.0)
    assert watching.check() is None  # told once


def test_ticks_on_time_are_no_sleep() -> None:
    clocks = Clocks()
    watching = watcher(clocks)
    for _ in range(10):
        clocks.tick(5.0)
        assert watching.check() is None


def test_the_clocks_drifting_apart_a_little_is_no_sleep() -> None:
    clocks = Clocks()
    watching = watcher(clocks)
    clocks.tick(5.0, slept=0.4)  # NTP slewing the wall clock
    assert watching.check() is None
    clocks.tick(5.0, slept=-0.4)
    assert watching.check() is None
    clocks.tick(-3600.0 + 5.0, slept=-3600.0)  # the wall clock set back an hour: no sleep goes backwards
    assert watching.check() is None
    clocks.tick(34.0)  # a late tick, but under the threshold
    assert watching.check() is None


def test_a_frozen_process_is_a_sleep_too() -> None:
    clocks = Clocks()
    watching = watcher(clocks)
    clocks.tick(65.0)  # both clocks went on (SIGSTOP, or a platform whose monotonic clock counts sleep)
    assert watching.check() == "the machine slept for about 60 s"


def test_new_addresses_are_a_new_network_told_once() -> None:
    clocks = Clocks()
    watching = watcher(clocks)
    clocks.here = frozenset({"10.0.0.7"})
    clocks.tick(5.0)
    assert watching.check() == "the network changed (addresses 192.168.1.20 -> 10.0.0.7)"
    clocks.tick(5.0)
    assert watching.check() is None
    clocks.here = frozenset()
    clocks.tick(5.0)
    assert watching.check() == "the network changed (addresses 10.0.0.7 -> none)"


def test_the_thread_calls_once_a_wake_up() -> None:
    clocks = Clocks()
    calls: list[str] = []
    watching = Wakeups(interval=0.01, wall=clocks.wall, monotonic=clocks.monotonic,
                       addresses=clocks.addresses).start(calls.append)
    try:
        until(lambda: clocks.looks >= 5, "a few ticks on time")
        assert calls == []  # nothing to tell
        clocks.wall_at += 300.0
        until(lambda: calls, "the wake-up")
        clocks.here = frozenset({"10.0.0.7"})
        until(lambda: len(calls) == 2, "the network change")
    finally:
        watching.stop()
    assert calls == ["the machine slept for about 300 s", "the network changed (addresses 192.168.1.20 -> 10.0.0.7)"]


def test_the_real_address_lookup_is_cheap_and_does_not_raise() -> None:
    started = time.monotonic()
    assert all(isinstance(address, str) for address in local_addresses())
    assert time.monotonic() - started < 5


# -- the bot, asleep and woken ----------------------------------------------------------------------

def sleepy_bot(bots: Bots, tmp_path: Path, wall: RealTimeWall, **settings: object) -> BotRunner:
    """The real bot (as ``start_test_bot`` makes it) whose watcher reads ``wall`` and fixed addresses."""
    config = Config(token=bots.bot["token"], api_url=bots.emulator.api_url, u2c_url=bots.emulator.u2c_url,
                    tunnel="none", port=0, instance=INSTANCE, workers=4, greeting="", state_dir=tmp_path / "state",
                    **settings)  # type: ignore[arg-type]
    runner = BotRunner(config)
    runner.wakeups = Wakeups(interval=0.05, wall=wall, addresses=lambda: HOME)
    return bots.track(runner.start())


def slept_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if m.startswith("the machine slept for about ")]


def test_on_the_websocket_a_wake_reconnects_and_answers_what_came_meanwhile_once(
        bots: Bots, control: ControlClient, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    wall = RealTimeWall()
    runner = sleepy_bot(bots, tmp_path, wall, transport="websocket")
    transport = runner.websocket
    assert transport is not None and transport.device is not None
    chat = bots.chat()
    chat.say("echo before")
    assert chat.reply() == "before"

    # While the laptop sleeps Webex forgets its device: the connection looks open, brings nothing,
    # and nothing in the bot notices.
    control.delete_device(str(transport.device["url"]).rsplit("/", 1)[1])
    words = [f"asleep-{n}" for n in range(3)]
    for word in words:
        chat.say(f"echo {word}")
    settle(control, runner)
    assert all(answers(control, bots.bot, chat.room, w) == 0 for w in words)
    assert transport.connected and transport.connections == 1

    wall.slept += 120.0
    until(lambda: transport.connections == 2 and transport.connected, "the reconnect after the wake")
    until(lambda: all(answers(control, bots.bot, chat.room, w) for w in words), f"answers to {words}")
    settle(control, runner)
    assert {w: answers(control, bots.bot, chat.room, w) for w in ["before", *words]} == \
        dict.fromkeys(["before", *words], 1)
    [line] = slept_lines(caplog)
    assert line == "the machine slept for about 120 s; checking the connections"
    assert "the device is gone (404 on connect); registering again" in caplog.messages
    assert not [m for m in caplog.messages if "reconnecting in" in m]  # no backoff pause after a wake


def test_on_webhooks_a_wake_repairs_them_at_once_and_answers_what_came_meanwhile_once(
        bots: Bots, control: ControlClient, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    wall = RealTimeWall()
    # No health check would come for an hour: what repairs the webhook is the wake.
    runner = sleepy_bot(bots, tmp_path, wall, health_interval=3600.0)
    supervisor = runner.supervisor
    assert supervisor is not None
    chat = bots.chat()
    chat.say("echo before")
    assert chat.reply() == "before"

    # While the laptop sleeps its deliveries fail and Webex switches the webhook off.
    hook = ours(control, INSTANCE)[hook_name(INSTANCE)]
    control.deactivate_webhook(hook["id"])
    lost = [chat.say(f"echo asleep-{n}") for n in range(3)]
    assert control.wait_deliveries_idle()
    assert [deliveries_of(control, message) for message in lost] == [[], [], []]

    wall.slept += 120.0
    until(lambda: ours(control, INSTANCE)[hook["name"]]["status"] == "active", "the webhook re-activated")
    words = [f"asleep-{n}" for n in range(3)]
    until(lambda: all(answers(control, bots.bot, chat.room, w) for w in words), f"answers to {words}")
    until(lambda: supervisor.repairs == 1, "the repair counted")
    settle(control, runner)
    assert {w: answers(control, bots.bot, chat.room, w) for w in ["before", *words]} == \
        dict.fromkeys(["before", *words], 1)
    assert [deliveries_of(control, message) for message in lost] == [[], [], []]  # the catch-up answered
    [line] = slept_lines(caplog)
    assert line == "the machine slept for about 120 s; checking the connections"
    assert f"repaired: re-activated webhook '{hook['name']}'" in caplog.messages
