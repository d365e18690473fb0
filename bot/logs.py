"""Readable log lines with secrets taken out: tokens, authtokens and webhook secrets never print."""
from __future__ import annotations

import logging
import re
from typing import Iterable

BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
MASK = "***"
CLIP = 80


def clip(value: object, limit: int = CLIP) -> str:
    """``repr`` of a value that came from the network, cut to ``limit`` characters: an attacker
    decides how long it is, and a log line must stay a line."""
    text = repr(value) if not isinstance(value, str) else value
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret and every bearer credential replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, MASK)
    return BEARER.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """Formats each record once and takes the secrets out of the message and the traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, *secrets: str) -> None:
        self.secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


class FirstLine(logging.Filter):
    """A warning logged by ``logging.captureWarnings`` is the warning and, on a line of its own, the
    source line that raised it: keep the first, so that one event stays one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = record.getMessage().split("\n", 1)[0], None
        return True


def setup_logging(level: str, secrets: Iterable[str] = ()) -> RedactingFilter:
    """Log to stderr, one line per event, with secrets redacted; returns the filter to add more."""
    redactor = RedactingFilter()
    redactor.add(*secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_webex_bot", False)]:
        root.removeHandler(old)
    handler._webex_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Python warnings (a library's deprecation or rate-limit notice) become log lines too: one format,
    # and the same redaction, instead of raw text on stderr.
    logging.captureWarnings(True)
    warned = logging.getLogger("py.warnings")
    if not any(isinstance(f, FirstLine) for f in warned.filters):
        warned.addFilter(FirstLine())
    for noisy in ("urllib3", "waitress", "websockets", "pyngrok", "webexpythonsdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # waitress warns "Task queue depth is N" whenever a request waits for one of its threads: in a
    # burst of deliveries that is normal queueing, answered in milliseconds, not a fault to alarm about.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return redactor
