"""A bounded queue served by threads that follow the work: as many as there are waiting jobs, up to a limit.

Handlers are I/O-bound: most of a command's time is spent waiting on Webex. A fixed pool caps a
bot at ``workers / round-trip time`` commands a second however idle the machine is, so the pool
here starts a thread whenever a job is queued and no thread is free, up to ``most``, and lets a
thread end after ``idle`` seconds without work (down to ``least``). Threads rather than asyncio:
handlers stay plain functions that plugin authors can write with any blocking library, and a slow
one holds only its own thread.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Generic, Optional, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class ElasticPool(Generic[T]):
    def __init__(self, work: Callable[[T], None], *, most: int, least: int = 1, queue_size: int = 1000,
                 idle: float = 30.0, name: str = "worker") -> None:
        if most < 1 or not 0 <= least <= most:
            raise ValueError("an elastic pool needs 0 <= least <= most and most >= 1")
        self._work = work
        self.most = most
        self.least = least
        self.idle_timeout = idle
        self.name = name
        self._queue: queue.Queue[Optional[T]] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._threads = 0
        self._free = 0  # threads waiting for work that no queued job has counted on yet
        self._running = 0  # threads inside a job
        self._serial = 0
        self._stopped = False
        self.peak = 0  # the most threads alive at once, for benchmarks and the log

    @property
    def threads(self) -> int:
        return self._threads

    def start(self) -> None:
        with self._lock:
            for _ in range(self.least):
                self._spawn()
                self._free += 1

    def put(self, job: T) -> None:
        """Queue ``job`` without waiting; ``queue.Full`` when the queue is at its bound."""
        self._queue.put_nowait(job)
        with self._lock:
            if self._free > 0:
                self._free -= 1  # a waiting thread takes it: the next job must not count on that one
            elif self._threads < self.most and not self._stopped:
                self._spawn()

    def pending(self) -> int:
        """Jobs queued or running (a job counts until its function returns)."""
        return self._queue.unfinished_tasks

    def discard(self) -> int:
        """Drop the jobs still queued (not those running); how many. For a benchmark's fabricated backlog."""
        dropped = 0
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            dropped += job is not None
        with self._lock:  # nothing waits now: every thread not in a job is free
            self._free = self._threads - self._running
        return dropped

    def full(self) -> bool:
        """Whether the next ``put`` would be refused."""
        return self._queue.full()

    def join(self) -> None:
        self._queue.join()

    def stop(self) -> None:
        """Let every thread end once the queue is empty; queued jobs still run."""
        with self._lock:
            self._stopped = True
            count = self._threads
        for _ in range(count):
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    def _spawn(self) -> None:
        self._serial += 1
        self._threads += 1
        self.peak = max(self.peak, self._threads)
        threading.Thread(target=self._serve, name=f"{self.name}-{self._serial}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=self.idle_timeout)
            except queue.Empty:
                with self._lock:
                    # Only a thread no queued job counts on may go (a job put just now reserved one).
                    if self._threads > self.least and self._free > 0:
                        self._threads -= 1
                        self._free -= 1
                        return
                continue
            if job is None:
                with self._lock:
                    self._threads -= 1
                self._queue.task_done()
                return
            with self._lock:
                self._running += 1
            try:
                self._work(job)
            except Exception:
                log.exception("%s: a job failed", self.name)
            finally:
                self._queue.task_done()
            with self._lock:
                self._running -= 1
                self._free += 1
