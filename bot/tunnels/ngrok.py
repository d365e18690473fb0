"""``--tunnel ngrok``: an ngrok agent driven by pyngrok (the default; needs a free ngrok account)."""
from __future__ import annotations

import io
import logging
import os
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import Any, Optional

import requests

from ..errors import TunnelError
from ..network import Network, without_credentials
from .base import WEBSOCKET_HINT, end_leftover

log = logging.getLogger(__name__)
NGROK_SERVICE = "https://connect.ngrok-agent.com:443/"  # where the agent (and the SDK) open their session
DOWNLOAD_TIMEOUT = 60.0


def ngrok_mode(setting: str, *, agent_present: bool, proxied: bool) -> str:
    """``agent`` or ``sdk`` for BOT_NGROK_MODE. ``auto`` prefers what needs no download: an agent already
    on disk, else the SDK when it is installed, unless a proxy is needed, which only the agent can use."""
    from .ngrok_sdk import sdk_installed

    if setting == "sdk" and not sdk_installed():
        raise TunnelError("BOT_NGROK_MODE=sdk needs the ngrok agent SDK: pip install 'webex-laptop-bot[ngrok-sdk]'",
                          permanent=True)
    if setting != "auto":
        if setting == "sdk" and proxied:
            log.warning("ngrok: the SDK cannot use a proxy, and this network needs one; BOT_NGROK_MODE=agent can")
        return setting
    return "sdk" if sdk_installed() and not agent_present and not proxied else "agent"


def agent_api_problem() -> Optional[TunnelError]:
    """Why pyngrok could not reach the agent's API on this machine: it calls it with urllib, which reads
    the proxy variables itself and exempts only what NO_PROXY names, so a proxy set for the outside
    would be asked for 127.0.0.1 too (and fail). None when urllib goes there directly."""
    import urllib.request

    proxy = urllib.request.getproxies().get("http")
    if not proxy or urllib.request.proxy_bypass("127.0.0.1"):
        return None
    return TunnelError(f"HTTP_PROXY is set ({without_credentials(proxy)}) and NO_PROXY does not name 127.0.0.1, "
                       "so the calls to the ngrok agent on this machine would go to the proxy: add "
                       f"127.0.0.1,localhost to NO_PROXY, {WEBSOCKET_HINT}", permanent=True)


def download_agent(path: str, network: Network) -> None:
    """Put the ngrok agent at ``path``, fetched from ngrok's download server through the network's proxy
    and trust (pyngrok's own download reads only the variables, and only certifi's authorities)."""
    from pyngrok import installer

    url = installer.get_ngrok_cdn_url("3")
    log.info("ngrok: downloading the agent from %s", url.split("/")[2])
    try:
        with network.session() as session:
            response = session.get(url, timeout=DOWNLOAD_TIMEOUT)
            response.raise_for_status()
    except requests.RequestException as exc:
        problem = network.problem(url, exc)
        reason = str(problem) if problem is not None else f"cannot reach {url.split('/')[2]}: {type(exc).__name__}"
        raise TunnelError(f"the ngrok agent is not installed and cannot be downloaded ({reason}): install ngrok "
                          f"and set BOT_NGROK_PATH to it, {WEBSOCKET_HINT}", permanent=True) from None
    name = "ngrok.exe" if os.name == "nt" else "ngrok"
    archive = io.BytesIO(response.content)
    if url.endswith(".zip"):
        program = zipfile.ZipFile(archive).read(name)
    else:
        with tarfile.open(fileobj=archive, mode="r:gz") as tar:
            member = tar.extractfile(name)
            program = member.read() if member is not None else b""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o700), "wb") as out:
        out.write(program)


def explain_ngrok_failure(text: str) -> TunnelError:
    """Turn what pyngrok or the agent said into a one-line error that says what to do."""
    if "ERR_NGROK_4018" in text:
        return TunnelError("ngrok needs an authtoken (ERR_NGROK_4018): sign up at https://dashboard.ngrok.com, "
                           f"then set NGROK_AUTHTOKEN; {WEBSOCKET_HINT}", permanent=True)
    if "ERR_NGROK_105" in text or "ERR_NGROK_107" in text:
        return TunnelError("ngrok refused the authtoken (ERR_NGROK_105): copy it again from "
                           f"https://dashboard.ngrok.com/get-started/your-authtoken into NGROK_AUTHTOKEN; "
                           f"{WEBSOCKET_HINT}", permanent=True)
    if "ERR_NGROK_108" in text:
        return TunnelError("another ngrok agent already runs with this account (ERR_NGROK_108; the free plan "
                           f"allows one): stop it (e.g. `pkill ngrok`) and start again, {WEBSOCKET_HINT}")
    first_line = text.strip().splitlines()[0] if text.strip() else "no reason given"
    return TunnelError(f"ngrok did not start: {first_line}")


class NgrokTunnel:
    """An ngrok agent driven by pyngrok, with a pid file so a crashed run's agent is ended next time."""

    name = "ngrok"
    restartable = True

    def __init__(self, *, state_dir: Path, instance: str, ngrok_path: Optional[str] = None,
                 authtoken: Optional[str] = None, domain: Optional[str] = None,
                 config_path: Optional[str] = None, startup_timeout: int = 15,
                 network: Optional[Network] = None) -> None:
        from pyngrok.conf import PyngrokConfig

        options: dict[str, object] = {}
        if ngrok_path:
            options["ngrok_path"] = ngrok_path
        if config_path:
            options["config_path"] = config_path
        # The monitor thread keeps reading the agent's log, so its pipe never fills up and stalls it.
        self.config = PyngrokConfig(monitor_thread=True, startup_timeout=startup_timeout, config_version="3",
                                    **options)
        # pyngrok would put the authtoken on the agent's command line, where `ps` shows it to every
        # user of the machine; the agent reads it from a private copy of its config file instead.
        self.config.auth_token = None
        self.authtoken = authtoken or os.environ.get("NGROK_AUTHTOKEN")
        self.user_config = config_path
        self.domain = domain
        self.network = network or Network()
        self.pid_file = state_dir / f"ngrok-{instance}.pid"
        self.agent_config = state_dir / f"ngrok-{instance}.yml"
        self.public_url: Optional[str] = None

    def start(self, port: int) -> str:
        problem = agent_api_problem()
        if problem is not None:
            raise problem
        self._end_leftover_agent()
        if not os.path.exists(self.config.ngrok_path):
            download_agent(self.config.ngrok_path, self.network)
        proxy = self.network.proxy_for(NGROK_SERVICE)
        if self.authtoken or proxy:
            self.config.config_path = self._write_agent_config(self.authtoken, proxy)
        outcome: list[object] = []
        worker = threading.Thread(target=lambda: outcome.append(self._connect(port)), daemon=True,
                                  name="ngrok-start")
        worker.start()
        # pyngrok checks its start-up timeout only between the agent's log lines: a silent agent
        # would block it for ever, so the wait is bounded here.
        worker.join(self.config.startup_timeout + 5)
        if not outcome:
            self._kill()
            raise TunnelError(f"the ngrok agent did not start within {self.config.startup_timeout}s")
        if isinstance(outcome[0], TunnelError):
            raise outcome[0]
        from pyngrok import ngrok

        process = ngrok.get_ngrok_process(self.config)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(str(process.proc.pid))
        self.public_url = str(outcome[0])
        return self.public_url

    def _write_agent_config(self, authtoken: Optional[str], proxy: Optional[str]) -> str:
        """The user's agent config (``BOT_NGROK_CONFIG``, else ngrok's default file) plus the authtoken and
        the proxy (``proxy_url``; it may hold credentials), written through pyngrok into a file only this
        user can read; returns its path."""
        from pyngrok import conf, installer

        base = self.user_config or conf.DEFAULT_NGROK_CONFIG_PATH
        data: dict[str, Any] = dict(installer.get_ngrok_config(base, use_cache=False)) if os.path.isfile(base) else {}
        added = {key: value for key, value in (("authtoken", authtoken), ("proxy_url", proxy)) if value}
        if str(data.get("version", "3")) == "2":
            data.update(added)
        else:
            data["agent"] = {**(data.get("agent") or {}), **added}
        self.agent_config.parent.mkdir(parents=True, exist_ok=True)
        self.agent_config.unlink(missing_ok=True)
        os.close(os.open(self.agent_config, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        installer.install_default_config(str(self.agent_config), data, config_version=self.config.config_version)
        return str(self.agent_config)

    def _connect(self, port: int) -> object:
        """The tunnel's public URL, or the TunnelError that explains why there is none."""
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError, PyngrokNgrokError

        options = {"url": f"https://{self.domain}"} if self.domain else {}
        try:
            return ngrok.connect(str(port), "http", pyngrok_config=self.config, **options).public_url
        except PyngrokNgrokError as exc:
            self._kill()
            return explain_ngrok_failure(" ".join([str(exc), str(getattr(exc, "ngrok_error_code", "") or "")]))
        except (PyngrokError, OSError) as exc:
            self._kill()
            return TunnelError(f"ngrok did not start: {exc}")

    def alive(self) -> bool:
        from pyngrok import process

        return process.is_process_running(self.config.ngrok_path)

    def stop(self) -> None:
        self._kill()
        self.pid_file.unlink(missing_ok=True)
        self.agent_config.unlink(missing_ok=True)

    def _kill(self) -> None:
        from pyngrok import ngrok

        try:
            ngrok.kill(self.config)
        except Exception as exc:  # stopping goes on whatever state pyngrok is in
            log.debug("ngrok.kill: %s", exc)

    def _end_leftover_agent(self) -> None:
        """End the agent a crashed earlier run of this instance left behind (it would block ours)."""
        end_leftover(self.pid_file, "ngrok", "the ngrok agent")

