"""Helpers the end-to-end tests share: polling for a condition, and finding the fake agents a test
started (so a fixture can prove that none outlives its test)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def until(read: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Poll ``read`` until it gives something truthy; fail naming ``what`` when it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def fake_running(pid: int, program: str, marker: str = "") -> bool:
    """Whether ``pid`` is a live ``program`` (a fake agent) whose command line names ``marker``: a pid
    that ended may since have been given to anyone's process."""
    command = command_of(pid)
    return program in command and marker in command and alive(pid)


def fakes_running(program: str, *, marker: str = "", env: str = "") -> list[int]:
    """Pids of live ``program`` processes whose command line names ``marker`` and whose environment
    holds the ``NAME=value`` entry ``env``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not fake_running(int(entry.name), program, marker):
            continue
        try:
            if not env or env.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
