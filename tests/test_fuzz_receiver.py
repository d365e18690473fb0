"""The webhook route fuzzed as an attacker would: any body, signed or not, never a 5xx, never a
secret in a log line, and nothing but a well-formed Webex event handed on.

Property-based (hypothesis), bounded in examples and time, on the real Flask app of the receiver;
the end-to-end route through waitress is in test_receiver.py.
"""
from __future__ import annotations

import json
import logging
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from bot import ids
from bot.events import Event, Outcome
from bot.receiver import Receiver, expected_signature

# No example database, and hypothesis's own folder outside the checkout: tests write nothing there.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hypothesis-"))
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SAMPLE_ID = "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOWY4ZTdkNmMtNWI0YS0zMjEwLWZlZGMtYmE5ODc2NTQzMjEw"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)
id_like = st.one_of(st.just(SAMPLE_ID), st.text(max_size=80), st.sampled_from(
    ["../webhooks", "a/b", "%2e%2e", "x?y=1", "", " ", "=" * 5, "A" * 2000]), json_values)
envelopes = st.fixed_dictionaries({
    "resource": st.sampled_from(["messages", "attachmentActions", "memberships", "rooms"]) | json_values,
    "event": st.sampled_from(["created", "deleted"]) | json_values,
    "data": st.fixed_dictionaries({"id": id_like}, optional={
        "roomId": id_like, "personId": id_like, "personEmail": json_values, "roomType": json_values,
        "created": st.sampled_from(["2024-08-05T13:00:00.000Z", "0001-01-01T00:00:00-23:59", "9999-12-31",
                                    "not a time"]) | json_values}) | json_values,
})
bodies = st.one_of(
    st.binary(max_size=300),
    envelopes.map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=900, max_value=5000).map(lambda n: ("[" * n + "]" * n).encode()),
    st.integers(min_value=900, max_value=5000).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    st.integers(min_value=4000, max_value=20000).map(lambda n: b"1" * n),
    st.binary(max_size=50).map(lambda raw: b'{"resource": "messages", "data": {"id": "' + raw + b'"}}'),
)


class Route:
    """The receiver's app with a test client, and what it handed on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.receiver = Receiver(self._submit, max_body_bytes=64 * 1024, max_age=10 ** 9)
        self.client = self.receiver.app.test_client()

    def _submit(self, event: Event) -> Outcome:
        self.events.append(event)
        return Outcome.ACCEPTED

    def post(self, body: bytes, signature: Any = "right", **headers: str) -> int:
        if signature == "right":
            headers["X-Spark-Signature"] = expected_signature(self.receiver.secret, body)
        elif signature is not None:
            headers["X-Spark-Signature"] = signature
        return self.client.post(self.receiver.path, data=body, headers=headers).status_code


@pytest.fixture(scope="module")
def route() -> Route:
    return Route()


def secrets_absent(route: Route, caplog: pytest.LogCaptureFixture) -> bool:
    text = "\n".join(r.getMessage() + (str(r.exc_info) if r.exc_info else "") for r in caplog.records)
    return all(secret not in text for secret in route.receiver.secrets)


@FUZZ
@given(body=bodies)
def test_a_signed_body_gets_an_answer_never_a_server_error(route: Route, caplog: pytest.LogCaptureFixture,
                                                          body: bytes) -> None:
    caplog.set_level(logging.DEBUG)
    before = len(route.events)
    status = route.post(body)
    assert status in (200, 400, 413), body[:200]
    if status != 200:
        assert len(route.events) == before
    for event in route.events[before:]:
        assert ids.valid(event.id) and all(ids.valid(v) for v in (event.room_id, event.person_id) if v)
    assert secrets_absent(route, caplog)


@FUZZ
@given(body=bodies, signature=st.one_of(st.none(), st.just("0" * 40), st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FFF, blacklist_characters="\x7f"), max_size=60)))
def test_an_unsigned_or_wrongly_signed_body_is_refused_before_it_is_read(
        route: Route, caplog: pytest.LogCaptureFixture, body: bytes, signature: Any) -> None:
    caplog.set_level(logging.DEBUG)
    before = len(route.events)
    status = route.post(body, signature=signature)
    assert status in (401, 403, 413)
    assert len(route.events) == before and secrets_absent(route, caplog)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_only_post_is_served_on_the_route(route: Route, method: str) -> None:
    assert route.client.open(route.receiver.path, method=method).status_code == 405


def test_a_deeply_nested_signed_body_is_a_400_and_says_nothing_secret(route: Route,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = b"[" * 100_000 + b"]" * 100_000
    assert route.post(body) in (400, 413)
    small = b"[" * 3000 + b"]" * 3000
    assert route.post(small) == 400
    assert secrets_absent(route, caplog)


def test_an_id_that_would_change_the_endpoint_is_refused(route: Route) -> None:
    for bad in ("../webhooks", "abc/../../people/me", "x?max=1", "a b"):
        envelope = {"resource": "messages", "event": "created", "data": {"id": bad, "roomId": SAMPLE_ID}}
        before = len(route.events)
        assert route.post(json.dumps(envelope).encode()) == 400
        assert len(route.events) == before


def test_a_flood_of_refusals_writes_a_few_lines_not_one_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fresh = Route()
    for n in range(2000):
        fresh.post(b'{"n": %d}' % n, signature=None if n % 2 else "0" * 40)
    lines = [r for r in caplog.records if r.name.startswith("bot")]
    assert fresh.receiver.refusals.total == {"unsigned": 1000, "bad signature": 1000}
    assert len(lines) <= 2 and sum(len(r.getMessage()) for r in lines) < 400


def test_refusals_are_summarised_once_a_window(caplog: pytest.LogCaptureFixture) -> None:
    from bot.refusals import Refusals

    caplog.set_level(logging.DEBUG)
    now = [0.0]
    refusals = Refusals(window=60, clock=lambda: now[0])
    for _ in range(5):
        refusals.note("unsigned", "refused %s", "x" * 10)
    now[0] = 61.0
    refusals.note("unsigned", "refused %s", "y")
    refusals.note("unsigned", "refused %s", "z")
    refusals.flush()
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("refused xxxxxxxxxx") and said[1] == \
        "refused more requests without logging each: 4 unsigned"
    assert said[2].startswith("refused y") and said[3] == "refused more requests without logging each: 1 unsigned"
    assert len(said) == 4
