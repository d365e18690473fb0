"""The command users run: read the settings, start the bot, stop cleanly on Ctrl-C or SIGTERM.

Every expected failure is a ``BotError``: one or two lines on stderr and the exit code the error
carries (2: change something first; 1: something outside failed, try again); tracebacks are for
bugs only.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Optional

from .config import load_config
from .errors import EXIT_RUNTIME, BotError

log = logging.getLogger("bot")


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: Optional[list[str]] = None) -> int:
    try:
        config = load_config(argv)
    except BotError as exc:
        return _fail(str(exc), exc.exit_code)
    # Imported only now: the web stack takes most of a second to load, which --help and a wrong
    # setting should not wait for.
    from .child_output import route_child_stderr
    from .logs import setup_logging
    from .runner import BotRunner

    route_child_stderr()
    redactor = setup_logging(config.log_level, config.secrets())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        if config.sandbox:
            from .sandbox import Sandbox  # the emulator and its chat page: never loaded by a real bot

            sandbox = Sandbox(config, redact=redactor.add)
            sandbox.announce()
            running = sandbox.runner
        else:
            running = BotRunner(config, redact=redactor.add)
            try:
                running.start()
            except Exception:
                running.stop(timeout=2)
                raise
    except BotError as exc:
        return _fail(str(exc), exc.exit_code)
    log.info("bot is up; press Ctrl-C to stop")
    while not stop.wait(0.5) and not running.failed.is_set():
        pass
    log.info("stopping")
    if config.sandbox:
        sandbox.stop()
    else:
        running.stop()
    if running.failed.is_set():
        return _fail(running.failure, EXIT_RUNTIME)
    return 0
