"""``--tunnel ngrok``: an ngrok agent driven by pyngrok (the default; needs a free ngrok account)."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional

from ..errors import TunnelError
from .base import WEBSOCKET_HINT, end_leftover

log = logging.getLogger(__name__)


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
                 config_path: Optional[str] = None, startup_timeout: int = 15) -> None:
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
        self.pid_file = state_dir / f"ngrok-{instance}.pid"
        self.agent_config = state_dir / f"ngrok-{instance}.yml"
        self.public_url: Optional[str] = None

    def start(self, port: int) -> str:
        self._end_leftover_agent()
        if self.authtoken:
            self.config.config_path = self._write_agent_config(self.authtoken)
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

    def _write_agent_config(self, authtoken: str) -> str:
        """The user's agent config (``BOT_NGROK_CONFIG``, else ngrok's default file) plus the authtoken,
        written through pyngrok into a file only this user can read; returns its path."""
        from pyngrok import conf, installer

        base = self.user_config or conf.DEFAULT_NGROK_CONFIG_PATH
        data: dict[str, Any] = dict(installer.get_ngrok_config(base, use_cache=False)) if os.path.isfile(base) else {}
        if str(data.get("version", "3")) == "2":
            data["authtoken"] = authtoken
        else:
            data["agent"] = {**(data.get("agent") or {}), "authtoken": authtoken}
        self.agent_config.parent.mkdir(parents=True, exist_ok=True)
        self.agent_config.unlink(missing_ok=True)
        os.close(os.open(self.agent_config, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        installer.install_default_config(str(self.agent_config), data, config_version=self.config.config_version)
        return str(self.agent_config)

    def _connect(self, port: int) -> object:
        """The tunnel's public URL, or the TunnelError that explains why there is none."""
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError, PyngrokNgrokError, PyngrokNgrokInstallError

        options = {"url": f"https://{self.domain}"} if self.domain else {}
        try:
            return ngrok.connect(str(port), "http", pyngrok_config=self.config, **options).public_url
        except PyngrokNgrokInstallError:
            return TunnelError("the ngrok agent is not installed and cannot be downloaded (offline?): install "
                               f"ngrok and set BOT_NGROK_PATH to it, {WEBSOCKET_HINT}", permanent=True)
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

