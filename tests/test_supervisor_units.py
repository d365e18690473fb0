"""The supervisor's pure parts, without a bot running: the error texts of ngrok failures, the backoff
of the health check's wait, the on-disk record of handled messages (restarts, threads, a line cut short
by a crash) and the catch-up window.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.catchup import catch_up, iso
from bot.emulator import ControlClient, Emulator
from bot.events import Event
from bot.handled import HandledLog
from bot.receiver import Receiver
from bot.supervisor import Supervisor
from bot.tunnels import StaticUrl, explain_ngrok_failure
from bot.webex import WebexClient
from bot.webhooks import Webhooks

Json = dict[str, Any]


def agent_error(code: str, body: str) -> str:
    """What the framework hands to explain_ngrok_failure: pyngrok's message and its error code."""
    return f"The ngrok process errored on start: authentication failed: {body}\r\n\r\nERR_NGROK_{code}\r\n. " \
           f"ERR_NGROK_{code}"


@pytest.mark.parametrize("code, says, permanent", [
    ("4018", ["ERR_NGROK_4018", "NGROK_AUTHTOKEN", "https://dashboard.ngrok.com", "--transport websocket"], True),
    ("105", ["ERR_NGROK_105", "NGROK_AUTHTOKEN", "your-authtoken", "--transport websocket"], True),
    ("107", ["ERR_NGROK_105", "NGROK_AUTHTOKEN"], True),
    ("108", ["ERR_NGROK_108", "pkill ngrok", "--transport websocket"], False),
])
def test_explain_ngrok_failure_names_the_way_out(code: str, says: list[str], permanent: bool) -> None:
    error = explain_ngrok_failure(agent_error(code, "Your authtoken: s3cret-authtoken-value\nmore"))
    for words in says:
        assert words in str(error)
    assert error.permanent is permanent
    assert "s3cret-authtoken-value" not in str(error) and "\n" not in str(error)


def test_explain_ngrok_failure_of_anything_else_quotes_its_first_line() -> None:
    error = explain_ngrok_failure("The ngrok process was unable to start.\nlogs follow")
    assert str(error) == "ngrok did not start: The ngrok process was unable to start." and not error.permanent
    assert str(explain_ngrok_failure("  \n")) == "ngrok did not start: no reason given"


def a_supervisor(interval: float) -> Supervisor:
    receiver = Receiver(lambda event: "accepted")
    webhooks = Webhooks(WebexClient("unused-token", "http://127.0.0.1:9/v1/"), bot_name="Helper", instance="t",
                        secret=receiver.secret)
    return Supervisor(tunnel=StaticUrl("http://127.0.0.1:9"), port=9, receiver=receiver, webhooks=webhooks,
                      interval=interval, catch_up=lambda: 0)


def test_the_wait_backs_off_with_jitter_while_repairs_fail_and_is_capped() -> None:
    supervisor = a_supervisor(1.0)
    assert supervisor._next_wait() == 1.0
    for failures in range(1, 12):
        supervisor.failures = failures
        waits = [supervisor._next_wait() for _ in range(200)]
        base = min(2.0 ** failures, 60.0)
        assert all(0.8 * base <= w <= 1.2 * base for w in waits), failures
        assert len(set(waits)) > 1  # jitter, so 30 laptops do not retry in step
    slow = a_supervisor(120.0)
    slow.failures = 5
    assert all(96.0 <= slow._next_wait() <= 144.0 for _ in range(100))  # never shorter than the interval


def test_the_handled_record_survives_a_restart(tmp_path: Path) -> None:
    record = HandledLog.for_instance(tmp_path / "state", "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ib3Q=", "my laptop/1")
    assert record.path.parent == tmp_path / "state" and " " not in record.path.name and "/" not in record.path.name
    assert record.mark is None and "m1" not in record
    record.start_mark("2024-08-05T13:00:00.000Z")
    record.start_mark("2024-08-05T14:00:00.000Z")  # only the very first start sets it
    assert record.mark == "2024-08-05T13:00:00.000Z"
    record.record("m1==", "2024-08-05T13:04:31.488Z")
    record.record("m2", "2024-08-05T13:01:00.000Z")  # handled out of order: the mark stays
    again = HandledLog(record.path)
    assert again.mark == "2024-08-05T13:04:31.488Z"
    assert "m1" in again and "m1==" in again and "m2" in again and "m3" not in again

    bounded = HandledLog(tmp_path / "bounded.json", keep=3)
    for n in range(5):
        bounded.record(f"id{n}", f"2024-08-05T13:00:0{n}.000Z")
    reloaded = HandledLog(tmp_path / "bounded.json", keep=3)
    assert [f"id{n}" in reloaded for n in range(5)] == [False, False, True, True, True]


def test_the_handled_record_stays_whole_under_many_threads_and_compactions(tmp_path: Path) -> None:
    path = tmp_path / "handled.jsonl"
    record = HandledLog(path, keep=50)  # 400 records: the file is compacted several times on the way
    failures: list[str] = []
    done = threading.Event()

    def read_while_writing() -> None:
        while not done.is_set():
            try:
                seen = HandledLog(path, keep=50)
                assert seen.mark is None or seen.mark.startswith("2024-08-05T13:00:")
            except (OSError, ValueError, AssertionError) as exc:
                failures.append(repr(exc))

    def write(worker: int) -> None:
        for n in range(50):
            record.record(f"w{worker}-{n}", f"2024-08-05T13:00:{n:02d}.000Z")

    reader = threading.Thread(target=read_while_writing)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    done.set()
    reader.join()
    assert failures == []
    assert all(json.loads(line) for line in path.read_text().splitlines())
    assert len(path.read_text().splitlines()) <= 2 * 50 + 1
    reloaded = HandledLog(path, keep=50)
    assert reloaded.mark == record.mark == "2024-08-05T13:00:49.000Z"
    ids = [f"w{w}-{n}" for w in range(8) for n in range(50)]
    assert [i for i in ids if i in reloaded] == [i for i in ids if i in record]
    assert sum(i in reloaded for i in ids) == 50
    assert [p.name for p in tmp_path.iterdir()] == ["handled.jsonl"]  # no temporary file left behind


def test_a_line_cut_short_by_a_crash_costs_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "handled.jsonl"
    path.write_text('{"created": "2024-08-05T13:00:00.000Z"}\n{"id": "m0", "created": "2024-08-05T13:00:01.000Z"}\n'
                    '{"id": "m1", "crea')
    record = HandledLog(path)
    assert (record.mark, "m0" in record, "m1" in record) == ("2024-08-05T13:00:01.000Z", True, False)
    record.record("m2", "2024-08-05T13:00:02.000Z")
    again = HandledLog(path)
    assert ("m0" in again, "m2" in again, again.mark) == (True, True, "2024-08-05T13:00:02.000Z")


def test_catch_up_submits_only_what_came_since_the_mark_and_was_not_handled(
        webex_emulator: Emulator, control: ControlClient, webex_bot_account: Json, webex_person: Json,
        tmp_path: Path) -> None:
    client = WebexClient(webex_bot_account["token"], webex_emulator.api_url)
    record = HandledLog(tmp_path / "handled.json")
    submitted: list[Event] = []

    def submit(event: Event) -> str:
        submitted.append(event)
        return "accepted"

    assert catch_up(client, record, submit) == 0  # no mark yet: nothing to catch up, nothing asked
    assert control.calls() == []

    record.start_mark(iso(datetime.now(timezone.utc)))
    direct = control.direct_room(webex_person, webex_bot_account)
    team = control.create_group("Team", webex_person, [webex_person, webex_bot_account])
    handled = control.post(webex_person, "echo handled already", room=direct)
    record.record(handled["id"], handled["created"])
    control.post(webex_bot_account, "the bot's own words", room=direct)
    control.post(webex_person, "echo not for the bot", room=team)
    wanted = [control.post(webex_person, "echo one", room=direct),
              control.post(webex_person, "echo two", room=team, mentions=(webex_bot_account,))]
    assert catch_up(client, record, submit) == 2
    assert [e.id for e in submitted] == [m["id"] for m in wanted]
    assert [(e.transport, e.room_type, e.person_email) for e in submitted] == \
        [("catchup", "direct", webex_person["emails"][0]), ("catchup", "group", webex_person["emails"][0])]

    assert catch_up(client, record, lambda event: "duplicate") == 0  # only what the dispatcher took counts

    later = HandledLog(tmp_path / "later.json")
    later.start_mark(iso(datetime.now(timezone.utc) + timedelta(minutes=10)))
    assert catch_up(client, later, submit) == 0 and len(submitted) == 2
