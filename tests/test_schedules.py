"""Schedules and reminders in the running bot: ``@every``/``@cron`` runs posting where they say, a run
due while the bot was down done once at the restart (or skipped past its grace), a run never done
twice across a restart in the middle of it, and a reminder set before a restart sent once after."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import command, cron, every
from bot.plugins import load_plugins
from bot.registry import Registry
from bot.triggers import Cron, Every
from support import Bots, settle, until

RUNS: list[float] = []
HELD = threading.Event()  # holds the blocking schedule's first run until a test lets it go


@pytest.fixture(autouse=True)
def fresh() -> None:
    RUNS.clear()
    HELD.clear()


def ticking(seconds: float, grace: float = 300, **options):
    @every(seconds=seconds, misfire_grace=grace, name="tick", **options)
    def tick(ctx):
        RUNS.append(time.monotonic())
        return f"tick {len(RUNS)}"
    return tick


@every(seconds=2, name="slow")
def slow(ctx):
    RUNS.append(time.monotonic())
    HELD.wait(20)


@command("later")
def later(ctx, seconds: int, *words: str):
    ctx.schedule(timedelta(seconds=seconds), f"Reminder: {' '.join(words)}")
    return f"in {seconds} s"


def wait_until(moment: float) -> None:
    """Let the clock pass ``moment`` (a time.monotonic() value): the test needs the bot down across it."""
    time.sleep(max(0.0, moment - time.monotonic()))


def test_a_schedule_posts_to_its_room_at_each_due_time(bots: Bots) -> None:
    room = bots.control.create_group("Ops", bots.person, [bots.bot])
    runner = bots.start(ticking(1, room=room["id"]))
    posted = bots.control.wait_for_messages(bots.bot, 2, room=room, timeout=10)
    assert [m["markdown"] for m in posted[:2]] == ["tick 1", "tick 2"]
    assert 0.8 < RUNS[1] - RUNS[0] < 1.6
    bots.stop(runner)


def test_a_run_due_while_the_bot_was_down_runs_once_at_the_restart(bots: Bots, tmp_path: Path) -> None:
    state = tmp_path / "state"
    tick = ticking(4)
    started = time.monotonic()
    bots.stop(bots.start(tick, state_dir=state))  # the first start: counted from now, nothing runs yet
    assert RUNS == []
    wait_until(started + 4 * 2 + 0.5)  # two due times pass while the bot is down
    runner = bots.start(tick, state_dir=state)
    until(lambda: RUNS, "the missed run, at the restart")
    settle(bots.control, runner)
    assert len(RUNS) == 1 and RUNS[0] - started < 4 * 3, "the two missed runs ran as one, before the next"
    bots.stop(runner)


def test_a_run_missed_by_more_than_its_grace_is_skipped(bots: Bots, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    tick = ticking(2, grace=0.5)
    started = time.monotonic()
    bots.stop(bots.start(tick, state_dir=state))
    wait_until(started + 2 + 1.0)
    with caplog.at_level(logging.WARNING, logger="bot.schedules"):
        runner = bots.start(tick, state_dir=state)
        until(lambda: any("missed its run" in r.getMessage() for r in caplog.records), "the skip logged")
    assert RUNS == []
    until(lambda: RUNS, "the next run, on time")  # the schedule goes on
    bots.stop(runner)


def test_a_run_interrupted_by_a_restart_is_not_done_again(bots: Bots, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = bots.start(slow, state_dir=state)
    until(lambda: RUNS, "the run that hangs")
    bots.stop(first, timeout=0.5)  # it is still running: the bot stops (or dies) in the middle of it
    restarted = time.monotonic()
    second = bots.start(slow, state_dir=state)
    HELD.set()
    until(lambda: len(RUNS) == 2, "the next due run")
    assert RUNS[1] - restarted > 0.5, "the interrupted run was not started again at the restart"
    bots.stop(second)


def test_a_reminder_set_before_a_restart_is_sent_once_after(bots: Bots, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = bots.start(later, state_dir=state)
    chat = bots.chat()
    chat.say("later 2 stretch")
    assert chat.reply() == "in 2 s"
    set_at = time.monotonic()
    assert first.storage is not None and len(first.storage.backend.keys("_reminders")) == 1
    bots.stop(first)
    wait_until(set_at + 2.5)
    second = bots.start(later, state_dir=state)
    assert chat.reply() == "Reminder: stretch"
    settle(bots.control, second)
    assert second.storage.backend.keys("_reminders") == []
    bots.stop(second)
    third = bots.start(later, state_dir=state)
    settle(bots.control, third)
    assert len(bots.control.messages(room=chat.room, author=bots.bot)) == 2, "sent once, not again at a restart"


def test_a_reminder_comes_at_its_time_to_whoever_it_names(bots: Bots) -> None:
    @command("tell")
    def tell(ctx, email: str):
        ctx.schedule(timedelta(seconds=1), ["one", "two"], to=email)
        return "filed"

    runner = bots.start(tell)
    grace = bots.control.create_person("Grace", "grace@example.com")
    chat = bots.chat()
    asked = time.monotonic()
    chat.say("tell grace@example.com")
    assert chat.reply() == "filed"
    direct = bots.control.direct_room(grace, bots.bot)
    got = bots.control.wait_for_messages(bots.bot, 2, room=direct, timeout=10)
    assert [m["markdown"] for m in got] == ["one", "two"] and time.monotonic() - asked >= 1
    settle(bots.control, runner)


def test_a_failing_run_is_logged_and_the_schedule_goes_on(bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    room = bots.control.create_group("Ops", bots.person, [bots.bot])

    @every(seconds=1, room=room["id"], name="flaky")
    def flaky(ctx):
        RUNS.append(time.monotonic())
        if len(RUNS) == 1:
            yield "half"
            raise RuntimeError("boom")
        yield "whole"

    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        runner = bots.start(flaky)
        posted = bots.control.wait_for_messages(bots.bot, 1, room=room, timeout=10)
    assert [m["markdown"] for m in posted] == ["whole"], "the failed run posted nothing, not even its half"
    assert any("handler 'flaky'" in r.getMessage() and "reference" in r.getMessage() for r in caplog.records)
    bots.stop(runner)


def test_triggers_compute_due_times() -> None:
    berlin = Cron("0 9 * * mon-fri", "Europe/Berlin")
    wednesday_noon = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assert berlin.next_after(wednesday_noon) == datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=timezone.utc)
    assert berlin.next_after(friday_evening) == datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)  # Monday
    assert berlin.latest(wednesday_noon - timedelta(days=3), wednesday_noon) == \
        datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
    assert berlin.latest(wednesday_noon - timedelta(hours=1), wednesday_noon) is None
    five = Every(timedelta(minutes=5))
    assert five.latest(wednesday_noon, wednesday_noon + timedelta(minutes=17)) == wednesday_noon + timedelta(minutes=15)
    assert five.latest(wednesday_noon, wednesday_noon + timedelta(minutes=4)) is None


@pytest.mark.parametrize("source, message", [
    ("@cron('61 * * * *')", "@cron expression '61 * * * *' does not parse: Bad minute"),
    ("@cron('0 9 * * *', timezone='Mars/Olympus')", "@cron time zone 'Mars/Olympus' is unknown"),
    ("@every()", "@every needs a positive interval"),
])
def test_a_bad_schedule_stops_its_plugin_naming_the_file_and_line(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "jobs.py").write_text(f"from bot import cron, every\n\n\n{source}\ndef job(ctx):\n    pass\n")
    _registry, (error,) = load_plugins([tmp_path], packages=(), use_entry_points=False, local=False)
    assert error.source.endswith("jobs.py") and "(line 4)" in error.reason and message in error.reason


def test_two_schedules_with_one_name_name_both_places() -> None:
    registry = Registry()
    registry.add(ticking(1).__webex_bot_handler__)
    with pytest.raises(Exception, match="schedule 'tick' is defined twice: in .*test_schedules.py:.* and in "):
        registry.add(ticking(2).__webex_bot_handler__)


def test_the_cron_decorator_keeps_its_zone() -> None:
    @cron("30 8 * * *", timezone="Asia/Tokyo")
    def morning(ctx):
        return None

    trigger = morning.__webex_bot_handler__.trigger
    assert trigger.next_after(datetime(2026, 12, 2, 0, 0, tzinfo=timezone.utc)) == \
        datetime(2026, 12, 2, 23, 30, tzinfo=timezone.utc)
