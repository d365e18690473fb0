"""Every failure the bot expects, under one root, each knowing its exit code.

The CLI prints ``error: <message>`` and exits with ``exit_code``: 2 when the user must change
something before trying again (settings, token, plugins), 1 when something outside went wrong and a
retry may help. ``permanent`` tells the code that would retry (a reconnect loop, the supervisor)
that retrying cannot help.
"""
from __future__ import annotations

from typing import Optional

EXIT_CONFIG = 2  # fix the settings (or the token, or the plugins) before trying again
EXIT_RUNTIME = 1  # something outside went wrong (Webex unreachable, the transport lost): try again


class BotError(Exception):
    """The root: a one-line message that says what happened and what to do."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, *, permanent: bool = False, exit_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(BotError):
    """A setting is missing or wrong; the message says which and what to do."""

    exit_code = EXIT_CONFIG


class DuplicateCommand(ConfigError):
    """Two handlers claim one name; the message names both files."""


class StartupError(BotError):
    """The bot cannot start; the message says why and what to do, in a line or two."""

    exit_code = EXIT_CONFIG


class TransportError(BotError):
    """A way of receiving events (a tunnel, the device websocket) cannot run or stay up."""


class TunnelError(TransportError):
    """The tunnel did not start or stay up; the message says what to do."""


class DeviceError(TransportError):
    """Device registration failed; ``permanent`` when retrying cannot help (bad token, device limit)."""


class WebexError(BotError):
    """Webex refused a REST call; ``status`` and ``tracking_id`` are Webex's own."""

    def __init__(self, message: str, *, status: int = 0, tracking_id: str = "", permanent: bool = False,
                 exit_code: Optional[int] = None) -> None:
        super().__init__(message, permanent=permanent, exit_code=exit_code)
        self.status = status
        self.tracking_id = tracking_id


class WebexAuthError(WebexError):
    """Webex refused the bot's token."""

    exit_code = EXIT_CONFIG


class WebexUnavailable(WebexError):
    """Webex kept failing (5xx or no connection) after the retries."""


class NetworkRefusal(WebexUnavailable):
    """Something on the way refuses the connection the same way on every try: a certificate this machine
    does not trust, a proxy that refuses; the message names the host and the setting that fixes it."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class CertificateError(NetworkRefusal):
    """The server showed a certificate signed by an authority this machine does not trust (TLS inspection)."""


class ProxyRefusal(NetworkRefusal):
    """The proxy refused the tunnel (403) or wants credentials (407)."""


class BadEvent(BotError, ValueError):
    """A delivery that is not a Webex event the bot handles; the message says what is missing."""


class UsageError(BotError, ValueError):
    """The words do not fit the command; the message (the usage line) goes back into the chat."""
