"""What every tunnel provider shares: the protocol, and ending a crashed run's process."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Protocol


log = logging.getLogger(__name__)
WEBSOCKET_HINT = "or run with --transport websocket, which needs no tunnel"


class Tunnel(Protocol):
    name: str
    restartable: bool  # whether restarting it can mend a public URL that does not answer

    def start(self, port: int) -> str:
        """Open the tunnel to ``127.0.0.1:port``; return its public URL."""

    def alive(self) -> bool:
        """Whether the tunnel's own process (if any) still runs."""

    def stop(self) -> None:
        """Close the tunnel and end its process."""


def _command_of(pid: int) -> str:
    """What process ``pid`` runs; empty when it is gone or this system cannot say (no ``ps``).

    Asked before ending the pid an old pid file names: after a reboot it may be anyone's process."""
    if os.name != "posix":
        return ""
    try:
        # -ww: without a terminal, ps would cut the command line at 80 characters
        return subprocess.run(["ps", "-ww", "-p", str(pid), "-o", "command="], capture_output=True, text=True,
                              timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _end_process(pid: int, grace: float = 3.0) -> None:
    """SIGTERM, and SIGKILL if it is still there after ``grace`` seconds: a new agent started while the old
    one still holds the account's session would fail with ERR_NGROK_108."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def end_leftover(pid_file: Path, program: str, what: str) -> None:
    """End the process a crashed earlier run left behind, named in ``pid_file``, if it still runs
    ``program`` (it would block ours, or serve a dead URL); then forget the pid file."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if program in _command_of(pid):
        try:
            _end_process(pid)
            log.info("ended %s (pid %d) left over by an earlier run", what, pid)
        except (ProcessLookupError, PermissionError):
            pass
    pid_file.unlink(missing_ok=True)
