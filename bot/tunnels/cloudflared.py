"""``--tunnel cloudflared``: a Cloudflare quick tunnel, ``cloudflared tunnel --url``; no account needed.

cloudflared runs as a child process with its output read into a DEBUG logger; its metrics server says
when the tunnel is connected (``/ready``) and under which host name (``/quicktunnel``). The URL is a new
random ``https://<words>.trycloudflare.com`` on every start, so the supervisor re-points the webhooks
after each restart.
"""
from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Optional

import requests

from ..errors import TunnelError
from ..network import Network
from .base import WEBSOCKET_HINT, end_leftover

log = logging.getLogger(__name__)
CLOUDFLARED_INSTALL = ("install it (`brew install cloudflared`, `winget install Cloudflare.cloudflared`, or "
                       "https://github.com/cloudflare/cloudflared/releases)")
# "2024-08-05T13:04:31Z ERR message key=value": cloudflared's log lines; its fatal error comes bare.
QUICK_TUNNEL_SERVICE = "https://api.trycloudflare.com/"  # where cloudflared asks for a quick tunnel
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+\s+(?P<level>[A-Z]{3})\s+(?P<text>.*)$")


def first_meaningful_line(lines: list[str]) -> str:
    """What cloudflared said went wrong: its first error (an ERR or FTL line, or a line with no log
    prefix, which is how it prints the error it exits with), else its last line."""
    for line in lines:
        match = _LOG_LINE.match(line)
        if match is None and line.strip() and not line.lstrip().startswith(("+", "|")):
            return line.strip()
        if match is not None and match["level"] in ("ERR", "FTL"):
            return match["text"].strip()
    last = next((line for line in reversed(lines) if line.strip()), "")
    match = _LOG_LINE.match(last)
    return (match["text"] if match else last).strip()


def explain_cloudflared_failure(lines: list[str], exit_code: Optional[int]) -> TunnelError:
    """A one-line error quoting cloudflared, with what to do for the failures people meet."""
    said = first_meaningful_line(lines) or f"it exited with code {exit_code} and said nothing"
    text = " ".join(lines)
    if "429 Too Many Requests" in text or "error code: 1015" in text:
        hint = ("Cloudflare limits how many quick tunnels one address starts: wait a few minutes, use "
                f"--tunnel ngrok, {WEBSOCKET_HINT}")
    elif "api.trycloudflare.com" in text:
        hint = f"it cannot reach api.trycloudflare.com (offline, or the network blocks it), {WEBSOCKET_HINT}"
    else:
        hint = f"try again, {WEBSOCKET_HINT}"
    return TunnelError(f"cloudflared did not start ({said}): {hint}")


def quick_tunnel_url(hostname: str) -> str:
    """The public URL of a quick tunnel's host name. Real quick tunnels are always https
    (x.trycloudflare.com); only the local stand-in the tests run, which names itself 127.0.0.1:<port>,
    serves plain http, as there is no certificate for it."""
    scheme = "http" if hostname.startswith(("127.", "localhost")) else "https"
    return f"{scheme}://{hostname}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CloudflaredTunnel:
    """A Cloudflare quick tunnel (``cloudflared tunnel --url``): no account, a new random URL on every
    start, found through cloudflared's metrics server. A pid file lets the next run end the process a
    crashed run left behind."""

    name = "cloudflared"
    restartable = True
    output_log = logging.getLogger(f"{__name__}.output")  # what cloudflared prints, at DEBUG only

    def __init__(self, *, state_dir: Path, instance: str, cloudflared_path: Optional[str] = None,
                 startup_timeout: float = 30.0, grace: float = 3.0, network: Optional[Network] = None) -> None:
        self.program = cloudflared_path
        self.network = network or Network()
        self.startup_timeout = startup_timeout
        self.grace = grace
        self.pid_file = state_dir / f"cloudflared-{instance}.pid"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.public_url: Optional[str] = None
        self._reader: Optional[threading.Thread] = None

    def _binary(self) -> str:
        found = shutil.which(self.program or "cloudflared")
        if found:
            return found
        if self.program:
            raise TunnelError(f"BOT_CLOUDFLARED_PATH names {self.program}, which is not a program that can run: "
                              f"{CLOUDFLARED_INSTALL} and set BOT_CLOUDFLARED_PATH to it, {WEBSOCKET_HINT}",
                              permanent=True)
        raise TunnelError(f"cloudflared is not installed (not found on PATH): {CLOUDFLARED_INSTALL}, or set "
                          f"BOT_CLOUDFLARED_PATH to it, {WEBSOCKET_HINT}", permanent=True)

    def start(self, port: int) -> str:
        # Matched on the way this class runs it, not on the name alone: a pid file that outlived a reboot
        # may name someone's own cloudflared service.
        end_leftover(self.pid_file, "cloudflared tunnel --url http://127.0.0.1:", "the cloudflared process")
        metrics = f"127.0.0.1:{_free_port()}"
        command = [self._binary(), "tunnel", "--url", f"http://127.0.0.1:{port}", "--metrics", metrics,
                   "--no-autoupdate"]
        if self.network.proxy_for(QUICK_TUNNEL_SERVICE):
            command += ["--protocol", "http2"]  # QUIC is UDP, which no HTTP proxy carries
        lines: list[str] = []
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT,
                                       env=self.network.child_environment(QUICK_TUNNEL_SERVICE))
        except OSError as exc:  # found but cannot run: another machine's download, a broken file
            raise TunnelError(f"cannot run {command[0]} ({exc.strerror or exc}): it may be built for another kind "
                              f"of machine; {CLOUDFLARED_INSTALL}, {WEBSOCKET_HINT}", permanent=True) from None
        self.process = process
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(str(process.pid))
        assert process.stdout is not None
        self._reader = threading.Thread(target=self._drain, args=(process.stdout, lines), daemon=True,
                                        name="cloudflared-output")
        self._reader.start()
        try:
            hostname = self._wait_for_hostname(process, metrics, lines)
        except TunnelError:
            self.stop()
            raise
        self.public_url = quick_tunnel_url(hostname)
        return self.public_url

    def _wait_for_hostname(self, process: subprocess.Popen[bytes], metrics: str, lines: list[str]) -> str:
        """Poll the metrics server until a connection is up (/ready) and the host name is known."""
        deadline = time.monotonic() + self.startup_timeout
        with requests.Session() as session:
            session.trust_env = False  # a proxy from the environment must not carry requests to 127.0.0.1
            while True:
                if process.poll() is not None:
                    if self._reader is not None:
                        self._reader.join(2)  # its last words, which say why
                    raise explain_cloudflared_failure(lines, process.returncode)
                hostname = self._hostname(session, metrics)
                if hostname:
                    return hostname
                if time.monotonic() >= deadline:
                    said = first_meaningful_line(lines)
                    raise TunnelError(f"cloudflared did not connect within {self.startup_timeout:g}s"
                                      + (f" ({said})" if said else "") + ": the network may block its way to "
                                      f"Cloudflare (outbound port 7844), {WEBSOCKET_HINT}")
                time.sleep(0.1)

    @staticmethod
    def _hostname(session: requests.Session, metrics: str) -> Optional[str]:
        try:
            if session.get(f"http://{metrics}/ready", timeout=1).status_code != 200:
                return None
            hostname = session.get(f"http://{metrics}/quicktunnel", timeout=1).json().get("hostname")
        except (requests.RequestException, ValueError, AttributeError):
            return None
        return str(hostname) if hostname else None

    def _drain(self, stream: IO[bytes], lines: list[str]) -> None:
        """Read cloudflared's output as it comes, so a full pipe never stalls it; keep the first lines
        for an error message and log each at DEBUG (never on the terminal as such)."""
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                if line:
                    if len(lines) < 200:
                        lines.append(line)
                    self.output_log.debug("%s", line)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the grace: cloudflared waits for requests in flight at a SIGTERM."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(self.grace)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            if self._reader is not None:
                self._reader.join(1)
        self.pid_file.unlink(missing_ok=True)
