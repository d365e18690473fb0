"""The device websocket transport end to end: the real bot with ``transport="websocket"`` (its real
websockets client, WDM registration and conversation-service lookups) against the emulator's Mercury
(WEBEX_PROTOCOL.md, section 3): what the bot answers and with how few calls, acknowledgements, what
arrives while the bot is away, lost events, and both transports at once. Reconnects, devices, close
codes, the fallback from a tunnel and run_bot.py are tested in ``test_websocket_transport_lifecycle.py``.

REST calls per plain command on this path: two, as on the webhook path. The envelope names an
activity uuid; the bot builds the REST id from it in its own cluster, fetches the message (1) and
posts the reply (2). Only a message of a space homed in another cluster, whose built id Webex does
not know (404), costs a lookup in the conversation service of that cluster. The bot's own messages
come back as activities too; they are dropped by their actor without any call.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Optional

import pytest

from bot.events import Event
from bot.ids import uuid_of
from bot.webhooks import HOOKS
from support import Bots, answers, deliveries_of, settle, until
from websocket_transport_kit import Json, device_ids, device_of, fetches, lookups, status, transport_of
from websocket_transport_kit import bots  # noqa: F401 (a fixture, used by name)


# -- 1. what the bot answers, and how few calls it makes ------------------------------------------
def test_messages_threads_cards_and_files_are_answered_over_the_websocket(bots: Bots, tmp_path: Path) -> None:
    control, bot, alice = bots.control, bots.bot, bots.person
    runner = bots.start()
    assert runner.websocket is not None and runner.websocket.connected
    assert runner.supervisor is None and control.webhooks() == []  # a receiver serves only @incoming routes
    direct = bots.chat()

    direct.say("yell warm up")
    assert direct.reply() == "WARM UP"
    settle(control, runner)
    control.clear_calls()
    direct.say("yell counted")
    assert direct.reply() == "COUNTED"
    until(lambda: len(control.calls(bot)) >= 2, "the reply's call to be recorded")
    settle(control, runner)
    calls = sorted((c["method"], re.sub(r"/[^/]{30,}$", "/<id>", c["path"])) for c in control.calls(bot))
    # The REST id is built from the activity's uuid in the bot's own cluster: no lookup.
    assert calls == [("GET", "/v1/messages/<id>"), ("POST", "/v1/messages")]

    bob = control.create_person("Bob", "bob@example.com")
    group = control.create_group("EU team", alice, [bot, bob], cluster="eu-central-1_k")
    unmentioned = control.post(bob, "yell nobody asked", room=group)
    in_group = bots.chat(group)
    in_group.say("yell mentioned")
    assert in_group.reply() == "MENTIONED"

    question = direct.say("yell question")
    assert direct.reply() == "QUESTION"
    direct.say("yell follow up", parent=question)
    [answer] = direct.replies()
    assert answer["markdown"] == "FOLLOW UP" and answer["parentId"] == question["id"]

    direct.say("ballot")
    [ballot_card] = direct.replies()
    control.submit_card(alice, ballot_card, {"action": "ballot-vote", "choice": "tea"})
    assert direct.reply() == f"{alice['emails'][0]} voted tea"

    upload = tmp_path / "notes.txt"
    upload.write_text("some notes")
    with_file = control.post(alice, "echo file", room=direct.room, file=upload)
    assert direct.reply() == "file"

    settle(control, runner)
    assert [m["markdown"] for m in control.messages(room=group, author=bot)] == ["MENTIONED"]
    assert lookups(control, bot, unmentioned) == [] and fetches(control, bot, unmentioned) == []
    # A file comes as "share" (pending the malware scan) then "update" (safe): one fetch, one answer.
    assert len(fetches(control, bot, with_file)) == 1 and answers(control, bot, direct.room, "file") == 1
    for reply in control.messages(author=bot):
        assert fetches(control, bot, reply) == [] and lookups(control, bot, reply) == [], reply["markdown"]


def test_a_space_of_another_cluster_is_looked_up_and_a_failing_lookup_retried(bots: Bots) -> None:
    """The id the bot builds names its own cluster; for a space homed elsewhere Webex answers 404 (the
    emulator's unkind default, ``ids_any_cluster`` off) and the bot asks that space's conversation
    service, retrying what fails there as it retries REST calls, without waiting for a reconnect."""
    control, bot = bots.control, bots.bot
    runner = bots.start()
    eu = bots.chat(control.create_group("EU team", bots.person, [bot], cluster="eu-central-1_k"))
    control.inject("server_error", count=2, status=503, path="/conversation/api/v1/messages/")
    question = eu.say("yell despite errors")
    assert eu.reply() == "DESPITE ERRORS"
    control.inject("rate_limit", count=1, retryAfter=1, path="/conversation/api/v1/messages/")
    started = time.monotonic()
    eu.say("yell after the limit")
    assert eu.reply() == "AFTER THE LIMIT" and time.monotonic() - started >= 1.0
    settle(control, runner)
    assert [c["status"] for c in lookups(control, bot, question)] == [503, 503, 200]
    fetched = [c["status"] for c in control.calls(bot)
               if c["method"] == "GET" and c["path"].startswith("/v1/messages/") and
               uuid_of(c["path"].rsplit("/", 1)[-1]) == uuid_of(question["id"])]
    assert fetched == [404, 200], "the built id first, then the one the conversation service gave"
    assert transport_of(runner).connections == 1


# -- 2. acknowledgements ---------------------------------------------------------------------------
def test_every_envelope_is_acknowledged_once(bots: Bots) -> None:
    control = bots.control
    runner = bots.start()
    device = device_of(runner)
    chat = bots.chat()
    for word in ("one", "two", "three"):
        chat.say(f"yell {word}")
        chat.reply()
    settle(control, runner)
    state = status(control, device)
    acks = [a for a in control.acks() if a["device"] == device]
    sequenced = [a["messageId"] for a in acks if a["matched"]]
    # Three questions and three answers: six envelopes, each acked once; plus the ready event.
    assert state["unacked"] == 0 and state["sequenceNumber"] == 6
    assert len(sequenced) == len(set(sequenced)) == 6
    assert [a["matched"] for a in acks].count(False) == transport_of(runner).connections == 1


# -- 3. what arrives while the bot is away ---------------------------------------------------------
def test_unacked_envelopes_are_replayed_and_answered_once(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    first = bots.start(keep_device=True)
    device = device_of(first)
    chat = bots.chat()
    chat.say("yell before")
    assert chat.reply() == "BEFORE"
    settle(control, first)
    # Stopping drains the dispatcher first: what the websocket hands over meanwhile is refused and so
    # must stay un-acked, for Webex to bring it again.
    assert first.dispatcher is not None
    first.dispatcher.drain(1)
    transport = transport_of(first)
    done: dict[str, str] = {}  # activity id -> its envelope, once the transport is through with it
    acked: list[Optional[str]] = []
    deliver, ack = transport._deliver, transport._ack

    def traced_deliver(envelope_id: str, activity: Json) -> None:
        deliver(envelope_id, activity)
        done[activity["id"]] = envelope_id

    def traced_ack(envelope_id: Optional[str]) -> None:
        acked.append(envelope_id)
        ack(envelope_id)

    transport._deliver, transport._ack = traced_deliver, traced_ack  # type: ignore[method-assign]
    during = chat.say("yell during shutdown")
    envelope = until(lambda: done.get(uuid_of(during["id"])), "the websocket to be through with the message")
    assert envelope not in acked
    assert status(control, device)["unacked"] == 1
    bots.stop(first)
    assert device in device_ids(control), "keep_device leaves the device registered"
    until(lambda: not status(control, device)["connected"], "the connection to be gone")
    team = bots.chat(control.create_group("Team", bots.person, [bot]))
    away = [team.say(f"yell away {n}") for n in range(3)]
    assert status(control, device)["unacked"] == 4

    second = bots.start(keep_device=True)
    assert device_of(second) == device, "the device is found again by name"
    assert chat.reply() == "DURING SHUTDOWN"
    assert sorted(m["markdown"] for m in team.replies(3)) == [f"AWAY {n}" for n in range(3)]
    settle(control, second)
    for question, (room, answer) in zip([during, *away], [(chat.room, "DURING SHUTDOWN")] +
                                        [(team.room, f"AWAY {n}") for n in range(3)]):
        assert answers(control, bot, room, answer) == 1, answer
        assert len(fetches(control, bot, question)) == 1, "replay and catch-up dedupe before the fetch"
    # Both ways found them: the replayed envelopes were taken and acked by the second run (the one the
    # first run refused among them), and the catch-up's listing of the group room (mentions of the bot
    # only) holds the three.
    assert status(control, device)["unacked"] == 0 and envelope in [a["messageId"] for a in control.acks()]
    [listing] = [c["response"] for c in control.calls(bot)
                 if c["path"] == "/v1/messages" and f"roomId={team.room['id']}" in c["query"]]
    assert sorted(m["id"] for m in listing["items"]) == sorted(q["id"] for q in away)
    assert second.catch_up() == 0


# -- 4. lost events --------------------------------------------------------------------------------
def test_a_sequence_gap_runs_the_catch_up(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    runner = bots.start()
    transport, device, chat = transport_of(runner), device_of(runner), bots.chat()
    chat.say("yell first")  # the transport learns where the sequence stands
    assert chat.reply() == "FIRST"
    settle(control, runner)
    control.clear_calls()
    control.skip_sequence(device, 3)
    chat.say("yell after the gap")
    assert chat.reply() == "AFTER THE GAP"
    until(lambda: transport.gaps == 1, "the gap to be noticed")
    until(lambda: [c for c in control.calls(bot) if c["path"] == "/v1/rooms"], "the catch-up")
    settle(control, runner)
    assert answers(control, bot, chat.room, "AFTER THE GAP") == 1

    # A real loss: Webex drops what it buffered for a connection that went away (replay off).
    control.settings(replayUnacked=False)
    control.drop_websocket(device)
    until(lambda: not status(control, device)["connected"], "the drop")
    lost = chat.say("yell lost in the gap")
    until(lambda: transport.connected and status(control, device)["connected"], "the reconnect")
    chat.say("yell after the loss")
    assert sorted(m["markdown"] for m in chat.replies(2)) == ["AFTER THE LOSS", "LOST IN THE GAP"]
    # Sequence numbers are tracked per connection: the new one shows no gap; the catch-up that every
    # reconnect runs is what brought the lost one.
    assert transport.gaps == 1 and lookups(control, bot, lost) == [], "the lost one came by the catch-up"
    settle(control, runner)
    assert answers(control, bot, chat.room, "LOST IN THE GAP") == 1
    assert answers(control, bot, chat.room, "AFTER THE LOSS") == 1


def test_an_acked_event_webex_would_not_serve_is_found_by_the_catch_up(
        bots: Bots, caplog: pytest.LogCaptureFixture) -> None:
    """The envelope is acked before the message is fetched, so Webex will not bring it again: when the
    fetch keeps failing (503 on every try), the dispatcher says so in one line and has the websocket
    catch up over REST, which answers it once."""
    control, bot = bots.control, bots.bot
    runner = bots.start()
    chat = bots.chat()
    control.inject("server_error", count=4, status=503, method="GET", path="/v1/messages/")
    with caplog.at_level(logging.WARNING):
        question = chat.say("yell through the outage")
        assert chat.reply() == "THROUGH THE OUTAGE"
    settle(control, runner)
    device = device_of(runner)
    assert [a["matched"] for a in control.acks()
            if a["device"] == device and a["activityId"] == uuid_of(question["id"])] == [True]
    assert [c["status"] for c in fetches(control, bot, question)] == [503, 503, 503, 503, 200]
    assert answers(control, bot, chat.room, "THROUGH THE OUTAGE") == 1
    failed = [r for r in caplog.records if "could not handle message" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None and "503" in failed[0].getMessage()


# -- 5. both transports at once --------------------------------------------------------------------
def test_webhook_and_websocket_together_answer_once(bots: Bots) -> None:
    control, bot = bots.control, bots.bot
    runner = bots.start(transport="webhook")
    assert runner.websocket is None and len(control.webhooks()) == len(HOOKS)
    runner._start_websocket()
    transport = transport_of(runner)
    handed: list[Event] = []
    submit = transport.submit

    def traced_submit(event: Event) -> str:
        handed.append(event)
        return submit(event)

    transport.submit = traced_submit  # type: ignore[method-assign]
    chat = bots.chat()
    question = chat.say("yell twice delivered")
    assert chat.reply() == "TWICE DELIVERED"
    control.wait_deliveries_idle()
    settle(control, runner)
    delivered = deliveries_of(control, question)
    assert [d["status"] for d in delivered] == [200]
    assert [e.key for e in handed].count(uuid_of(question["id"])) == 1, "the websocket brought it too"
    assert len(fetches(control, bot, question)) == 1
    assert answers(control, bot, chat.room, "TWICE DELIVERED") == 1
