"""The emulator's pure functions: Webex ids, timestamps and mention rendering."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from typing import Optional

import pytest

from bot.emulator.ids import decode_id, encode_id, timestamp
from bot.emulator.markup import render

PERSON_UUID = "f5b36187-c8dd-4727-8b2f-f9c447f29046"


def test_encode_id_is_unpadded_base64_of_the_ciscospark_uri() -> None:
    rest_id = encode_id("PEOPLE", PERSON_UUID)
    assert "=" not in rest_id
    assert base64.b64decode(rest_id + "=" * (-len(rest_id) % 4)).decode() == f"ciscospark://us/PEOPLE/{PERSON_UUID}"
    assert rest_id == "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY"


def test_decode_id_round_trips_and_accepts_padding() -> None:
    rest_id = encode_id("PEOPLE", PERSON_UUID)
    assert decode_id(rest_id) == ("PEOPLE", PERSON_UUID)
    padded = rest_id + "=" * (-len(rest_id) % 4)
    assert padded != rest_id and decode_id(padded) == ("PEOPLE", PERSON_UUID)
    assert decode_id(rest_id + "==") == ("PEOPLE", PERSON_UUID)
    assert decode_id(f" {rest_id}\n") == ("PEOPLE", PERSON_UUID)


def test_ids_of_another_cluster_name_it_as_a_team_urn() -> None:
    rest_id = encode_id("ROOM", "r-1", cluster="eu-central-1_k")
    assert base64.b64decode(rest_id + "==").decode() == "ciscospark://urn:TEAM:eu-central-1_k/ROOM/r-1"
    assert decode_id(rest_id) == ("ROOM", "r-1")
    membership = encode_id("MEMBERSHIP", f"{PERSON_UUID}:r-1")
    assert decode_id(membership) == ("MEMBERSHIP", f"{PERSON_UUID}:r-1")


@pytest.mark.parametrize("garbage", [
    "", "not base64!", "abc", "Zm9v",  # "foo": base64, but no ciscospark URI
    base64.b64encode(b"ciscospark://us").decode(),  # too few parts
    base64.b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
    base64.b64encode(b"https://us/ROOM/x").decode(),
])
def test_decode_id_of_garbage_is_none(garbage: str) -> None:
    assert decode_id(garbage) is None


def test_timestamp_has_milliseconds_and_a_literal_z() -> None:
    moment = datetime(2024, 8, 5, 13, 4, 31, 488999, tzinfo=timezone.utc)
    assert timestamp(moment) == "2024-08-05T13:04:31.488Z"
    assert timestamp(datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2024-01-02T03:04:05.000Z"
    now = timestamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now)
    assert abs(datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
               - datetime.now(timezone.utc)).total_seconds() < 5


PEOPLE = {"personId:P1": ("P1", "Alice Smith"), "personEmail:bob@example.com": ("P2", "Bob Jones")}


def resolve(kind: str, value: str) -> Optional[tuple[str, str]]:
    return PEOPLE.get(f"{kind}:{value}")


def test_render_a_person_mention_with_and_without_a_label() -> None:
    labelled = render("hi <@personId:P1|Alice> there", resolve)
    assert labelled.text == "hi Alice there"
    assert labelled.html == '<p>hi <spark-mention data-object-type="person" data-object-id="P1">Alice</spark-mention> there</p>'
    assert labelled.mentioned_people == ["P1"] and labelled.mentioned_groups == []
    assert render("<@personId:P1>", resolve).text == "Alice Smith"


def test_render_an_email_mention() -> None:
    rendered = render("ask <@personEmail:bob@example.com>", resolve)
    assert rendered.text == "ask Bob Jones"
    assert 'data-object-id="P2">Bob Jones</spark-mention>' in rendered.html
    assert rendered.mentioned_people == ["P2"]


def test_an_unknown_mention_stays_plain_text() -> None:
    rendered = render("hey <@personId:NOPE|Ghost> and <@personEmail:who@example.com>", resolve)
    assert rendered.text == "hey Ghost and who@example.com"
    assert "spark-mention" not in rendered.html and rendered.mentioned_people == []


def test_the_all_group_mention() -> None:
    rendered = render("<@all> standup now", resolve)
    assert rendered.text == "All standup now"
    assert rendered.html == ('<p><spark-mention data-object-type="groupMention" data-group-type="all">All'
                             "</spark-mention> standup now</p>")
    assert rendered.mentioned_groups == ["all"] and rendered.mentioned_people == []


def test_a_person_mentioned_twice_is_listed_once() -> None:
    rendered = render("<@personId:P1|Al> <@personEmail:bob@example.com> <@personId:P1|Alice> <@all> <@all>", resolve)
    assert rendered.mentioned_people == ["P1", "P2"] and rendered.mentioned_groups == ["all"]


def test_html_is_escaped_outside_and_inside_mentions() -> None:
    rendered = render("a < b & <@personId:P1|Al & Co> </p>", resolve)
    assert rendered.text == "a < b & Al & Co </p>"
    assert rendered.html == ('<p>a &lt; b &amp; <spark-mention data-object-type="person" data-object-id="P1">'
                             "Al &amp; Co</spark-mention> &lt;/p&gt;</p>")
