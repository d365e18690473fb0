"""The examples that tell people things unasked (github_relay, deploy_notify, standup, remind), run in
the real bot against the emulator.

The incoming routes are called over HTTP as GitHub and a CI job call them: the key in a header or the
query, GitHub's signature made from the raw body of payloads recorded in ``tests/payloads/github``.
Where the examples post is read from the environment when a call comes, so ``monkeypatch.setenv``
is enough; only ``standup`` reads its room and zone at import, and is reloaded for them.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import requests

import commands.deploy_notify
import commands.github_relay
import commands.remind
import commands.standup
from bot.emulator import Emulator
from bot.registry import Handler, marked_handler
from bot.runner import BotRunner
from bot.schedules import REMINDERS
from bot.testing import Chat, start_test_bot
from support import settle, until

Json = dict[str, Any]
PAYLOADS = Path(__file__).parent / "payloads" / "github"
KEY, SECRET = "k", "s"
EXAMPLES = [commands.github_relay, commands.deploy_notify, commands.standup, commands.remind]


@pytest.fixture
def runner(webex_emulator: Emulator, webex_bot_account: Json, tmp_path: Path) -> Iterator[BotRunner]:
    started = start_test_bot(webex_emulator, webex_bot_account["token"], EXAMPLES, state_dir=tmp_path / "state",
                             incoming_key=KEY, incoming_secret=SECRET, greeting="")  # the notices only
    try:
        yield started
    finally:
        started.stop(timeout=4)


@pytest.fixture
def team(webex_emulator: Emulator, webex_bot_account: Json, webex_person: Json) -> Json:
    """A group space with the bot in it, where the notices go."""
    return webex_emulator.control.create_group("Team", webex_person, [webex_bot_account])


@pytest.fixture
def chat(webex_emulator: Emulator, webex_bot_account: Json, webex_person: Json, runner: BotRunner) -> Chat:
    return Chat(webex_emulator.control, webex_bot_account, webex_person, runner=runner)


def posted(emulator: Emulator, bot: Json, room: Json, count: int = 1) -> list[Json]:
    """The bot's first ``count`` messages in ``room``, waited for."""
    return emulator.control.wait_for_messages(bot, count, room=room)[:count]


def posts_in_all(emulator: Emulator, runner: BotRunner, bot: Json) -> int:
    """How many messages the bot has posted anywhere, once it has finished all it was given."""
    settle(emulator.control, runner)
    return len(emulator.control.messages(author=bot))


# -- deploy_notify ---------------------------------------------------------------------------------

def deploy(runner: BotRunner, payload: Any, *, headers: Optional[dict[str, str]] = None,
           query: str = "") -> requests.Response:
    headers = {"Authorization": f"Bearer {KEY}"} if headers is None else headers
    return requests.post(f"{runner.server.url}/incoming/deploy{query}", json=payload, headers=headers, timeout=5)


@pytest.mark.parametrize("payload, line", [
    ({"service": "api", "version": "1.4.2", "status": "succeeded", "url": "https://ci.example.com/run/812"},
     "✅ **api** 1.4.2 deployed ([details](https://ci.example.com/run/812))"),
    ({"service": "web", "version": "2026.12.1", "status": "failed"}, "❌ **web** 2026.12.1 failed to deploy"),
])
def test_deploy_posts_one_line_to_its_room(runner, webex_emulator, webex_bot_account, team, monkeypatch,
                                           payload, line):
    monkeypatch.setenv("DEPLOY_ROOM", team["id"])
    assert deploy(runner, payload).status_code == 202
    [message] = posted(webex_emulator, webex_bot_account, team)
    assert message["markdown"] == line


@pytest.mark.parametrize("payload, problem", [
    ({"service": "api"}, "missing `version`, `status`"),
    ({"service": "api", "version": "1.4", "status": "done"}, "`status` is 'done', not one of succeeded, failed"),
    ({"service": "api", "version": "1.4", "status": ["failed"]}, "`status` is ['failed'], not one of"),
    ({"service": "api", "version": "1.4", "status": "failed", "url": "ci/run/1"}, "`url` 'ci/run/1' is no web"),
    (["api", "1.4"], "the body is a JSON list, not an object"),
])
def test_deploy_says_what_is_wrong_with_a_call(runner, webex_emulator, webex_bot_account, team, monkeypatch,
                                               payload, problem):
    monkeypatch.setenv("DEPLOY_ROOM", team["id"])
    assert deploy(runner, payload).status_code == 202
    [message] = posted(webex_emulator, webex_bot_account, team)
    assert message["markdown"].startswith(f"A deploy notice I could not read: {problem}")
    assert message["markdown"].endswith('(or `"failed"`; `"url"` optional).')


def test_deploy_takes_the_key_in_the_query_and_refuses_calls_without_it(runner, webex_emulator,
                                                                        webex_bot_account, team, monkeypatch):
    monkeypatch.setenv("DEPLOY_ROOM", team["id"])
    good = {"service": "api", "version": "1", "status": "succeeded"}
    assert deploy(runner, good, headers={}).status_code == 401
    assert deploy(runner, good, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert deploy(runner, good, headers={}, query=f"?key={KEY}").status_code == 202
    assert len(posted(webex_emulator, webex_bot_account, team)) == 1
    assert posts_in_all(webex_emulator, runner, webex_bot_account) == 1


def test_deploy_without_a_room_is_logged_only(runner, webex_emulator, webex_bot_account, monkeypatch, caplog):
    monkeypatch.delenv("DEPLOY_ROOM", raising=False)
    caplog.set_level(logging.WARNING, logger=commands.deploy_notify.__name__)
    assert deploy(runner, {"service": "api", "version": "1", "status": "succeeded"}).status_code == 202
    until(lambda: "DEPLOY_ROOM is not set" in caplog.text, "the log line about DEPLOY_ROOM")
    assert posts_in_all(webex_emulator, runner, webex_bot_account) == 0


# -- github_relay ----------------------------------------------------------------------------------

def github(runner: BotRunner, event: str, body: bytes, *, secret: str = SECRET,
           delivery: Optional[str] = None) -> requests.Response:
    """POST ``body`` as GitHub does: signed with the secret, the event and a delivery id in headers."""
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-Hub-Signature-256": signature,
               "X-GitHub-Delivery": delivery or str(uuid.uuid4()), "User-Agent": "GitHub-Hookshot/5d5b1a4"}
    return requests.post(f"{runner.server.url}/incoming/github", data=body, headers=headers, timeout=5)


def recorded(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


@pytest.mark.parametrize("event, name, headline, lines, url", [
    ("push", "push", "ada pushed 2 commits to main of octo-org/hello-world",
     ["4e1f1cb Read the deploy room from DEPLOY_ROOM", "0d1a26e Fix the typo in the README"],
     "https://github.com/octo-org/hello-world/compare/6113728f27ae...0d1a26e67d8f"),
    ("pull_request", "pull_request_opened", "grace opened pull request #42 in octo-org/hello-world",
     ["Post deploy notices to Webex"], "https://github.com/octo-org/hello-world/pull/42"),
    ("pull_request", "pull_request_merged", "ada merged pull request #42 in octo-org/hello-world",
     ["Post deploy notices to Webex"], "https://github.com/octo-org/hello-world/pull/42"),
    ("workflow_run", "workflow_run_failure", "CI ❌ failed on deploy-notices of octo-org/hello-world", [],
     "https://github.com/octo-org/hello-world/actions/runs/7431865529"),
])
def test_github_events_become_small_cards(runner, webex_emulator, webex_bot_account, team, monkeypatch,
                                          event, name, headline, lines, url):
    monkeypatch.setenv("GITHUB_ROOM", team["id"])
    assert github(runner, event, recorded(name)).status_code == 202
    [message] = posted(webex_emulator, webex_bot_account, team)
    assert message["text"] == "\n".join([headline, *lines, url])  # what clients without cards show
    content = message["attachments"][0]["content"]
    assert content["version"] == "1.3"
    assert [block["text"] for block in content["body"]] == [headline, *lines]
    assert content["actions"][0]["type"] == "Action.OpenUrl" and content["actions"][0]["url"] == url


def test_github_push_of_many_commits_shows_the_first_three(runner, webex_emulator, webex_bot_account, team,
                                                           monkeypatch):
    monkeypatch.setenv("GITHUB_ROOM", team["id"])
    payload = json.loads(recorded("push"))
    payload["commits"] = [{**payload["commits"][1], "id": f"{n:07d}" + "f" * 33} for n in range(5)]
    assert github(runner, "push", json.dumps(payload).encode()).status_code == 202
    [message] = posted(webex_emulator, webex_bot_account, team)
    body = [block["text"] for block in message["attachments"][0]["content"]["body"]]
    assert body[0] == "ada pushed 5 commits to main of octo-org/hello-world"
    assert body[1:] == ["0000000 Fix the typo in the README", "0000001 Fix the typo in the README",
                        "0000002 Fix the typo in the README", "and 2 more"]


def modified(name: str, change: Callable[[Json], None]) -> bytes:
    payload = json.loads(recorded(name))
    change(payload)
    return json.dumps(payload).encode()


@pytest.mark.parametrize("event, body", [
    ("ping", recorded("ping")),
    ("pull_request", modified("pull_request_opened", lambda p: p.update(action="labeled"))),
    ("workflow_run", modified("workflow_run_failure", lambda p: p["workflow_run"].update(conclusion="cancelled"))),
    ("workflow_run", modified("workflow_run_failure", lambda p: p.update(action="in_progress"))),
    ("push", modified("push", lambda p: p.update(deleted=True, commits=[], head_commit=None))),
    ("issues", modified("pull_request_opened", lambda p: p.update(issue=p.pop("pull_request")))),
])
def test_github_events_not_worth_a_message_post_nothing(runner, webex_emulator, webex_bot_account, team,
                                                        monkeypatch, event, body):
    monkeypatch.setenv("GITHUB_ROOM", team["id"])
    assert github(runner, event, body).status_code == 202
    assert posts_in_all(webex_emulator, runner, webex_bot_account) == 0


def test_github_refuses_a_wrong_signature_and_posts_a_redelivery_once(runner, webex_emulator,
                                                                     webex_bot_account, team, monkeypatch):
    monkeypatch.setenv("GITHUB_ROOM", team["id"])
    assert github(runner, "push", recorded("push"), secret="guessed").status_code == 403
    delivery = str(uuid.uuid4())
    assert github(runner, "push", recorded("push"), delivery=delivery).status_code == 202
    assert github(runner, "push", recorded("push"), delivery=delivery).status_code == 200  # GitHub's "Redeliver"
    assert posts_in_all(webex_emulator, runner, webex_bot_account) == 1


def test_github_without_a_room_is_logged_only(runner, webex_emulator, webex_bot_account, monkeypatch, caplog):
    monkeypatch.delenv("GITHUB_ROOM", raising=False)
    caplog.set_level(logging.WARNING, logger=commands.github_relay.__name__)
    assert github(runner, "push", recorded("push")).status_code == 202
    until(lambda: "GITHUB_ROOM is not set" in caplog.text, "the log line about GITHUB_ROOM")
    assert posts_in_all(webex_emulator, runner, webex_bot_account) == 0


# -- standup ---------------------------------------------------------------------------------------

@pytest.fixture
def standup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Handler]]:
    """Load ``commands.standup`` with the given environment; its handler. The module is loaded again
    without it afterwards, so the other tests see it as the bot would with nothing set."""
    def load(**variables: str) -> Handler:
        for name in ("STANDUP_ROOM", "STANDUP_TZ"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        handler = marked_handler(importlib.reload(commands.standup).standup)
        assert handler is not None
        return handler

    yield load
    monkeypatch.undo()
    importlib.reload(commands.standup)


def test_standup_is_due_at_nine_on_weekdays_in_its_zone(standup, runner):
    handler = standup(STANDUP_TZ="Europe/Berlin")
    berlin = handler.trigger.zone
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=berlin)
    monday = handler.trigger.next_after(friday_noon).astimezone(berlin)
    assert (monday.strftime("%A"), monday.hour, monday.minute) == ("Monday", 9, 0)
    summer = handler.trigger.next_after(datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc))
    assert summer == datetime(2026, 7, 2, 7, 0, tzinfo=timezone.utc)  # 09:00 in Berlin's summer time
    [loaded] = [h for h in runner.registry.schedules() if h.name == "standup"]
    assert loaded.trigger.next_after(friday_noon).astimezone(loaded.trigger.zone).strftime("%A %H:%M") == "Monday 09:00"


def test_standup_posts_to_its_room(standup, runner, webex_emulator, webex_bot_account, team):
    handler = standup(STANDUP_ROOM=team["id"])
    assert handler.room == team["id"]
    runner.dispatcher.run_handler(handler, room=handler.room)  # what the scheduler does at 09:00
    [message] = posted(webex_emulator, webex_bot_account, team)
    assert message["markdown"].startswith("☀️ **Stand-up time!**")


def test_standup_without_a_room_says_nothing(standup, runner, webex_emulator, webex_bot_account, caplog):
    handler = standup()
    assert handler.room is None
    runner.dispatcher.run_handler(handler, room=handler.room)
    assert posts_in_all(webex_emulator, runner, webex_bot_account) == 0
    assert "returned a reply where the bot can send nothing" not in caplog.text


# -- remind ----------------------------------------------------------------------------------------

def reminders(runner: BotRunner) -> list[Json]:
    """The reminders the bot keeps, each as stored: ``at`` (UTC), ``to`` and ``replies``."""
    backend = runner.storage.backend
    return [json.loads(backend.get(REMINDERS, key)) for key in backend.keys(REMINDERS)]


def test_remind_in_two_seconds_comes_once_in_the_space(chat, runner, webex_emulator):
    chat.say("remind me in 2 seconds to stretch")
    assert chat.reply().endswith("(in 2 seconds).")
    assert chat.reply(timeout=15) == "Reminder: stretch"
    until(lambda: not reminders(runner), "the sent reminder to be forgotten")
    settle(webex_emulator.control, runner)
    assert [m["markdown"] for m in chat.control.messages(room=chat.room, author=chat.bot)].count(
        "Reminder: stretch") == 1


@pytest.mark.parametrize("said, day, clock", [
    ("remind me at 15:30 to call Ada", None, "15:30"),
    ("remind me tomorrow 9:00 to send the report", 1, "09:00"),
])
def test_remind_at_a_time_answers_when_and_keeps_it(chat, runner, said, day, clock):
    before = datetime.now().astimezone()
    chat.say(said)
    answer = chat.reply()
    [kept] = reminders(runner)
    at = datetime.fromisoformat(kept["at"]).astimezone()
    assert at.strftime("%H:%M") == clock and before < at < before + timedelta(days=2)
    if day is not None:
        assert at.date() == before.date() + timedelta(days=day)
    said_day = "tomorrow at" if at.date() != before.date() else "at"
    assert answer.startswith(f"I'll remind you {said_day} {clock} (in ")
    assert kept["to"] == chat.room["id"]
    assert kept["replies"][0]["markdown"] == f"Reminder: {said.partition(' to ')[2]}"


@pytest.mark.parametrize("said, expected", [
    ("remind me soonish to stretch", "I could not read `soonish` as a time. Usage: `remind me in 10 minutes"),
    ("remind me to stretch", "Usage: `remind me in 10 minutes to stretch`"),
    ("remind me in 5 minutes", "Usage: `remind me in 10 minutes to stretch`"),
    ("remind", "Usage: "),
    ("remind me yesterday 9:00 to stretch", "`yesterday 9:00` is in the past (on "),
])
def test_remind_explains_what_it_cannot_use(chat, runner, said, expected):
    chat.say(said)
    assert chat.reply().startswith(expected)
    assert reminders(runner) == []


def test_remind_without_dateparser_says_what_to_install(chat, runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "dateparser", None)  # what a bot without it sees
    chat.say("remind me in 10 minutes to stretch")
    assert chat.reply() == "Reminders need `dateparser`: install `webex-laptop-bot[reminders]` and restart me."
