"""Configuration: command-line flags over environment variables over a ``.env`` file over defaults.

Every setting has one place here, so ``--help``, the docs and the errors agree. A missing or invalid
setting is a ``ConfigError`` whose message says what to do, in one line; the CLI exits 2 on it.
"""
from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NoReturn, Optional
from urllib.parse import urlparse

from dotenv import dotenv_values

from .access import Access

DEFAULT_API_URL = "https://webexapis.com/v1/"
DEFAULT_U2C_URL = "https://u2c.wbx2.com/u2c/api/v1/catalog"
TOKEN_HELP = ("set WEBEX_BOT_TOKEN to your bot's access token (create a bot at "
              "https://developer.webex.com/my-apps/new/bot), or try the bot with no account at all: "
              "`python run_bot.py --sandbox`")
ENV_ONLY_HELP = """\
settings read only from the environment or the .env file:
  WEBEX_BOT_TOKEN       the bot's access token (no flag: the process list would show it)
  WEBEX_U2C_URL         service catalog for the device websocket [default: Webex's]
  NGROK_AUTHTOKEN       your ngrok authtoken (https://dashboard.ngrok.com)
  BOT_NGROK_PATH        ngrok program to run [default: the one pyngrok installs]
  BOT_NGROK_DOMAIN      your reserved ngrok domain [default: a random one]
  BOT_NGROK_CONFIG      ngrok configuration file to use [default: pyngrok's]
  BOT_CLOUDFLARED_PATH  cloudflared program to run [default: cloudflared on the PATH]
  BOT_HEALTH_INTERVAL   seconds between tunnel and webhook checks [default 30]
  BOT_ALLOW_BOTS        answer other bots too (1/true/yes/on) [default off]
  BOT_WORKERS           commands that run at once [default 8]
  BOT_MAX_BODY          largest webhook request accepted, in bytes [default 1048576]
  BOT_STATE_DIR         folder the bot keeps its state in [default ~/.webex-bot]
"""


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and what to do."""


@dataclass(frozen=True)
class Config:
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
    workers: int = 8
    max_body_bytes: int = 1024 * 1024
    state_dir: Path = field(default_factory=lambda: Path.home() / ".webex-bot")

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        return [s for s in (self.token, self.ngrok_authtoken) if s]


class _Parser(argparse.ArgumentParser):
    """A bad flag is a ConfigError like a bad variable: one line and exit 2, not argparse's usage dump."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="run_bot.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a Webex bot from this machine. Every option also reads the environment variable\n"
                    "in [brackets]; a .env file in the current folder is read when present, and the\n"
                    "environment wins over it.",
        epilog=ENV_ONLY_HELP)
    add = parser.add_argument
    add("--sandbox", action="store_true",
        help="try the bot with no token, account or tunnel: a local Webex with a chat page in your browser")
    add("--transport", choices=("auto", "webhook", "websocket"), help="how Webex reaches the bot [BOT_TRANSPORT, "
        "default auto: webhooks through the tunnel, the device websocket when no tunnel can run]")
    add("--tunnel", choices=("ngrok", "cloudflared", "none"), help="tunnel for webhooks [BOT_TUNNEL, default "
        "ngrok]; 'cloudflared' for a Cloudflare quick tunnel (no account); 'none' with --public-url for your "
        "own reverse proxy")
    add("--public-url", help="public HTTPS URL that reaches --host:--port [BOT_PUBLIC_URL]")
    add("--host", help="address the receiver listens on [BOT_HOST, default 127.0.0.1]")
    add("--port", help="port the receiver listens on [BOT_PORT, default 8080]")
    add("--commands", action="append", metavar="DIR",
        help="extra folder of command plugins; repeatable [BOT_COMMANDS_PATH, os.pathsep-separated]")
    add("--api-url", help=f"Webex REST API root [WEBEX_API_URL, default {DEFAULT_API_URL}]")
    add("--instance", help="name of this run of the bot, so a laptop and a server never touch each other's "
        "webhooks [BOT_INSTANCE, default the host name]")
    add("--keep-webhooks", action="store_true", default=None,
        help="leave the webhooks registered on exit [BOT_KEEP_WEBHOOKS]")
    add("--keep-device", action="store_true", default=None,
        help="keep the websocket device registered on exit, so Webex buffers events until the next start "
             "[BOT_KEEP_DEVICE]")
    add("--allow", metavar="EMAILS", help="comma-separated people allowed to use the bot [BOT_ALLOWED_PEOPLE]")
    add("--allow-domains", metavar="DOMAINS", help="comma-separated email domains allowed [BOT_ALLOWED_DOMAINS]")
    add("--allow-rooms", metavar="ROOM_IDS", help="comma-separated rooms whose members are allowed "
        "[BOT_ALLOWED_ROOMS]")
    add("--log-level", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="[BOT_LOG_LEVEL, default INFO]")
    add("--env-file", default=".env", help="file of KEY=value settings read when present (default .env)")
    return parser


def _pick(flag: object, env: Mapping[str, str], name: str, default: object = None) -> object:
    if flag is not None:
        return flag
    value = env.get(name)
    return value if value not in (None, "") else default


def _number(value: object, name: str, kind: type, minimum: float, maximum: Optional[float] = None) -> float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {number}")
    return number


def _flag(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _csv(value: object) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _domain(value: Optional[str]) -> Optional[str]:
    """A bare host name, also when given as a URL (``https://my-bot.ngrok-free.app/``)."""
    if not value or not value.strip():
        return None
    host = value.strip()
    return (urlparse(host).netloc if "://" in host else host).strip("/") or None


def _url(value: str, name: str, *, https: bool = False) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in (("https",) if https else ("http", "https")) or not parsed.netloc:
        scheme = "an https://" if https else "an http(s)://"
        raise ConfigError(f"{name} must be {scheme} URL, got {value!r}")
    return value


def load_config(argv: Optional[list[str]] = None, environ: Optional[Mapping[str, str]] = None) -> Config:
    """Read the settings; raise ConfigError for a missing or invalid one."""
    args = build_parser().parse_args(argv)
    env: dict[str, str] = {}
    env_file = Path(args.env_file)
    if env_file.is_file():
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    token = str(env.get("WEBEX_BOT_TOKEN", "")).strip()
    if not token and not args.sandbox:
        raise ConfigError(f"no bot token: {TOKEN_HELP}")
    transport = str(_pick(args.transport, env, "BOT_TRANSPORT", "auto"))
    tunnel = str(_pick(args.tunnel, env, "BOT_TUNNEL", "ngrok"))
    if transport not in ("auto", "webhook", "websocket"):
        raise ConfigError(f"BOT_TRANSPORT must be auto, webhook or websocket, got {transport!r}")
    if tunnel not in ("ngrok", "cloudflared", "none"):
        raise ConfigError(f"BOT_TUNNEL must be ngrok, cloudflared or none, got {tunnel!r}")
    public_url = _pick(args.public_url, env, "BOT_PUBLIC_URL")
    if public_url is not None:
        public_url = _url(str(public_url).rstrip("/"), "--public-url / BOT_PUBLIC_URL", https=not str(public_url).startswith(
            ("http://127.", "http://localhost")))
    if tunnel == "none" and transport != "websocket" and public_url is None and not args.sandbox:
        raise ConfigError("--tunnel none needs --public-url (the HTTPS URL your reverse proxy serves), "
                          "or use --transport websocket")
    commands = [Path(p) for p in args.commands or []]
    commands += [Path(p) for p in str(env.get("BOT_COMMANDS_PATH", "")).split(os.pathsep) if p]
    for folder in commands:
        if not folder.is_dir():
            raise ConfigError(f"commands folder {folder} does not exist")
    log_level = str(_pick(args.log_level, env, "BOT_LOG_LEVEL", "INFO")).upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"BOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    return Config(
        token=token,
        sandbox=bool(args.sandbox),
        transport=transport,
        tunnel=tunnel,
        public_url=public_url,
        host=str(_pick(args.host, env, "BOT_HOST", "127.0.0.1")),
        port=int(_number(_pick(args.port, env, "BOT_PORT", 8080), "--port / BOT_PORT", int, 0, 65535)),
        commands_paths=tuple(commands),
        api_url=_url(str(_pick(args.api_url, env, "WEBEX_API_URL", DEFAULT_API_URL)).rstrip("/") + "/",
                     "--api-url / WEBEX_API_URL"),
        u2c_url=_url(str(env.get("WEBEX_U2C_URL") or DEFAULT_U2C_URL), "WEBEX_U2C_URL"),
        ngrok_path=env.get("BOT_NGROK_PATH") or None,
        ngrok_authtoken=env.get("NGROK_AUTHTOKEN") or None,
        ngrok_domain=_domain(env.get("BOT_NGROK_DOMAIN")),
        ngrok_config=env.get("BOT_NGROK_CONFIG") or None,
        cloudflared_path=env.get("BOT_CLOUDFLARED_PATH") or None,
        health_interval=_number(_pick(None, env, "BOT_HEALTH_INTERVAL", 30), "BOT_HEALTH_INTERVAL", float, 0.05),
        instance=str(_pick(args.instance, env, "BOT_INSTANCE", socket.gethostname())),
        keep_webhooks=bool(args.keep_webhooks) or _flag(env.get("BOT_KEEP_WEBHOOKS", "")),
        keep_device=bool(args.keep_device) or _flag(env.get("BOT_KEEP_DEVICE", "")),
        log_level=log_level,
        access=Access.of(_csv(_pick(args.allow, env, "BOT_ALLOWED_PEOPLE")),
                         _csv(_pick(args.allow_domains, env, "BOT_ALLOWED_DOMAINS")),
                         _csv(_pick(args.allow_rooms, env, "BOT_ALLOWED_ROOMS"))),
        allow_bots=_flag(env.get("BOT_ALLOW_BOTS", "")),
        workers=int(_number(_pick(None, env, "BOT_WORKERS", 8), "BOT_WORKERS", int, 1)),
        max_body_bytes=int(_number(_pick(None, env, "BOT_MAX_BODY", 1024 * 1024), "BOT_MAX_BODY", int, 1024)),
        state_dir=Path(env.get("BOT_STATE_DIR") or Path.home() / ".webex-bot"),
    )
