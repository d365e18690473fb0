"""The command users run: read the settings, start the bot, stop cleanly on Ctrl-C or SIGTERM.

Every expected failure (bad settings, a refused token, a port in use) is one or two lines on stderr
and exit code 2; tracebacks are for bugs only.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Optional

from .config import ConfigError, load_config
from .logs import setup_logging
from .registry import DuplicateCommand

log = logging.getLogger("bot")
EXIT_CONFIG = 2


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_CONFIG


def main(argv: Optional[list[str]] = None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as exc:
        return _fail(str(exc))
    # Imported only now: the web stack takes most of a second to load, which --help and a wrong
    # setting should not wait for.
    from .runner import BotRunner, StartupError
    from .sandbox import Sandbox
    from .webex import WebexAuthError, WebexUnavailable

    redactor = setup_logging(config.log_level, config.secrets())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        if config.sandbox:
            sandbox = Sandbox(config)
            sandbox.announce()
            running = sandbox.runner
        else:
            running = BotRunner(config)
            try:
                running.start()
            except Exception:
                running.stop(timeout=2)
                raise
    except (StartupError, WebexAuthError, WebexUnavailable, DuplicateCommand) as exc:
        return _fail(str(exc))
    if running.receiver is not None:
        redactor.add(running.receiver.secret)
    log.info("bot is up; press Ctrl-C to stop")
    stop.wait()
    log.info("stopping")
    if config.sandbox:
        sandbox.stop()
    else:
        running.stop()
    return 0
