"""The emulator's chat page in a real headless Chromium, talking to the real bot.

The bot runs with its real receiver and dispatcher; the emulator delivers its webhooks. The browser is
Debian's ``chromium`` driven by Playwright's bundled driver (no ``playwright install``). Without
chromium the tests skip, except under CI, where a missing browser is a failure.
"""
from __future__ import annotations

import itertools
import json
import shutil
import time
from typing import Any, Iterator

import pytest
import requests

from bot import card, card_action, command, incoming
from bot.emulator import Emulator
from bot.sandbox import register_routes
from bot.runner import BotRunner
from bot.inbound import incoming_key
from bot.testing import start_test_bot
from support import unavailable

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser tests then skip (or fail under CI), see _require_browser
    expect = sync_playwright = None

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

VOTE_CARD = {
    "type": "AdaptiveCard", "version": "1.3",
    "body": [
        {"type": "TextBlock", "text": "**Lunch poll**", "size": "medium"},
        {"type": "FactSet", "facts": [{"title": "Closes", "value": "at noon"}]},
        {"type": "Input.ChoiceSet", "id": "choice", "label": "Your pick", "value": "tea",
         "choices": [{"title": "Tea", "value": "tea"}, {"title": "Coffee", "value": "coffee"}]},
        {"type": "Input.Text", "id": "comment", "label": "Why?", "placeholder": "Say why"},
        {"type": "Input.Toggle", "id": "again", "title": "Ask me again tomorrow"},
    ],
    "actions": [{"type": "Action.Submit", "title": "Vote", "data": {"action": "vote"}},
                {"type": "Action.OpenUrl", "title": "Menu", "url": "https://example.com/menu"}],
}


@command("lunch")
def lunch(ctx):
    return card(VOTE_CARD, fallback="A lunch poll: open it in Webex")


@card_action("vote")
def vote(ctx):
    inputs = ctx.inputs
    return f"{ctx.sender_email} voted {inputs['choice']} because {inputs['comment']} (again: {inputs['again']})"


@command("fancy")
def fancy(ctx):
    return "This is **bold**, *italic* and `code`:\n- one\n- two\n\n[docs](https://example.com/docs)"


OPS_EMAIL = "ops@example.com"


@incoming("ship", room=OPS_EMAIL)
def ship(ctx, payload):
    return f"ship event from {payload['sent_by']} (test: {payload['test']})"


def _require_browser() -> None:
    if sync_playwright is None:
        reason = "playwright is not installed (pip install -e '.[test]')"
    elif not CHROMIUM:
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)"
    else:
        return
    unavailable(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, dict[str, Any], BotRunner]]:
    """One emulator and one running bot for the module, with its runner."""
    with Emulator() as emulator:
        bot = emulator.control.create_bot("Sandbox Bot", "sandbox-bot@webex.bot")
        runner = start_test_bot(emulator, bot["token"], plugins=[lunch, vote, fancy, ship],
                                state_dir=tmp_path_factory.mktemp("chat-page-bot"))
        try:
            yield emulator, bot, runner
        finally:
            runner.stop(timeout=4)


@pytest.fixture(scope="module")
def world(running) -> tuple[Emulator, dict[str, Any]]:
    """The module's emulator and bot; each test talks to it as a new person."""
    emulator, bot, _runner = running
    return emulator, bot


_people = itertools.count(1)


@pytest.fixture
def person(world) -> dict[str, Any]:
    emulator, _bot = world
    return emulator.control.create_person(f"Ada Lovelace {next(_people)}")


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 820})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    dialogs: list[str] = []
    errors: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.dialogs = dialogs
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"the page raised: {errors}"


def open_chat(page, emulator: Emulator, person: dict[str, Any], room: dict[str, Any]) -> None:
    page.goto(f"{emulator.chat_url}?as={person['id']}#{room['id']}")
    page.locator("body.ready").wait_for()


def send(page, text: str, where: str = "#composer-slot") -> None:
    box = page.locator(f"{where} textarea")
    box.fill(text)
    box.press("Enter")


def bot_messages(page):
    return page.locator(".msg:has(.badge)")


def test_a_command_and_its_reply_appear_live(page, world, person):
    emulator, bot = world
    room = emulator.control.direct_room(person, bot)
    open_chat(page, emulator, person, room)
    expect(page.locator("#room-title")).to_have_text("Sandbox Bot")
    send(page, "echo hello")
    expect(bot_messages(page)).to_have_count(1)
    expect(bot_messages(page).last.locator(".msg-body")).to_have_text("hello")
    assert emulator.control.messages(room=room, author=bot)[-1]["markdown"] == "hello"


def test_a_card_is_filled_in_and_submitted(page, world, person):
    emulator, bot = world
    room = emulator.control.direct_room(person, bot)
    open_chat(page, emulator, person, room)
    send(page, "lunch")
    card_node = page.locator(".ac-card")
    expect(card_node.locator("strong")).to_have_text("Lunch poll")
    expect(card_node.locator(".ac-facts")).to_contain_text("at noon")
    expect(card_node.get_by_role("link", name="Menu")).to_have_attribute("href", "https://example.com/menu")
    card_node.get_by_label("Your pick").select_option("coffee")
    card_node.get_by_label("Why?").fill("it is cold")
    card_node.get_by_label("Ask me again tomorrow").check()
    card_node.get_by_role("button", name="Vote").click()
    expect(card_node.locator(".ac-status")).to_contain_text("Sent")
    expect(bot_messages(page).last).to_contain_text(
        f"{person['emails'][0]} voted coffee because it is cold (again: true)")
    submitted = requests.get(f"{emulator.control_url}/calls", timeout=5).json()["items"]
    assert any(c["path"].startswith("/v1/attachment/actions/") for c in submitted)


def test_a_reply_in_a_thread_is_answered_in_that_thread(page, world, person):
    emulator, bot = world
    room = emulator.control.direct_room(person, bot)
    open_chat(page, emulator, person, room)
    send(page, "echo first")
    expect(bot_messages(page)).to_have_count(1)
    mine = page.locator(".msg-mine", has_text="echo first")
    mine.get_by_role("button", name="Reply in thread").click()
    send(page, "echo threaded", where=".thread-composer")
    thread = page.locator(".thread", has=mine)
    expect(thread.locator(".replies .msg")).to_have_count(2)
    expect(thread.locator(".replies .msg:has(.badge) .msg-body")).to_have_text("threaded")
    parent = next(m for m in emulator.control.messages(room=room, author=person) if m["text"] == "echo first")
    answer = emulator.control.messages(room=room, author=bot)[-1]
    assert (answer["markdown"], answer["parentId"]) == ("threaded", parent["id"])


def test_the_mention_picker_reaches_the_bot_in_a_group_space(page, world, person):
    emulator, bot = world
    grace = emulator.control.create_person("Grace Hopper")
    group = emulator.control.create_group("Workshop", person, [bot, grace])
    open_chat(page, emulator, person, group)
    expect(page.locator("#group-hint")).to_be_visible()
    box = page.locator("#composer-slot textarea")
    box.press_sequentially("@Sand")
    expect(page.get_by_role("option", name="Sandbox Bot")).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value("@Sandbox Bot ")
    box.press_sequentially("echo hi")
    box.press("Enter")
    expect(page.locator(".msg-mine .mention")).to_have_text("Sandbox Bot")
    expect(bot_messages(page).last.locator(".msg-body")).to_have_text("hi")
    sent = emulator.control.messages(room=group, author=person)[-1]
    assert sent["mentionedPeople"] == [bot["id"]]


def test_markdown_is_rendered_and_html_is_not(page, world, person):
    emulator, bot = world
    room = emulator.control.direct_room(person, bot)
    open_chat(page, emulator, person, room)
    send(page, "fancy")
    body = bot_messages(page).last.locator(".msg-body")
    expect(body.locator("strong")).to_have_text("bold")
    expect(body.locator("em")).to_have_text("italic")
    expect(body.locator("code")).to_have_text("code")
    expect(body.locator("li")).to_have_count(2)
    expect(body.get_by_role("link", name="docs")).to_have_attribute("href", "https://example.com/docs")
    hostile = "<img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(3))"
    emulator.control.post(person, markdown=hostile, room=room)
    send(page, "echo <b>not bold</b> <img src=x onerror=alert(4)>")
    expect(page.locator(".msg-mine", has_text="<script>alert(2)</script>")).to_have_count(1)
    expect(bot_messages(page).filter(has_text="<b>not bold</b>")).to_have_count(1)
    messages = page.locator("#messages")
    assert messages.locator("img, script, b").count() == 0
    assert messages.locator("a[href^='javascript']").count() == 0
    assert page.dialogs == []


def test_a_file_sent_from_the_page_is_a_download_link(page, world, person):
    emulator, bot = world
    room = emulator.control.direct_room(person, bot)
    open_chat(page, emulator, person, room)
    page.locator("#composer-slot input[type=file]").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"workshop notes"})
    expect(page.locator(".file-chip")).to_contain_text("notes.txt")
    send(page, "echo a file for you")
    expect(bot_messages(page).last.locator(".msg-body")).to_have_text("a file for you")
    link = page.locator(".msg-mine").get_by_role("link", name="notes.txt")
    href = link.get_attribute("href")
    assert href.startswith("/_emulator/contents/")
    download = requests.get(emulator.url + href, timeout=5)
    assert (download.status_code, download.content) == (200, b"workshop notes")


def test_the_traffic_panel_shows_the_webhook_and_the_reply_call(page, world, person):
    emulator, bot = world
    room = emulator.control.direct_room(person, bot)
    open_chat(page, emulator, person, room)
    send(page, "echo watch the wire")
    expect(bot_messages(page)).to_have_count(1)
    panel = page.locator("#traffic")
    webhook = panel.locator(".traffic-webhook", has_text="messages created").first
    expect(webhook.locator(".pill")).to_have_text("200")
    webhook.locator("summary").click()
    expect(webhook.locator(".json")).to_contain_text('"resource": "messages"')
    reply = panel.locator(".traffic-rest", has_text="POST /v1/messages").first
    expect(reply.locator(".pill")).to_have_text("200")
    reply.locator("summary").click()
    expect(reply).to_contain_text("watch the wire")
    expect(reply).to_contain_text("by Sandbox Bot")
    page.get_by_role("button", name="Hide traffic").click()
    expect(panel).to_be_hidden()
    page.get_by_role("button", name="Show traffic").click()
    expect(panel).to_be_visible()



def test_a_test_event_sent_to_an_incoming_route_reaches_the_bot_and_the_traffic(page, running):
    emulator, bot, runner = running
    ops = emulator.control.create_person("Ops Person", OPS_EMAIL)
    room = emulator.control.direct_room(ops, bot)
    assert "ship" in register_routes(emulator.control, runner)
    open_chat(page, emulator, ops, room)
    route = page.get_by_role("form", name="Incoming route ship")
    expect(route).to_contain_text("Key")
    assert json.loads(route.get_by_label("Payload (JSON)").input_value()) == {"test": True, "sent_by": "the sandbox"}
    expect(route.get_by_label("GitHub event")).to_have_count(0)
    route.get_by_role("button", name="Send a test event").click()
    expect(route.get_by_role("status")).to_have_text("Answered 202 (accepted): watch its space and the traffic below.")
    expect(bot_messages(page)).to_have_count(1)
    expect(bot_messages(page).last.locator(".msg-body")).to_have_text("ship event from the sandbox (test: True)")
    panel = page.locator("#traffic")
    sent = panel.locator(".traffic-incoming", has_text="POST /incoming/ship").first
    expect(sent.locator(".pill")).to_have_text("202")
    sent.locator("summary").click()
    expect(sent).to_contain_text('"sent_by": "the sandbox"')
    expect(panel.locator(".traffic-rest", has_text="POST /v1/messages")).not_to_have_count(0)
    route.get_by_label("Payload (JSON)").fill("{not json")
    route.get_by_role("button", name="Send a test event").click()
    expect(route.get_by_role("status")).to_contain_text("The payload is not JSON")
    assert [r["name"] for r in emulator.traffic.incoming()] == ["ship"]

    key = incoming_key(runner.config.state_dir, runner.config.incoming_key)
    assert key not in page.content() and key not in json.dumps(emulator.control.calls())


def test_a_space_made_from_the_page_with_the_bot_has_it_as_a_member_and_is_greeted(page, world, person):
    emulator, bot = world
    grace = emulator.control.create_person("Grace Hopper")
    page.goto(f"{emulator.chat_url}?as={person['id']}")
    page.locator("body.ready").wait_for()
    page.get_by_role("button", name="+ New space").click()
    form = page.get_by_role("form", name="New group space")
    form.get_by_label("Title").fill(f"Greetings of {person['displayName']}")
    form.get_by_label("Sandbox Bot (bot)").check()
    form.get_by_role("button", name="Create space").click()
    expect(form).to_be_hidden()
    expect(page.locator("#room-title")).to_have_text(f"Greetings of {person['displayName']}")
    expect(page.locator("#room-subtitle")).to_have_text("Group space with you, Sandbox Bot")
    expect(page.locator(".space[aria-current=true] .space-name")).to_have_text(f"Greetings of {person['displayName']}")
    [made] = [r for r in emulator.control.rooms() if r["title"] == f"Greetings of {person['displayName']}"]
    assert (made["type"], made["creatorId"], sorted(made["memberIds"])) == ("group", person["id"],
                                                                            sorted([person["id"], bot["id"]]))
    assert grace["id"] not in made["memberIds"]
    assert page.evaluate("location.hash") == f"#{made['id']}"
    expect(bot_messages(page)).to_have_count(1)
    expect(bot_messages(page).first).to_contain_text("Hello, I'm Sandbox Bot. Mention me with help")


def test_the_bot_added_to_the_open_group_space_greets_it(page, world, person):
    emulator, bot = world
    grace = emulator.control.create_person("Grace Hopper")
    group = emulator.control.create_group(f"Later for {person['displayName']}", person, [grace])
    open_chat(page, emulator, person, group)
    expect(page.locator("#room-subtitle")).to_have_text("Group space with you, Grace Hopper")
    page.get_by_label("Person or bot to add").select_option(label="Sandbox Bot (bot)")
    page.get_by_role("button", name="Add to space").click()
    expect(page.locator("#room-subtitle")).to_have_text("Group space with you, Grace Hopper, Sandbox Bot")
    [room] = [r for r in emulator.control.rooms() if r["id"] == group["id"]]
    assert bot["id"] in room["memberIds"]
    expect(page.get_by_label("Person or bot to add").locator("option", has_text="Sandbox Bot")).to_have_count(0)
    expect(bot_messages(page).first).to_contain_text("Mention me with help to see what I can do.")


def test_long_polls_are_bounded_and_wake_on_news():
    """No browser needed: at most four polls wait at once (the API keeps its threads), the rest are
    told to come back later; a new message wakes the waiting ones; a waiting poll does not hold up
    stopping the emulator."""
    from concurrent.futures import ThreadPoolExecutor, wait

    webex = Emulator().start()
    try:
        ada = webex.control.create_person("Ada Lovelace")
        bob = webex.control.create_person("Bob")
        cursor = requests.get(f"{webex.control_url}/chat/state", timeout=5).json()["cursor"]

        def poll(after: int) -> dict[str, Any]:
            return requests.get(f"{webex.control_url}/changes", params={"after": after}, timeout=30).json()

        with ThreadPoolExecutor(7) as pool:
            polls = [pool.submit(poll, cursor) for _ in range(6)]
            early, _ = wait(polls, timeout=1.0)
            assert len(early) == 2 and all(p.result()["retryMs"] == 1000 for p in early)
            posted = webex.control.post(ada, "hello", to=bob)
            for answer in [p.result(timeout=3) for p in polls if p not in early]:
                assert answer["retryMs"] == 0
                # A poll returns at the first news, which may come just before the message (say, the
                # room it made); following the cursor must bring the message at once.
                seen = [c["data"]["id"] for c in answer["changes"] if c["kind"] == "message"]
                deadline = time.monotonic() + 5
                while not seen and time.monotonic() < deadline:
                    answer = poll(answer["cursor"])
                    seen = [c["data"]["id"] for c in answer["changes"] if c["kind"] == "message"]
                assert seen == [posted["id"]]
            settled = requests.get(f"{webex.control_url}/chat/state", timeout=5).json()["cursor"]
            parked = pool.submit(poll, settled)
            assert not wait([parked], timeout=0.5).done
            started = time.monotonic()
            webex.stop()
            assert time.monotonic() - started < 2
    finally:
        webex.stop()
