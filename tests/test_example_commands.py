"""The example commands users copy (title, poll, report, longtask), run in the real bot against the emulator.

``title`` fetches from a real local HTTP server, a closed port and a name that cannot resolve;
``poll`` is voted on through real card submits; ``report``'s file is downloaded as a Webex client would.
"""
from __future__ import annotations

import csv
import io
import tempfile
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import requests

import commands.title
from bot.testing import Chat
from support import free_port, until

PAGES = {
    "/page": ("text/html; charset=utf-8", "<html><head><title>\n  Hello,\n  workshop  </title></head>"
                                          "<body><h1>Hi</h1></body></html>"),
    "/meta-charset": ("text/html", '<html><head><meta charset="utf-8"><title>Caf\u00e9 menu</title></head></html>'),
    "/untitled": ("text/html", "<html><head></head><body>no title here</body></html>"),
    "/data.json": ("application/json", '{"title": "not a page"}'),
    "/late-title": ("text/html", "<html><head>" + "<!-- padding -->" * 500 + "<title>Too far</title></head></html>"),
}


class Site(BaseHTTPRequestHandler):
    """A few pages, a 404 and a page that answers too slowly."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path == "/slow":
            time.sleep(2)
        kind, body = PAGES.get(self.path, ("text/html", "<title>Not found</title>"))
        data = body.encode("utf-8")
        self.send_response(200 if self.path in PAGES or self.path == "/slow" else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is for the test."""


@pytest.fixture
def site() -> Iterator[str]:
    """The base URL of a local web server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- title ---------------------------------------------------------------------------------------

def test_title_answers_the_page_title_as_plain_text(testbot, site):
    testbot.say(f"title {site}/page")
    [message] = testbot.replies()
    assert message["text"] == "Hello, workshop" and "markdown" not in message


def test_title_reads_the_charset_from_the_page(testbot, site):
    testbot.say(f"title {site}/meta-charset")
    assert testbot.reply() == "Caf\u00e9 menu"


@pytest.mark.parametrize("path, expected", [
    ("/untitled", "has no title"),
    ("/data.json", "is not a web page (it is application/json)"),
    ("/missing", "answered HTTP 404 Not Found."),
])
def test_title_says_what_is_wrong_with_the_page(testbot, site, path, expected):
    testbot.say(f"title {site}{path}")
    answer = testbot.reply()
    assert expected in answer and "Traceback" not in answer


def test_title_reads_no_more_than_the_cap(testbot, site, monkeypatch):
    monkeypatch.setattr(commands.title, "MAX_BYTES", 1000)
    testbot.say(f"title {site}/late-title")
    assert testbot.reply() == f"The page at {site}/late-title has no title."


def test_title_gives_up_on_a_slow_server(testbot, site, monkeypatch):
    monkeypatch.setattr(commands.title, "TIMEOUT", 0.5)
    testbot.say(f"title {site}/slow")
    assert testbot.reply() == "127.0.0.1 did not answer within 0.5 seconds."


def test_title_of_a_closed_port_says_nobody_answers(testbot):
    port = free_port()
    testbot.say(f"title http://127.0.0.1:{port}/")
    assert testbot.reply() == "127.0.0.1 refused the connection: nothing serves that address."


def test_title_of_an_unknown_host_says_so(testbot):
    testbot.say("title http://does-not-exist.invalid/")
    assert testbot.reply() == ("I could not find does-not-exist.invalid: check the address, or this machine "
                               "may be offline.")


@pytest.mark.parametrize("said, expected", [
    ("title ftp://example.org/file", "I can only fetch web pages (http:// or https://), not `ftp://example.org/file`."),
    ("title", "`title` is missing `url`."),
])
def test_title_refuses_what_is_no_web_address(testbot, said, expected):
    testbot.say(said)
    assert testbot.reply().startswith(expected)


# -- poll ----------------------------------------------------------------------------------------

def vote(control, person, card_message, choice: str) -> None:
    """Press "Vote" on the poll card as ``person``: the inputs carry the Action.Submit data too."""
    data = card_message["attachments"][0]["content"]["actions"][0]["data"]
    control.submit_card(person, card_message, {**data, "choice": choice})


def test_poll_card_and_votes_in_a_group(testbot, webex_emulator):
    control = webex_emulator.control
    grace = control.create_person("Grace Hopper", "grace@example.com")
    chat = testbot.new_space("Team")
    assert "`help`" in chat.reply()  # the bot's greeting
    chat.join(grace)

    chat.say("poll \u201cWhere do we eat?\u201d pizza sushi salad sushi")
    [message] = chat.replies()
    content = message["attachments"][0]["content"]
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert message["text"] == "Poll: Where do we eat? (open it in a Webex app to vote)"
    assert content["body"][0] == {"type": "TextBlock", "text": "Where do we eat?", "size": "Medium",
                                  "weight": "Bolder", "wrap": True}
    assert [c["title"] for c in content["body"][1]["choices"]] == ["pizza", "sushi", "salad"]
    data = content["actions"][0]["data"]
    assert data == {"action": "poll_vote", "poll": data["poll"]} and data["poll"].isdigit()
    poll_id = data["poll"]  # polls are numbered per process, so other tests may have taken 1

    vote(control, testbot.person, message, "0")
    assert chat.reply() == (f"Poll {poll_id}: **Where do we eat?** (1 vote)\n\n"
                            "- pizza: **1**\n- sushi: **0**\n- salad: **0**")
    vote(control, grace, message, "1")
    assert chat.reply().endswith("(2 votes)\n\n- pizza: **1**\n- sushi: **1**\n- salad: **0**")
    vote(control, testbot.person, message, "1")  # changing a vote replaces it
    assert chat.reply().endswith("(2 votes)\n\n- pizza: **0**\n- sushi: **2**\n- salad: **0**")

    chat.say("poll results")
    assert chat.reply().startswith(f"Poll {poll_id}: **Where do we eat?** (2 votes)")
    chat.say(f"poll results {poll_id}")
    assert "- sushi: **2**" in chat.reply()


def test_poll_results_stay_in_their_room(testbot, webex_emulator):
    control = webex_emulator.control
    group = control.create_group("Team", testbot.person, [testbot.bot])
    Chat(control, testbot.bot, testbot.person, room=group).say("poll Tea? yes no")
    testbot.say("poll results")
    assert testbot.reply().startswith("There is no such poll in this room.")


@pytest.mark.parametrize("said", ["poll Lunch? pizza", "poll Lunch?", "poll " + "Q? " + " ".join("abcdefghijk")])
def test_poll_needs_two_to_ten_options(testbot, said):
    testbot.say(said)
    assert testbot.reply().startswith("A poll needs a question and 2 to 10 options")


def test_a_vote_on_a_poll_the_bot_does_not_know_is_answered_directly(testbot, webex_emulator):
    control = webex_emulator.control
    chat = testbot.new_space("Team")
    chat.reply()  # the bot's greeting
    chat.say("poll Tea? yes no")
    [message] = chat.replies()
    poll_id = message["attachments"][0]["content"]["actions"][0]["data"]["poll"]
    control.submit_card(testbot.person, message, {"action": "poll_vote", "poll": "no-such-poll", "choice": "0"})
    assert testbot.reply().startswith("That poll is from before my last restart")
    control.submit_card(testbot.person, message, {"action": "poll_vote", "poll": poll_id})
    assert testbot.reply() == "Pick one of the options before you vote."


# -- report --------------------------------------------------------------------------------------

def test_report_sends_a_csv_file_and_removes_it(testbot, webex_bot_account, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the handler makes its folder
    testbot.say("report")
    [message] = testbot.replies()
    assert message["markdown"].startswith("Here is your report: ")
    [url] = message["files"]
    download = requests.get(url, headers={"Authorization": f"Bearer {webex_bot_account['token']}"}, timeout=5)
    assert download.status_code == 200
    assert f'filename="commands-{date.today().isoformat()}.csv"' in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8"))))
    assert rows[0] == ["command", "aliases", "description"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["help"] == ["help", "?", "List the commands, or explain one: `help echo`"]
    assert {"echo", "longtask", "poll", "report", "title", "whoami"} <= set(by_name)
    until(lambda: not list(tmp_path.glob("webex-bot-report-*")), "the report's folder to be removed", 5)


# -- longtask ------------------------------------------------------------------------------------

@pytest.mark.parametrize("said, seconds", [("longtask 1", 1), ("longtask 0", 0), ("longtask -5", 0)])
def test_longtask_answers_twice_in_the_thread(testbot, said, seconds):
    question = testbot.say(said)
    started = time.monotonic()
    first, second = testbot.replies(2, timeout=15)
    assert first["markdown"] == f"Working on it\u2026 (about {seconds} s)"
    assert second["markdown"].startswith("Done: the task took ")
    assert first["parentId"] == question["id"] and second["parentId"] == question["id"]
    assert first["created"] <= second["created"]
    assert time.monotonic() - started >= seconds


def test_longtask_keeps_other_commands_answered(testbot):
    testbot.say("longtask 5")
    assert testbot.reply().startswith("Working on it")
    testbot.say("echo still here")
    assert testbot.reply() == "still here", "answered while longtask still works"
    assert testbot.reply(timeout=15).startswith("Done")


def test_longtask_wants_a_whole_number(testbot):
    testbot.say("longtask soon")
    assert testbot.reply().startswith("`longtask` needs a whole number for `seconds`, got `soon`.")


def test_help_lists_the_examples(testbot):
    testbot.say("help")
    listing = testbot.reply()
    for name in ("longtask", "poll", "report", "title"):
        assert f"- `{name}`: " in listing
