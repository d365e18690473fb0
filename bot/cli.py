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

from .config import Config, load_config
from .errors import EXIT_RUNTIME, BotError

log = logging.getLogger("bot")


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _print_incoming_urls(config: Config) -> int:
    """``--incoming-urls``: what to paste into the systems that call the ``@incoming`` routes (the
    key included: this is the one place it is shown), without starting the bot or calling Webex."""
    from .plugins import load_plugins

    registry, _errors = load_plugins(config.commands_paths)
    from .inbound import SECRET_SETTING, incoming_key, route_urls

    routes = registry.routes()
    if not routes:
        print("no plugin defines an @incoming route")
        return 0
    base = config.public_url or (f"https://{config.ngrok_domain}" if config.tunnel == "ngrok" and
                                 config.ngrok_domain else None)
    if base is None:
        print('the tunnel\'s URL is random per start: the bot logs it as "public URL: ..." when it starts; '
              "put it in place of <public URL>")
    secret = (f"secret: {SECRET_SETTING} (set it in GitHub's webhook settings)" if config.incoming_secret else
              f"{SECRET_SETTING} is not set: the route refuses every request until it is")
    key = incoming_key(config.state_dir, config.incoming_key)
    for route, url in zip(routes, route_urls(base or "<public URL>", routes, key)):
        print(f"{url}  {secret}" if route.auth == "github" else url)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["doctor"]:
        from .doctor import main as doctor

        return doctor(args[1:])
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
    if config.incoming_urls:
        try:
            return _print_incoming_urls(config)
        except BotError as exc:
            return _fail(str(exc), exc.exit_code)
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
