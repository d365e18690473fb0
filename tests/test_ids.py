"""The small shared vocabulary: Webex ids, the retry policy, the errors and their exit codes."""
from __future__ import annotations

import base64

import pytest
import requests

from bot import errors, ids
from bot.emulator.ids import encode_id
from bot.retry import TRANSIENT, RetryPolicy, rate_limited

UUID = "0f9e8d7c-6b5a-4321-8fed-cba987654321"


def rest_id(kind: str = "PEOPLE", uuid: str = UUID, cluster: str = "us") -> str:
    return base64.b64encode(f"ciscospark://{cluster}/{kind}/{uuid}".encode()).decode()


@pytest.mark.parametrize("form", [
    rest_id(), rest_id().rstrip("="), " " + rest_id() + " ", rest_id().replace("+", "-").replace("/", "_"),
    UUID, UUID.upper(), rest_id(cluster="urn:TEAM:eu-central-1_k"),
])
def test_every_form_of_one_id_is_the_same_person(form: str) -> None:
    assert ids.uuid_of(form) == UUID
    assert ids.same(form, rest_id())


def test_the_emulator_ids_decode_alike() -> None:
    made = encode_id("PEOPLE", UUID)
    assert ids.uuid_of(made) == UUID and ids.same(made, UUID)


def test_different_ids_or_empty_ones_are_not_the_same() -> None:
    assert not ids.same(rest_id(), rest_id(uuid=UUID.replace("0f", "1f")))
    assert not ids.same("", "") and not ids.same(rest_id(), "")
    assert ids.uuid_of("not-an-id") == "not-an-id" and ids.decode("not-an-id") == ""
    assert ids.unpadded("abc==") == "abc"


class Flaky:
    """Fails ``times`` times with ``error``, then answers."""

    def __init__(self, times: int, error: Exception) -> None:
        self.calls = 0
        self.times = times
        self.error = error

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "ok"


def classify(exc: Exception):
    if isinstance(exc, requests.ConnectionError):
        return TRANSIENT
    if isinstance(exc, LookupError):
        return rate_limited(7.0)
    return None


def test_transient_failures_are_retried_with_growing_jittered_waits() -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, backoff=0.5, jitter=0.25)
    assert policy.run(Flaky(3, requests.ConnectionError()), classify=classify, sleep=waits.append) == "ok"
    assert len(waits) == 3
    for failures, wait in enumerate(waits, 1):
        assert 0.5 * 2 ** (failures - 1) * 0.75 <= wait <= 0.5 * 2 ** (failures - 1) * 1.25


def test_the_last_failure_is_raised_once_the_attempts_are_spent() -> None:
    waits: list[float] = []
    call = Flaky(10, requests.ConnectionError("down"))
    with pytest.raises(requests.ConnectionError, match="down"):
        RetryPolicy(attempts=3).run(call, classify=classify, sleep=waits.append)
    assert call.calls == 3 and len(waits) == 2


def test_a_rate_limit_waits_its_retry_after_on_a_budget_of_its_own() -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=1, rate_limit_attempts=5, max_retry_after=5.0)
    assert policy.run(Flaky(4, LookupError()), classify=classify, sleep=waits.append) == "ok"
    assert waits == [5.0] * 4  # Retry-After of 7 s, cut to max_retry_after


def test_what_is_not_retryable_is_raised_at_once_and_a_stopping_caller_ends_the_retries() -> None:
    call = Flaky(1, ValueError("bad"))
    with pytest.raises(ValueError):
        RetryPolicy().run(call, classify=classify, sleep=lambda _: None)
    assert call.calls == 1
    stopping = Flaky(5, requests.ConnectionError())
    with pytest.raises(requests.ConnectionError):
        RetryPolicy().run(stopping, classify=classify, sleep=lambda _: True)
    assert stopping.calls == 1


@pytest.mark.parametrize("error, code", [
    (errors.ConfigError("x"), 2), (errors.DuplicateCommand("x"), 2), (errors.StartupError("x"), 2),
    (errors.WebexAuthError("x"), 2), (errors.WebexUnavailable("x"), 1), (errors.WebexError("x"), 1),
    (errors.TunnelError("x"), 1), (errors.DeviceError("x"), 1), (errors.BotError("x", exit_code=3), 3),
])
def test_every_error_carries_its_exit_code_under_one_root(error: errors.BotError, code: int) -> None:
    assert isinstance(error, errors.BotError) and error.exit_code == code


def test_tunnel_and_device_errors_are_transport_errors_that_say_whether_to_retry() -> None:
    assert issubclass(errors.TunnelError, errors.TransportError)
    assert issubclass(errors.DeviceError, errors.TransportError)
    assert errors.TunnelError("x", permanent=True).permanent and not errors.DeviceError("x").permanent
