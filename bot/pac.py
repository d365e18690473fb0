"""PAC files: the proxy a network's auto-configuration script picks for each host (the ``pac`` extra).

A corporate network often names no proxy in the variables but publishes a PAC script (``BOT_PAC_URL``,
or the one the system's settings name on Windows and macOS). pypac runs the script; ``network.py``
asks it once per scheme and host, as browsers do for https URLs, and takes its first choice.
"""
from __future__ import annotations

import logging
import sys
import threading
from typing import Any, Optional

import requests

from .errors import ConfigError

log = logging.getLogger(__name__)
PAC_TIMEOUT = 10.0  # seconds to fetch a PAC file
PAC_EXTRA = "pip install 'webex-laptop-bot[pac]'"


class PacFile:
    """A PAC file, asked once per scheme and host (as browsers ask for https URLs: without the path)."""

    def __init__(self, pac_file: Any) -> None:
        from pypac.parser import parse_pac_value

        self._file = pac_file
        self._parse = parse_pac_value
        self._lock = threading.Lock()  # the script's interpreter is not safe to share between threads

    @classmethod
    def from_script(cls, script: str, where: str) -> "PacFile":
        try:
            from pypac.parser import MalformedPacError, PACFile
        except ImportError:
            raise ConfigError(f"BOT_PAC_URL needs the PAC support: {PAC_EXTRA}") from None
        try:
            return cls(PACFile(script))
        except MalformedPacError as exc:
            raise ConfigError(f"the PAC file at {where} is not a PAC script ({exc}): check BOT_PAC_URL") from None

    def proxy(self, probe: str, host: str) -> Optional[str]:
        with self._lock:
            answer = self._file.find_proxy_for_url(probe, host)
        choices = self._parse(answer)
        first = choices[0] if choices else "DIRECT"
        return None if first == "DIRECT" else first


def fetch_pac(location: str) -> PacFile:
    """The PAC file at a URL (fetched directly: it is served inside the network) or a path."""
    if location.startswith(("http://", "https://")):
        with requests.Session() as session:
            session.trust_env = False
            try:
                response = session.get(location, timeout=PAC_TIMEOUT)
                response.raise_for_status()
            except requests.RequestException as exc:
                raise ConfigError(f"cannot fetch the PAC file at {location} ({type(exc).__name__}): check "
                                  "BOT_PAC_URL") from None
            return PacFile.from_script(response.text, location)
    path = location[len("file://"):] if location.startswith("file://") else location
    try:
        with open(path, encoding="utf-8") as script:
            return PacFile.from_script(script.read(), path)
    except OSError as exc:
        raise ConfigError(f"cannot read the PAC file {path} ({exc.strerror or exc}): check BOT_PAC_URL") from None


def system_pac() -> Optional[PacFile]:
    """The PAC file the system's settings name (Windows and macOS only; never WPAD guessing)."""
    if sys.platform not in ("win32", "darwin"):
        return None
    try:
        from pypac import get_pac
    except ImportError:
        return None
    try:
        found = get_pac(from_os_settings=True, from_dns=False, timeout=PAC_TIMEOUT)
    except Exception as exc:  # a broken system setting must not stop the bot: it goes direct, and says so
        log.warning("the system's PAC file could not be used (%s); connecting directly", type(exc).__name__)
        return None
    return PacFile(found) if found is not None else None
