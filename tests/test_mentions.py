"""Taking the bot's @-mention out of a Webex message: from the html when it has one, else from the text."""
from __future__ import annotations

import base64

import pytest

from bot.mentions import command_text, mentions_bot

UUID = "f5b36187-c8dd-4727-8b2f-f9c447f29046"
BOT_ID = base64.b64encode(f"ciscospark://us/PEOPLE/{UUID}".encode()).decode().rstrip("=")
PADDED = BOT_ID + "=" * (-len(BOT_ID) % 4)
ALICE_ID = base64.b64encode(b"ciscospark://us/PEOPLE/a11ce000-0000-4000-8000-000000000000").decode()
NAME = "Helper Bot"
ALL = '<spark-mention data-object-type="groupMention" data-group-type="all">All</spark-mention>'


def mention(label: str = NAME, person_id: str = BOT_ID) -> str:
    return f'<spark-mention data-object-type="person" data-object-id="{person_id}">{label}</spark-mention>'


def test_the_test_ids_differ_only_in_padding() -> None:
    assert PADDED != BOT_ID and PADDED.rstrip("=") == BOT_ID


@pytest.mark.parametrize("other_id", [ALICE_ID, BOT_ID.lower(), BOT_ID[:-2], "", "not base64!", "P1"])
def test_other_ids_are_not_the_bot(other_id: str) -> None:
    html = f"<p>{mention('Helper Bot', other_id)} help</p>"
    assert not mentions_bot(html, BOT_ID)
    assert command_text("Helper Bot help", html, BOT_ID, NAME, direct=False) == "help"


@pytest.mark.parametrize("html, command", [
    (f"<p>{mention()} echo hi</p>", "echo hi"),
    (f"<p>{mention()}</p>", ""),
    (f"<p>{mention('Helper')} echo hi</p>", "echo hi"),
    (f"<p>{mention()}: echo hi</p>", "echo hi"),
    (f"<p>{mention()} , echo hi</p>", "echo hi"),
    (f"<p>{mention()}&nbsp;echo hi</p>", "echo hi"),
    (f"<p>hey {mention()} help</p>", "hey help"),
    (f"<p>hey {mention('Helper')}, help</p>", "hey help"),
    (f"<p>echo hi {mention()}</p>", "echo hi"),
    (f"<p>{mention()} echo {mention('Helper')} twice</p>", "echo twice"),
    (f"<p>{mention()} echo time: 10:30</p>", "echo time: 10:30"),
    (f"<div>{mention()} echo hi</div>", "echo hi"),
    (f"{mention()} echo hi", "echo hi"),
])
def test_the_bots_mention_is_removed_from_the_html(html: str, command: str) -> None:
    assert command_text("ignored when the html mentions the bot", html, BOT_ID, NAME, direct=False) == command


@pytest.mark.parametrize("html, command", [
    (f"<p>{mention()} ask {mention('Alice', ALICE_ID)} about it</p>", "ask Alice about it"),
    (f"<p>{mention()} ask {mention('Alice Smith', ALICE_ID)}</p>", "ask Alice Smith"),
    (f"<p>{ALL} {mention()} standup now</p>", "All standup now"),
    (f"<p>{mention()} remind {ALL} to vote</p>", "remind All to vote"),
])
def test_other_mentions_are_kept_as_their_label(html: str, command: str) -> None:
    assert command_text("", html, BOT_ID, NAME, direct=False) == command


@pytest.mark.parametrize("mentioned_id", [BOT_ID, PADDED, BOT_ID + "==", f" {BOT_ID} ", UUID])
def test_ids_are_compared_ignoring_padding_and_form(mentioned_id: str) -> None:
    html = f"<p>{mention(person_id=mentioned_id)} help</p>"
    assert mentions_bot(html, BOT_ID) and mentions_bot(html, PADDED)
    assert command_text("", html, PADDED, NAME, direct=False) == "help"


@pytest.mark.parametrize("html, command", [
    (f"<p>{mention()} echo a &amp; b</p>", "echo a & b"),
    (f"<p>{mention()} echo 1 &lt; 2 &gt; 0</p>", "echo 1 < 2 > 0"),
    (f"<p>{mention()} say &quot;hi&quot; &#8212;loud</p>", 'say "hi" \u2014loud'),
    (f"<p>{mention()} echo <b>bold</b> and <code>x = 1</code></p>", "echo bold and x = 1"),
    (f'<p>{mention()} open <a href="https://example.com">the site</a></p>', "open the site"),
    (f"<p>{mention()} echo <!-- a comment -->hi</p>", "echo hi"),
])
def test_entities_and_inline_markup_become_plain_text(html: str, command: str) -> None:
    assert command_text("", html, BOT_ID, NAME, direct=False) == command


@pytest.mark.parametrize("html, command", [
    (f"<p>{mention()} echo   lots\tof \t space</p>", "echo lots of space"),
    (f"<p>{mention()} note first line\nsecond line</p>", "note first line\nsecond line"),
    (f"<p>{mention()} note first\n\nthird</p>", "note first\n\nthird"),
    (f"<p>{mention()} note first  \n   second</p>", "note first\nsecond"),
    (f"<p>{mention()} note first\r\nsecond</p>", "note first\nsecond"),
    (f"<p>{mention()} note first<br>second</p>", "note first\nsecond"),
    (f"<p>{mention()} note first<br />\nsecond</p>", "note first\nsecond"),
    (f"<p>{mention()} note first<br><br>third</p>", "note first\n\nthird"),
    (f"<p>{mention()} note</p><p>second paragraph</p>", "note\nsecond paragraph"),
    (f"<p>{mention()} note</p>\n<p>second paragraph</p>\n", "note\nsecond paragraph"),
    (f"<p>{mention()} list</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>", "list\none\ntwo"),
    (f"<p>{mention()} code</p><pre>x = 1\ny = 2</pre>", "code\nx = 1\ny = 2"),
    (f"<p>{mention()}</p><p>echo on the next line</p>", "echo on the next line"),
])
def test_newlines_are_kept_and_only_spaces_collapse(html: str, command: str) -> None:
    assert command_text("", html, BOT_ID, NAME, direct=False) == command


@pytest.mark.parametrize("text, command", [
    ("Helper Bot echo hi", "echo hi"),
    ("helper bot echo hi", "echo hi"),
    ("HELPER BOT: echo hi", "echo hi"),
    ("Helper Bot, echo hi", "echo hi"),
    ("Helper  Bot echo hi", "echo hi"),
    ("@Helper Bot echo hi", "echo hi"),
    ("Helper echo hi", "echo hi"),
    ("helper: echo hi", "echo hi"),
    ("  Helper Bot   echo hi  ", "echo hi"),
    ("Helper Bot", ""),
    ("echo hi", "echo hi"),
    ("Helpers echo hi", "Helpers echo hi"),
    ("Helper Botany lesson", "Botany lesson"),
    ("echo Helper Bot", "echo Helper Bot"),
    ("Helper Bot note one\ntwo", "note one\ntwo"),
    ("Helper Bot echo a\u00a0\u00a0b", "echo a b"),
    ("", ""),
])
def test_without_html_a_leading_display_name_is_removed(text: str, command: str) -> None:
    assert command_text(text, None, BOT_ID, NAME, direct=False) == command
    assert command_text(text, "", BOT_ID, NAME, direct=False) == command


@pytest.mark.parametrize("text, html, command", [
    ("Helper Bot ask Alice", f"<p>Helper Bot ask {mention('Alice', ALICE_ID)}</p>", "ask Alice"),
    ("All Helper standup", f"<p>{ALL} Helper standup</p>", "All Helper standup"),
    ("Helper Bot help", "<p>Helper Bot help</p>", "help"),
])
def test_html_without_the_bots_mention_falls_back_to_the_text(text: str, html: str, command: str) -> None:
    assert not mentions_bot(html, BOT_ID)
    assert command_text(text, html, BOT_ID, NAME, direct=False) == command


@pytest.mark.parametrize("name, text, command", [
    ("Bot", "bot: help", "help"),
    ("Mr. Robot (test)", "Mr. Robot (test) help", "help"),
    ("", "help me", "help me"),
    ("   ", "help me", "help me"),
])
def test_unusual_display_names(name: str, text: str, command: str) -> None:
    assert command_text(text, None, BOT_ID, name, direct=False) == command


@pytest.mark.parametrize("html, expected", [
    (f"<p>{mention()} hi</p>", True),
    (f"<p>hi {mention('Helper')}</p>", True),
    (f"<p>{mention('Alice', ALICE_ID)} hi</p>", False),
    (f"<p>{ALL} hi</p>", False),
    ("<p>Helper Bot hi</p>", False),
    (f'<p><spark-mention data-object-type="groupMention" data-object-id="{BOT_ID}">All</spark-mention></p>', False),
    ('<p><spark-mention data-object-type="person">Helper Bot</spark-mention></p>', False),
    ("", False),
    (None, False),
])
def test_mentions_bot(html: str | None, expected: bool) -> None:
    assert mentions_bot(html, BOT_ID) is expected
