"""The bot's settings, each described once: its flag, its variable, how its text is read, its help.

``bot.config`` makes the argument parser, ``--help`` and the ``Config`` values from ``SETTINGS``, so
adding a setting is one entry here (and its field in ``Config``, which holds the defaults). A kind of
value turns text into that value and says, in one line naming the setting, what is wrong with it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import ConfigError

ON, OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class Kind:
    """Text taken as it is; subclasses read numbers, choices, URLs..."""

    def flag_options(self) -> dict[str, Any]:
        """Keywords for ``add_argument`` beyond the help."""
        return {}

    def parse(self, text: str, label: str) -> Any:
        return text

    def read(self, flag: Any, text: str, label: str) -> Any:
        """The flag's value, else the variable's text, parsed; None (Config's default) when neither is given."""
        given = text if flag in (None, "") else str(flag)
        return self.parse(given, label) if given else None


@dataclass(frozen=True)
class Text(Kind):
    """Text, reshaped by ``tidy``; when nothing is left (None), the setting counts as not given."""

    tidy: Callable[[str], Optional[str]] = str

    def parse(self, text: str, label: str) -> Optional[str]:
        return self.tidy(text)


@dataclass(frozen=True)
class Number(Kind):
    """An ``int`` or a ``float``, at least ``minimum`` and at most ``maximum`` (when there is one)."""

    type: Callable[[str], float]
    minimum: float
    maximum: Optional[float] = None

    def parse(self, text: str, label: str) -> float:
        try:
            number = self.type(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError(f"{label} must be a number, got {text!r}")
        if number < self.minimum:
            raise ConfigError(f"{label} must be at least {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise ConfigError(f"{label} must be at most {self.maximum}, got {number}")
        return number


@dataclass(frozen=True)
class Choice(Kind):
    """One of ``options``; with ``upper``, in any case (log levels)."""

    options: tuple[str, ...]
    upper: bool = False

    def flag_options(self) -> dict[str, Any]:
        return {"choices": self.options, **({"type": str.upper} if self.upper else {})}

    def parse(self, text: str, label: str) -> str:
        value = text.upper() if self.upper else text
        if value not in self.options:
            *first, last = self.options
            raise ConfigError(f"{label} must be {', '.join(first)} or {last}, got {text!r}")
        return value


class Switch(Kind):
    """On when the flag is given or the variable says so (1, true, yes, on)."""

    def flag_options(self) -> dict[str, Any]:
        return {"action": "store_true"}

    def read(self, flag: Any, text: str, label: str) -> bool:
        word = text.lower()
        if word and word not in ON + OFF:
            raise ConfigError(f"{label} must be on ({', '.join(ON)}) or off ({', '.join(OFF)}), got {text!r}")
        return bool(flag) or word in ON


class Csv(Kind):
    """Comma-separated words, blanks dropped."""

    def parse(self, text: str, label: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Url(Kind):
    """An http(s) URL; with ``https``, https only but for http to this machine (for local tests)."""

    https: bool = False
    tidy: Callable[[str], str] = str

    def parse(self, text: str, label: str) -> str:
        try:
            parsed = urlsplit(text)
        except ValueError:  # a broken [IPv6] host
            parsed = urlsplit("")
        host = parsed.hostname or ""
        local = parsed.scheme == "http" and (host == "localhost" or host.startswith("127."))
        if parsed.scheme not in (("https",) if self.https and not local else ("http", "https")) or not parsed.netloc:
            raise ConfigError(f"{label} must be {'an https://' if self.https else 'an http(s)://'} URL, got {text!r}")
        return self.tidy(text)


class Folder(Kind):
    """A path."""

    def parse(self, text: str, label: str) -> Path:
        return Path(text)


class Folders(Kind):
    """Paths: each repeat of the flag, then the variable's, separated by ``os.pathsep``."""

    def flag_options(self) -> dict[str, Any]:
        return {"action": "append"}

    def read(self, flag: Any, text: str, label: str) -> Optional[tuple[Path, ...]]:
        paths = [*(flag or ()), *text.split(os.pathsep)]
        return tuple(Path(p) for p in paths if p) or None


def _domain(value: str) -> Optional[str]:
    """A bare host name, also when given as a URL (``https://my-bot.ngrok-free.app/``)."""
    return (urlsplit(value).netloc if "://" in value else value).strip("/") or None


def _catalog(url: str) -> str:
    """The U2C catalog, also when given the U2C base as webex-js-sdk takes it (``.../u2c/api/v1``).

    The device registry asks for ``format=hostmap`` itself, so a ``format`` in the query is dropped.
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "format"])
    return urlunsplit(parts._replace(path=path if path.endswith("/catalog") else f"{path}/catalog", query=query))


@dataclass(frozen=True)
class Setting:
    """One setting. ``name`` is the Config field it fills (the three access lists make ``access``)."""

    name: str
    flag: Optional[str]  # None: read only from the environment or the .env file
    env: Optional[str]
    kind: Kind
    help: str
    default: Optional[str] = None  # how --help shows the default, when Config's own value would not say it
    metavar: Optional[str] = None
    blank_is_value: bool = False  # an empty value is a choice ("say nothing"), not "not set"

    @property
    def label(self) -> str:
        """How errors name the setting: by its flag and its variable."""
        return " / ".join(name for name in (self.flag, self.env) if name)

    def read(self, flags: Mapping[str, Any], variables: Mapping[str, str]) -> Any:
        """The value from the parsed flags or the variables; None when not given."""
        text = variables.get(self.env, "").strip() if self.env else ""
        flag = flags.get(self.name) if self.flag else None
        if self.blank_is_value and (flag == "" or (flag is None and self.env in variables and not text)):
            return ""
        return self.kind.read(flag, text, self.label)


SETTINGS: tuple[Setting, ...] = (
    Setting("sandbox", "--sandbox", None, Switch(),
            "try the bot with no token, account or tunnel: a local Webex with a chat page in your browser"),
    Setting("transport", "--transport", "BOT_TRANSPORT", Choice(("auto", "webhook", "websocket")),
            "how Webex reaches the bot; auto: webhooks through the tunnel, the device websocket when no tunnel "
            "can run"),
    Setting("tunnel", "--tunnel", "BOT_TUNNEL", Choice(("ngrok", "cloudflared", "none")),
            "tunnel for webhooks: 'cloudflared' for a Cloudflare quick tunnel (no account); 'none' with "
            "--public-url for your own reverse proxy"),
    Setting("public_url", "--public-url", "BOT_PUBLIC_URL", Url(https=True, tidy=lambda url: url.rstrip("/")),
            "public HTTPS URL that reaches --host:--port"),
    Setting("host", "--host", "BOT_HOST", Text(), "address the receiver listens on"),
    Setting("port", "--port", "BOT_PORT", Number(int, 0, 65535), "port the receiver listens on (0: any free one)"),
    Setting("commands_paths", "--commands", "BOT_COMMANDS_PATH", Folders(),
            f"extra folder of command plugins: repeat the flag, or separate folders with '{os.pathsep}' "
            "in the variable", metavar="DIR"),
    Setting("api_url", "--api-url", "WEBEX_API_URL", Url(tidy=lambda url: url.rstrip("/") + "/"),
            "Webex REST API root"),
    Setting("instance", "--instance", "BOT_INSTANCE", Text(),
            "name of this run of the bot, so a laptop and a server never touch each other's webhooks",
            default="the host name"),
    Setting("keep_webhooks", "--keep-webhooks", "BOT_KEEP_WEBHOOKS", Switch(),
            "leave the webhooks registered on exit"),
    Setting("keep_device", "--keep-device", "BOT_KEEP_DEVICE", Switch(),
            "keep the websocket device registered on exit, so Webex buffers events until the next start"),
    Setting("allowed_people", "--allow", "BOT_ALLOWED_PEOPLE", Csv(),
            "comma-separated people allowed to use the bot", metavar="EMAILS"),
    Setting("allowed_domains", "--allow-domains", "BOT_ALLOWED_DOMAINS", Csv(),
            "comma-separated email domains allowed", metavar="DOMAINS"),
    Setting("allowed_rooms", "--allow-rooms", "BOT_ALLOWED_ROOMS", Csv(),
            "comma-separated rooms whose members are allowed", metavar="ROOM_IDS"),
    Setting("log_level", "--log-level", "BOT_LOG_LEVEL", Choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
            "how much the bot logs"),
    Setting("token", None, "WEBEX_BOT_TOKEN", Text(),
            "the bot's access token (no flag: the process list would show it)"),
    Setting("u2c_url", None, "WEBEX_U2C_URL", Url(tidy=_catalog),
            "U2C service catalog for the device websocket, or the U2C base URL"),
    Setting("ngrok_authtoken", None, "NGROK_AUTHTOKEN", Text(), "your ngrok authtoken (https://dashboard.ngrok.com)"),
    Setting("ngrok_path", None, "BOT_NGROK_PATH", Text(), "ngrok program to run", default="the one pyngrok installs"),
    Setting("ngrok_domain", None, "BOT_NGROK_DOMAIN", Text(tidy=_domain), "your reserved ngrok domain",
            default="a random one"),
    Setting("ngrok_config", None, "BOT_NGROK_CONFIG", Text(), "ngrok configuration file to use",
            default="pyngrok's"),
    Setting("ngrok_mode", None, "BOT_NGROK_MODE", Choice(("auto", "agent", "sdk")),
            "how --tunnel ngrok runs: 'agent', the ngrok program (pyngrok downloads it); 'sdk', in this process "
            "(pip install 'webex-laptop-bot[ngrok-sdk]'; no proxy support); auto: the SDK when it is installed "
            "and no proxy is needed"),
    Setting("proxy", None, "BOT_PROXY", Text(),
            "proxy for every outbound connection (http://[user:password@]host:port), over HTTPS_PROXY and "
            "the PAC file; 'direct' for none. NO_PROXY still applies", default="HTTPS_PROXY / HTTP_PROXY"),
    Setting("pac_url", None, "BOT_PAC_URL", Text(),
            "PAC file (URL or path) that picks the proxy per host (pip install 'webex-laptop-bot[pac]')",
            default="the system's, on Windows and macOS"),
    Setting("ca_bundle", None, "BOT_CA_BUNDLE", Text(),
            "PEM file of extra authorities to trust (a TLS-inspecting proxy's), for REST and the websocket "
            "alike", default="REQUESTS_CA_BUNDLE; the system's store and certifi's are trusted anyway"),
    Setting("cloudflared_path", None, "BOT_CLOUDFLARED_PATH", Text(), "cloudflared program to run",
            default="cloudflared on the PATH"),
    Setting("health_interval", None, "BOT_HEALTH_INTERVAL", Number(float, 0.05),
            "seconds between tunnel and webhook checks"),
    Setting("allow_bots", None, "BOT_ALLOW_BOTS", Switch(), "answer other bots too (1/true/yes/on)"),
    Setting("workers", None, "BOT_WORKERS", Number(int, 1), "the most commands that run at once (threads start and end with the work)"),
    Setting("max_body_bytes", None, "BOT_MAX_BODY", Number(int, 1024), "largest webhook request accepted, in bytes"),
    Setting("state_dir", None, "BOT_STATE_DIR", Folder(), "folder the bot keeps its state in", default="~/.webex-bot"),
    Setting("metrics_port", "--metrics-port", "BOT_METRICS_PORT", Number(int, 1, 65535),
            "serve /healthz and Prometheus /metrics on this port (needs the metrics extra); never "
            "the tunnelled one", default="off"),
    Setting("metrics_host", "--metrics-host", "BOT_METRICS_HOST", Text(), "address the metrics port listens on"),
    Setting("incoming_key", None, "BOT_INCOMING_KEY", Text(),
            "the key other systems give @incoming routes (Authorization: Bearer, or ?key=)",
            default="made once and kept in BOT_STATE_DIR"),
    Setting("incoming_secret", None, "BOT_INCOMING_SECRET", Text(),
            "the secret of GitHub webhooks to @incoming(auth='github') routes"),
    Setting("incoming_rate", None, "BOT_INCOMING_RATE", Number(int, 1),
            "requests a minute each @incoming route takes before it answers 429"),
    Setting("incoming_urls", "--incoming-urls", None, Switch(),
            "print the URL of each @incoming route, with its key, and exit"),
    Setting("greeting", "--greeting", "BOT_GREETING", Text(),
            "what the bot says in a space it is added to, when no @on('bot_added') handler speaks; empty: "
            "nothing", default="a line pointing at help", blank_is_value=True, metavar="TEXT"),
)
