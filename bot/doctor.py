"""``run_bot.py doctor``: check, one line each, what the bot needs here, without changing anything at Webex.

Run with the same flags and environment as the bot. Each check says ``ok``, ``FAIL``, ``warn`` or
``skip``, what it looked at and, when something is wrong, what to do. The websocket check registers a
device of its own (``<instance>-doctor``, never the bot's) for the handshake and deletes it at once;
no webhook is made. Exit 0 when the configured transport can run, 1 otherwise.
"""
from __future__ import annotations

import json
import os
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Optional
from urllib.parse import urlsplit

import requests

from .config import Config, load_config
from .errors import BotError
from .logs import redact, setup_logging
from .network import Network, without_credentials
from .retry import RetryPolicy

TIMEOUT = 5.0  # seconds any one network step of a check may take
CLOCK_WARN, CLOCK_FAIL = 30.0, 300.0  # seconds of difference from Webex's clock
COMMON, WEBHOOK, WEBSOCKET = "common", "webhook", "websocket"  # which transport needs a check


@dataclass(frozen=True)
class Check:
    """One line of the report; ``needed_by`` says which transport cannot run when it fails."""

    verdict: str  # ok, FAIL, warn or skip
    what: str
    detail: str
    needed_by: str = COMMON

    def line(self) -> str:
        return f"{self.verdict:<4}  {self.what}: {self.detail}"


def _reachable(host: str, port: int) -> Optional[str]:
    """None when a TCP connection to ``host:port`` opens, else why not."""
    try:
        socket.create_connection((host, port), timeout=TIMEOUT).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


class Doctor:
    """The checks, in the order they build on each other; each records what it learnt for the next."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.network = Network.from_config(config)
        self.checks: list[Check] = []
        self.api_answer: Optional[requests.Response] = None

    def add(self, verdict: str, what: str, detail: str, needed_by: str = COMMON) -> Check:
        check = Check(verdict, what, detail, needed_by)
        self.checks.append(check)
        return check

    def run(self, what: str, check: Callable[[], Check], needed_by: str = COMMON) -> Check:
        """One check; an error is its FAIL line, never a traceback."""
        try:
            return check()
        except BotError as exc:  # the bot's own modules' errors already say what to do
            return self.add("FAIL", what, str(exc), needed_by)
        except Exception as exc:
            return self.add("FAIL", what, f"unexpected {type(exc).__name__}: {exc}", needed_by)

    def failed(self, needed_by: str) -> bool:
        return any(c.verdict == "FAIL" and c.needed_by == needed_by for c in self.checks)

    # -- reaching Webex --------------------------------------------------------------------------
    def proxy(self) -> Check:
        """The proxy the REST API and U2C are reached through, and whether it takes connections (the
        tunnel's is named in its own line)."""
        self.network.prepare()  # a PAC file or CA bundle that cannot be read is this line's FAIL
        urls = {"REST": self.config.api_url, "U2C": self.config.u2c_url}
        chosen: dict[tuple[Optional[str], str], list[str]] = {}
        for name, url in urls.items():
            chosen.setdefault((self.network.proxy_for(url), self.network.source(url)), []).append(name)
        verdict, parts = "ok", []
        for (proxy, source), names in chosen.items():
            if proxy is None:
                parts.append(f"none for {', '.join(names)} ({source})")
                continue
            shown = without_credentials(proxy)
            address = urlsplit(proxy)
            refused = _reachable(address.hostname or "", address.port or (443 if address.scheme == "https" else 80))
            if refused:
                verdict = "FAIL"
                parts.append(f"{shown} for {', '.join(names)} (from {source}) takes no connection ({refused}): fix "
                             f"{source}, or add the hosts to NO_PROXY")
            else:
                parts.append(f"{shown} for {', '.join(names)} (from {source}) takes connections")
        return self.add(verdict, "proxy", "; ".join(parts))

    def rest_api(self) -> Check:
        url = self.config.api_url
        started = time.monotonic()
        try:
            with self.network.session() as session:
                self.api_answer = session.get(f"{url}people/me", timeout=TIMEOUT,
                                              headers={"Authorization": f"Bearer {self.config.token}"})
        except requests.RequestException as exc:
            problem = self.network.problem(url, exc)
            if problem is not None:
                return self.add("FAIL", "REST API", str(problem))
            return self.add("FAIL", "REST API", f"cannot reach {url} ({type(exc).__name__}): check the network, "
                                                "the proxy (HTTPS_PROXY, BOT_PROXY) and WEBEX_API_URL / --api-url")
        tls = "TLS verified, " if url.startswith("https://") else ""
        verdict = "warn" if self.api_answer.status_code >= 500 else "ok"
        return self.add(verdict, "REST API", f"{url} answered {self.api_answer.status_code}, {tls}"
                                          f"in {(time.monotonic() - started) * 1000:.0f} ms")

    def token(self) -> Check:
        if self.api_answer is None:
            return self.add("skip", "token", "the REST API was not reached")
        from .webex import WebexClient

        once = RetryPolicy(attempts=1, rate_limit_attempts=1)
        me = WebexClient(self.config.token, self.config.api_url, retry=once, timeout=int(TIMEOUT),
                         network=self.network).me()
        kind = str(getattr(me, "type", "") or "")
        if kind == "bot":
            email = f" ({me.emails[0]})" if me.emails else ""
            return self.add("ok", "token", f"a bot's: {me.displayName}{email}")
        return self.add("warn", "token", f"a {kind or 'person'}'s, {me.displayName}: the bot answers as that person; "
                                         "set WEBEX_BOT_TOKEN to a bot's token")

    def clock(self) -> Check:
        date = self.api_answer.headers.get("Date") if self.api_answer is not None else None
        if not date:
            return self.add("skip", "clock", "no Date header from Webex to compare with")
        skew = (datetime.now(timezone.utc) - parsedate_to_datetime(date)).total_seconds()
        detail = f"this machine is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Webex"
        if abs(skew) > CLOCK_FAIL:
            return self.add("FAIL", "clock", f"{detail}: turn on time sync (NTP); signatures and TLS need a right "
                                             "clock")
        if abs(skew) > CLOCK_WARN:
            return self.add("warn", "clock", f"{detail}: turn on time sync (NTP)")
        return self.add("ok", "clock", detail)

    # -- the device websocket --------------------------------------------------------------------
    def catalog(self) -> Check:
        from .wdm import DeviceRegistry

        registry = DeviceRegistry(self.config.token, self.config.u2c_url, self.config.instance, timeout=TIMEOUT,
                                  network=self.network)
        wdm = registry.wdm_url()
        registry.ours()  # a DeviceError unless WDM lists the bot's devices
        return self.add("ok", "U2C and WDM", f"{self.config.u2c_url} names WDM {wdm}, which answers", WEBSOCKET)

    def handshake(self) -> Check:
        """Through a device of the doctor's own, registered for this and deleted at once."""
        from websockets.exceptions import InvalidHandshake, InvalidProxyStatus

        from .wdm import DeviceRegistry

        registry = DeviceRegistry(self.config.token, self.config.u2c_url, f"{self.config.instance}-doctor",
                                  timeout=TIMEOUT, network=self.network)
        device = registry.register()
        url = device["webSocketUrl"]
        try:
            return self._mercury(url)
        except ssl.SSLCertVerificationError as exc:
            return self.add("FAIL", "websocket", str(self.network.untrusted(url, exc.verify_message)), WEBSOCKET)
        except InvalidProxyStatus as exc:
            refusal = self.network.refused(url, exc.response.status_code)
            return self.add("FAIL", "websocket", f"{refusal}; webhooks do not need it", WEBSOCKET)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return self.add("FAIL", "websocket", f"cannot connect to Mercury ({type(exc).__name__}): the network "
                                                 "may block websockets; use --transport webhook", WEBSOCKET)
        finally:
            registry.delete(device)

    def _mercury(self, websocket_url: str) -> Check:
        """Connect as the transport does and wait for Webex to say the connection is ready."""
        from websockets.sync.client import connect

        from .websocket import QUERY, READY_EVENTS

        url = websocket_url + ("&" if "?" in websocket_url else "?") + QUERY
        with connect(url, open_timeout=TIMEOUT, close_timeout=1,
                     additional_headers={"Authorization": f"Bearer {self.config.token}"},
                     **self.network.websocket_options(url)) as ws:
            ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "authorization",
                                "data": {"token": f"Bearer {self.config.token}"}}))
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
                if (frame.get("data") or {}).get("eventType") in READY_EVENTS:
                    return self.add("ok", "websocket", f"Mercury at {urlsplit(url).netloc} said ready", WEBSOCKET)
        return self.add("FAIL", "websocket", f"Mercury did not say ready within {TIMEOUT:g}s: the network may "
                                             "block websockets; use --transport webhook", WEBSOCKET)

    def websocket_checks(self) -> None:
        if self.config.transport == "webhook":
            self.add("skip", "U2C, WDM and websocket", "--transport webhook does not use them", WEBSOCKET)
            return
        if self.failed(COMMON):
            self.add("skip", "U2C, WDM and websocket", "the checks above must pass first", WEBSOCKET)
            return
        if self.run("U2C and WDM", self.catalog, WEBSOCKET).verdict == "ok":
            self.run("websocket", self.handshake, WEBSOCKET)

    # -- webhooks --------------------------------------------------------------------------------
    def ngrok(self) -> Check:
        from pyngrok import conf, installer

        from .tunnels import NGROK_SERVICE, TunnelError, agent_api_problem, explain_ngrok_failure, ngrok_mode

        program = self.config.ngrok_path or conf.DEFAULT_NGROK_PATH
        if self.config.ngrok_path and not os.access(program, os.X_OK):
            return self.add("FAIL", "ngrok", f"BOT_NGROK_PATH names {program}, which is not a program that can run: "
                                             "install ngrok and set BOT_NGROK_PATH to it", WEBHOOK)
        proxy = self.network.proxy_for(NGROK_SERVICE)
        try:
            mode = ngrok_mode(self.config.ngrok_mode, agent_present=os.access(program, os.X_OK),
                              proxied=proxy is not None)
        except TunnelError as exc:
            return self.add("FAIL", "ngrok", str(exc), WEBHOOK)
        agent_config = self.config.ngrok_config or conf.DEFAULT_NGROK_CONFIG_PATH
        saved = installer.get_ngrok_config(agent_config, use_cache=False) if os.path.isfile(agent_config) else {}
        saved_token = mode == "agent" and (saved.get("authtoken") or (saved.get("agent") or {}).get("authtoken"))
        if not (self.config.ngrok_authtoken or saved_token):
            return self.add("FAIL", "ngrok", str(explain_ngrok_failure("ERR_NGROK_4018")), WEBHOOK)
        through = f", its session through {without_credentials(proxy)}" if proxy else ""
        problem = agent_api_problem() if mode == "agent" else None
        if problem is not None:
            return self.add("FAIL", "ngrok", str(problem), WEBHOOK)
        if mode == "sdk":
            return self.add("ok", "ngrok", "the agent SDK, in this process (nothing to download), authtoken set",
                            WEBHOOK)
        if os.access(program, os.X_OK):
            return self.add("ok", "ngrok", f"agent at {program}, authtoken set{through}", WEBHOOK)
        url = installer.get_ngrok_cdn_url("3")
        download = urlsplit(url).hostname or ""
        try:
            with self.network.session() as session:
                session.head(url, timeout=TIMEOUT)
        except requests.RequestException as exc:
            problem = self.network.problem(url, exc)
            return self.add("FAIL", "ngrok", f"no agent at {program} and {download} cannot be reached to download it "
                                             f"({problem or type(exc).__name__}): install ngrok and set "
                                             "BOT_NGROK_PATH to it", WEBHOOK)
        return self.add("warn", "ngrok", f"no agent at {program} yet: the bot downloads it from {download} at the "
                                         f"first start; authtoken set{through}", WEBHOOK)

    def cloudflared(self) -> Check:
        from .tunnels import CloudflaredTunnel, TunnelError

        tunnel = CloudflaredTunnel(state_dir=self.config.state_dir, instance=self.config.instance,
                                   cloudflared_path=self.config.cloudflared_path, network=self.network)
        try:
            program = tunnel._binary()
        except TunnelError as exc:
            return self.add("FAIL", "cloudflared", str(exc), WEBHOOK)
        return self.add("ok", "cloudflared", f"found at {program}", WEBHOOK)

    def port(self) -> Check:
        host, port = self.config.host, self.config.port
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            if os.name == "posix":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                return self.add("FAIL", "receiver port", f"cannot listen on {host}:{port} ({exc.strerror or exc}): "
                                                         "choose another --port (BOT_PORT) or --host", WEBHOOK)
        return self.add("ok", "receiver port", f"{host}:{port} is free" if port else f"any free port on {host}",
                        WEBHOOK)

    def webhook_checks(self) -> None:
        if self.config.transport == "websocket":
            self.add("skip", "tunnel and receiver port", "--transport websocket does not use them", WEBHOOK)
            return
        tunnel = self.config.tunnel
        if tunnel == "ngrok":
            self.run("ngrok", self.ngrok, WEBHOOK)
        elif tunnel == "cloudflared":
            self.run("cloudflared", self.cloudflared, WEBHOOK)
        else:
            self.add("ok", "tunnel", f"none: webhooks go to --public-url {self.config.public_url}", WEBHOOK)
        self.run("receiver port", self.port, WEBHOOK)

    # -- the verdict -----------------------------------------------------------------------------
    def auto(self) -> Check:
        """Which transport ``auto`` would pick here, the runner's order: webhooks when the tunnel can
        start, else the device websocket; a transport that --transport rules out was not checked."""
        if self.failed(COMMON):
            return self.add("FAIL", "auto would use", "nothing: fix the failures above first")
        if self.config.transport != "websocket" and not self.failed(WEBHOOK):
            return self.add("ok", "auto would use", f"webhooks through --tunnel {self.config.tunnel} "
                                                    "(its checks passed)")
        if self.config.transport != "webhook" and not self.failed(WEBSOCKET):
            why = "no tunnel can start here" if self.config.transport == "auto" else "webhooks were not checked"
            return self.add("ok", "auto would use", f"the device websocket ({why})")
        unchecked = {"webhook": "; the websocket was not checked", "websocket": "; webhooks were not checked"}
        return self.add("FAIL", "auto would use", "nothing: fix the failures above"
                        + unchecked.get(self.config.transport, ""))

    def can_run(self) -> bool:
        """No FAIL among the checks the configured transport needs."""
        if self.failed(COMMON):
            return False
        transport = self.config.transport
        if transport == "auto":
            return not self.failed(WEBHOOK) or not self.failed(WEBSOCKET)
        return not self.failed(WEBHOOK if transport == "webhook" else WEBSOCKET)

    def examine(self) -> bool:
        """Every check, each line printed as soon as it is known; whether the bot can run."""
        shown = 0
        steps: list[Callable[[], object]] = [
            lambda: self.run("proxy", self.proxy), lambda: self.run("REST API", self.rest_api),
            lambda: self.run("token", self.token), lambda: self.run("clock", self.clock),
            self.websocket_checks, self.webhook_checks, lambda: self.run("auto would use", self.auto)]
        for step in steps:
            step()
            for check in self.checks[shown:]:
                print(redact(check.line(), self.config.secrets()), flush=True)
            shown = len(self.checks)
        return self.can_run()


def main(argv: Optional[list[str]] = None) -> int:
    """``doctor`` and the bot's own flags; settings it cannot read are one FAIL line."""
    try:
        config = load_config(argv)
    except BotError as exc:
        print(f"FAIL  settings: {exc}")
        return 1
    setup_logging("ERROR", config.secrets())
    healthy = Doctor(config).examine()
    print("the bot can run here" if healthy else "the bot cannot run here: fix the FAIL lines above")
    return 0 if healthy else 1
