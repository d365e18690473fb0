"""What the conformance tests share: a virtualenv per third-party client, made once and kept.

Each client pins other versions than ours, so it runs with the python of its own venv in the user's
cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``, then ``webex-laptop-bot/venv-<name>``), outside
the checkout and kept for the next run and the next clone. Offline the tests skip, except under CI,
where a missing conformance run is a failure.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: two first runs at once are not guarded there
    fcntl = None  # type: ignore[assignment]

from support import unavailable


def cache_folder() -> Path:
    """Where this project keeps what is worth keeping between runs: never in the checkout."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webex-laptop-bot"


@contextlib.contextmanager
def held(lock: Path) -> Iterator[None]:
    """One run at a time builds a venv: another (CI beside a developer's run) waits, then reuses it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def conformance_venv(name: str, packages: list[str]) -> str:
    """The python of venv ``name`` with ``packages`` installed; rebuilt when they or our Python change."""
    venv = cache_folder() / f"venv-{name}"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = venv / "installed.txt"
    made_for = f"{' '.join(packages)} with Python {sys.version_info.major}.{sys.version_info.minor}"
    with held(cache_folder() / f"venv-{name}.lock"):
        if not python.exists() or not stamp.exists() or stamp.read_text() != made_for:
            steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
                     [str(python), "-m", "pip", "install", "--quiet", *packages]]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    unavailable(f"cannot install {' '.join(packages)} for the conformance test: "
                                f"{done.stderr.strip()[-500:]}")
            stamp.write_text(made_for)
    return str(python)
