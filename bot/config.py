"""Configuration: command-line flags over environment variables over a ``.env`` file over defaults.

Each setting is described once, in ``bot.settings``; from that table this module makes the argument
parser, ``--help`` and the ``Config`` values, then applies the few rules that involve more than one
setting. The defaults are ``Config``'s own, so code that builds a ``Config`` directly gets the same
ones. A missing or invalid setting is a ``ConfigError`` whose message says what to do, in one line;
the CLI exits 2 on it.
"""
from __future__ import annotations

import argparse
import os
import socket
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, NoReturn, Optional

from dotenv import dotenv_values

from .access import Access
from .errors import ConfigError
from .settings import SETTINGS, Setting

__all__ = ["Config", "ConfigError", "DEFAULT_API_URL", "DEFAULT_U2C_URL", "build_parser", "load_config"]

DEFAULT_API_URL = "https://webexapis.com/v1/"
DEFAULT_U2C_URL = "https://u2c.wbx2.com/u2c/api/v1/catalog"
TOKEN_HELP = ("set WEBEX_BOT_TOKEN to your bot's access token (create a bot at "
              "https://developer.webex.com/my-apps/new/bot), or try the bot with no account at all: "
              "`python run_bot.py --sandbox`")
ACCESS_LISTS = ("allowed_people", "allowed_domains", "allowed_rooms")  # settings that make Config.access


@dataclass(frozen=True)
class Config:
    """Every setting the bot runs with; the defaults here are the ones ``--help`` shows."""

    token: str
    transport: str = "auto"
    tunnel: str = "ngrok"
    public_url: Optional[str] = None
    host: str = "127.0.0.1"
    port: int = 8080
    commands_paths: tuple[Path, ...] = ()
    api_url: str = DEFAULT_API_URL
    u2c_url: str = DEFAULT_U2C_URL
    ngrok_path: Optional[str] = None
    ngrok_authtoken: Optional[str] = None
    ngrok_domain: Optional[str] = None
    ngrok_config: Optional[str] = None
    cloudflared_path: Optional[str] = None
    ngrok_mode: str = "auto"
    proxy: Optional[str] = None
    pac_url: Optional[str] = None
    ca_bundle: Optional[str] = None
    health_interval: float = 30.0
    instance: str = field(default_factory=socket.gethostname)
    keep_webhooks: bool = False
    keep_device: bool = False
    ws_ping_interval: float = 15.0
    ws_pong_timeout: float = 14.0
    sandbox: bool = False
    log_level: str = "INFO"
    access: Access = field(default_factory=Access)
    allow_bots: bool = False
    workers: int = 64
    max_body_bytes: int = 1024 * 1024
    state_dir: Path = field(default_factory=lambda: Path.home() / ".webex-bot")
    greeting: Optional[str] = None  # None: the dispatcher's line pointing at help; "": none
    incoming_key: Optional[str] = None  # None: made once and kept in the state folder
    incoming_secret: Optional[str] = None
    incoming_rate: int = 60
    incoming_urls: bool = False
    metrics_port: Optional[int] = None  # None: no metrics port
    metrics_host: str = "127.0.0.1"

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        from .network import credentials_of

        return [s for s in (self.token, self.ngrok_authtoken, self.incoming_key, self.incoming_secret,
                            *credentials_of(self.proxy)) if s]



_DEFAULTS = {f.name: f.default for f in fields(Config)}
_BLANK_IS_VALUE = {s.env for s in SETTINGS if s.blank_is_value}


def shown_default(setting: Setting) -> str:
    """The default as ``--help`` words it: the entry's own words, else Config's value ("" when none)."""
    if setting.default is not None:
        return setting.default
    value = _DEFAULTS.get(setting.name, MISSING)
    if value is MISSING or value is None or value == ():
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flag_help(setting: Setting) -> str:
    default = shown_default(setting)
    notes = ", ".join(note for note in (setting.env, default and f"default {default}") if note)
    return f"{setting.help} [{notes}]" if notes else setting.help


def env_only_help() -> str:
    """The ``--help`` epilog: the settings that have no flag, with their defaults."""
    rows = [s for s in SETTINGS if s.flag is None]
    width = max(len(str(s.env)) for s in rows) + 2
    lines = []
    for setting in rows:
        default = shown_default(setting)
        lines.append(f"  {setting.env:<{width}}{setting.help}" + (f" [default {default}]" if default else ""))
    return "settings read only from the environment or the .env file:\n" + "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    """A bad flag is a ConfigError like a bad variable: one line and exit 2, not argparse's usage dump."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every flag in ``SETTINGS``, plus ``--env-file``, which says where the rest are read."""
    parser = _Parser(
        prog="run_bot.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a Webex bot from this machine. Every option also reads the environment variable\n"
                    "in [brackets]; a .env file in the current folder is read when present, and the\n"
                    "environment wins over it.",
        epilog=env_only_help())
    for setting in SETTINGS:
        if setting.flag is not None:
            extra = {"metavar": setting.metavar} if setting.metavar else {}
            parser.add_argument(setting.flag, dest=setting.name, help=_flag_help(setting),
                                **setting.kind.flag_options(), **extra)
    parser.add_argument("--env-file", default=".env", help="file of KEY=value settings read when present "
                        "(default .env)")
    return parser


def _variables(env_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment over the ``.env`` file; an empty value counts as not set, so the file's holds,
    but for the settings where an empty value is a choice of its own."""
    variables = dict(dotenv_values(env_file)) if env_file.is_file() else {}
    variables.update((name, value) for name, value in environ.items() if value.strip() or name in _BLANK_IS_VALUE)
    return {name: value for name, value in variables.items() if value is not None}


def _check(config: Config) -> None:
    """The rules that involve more than one setting, or the disk."""
    if not config.token and not (config.sandbox or config.incoming_urls):
        raise ConfigError(f"no bot token: {TOKEN_HELP}")
    if config.tunnel == "none" and config.public_url is None and config.transport != "websocket" \
            and not config.sandbox:
        raise ConfigError("--tunnel none needs --public-url (the HTTPS URL your reverse proxy serves), "
                          "or use --transport websocket")
    for folder in config.commands_paths:
        if not folder.is_dir():
            raise ConfigError(f"commands folder {folder} does not exist")


def load_config(argv: Optional[list[str]] = None, environ: Optional[Mapping[str, str]] = None) -> Config:
    """Read the settings; raise ConfigError for a missing or invalid one."""
    args = build_parser().parse_args(argv)
    variables = _variables(Path(args.env_file), os.environ if environ is None else environ)
    flags = vars(args)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = setting.read(flags, variables)
        if value is not None:
            values[setting.name] = value
    access = Access.of(*(values.pop(name, ()) for name in ACCESS_LISTS))
    config = Config(token=values.pop("token", ""), access=access, **values)
    _check(config)
    return config
