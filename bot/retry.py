"""The one retry policy for calls to Webex: how often, how long to wait, and Retry-After.

REST calls (webex.py) and the websocket's conversation lookups (websocket.py) fail in the same ways:
a server error or a dropped connection may pass, a 429 says how long to wait. Both ask this policy,
so a change of backoff or attempts is made once. Waits get jitter so that 30 workshop bots that
failed together do not retry together.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional, TypeVar

T = TypeVar("T")


class Verdict(NamedTuple):
    """How a failure may be retried: ``rate_limited`` with Webex's ``retry_after``, or as transient."""

    rate_limited: bool = False
    retry_after: Optional[float] = None


TRANSIENT = Verdict()


def rate_limited(retry_after: Optional[float]) -> Verdict:
    return Verdict(True, retry_after)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all for a failure that may pass (5xx, no connection)
    backoff: float = 0.5  # the first wait in seconds; it doubles with each failure
    max_backoff: float = 30.0
    jitter: float = 0.25  # each backoff is scaled by a random factor within 1 ± jitter
    rate_limit_attempts: int = 10  # tries in all while Webex answers 429
    max_retry_after: float = 300.0  # a longer Retry-After is cut to this

    def backoff_for(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1 for the first)."""
        base = min(self.backoff * 2 ** (failures - 1), self.max_backoff)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)

    def run(self, call: Callable[[], T], *, classify: Callable[[Exception], Optional[Verdict]],
            sleep: Callable[[float], object] = time.sleep,
            on_retry: Optional[Callable[[Exception, float], None]] = None) -> T:
        """``call()``, tried again while ``classify`` calls its failure retryable and attempts remain.

        The last failure is raised as it is. ``sleep`` returning True (an ``Event.wait`` that was
        set) ends the retries at once, for callers that are stopping.
        """
        failures = limits = 0
        while True:
            try:
                return call()
            except Exception as exc:
                verdict = classify(exc)
                if verdict is None:
                    raise
                if verdict.rate_limited:
                    limits += 1
                    exhausted = limits >= self.rate_limit_attempts
                    wait = min(verdict.retry_after if verdict.retry_after is not None else self.backoff_for(limits),
                               self.max_retry_after)
                else:
                    failures += 1
                    exhausted = failures >= self.attempts
                    wait = self.backoff_for(failures)
                if exhausted:
                    raise
                if on_retry is not None:
                    on_retry(exc, wait)
                if sleep(wait) is True:
                    raise
