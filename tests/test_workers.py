"""The elastic pool the dispatcher runs handlers on: threads follow the waiting work, within bounds."""
from __future__ import annotations

import queue
import threading

import pytest

from bot.workers import ElasticPool
from support import until


def blocking_pool(most: int, least: int = 1, queue_size: int = 100,
                  idle: float = 30.0) -> tuple[ElasticPool[int], threading.Event, list[int]]:
    """A pool whose jobs wait for ``release``; ``started`` lists the jobs that began."""
    release, started = threading.Event(), []
    lock = threading.Lock()

    def work(job: int) -> None:
        with lock:
            started.append(job)
        release.wait(10)

    pool: ElasticPool[int] = ElasticPool(work, most=most, least=least, queue_size=queue_size, idle=idle)
    pool.start()
    return pool, release, started


def test_a_thread_starts_for_each_waiting_job_up_to_the_bound() -> None:
    pool, release, started = blocking_pool(most=5)
    try:
        for job in range(8):
            pool.put(job)
        until(lambda: len(started) == 5, "five jobs to run at once")
        assert pool.threads == 5 and pool.pending() == 8
        release.set()
        until(lambda: pool.pending() == 0, "every job to finish")
        assert sorted(started) == list(range(8)) and pool.peak == 5
    finally:
        release.set()
        pool.stop()


def test_a_slow_job_does_not_hold_up_the_others() -> None:
    done: list[int] = []
    slow = threading.Event()
    pool: ElasticPool[int] = ElasticPool(lambda j: slow.wait(10) if j == 0 else done.append(j), most=4, least=1)
    pool.start()
    try:
        pool.put(0)
        for job in range(1, 20):
            pool.put(job)
        until(lambda: len(done) == 19, "the quick jobs beside the slow one")
        assert pool.pending() == 1
    finally:
        slow.set()
        pool.stop()


def test_idle_threads_end_down_to_the_least() -> None:
    pool, release, started = blocking_pool(most=6, least=2, idle=0.2)
    try:
        for job in range(6):
            pool.put(job)
        until(lambda: len(started) == 6, "six jobs running")
        release.set()
        until(lambda: pool.threads == 2, "the pool to shrink back to two threads")
        # Shrunk, it still grows again for new work.
        release.clear()
        for job in range(6, 10):
            pool.put(job)
        until(lambda: len(started) == 10, "four more jobs at once")
        assert pool.threads == 4
    finally:
        release.set()
        pool.stop()


def test_the_queue_is_bounded_and_discard_drops_only_what_waits() -> None:
    pool, release, started = blocking_pool(most=2, queue_size=5)
    try:
        pool.put(0)
        pool.put(1)
        until(lambda: len(started) == 2, "two running")
        for job in range(2, 7):  # five waiting: the queue's bound counts the jobs not yet taken
            pool.put(job)
        with pytest.raises(queue.Full):
            pool.put(99)
        assert pool.discard() == 5 and pool.threads == 2
        release.set()
        until(lambda: pool.pending() == 0, "the running ones to finish")
        assert sorted(started) == [0, 1]
    finally:
        release.set()
        pool.stop()


def test_a_failing_job_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    done: list[int] = []

    def work(job: int) -> None:
        if job == 0:
            raise RuntimeError("boom")
        done.append(job)

    pool: ElasticPool[int] = ElasticPool(work, most=1, least=1)
    pool.start()
    try:
        pool.put(0)
        pool.put(1)
        until(lambda: done == [1], "the job after the failure")
        assert "a job failed" in caplog.text and pool.threads == 1
    finally:
        pool.stop()


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        ElasticPool(lambda j: None, most=0)
    with pytest.raises(ValueError):
        ElasticPool(lambda j: None, most=2, least=3)
