"""What the programs the bot starts (the ngrok agent) write on stderr goes to the bot's log.

The agent repeats a failed start on the stderr it inherits, the authtoken it refused included
(ERR_NGROK_105), past the log's redaction and as a screenful of text; pyngrok gives no way to hand it
another stream. So the command users run (and only it: it owns its process) points its file
descriptor 2 at a pipe that a thread reads into a DEBUG logger, and keeps the terminal for its own
stderr. The same errors still reach the user, as the bot's one-line explanation.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("bot.child_output")
MAX_LINE = 500


def route_child_stderr() -> None:
    """From now on, children inherit a stderr that ends in the log; ``sys.stderr`` stays the terminal.

    Call it before logging is set up, so that the log handler writes to the terminal.
    """
    terminal = os.dup(2)
    sys.stderr = open(terminal, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                      errors="backslashreplace", closefd=True)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    threading.Thread(target=_drain, args=(read_end,), name="child-stderr", daemon=True).start()


def _drain(fd: int) -> None:
    with open(fd, "rb") as pipe:
        for line in pipe:
            text = line.decode(errors="replace").rstrip()
            if text:
                log.debug("a program the bot started said: %s", text[:MAX_LINE])
