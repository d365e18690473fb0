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
EXIT_CONFIG = 2  # fix the settings (or the token, or the plugins) before trying again
EXIT_RUNTIME = 1  # something outside went wrong (Webex unreachable, the transport lost): try again


def _fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: Optional[list[str]] = None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as exc:
        return _fail(str(exc))
    # Imported only now: the web stack takes most of a second to load, which --help and a wrong
    # setting should not wait for.
    from .runner import BotRunner, StartupError
    from .sandbox import Sandbox
    from webexpythonsdk import ApiError

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
    except (StartupError, WebexAuthError, DuplicateCommand) as exc:
        return _fail(str(exc))
    except WebexUnavailable as exc:
        return _fail(str(exc), EXIT_RUNTIME)
    except ApiError as exc:
        return _fail(f"Webex refused a call at start: {exc.status_code} {exc.message or exc.status} "
                     f"(trackingId {exc.tracking_id})", EXIT_RUNTIME)
    if running.receiver is not None:
        redactor.add(running.receiver.secret)
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
