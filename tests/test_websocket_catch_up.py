"""Nothing lost over a websocket drop, whether or not Webex replays what it sent meanwhile.

The emulator's ``ws_replay`` setting is both choices: replaying (kind) and dropping everything that
happens while no connection is up (unkind, and not ruled out for the real Webex). Either way the
bot catches up over REST after every reconnect, through the same dedupe, and answers each once.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bot.emulator import Emulator
from bot.testing import Chat, start_test_bot
from support import until

Json = dict[str, Any]


def answers(chat: Chat) -> Counter[str]:
    return Counter(m.get("markdown", "") for m in chat.control.messages(room=chat.room, author=chat.bot))


@pytest.mark.parametrize("replay", [True, False], ids=["replaying", "dropping"])
def test_messages_sent_during_a_drop_are_answered_once(replay: bool, webex_emulator: Emulator,
                                                       webex_bot_account: Json, webex_person: Json) -> None:
    control = webex_emulator.control
    runner = start_test_bot(webex_emulator, webex_bot_account["token"], transport="websocket")
    try:
        chat = Chat(control, webex_bot_account, webex_person)
        chat.say("echo before")
        assert chat.reply() == "before"
        control.settings(ws_replay=replay)
        transport = runner.websocket
        assert transport is not None and transport.device is not None
        device = str(transport.device["url"]).rsplit("/", 1)[1]
        for drop in range(2):
            catch_ups = runner.catch_ups
            control.close_websocket(device, 1011, "try again")
            # The bot waits about a second before it reconnects: these arrive while nobody listens.
            words = [f"during-{drop}-{n}" for n in range(5)]
            for word in words:
                chat.say(f"echo {word}")
            until(lambda: transport.connections == drop + 2 and transport.connected, "the reconnect")
            until(lambda: runner.catch_ups > catch_ups, "the catch-up after the reconnect")
            until(lambda: all(answers(chat)[w] for w in words), f"answers to {words}")
        chat.say("echo barrier")
        until(lambda: answers(chat)["barrier"], "the barrier's answer")
        assert runner.dispatcher is not None and runner.dispatcher.drain(5)
        said = answers(chat)
        assert {word: n for word, n in said.items() if n != 1} == {}
        assert sum(said.values()) == 12  # before, 2 x 5 during, barrier
    finally:
        runner.stop(timeout=4)


def test_a_burst_of_reasons_to_catch_up_runs_it_once_more_not_once_each() -> None:
    import threading

    from bot.websocket import WebsocketTransport

    release, calls = threading.Event(), []

    def slow_catch_up() -> int:
        calls.append(1)
        release.wait(10)
        return 0

    transport = WebsocketTransport(registry=None, token="t", my_id="u",  # type: ignore[arg-type]
                                   submit=lambda event: None, catch_up=slow_catch_up)  # type: ignore[arg-type,return-value]
    transport.catch_up_soon("first")
    until(lambda: calls, "the first catch-up to run")
    for n in range(50):  # refusals while it runs: one more catch-up serves them all
        transport.catch_up_soon(f"refused {n}")
    release.set()
    until(lambda: len(calls) == 2, "the catch-up that serves the burst")
    until(lambda: not transport._catch_up_pending and transport._catch_up_running.acquire(timeout=5),
          "both to end")
    assert len(calls) == 2
