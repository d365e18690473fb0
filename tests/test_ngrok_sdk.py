"""The in-process ngrok tunnel (the agent SDK, ``ngrok`` on PyPI), real SDK, up to ngrok's service.

This machine cannot reach ngrok's service, so the tests point the real SDK at what a laptop meets instead:
no authtoken, no network, a closed port, a server that accepts and then says nothing, one that hangs up,
and a TLS server (trusted through a test CA) that completes the handshake and then talks nonsense or
hangs up. Each must end, within the tunnel's own bound, as a one-line TunnelError that never shows the
authtoken, and leave no thread of the tunnel's behind.
"""
from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

from bot.errors import TunnelError
from bot.tunnels.base import WEBSOCKET_HINT
from bot.tunnels.ngrok_sdk import GRACE, NgrokSdkTunnel, explain_sdk_failure, sdk_installed
from support import REPO, free_port, unavailable, until

TOKEN = "2abcSECRETtok3nXYZ_9876543210"  # shaped like an authtoken; must never be shown
BOUND = 1.0  # startup_timeout of the tests that hang


@pytest.fixture(autouse=True)
def sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    if not sdk_installed():
        unavailable("the ngrok agent SDK (pip install ngrok) is not installed")
    try:
        import ngrok  # noqa: F401
    except ImportError as exc:
        unavailable(f"the ngrok agent SDK cannot be imported: {exc}")
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)


def loop_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "ngrok-sdk" and thread.is_alive()]


def failure(tunnel: NgrokSdkTunnel, port: int = 8080) -> tuple[TunnelError, float]:
    """The TunnelError start() raises, and how long it took; the tunnel is left stopped, threads and all."""
    began = time.monotonic()
    with pytest.raises(TunnelError) as caught:
        tunnel.start(port)
    took = time.monotonic() - began
    assert not tunnel.alive() and not loop_threads()
    message = str(caught.value)
    assert TOKEN not in message and "\n" not in message
    return caught.value, took


class Server:
    """A loopback TCP server for the SDK to dial: ``mode`` is ``silent`` (accept, say nothing),
    ``close`` (hang up at once), ``tls-close`` or ``tls-nonsense`` (complete the TLS handshake, then hang
    up or send what is no ngrok protocol). It keeps every connection, to see when the SDK drops it."""

    def __init__(self, mode: str, context: Optional[ssl.SSLContext] = None) -> None:
        self.mode, self.context = mode, context
        self.listening = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listening.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.handshakes = 0
        self.thread = threading.Thread(target=self._serve, daemon=True, name="test-server")
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listening.accept()
            except OSError:
                return
            if self.mode == "close":
                connection.close()
                continue
            if self.context is not None:
                try:
                    connection = self.context.wrap_socket(connection, server_side=True)
                except (OSError, ssl.SSLError):
                    continue
                self.handshakes += 1
                if self.mode == "tls-close":
                    connection.close()
                    continue
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is no ngrok service\r\n")
            self.connections.append(connection)

    def dropped(self) -> bool:
        """Whether the client ended every connection this server kept (it reads their end of file)."""
        for connection in self.connections:
            connection.settimeout(0.05)
            try:
                while connection.recv(65536):
                    pass
            except (socket.timeout, ssl.SSLWantReadError):
                return False
            except OSError:
                pass
        return bool(self.connections)

    def close(self) -> None:
        try:
            self.listening.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        except OSError:
            pass
        self.listening.close()
        self.thread.join(5)
        for connection in self.connections:
            connection.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A test CA's server context for 127.0.0.1, and its certificate as a PEM file for ``root_cas``."""
    try:
        import trustme
    except ImportError:
        unavailable("trustme (a test CA) is not installed")
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    return context, pem


def test_the_module_imports_without_the_sdk_and_a_missing_authtoken_never_loads_it() -> None:
    program = ("import sys\nfrom bot.tunnels.ngrok_sdk import NgrokSdkTunnel\nassert 'ngrok' not in sys.modules\n"
               "try:\n    NgrokSdkTunnel(authtoken='').start(8080)\nexcept Exception as exc:\n    print(exc)\n"
               "print('ngrok' in sys.modules)")
    env = {"PATH": "", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=20, env=env,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    said, loaded = done.stdout.strip().splitlines()
    assert "ERR_NGROK_4018" in said and loaded == "False"


@pytest.mark.parametrize("authtoken", [None, ""])
def test_no_authtoken_is_the_permanent_4018_error_at_once(authtoken: Optional[str]) -> None:
    error, took = failure(NgrokSdkTunnel(authtoken=authtoken))
    assert error.permanent and "ERR_NGROK_4018" in str(error) and "NGROK_AUTHTOKEN" in str(error)
    assert took < 0.5


def test_the_authtoken_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGROK_AUTHTOKEN", TOKEN)
    error, _ = failure(NgrokSdkTunnel(authtoken=None, server_addr=f"127.0.0.1:{free_port()}"))
    assert "ERR_NGROK_4018" not in str(error)


def test_ngrok_service_unreachable_offline() -> None:
    try:
        socket.create_connection(("connect.ngrok-agent.com", 443), timeout=2).close()
    except OSError:
        pass
    else:
        pytest.skip("this machine can reach ngrok's service")
    error, took = failure(NgrokSdkTunnel(authtoken=TOKEN, startup_timeout=BOUND))
    assert not error.permanent and took < BOUND + GRACE
    assert str(error) == ("cannot reach ngrok's service (connect.ngrok-agent.com:443): check the network; the SDK "
                          "cannot use a proxy, so behind one use the ngrok agent (BOT_NGROK_MODE=agent), "
                          f"{WEBSOCKET_HINT}")


def test_a_closed_port_is_unreachable_too() -> None:
    address = f"127.0.0.1:{free_port()}"
    error, took = failure(NgrokSdkTunnel(authtoken=TOKEN, server_addr=address, startup_timeout=BOUND))
    assert not error.permanent and took < 1.0
    assert str(error).startswith(f"cannot reach ngrok's service ({address}): check the network")


def test_a_server_that_says_nothing_is_given_up_within_the_bound(servers: list[Server]) -> None:
    """The SDK itself would wait for the TLS handshake for ever (measured: over 40 s)."""
    server = Server("silent")
    servers.append(server)
    error, took = failure(NgrokSdkTunnel(authtoken=TOKEN, server_addr=server.address, startup_timeout=BOUND))
    assert not error.permanent and BOUND <= took < BOUND + GRACE
    assert str(error).startswith(f"ngrok's service ({server.address}) did not answer within 1s: check the network")
    assert "BOT_NGROK_MODE=agent" in str(error)
    until(server.dropped, "the SDK to drop the connection it gave up on", timeout=5)


def test_a_server_that_hangs_up_at_once(servers: list[Server]) -> None:
    server = Server("close")
    servers.append(server)
    error, took = failure(NgrokSdkTunnel(authtoken=TOKEN, server_addr=server.address, startup_timeout=BOUND))
    assert not error.permanent and took < 1.0
    assert str(error) == "ngrok did not start: failed to connect session: tls handshake error"


def test_a_tls_server_that_hangs_up_after_the_handshake(servers: list[Server], ca: tuple[ssl.SSLContext, Path]) -> None:
    context, pem = ca
    server = Server("tls-close", context)
    servers.append(server)
    tunnel = NgrokSdkTunnel(authtoken=TOKEN, server_addr=server.address, root_cas=str(pem), startup_timeout=BOUND)
    error, took = failure(tunnel)
    assert server.handshakes == 1 and took < 1.0
    assert str(error) == "ngrok did not start: failed to connect session: failed to deserialize rpc response"


def test_a_tls_server_that_talks_nonsense_is_given_up_within_the_bound(
        servers: list[Server], ca: tuple[ssl.SSLContext, Path]) -> None:
    context, pem = ca
    server = Server("tls-nonsense", context)
    servers.append(server)
    tunnel = NgrokSdkTunnel(authtoken=TOKEN, server_addr=server.address, root_cas=str(pem), startup_timeout=BOUND)
    error, took = failure(tunnel)
    assert server.handshakes == 1 and not error.permanent and BOUND <= took < BOUND + GRACE
    assert "did not answer within 1s" in str(error)
    until(server.dropped, "the SDK to drop the connection it gave up on", timeout=5)


def test_an_untrusted_certificate_fails_the_handshake(servers: list[Server], ca: tuple[ssl.SSLContext, Path]) -> None:
    context, _ = ca
    server = Server("tls-close", context)
    servers.append(server)
    error, _ = failure(NgrokSdkTunnel(authtoken=TOKEN, server_addr=server.address, startup_timeout=BOUND))
    assert server.handshakes == 0 and "tls handshake error" in str(error)


def test_stop_is_harmless_before_and_after_a_failed_start_and_twice() -> None:
    tunnel = NgrokSdkTunnel(authtoken=TOKEN, server_addr=f"127.0.0.1:{free_port()}", startup_timeout=BOUND)
    tunnel.stop()
    failure(tunnel)
    began = time.monotonic()
    tunnel.stop()
    tunnel.stop()
    assert time.monotonic() - began < 1.0 and not tunnel.alive() and not loop_threads()
    failure(tunnel)  # and it can be started again
    assert (NgrokSdkTunnel.name, NgrokSdkTunnel.restartable) == ("ngrok", True)


def test_the_authtoken_is_in_no_log_line(caplog: pytest.LogCaptureFixture, servers: list[Server]) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    server = Server("close")
    servers.append(server)
    for address in (server.address, f"127.0.0.1:{free_port()}"):
        failure(NgrokSdkTunnel(authtoken=TOKEN, server_addr=address, startup_timeout=BOUND))
    assert TOKEN not in caplog.text


def test_ngrok_error_codes_become_what_to_do_without_the_authtoken() -> None:
    """What the SDK raises when the service refuses (a ValueError of what failed, the service's words, the
    code): the service's words for a bad authtoken quote it back."""
    refused = ValueError("failed to connect session", "The authtoken you specified does not look like a proper "
                         f"ngrok authtoken.\nYour authtoken: {TOKEN}", "ERR_NGROK_105")
    error = explain_sdk_failure(refused, service="connect.ngrok-agent.com:443", secret=TOKEN)
    assert error.permanent and "ERR_NGROK_105" in str(error) and TOKEN not in str(error)
    other = explain_sdk_failure(ValueError("failed to start listener", f"no such domain for {TOKEN}\nmore",
                                           "ERR_NGROK_8012"), service="connect.ngrok-agent.com:443", secret=TOKEN)
    assert str(other) == "ngrok did not start: failed to start listener: no such domain for ******** (ERR_NGROK_8012)"
    assert not other.permanent


# -- which ngrok runs: BOT_NGROK_MODE ---------------------------------------------------------------

def test_auto_prefers_what_needs_no_download_and_the_agent_behind_a_proxy() -> None:
    from bot.tunnels import ngrok_mode

    assert ngrok_mode("auto", agent_present=False, proxied=False) == "sdk"  # nothing on disk: no download
    assert ngrok_mode("auto", agent_present=True, proxied=False) == "agent"  # the agent is there already
    assert ngrok_mode("auto", agent_present=False, proxied=True) == "agent"  # only the agent takes a proxy
    assert ngrok_mode("agent", agent_present=False, proxied=False) == "agent"
    assert ngrok_mode("sdk", agent_present=True, proxied=False) == "sdk"


def test_the_sdk_asked_for_but_not_installed_is_a_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from bot.tunnels import ngrok_mode

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ngrok" else real(name, *a))
    with pytest.raises(TunnelError, match=r"BOT_NGROK_MODE=sdk needs the ngrok agent SDK: pip install") as failed:
        ngrok_mode("sdk", agent_present=False, proxied=False)
    assert failed.value.permanent
    assert ngrok_mode("auto", agent_present=False, proxied=False) == "agent"


def test_the_bot_on_the_sdk_without_an_authtoken_falls_back_to_the_websocket(tmp_path: Path) -> None:
    """The runner's choice, end to end: the SDK (no agent anywhere), its 4018 failure, then the websocket."""
    from bot.emulator import Emulator
    from support import finish, output, program_env, run_bot

    with Emulator() as emulator:
        bot = emulator.control.create_bot("Sdk Bot")
        env = program_env(tmp_path, WEBEX_BOT_TOKEN=bot["token"], WEBEX_API_URL=emulator.api_url,
                          WEBEX_U2C_URL=emulator.u2c_url, BOT_STATE_DIR=str(tmp_path / "state"),
                          BOT_NGROK_MODE="sdk", BOT_PORT="0")
        process = run_bot(tmp_path, env)
        try:
            until(lambda: [d for d in emulator.control.devices() if d["connected"]], "the websocket", timeout=20)
        finally:
            process.terminate()
            finish(process, 15)
    _, stderr = output(tmp_path)
    assert "ngrok: the agent SDK, in this process (nothing to download)" in stderr
    assert "no tunnel (ngrok needs an authtoken (ERR_NGROK_4018)" in stderr and "Traceback" not in stderr
