"""The fake ngrok agent, driven by the real pyngrok exactly as the framework drives it.

Each test gets its own config file, authtoken, state dir and agent log; the ``pyngrok`` fixture kills
every agent its configs started and checks that none survives. pyngrok keys its running agents by
``ngrok_path``, so a test that needs two agents at once starts the second through a symlink.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyngrok import __version__ as pyngrok_version
from pyngrok import installer, ngrok
from pyngrok.conf import PyngrokConfig
from pyngrok.exception import (
    PyngrokNgrokError,
    PyngrokNgrokHTTPError,
    PyngrokNgrokInstallError,
)
from pyngrok.ngrok import NgrokTunnel
from proxy_kit import Squid
from proxy_kit import squids  # noqa: F401 (a fixture, used by name)
from support import free_port, logged

FAKE_NGROK = str(Path(__file__).parent / "fake_ngrok" / "ngrok")
MakeConfig = Callable[..., PyngrokConfig]
SERVICE_HOST = "connect.ngrok.test"


class Upstream(BaseHTTPRequestHandler):
    """The bot's side of the tunnel: records each request and answers 201 with the body echoed."""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``server.seen`` instead."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, self.headers, body))  # type: ignore[attr-defined]
        answer = b"echo:" + body
        self.send_response(201)
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_POST


@pytest.fixture
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def agent_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_stray_agents: None) -> Path:
    """The agent inherits this environment: a private state dir and log in the test's folder (which is
    how ``no_stray_agents`` finds an agent left running), and no stray token or hook."""
    for name in ("NGROK_AUTHTOKEN", "FAKE_NGROK_FAIL", "FAKE_NGROK_START_DELAY", "FAKE_NGROK_CONNECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_NGROK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FAKE_NGROK_LOG", str(tmp_path / "agent.log"))
    return tmp_path / "agent.log"


@pytest.fixture
def pyngrok(tmp_path: Path, agent_log: Path) -> Iterator[MakeConfig]:
    """Make configs as the framework does; afterwards kill their agents (``no_stray_agents`` proves none is left)."""
    made: list[PyngrokConfig] = []
    token = f"tok-{uuid.uuid4().hex}"

    def make(**options: Any) -> PyngrokConfig:
        options = {"ngrok_path": FAKE_NGROK, "config_path": str(tmp_path / "ngrok.yml"), "auth_token": token,
                   "startup_timeout": 10, "monitor_thread": False, "config_version": "3", **options}
        made.append(PyngrokConfig(**options))
        return made[-1]

    try:
        yield make
    finally:
        for config in made:
            ngrok.kill(config)


@pytest.fixture
def service(agent_log: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """The agent's FAKE_NGROK_CONNECT: a listener standing in for ngrok's service at
    connect.ngrok.test:<port>, a name only a proxy under test resolves; the agent's connection waits in
    its backlog for ``accept``."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        monkeypatch.setenv("FAKE_NGROK_CONNECT", f"{SERVICE_HOST}:{listener.getsockname()[1]}")
        yield listener


def request(tunnel: NgrokTunnel, path: str = "", body: Any = None, method: str = "GET",
            **headers: str) -> tuple[int, Any, bytes]:
    """One HTTP request to the tunnel's public URL, as Webex would send it; HTTP errors are answers too."""
    call = urllib.request.Request(f"{tunnel.public_url}{path}", body, headers, method=method)
    try:
        with urllib.request.urlopen(call, timeout=5) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_version_is_ngrok_3(pyngrok: MakeConfig) -> None:
    out = subprocess.run([FAKE_NGROK, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ngrok version 3.22.1"
    assert ngrok.get_version(pyngrok()) == ("3.22.1", pyngrok_version)


def test_set_auth_token_writes_the_token_that_a_start_then_uses(pyngrok: MakeConfig, tmp_path: Path,
                                                                 upstream: ThreadingHTTPServer) -> None:
    config = pyngrok(auth_token=None)
    ngrok.set_auth_token("tok-from-config", config)
    assert yaml.safe_load((tmp_path / "ngrok.yml").read_text()) == {"version": "3",
                                                                     "agent": {"authtoken": "tok-from-config"}}
    tunnel = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config)
    assert request(tunnel, "/hi", b"x", "POST")[0] == 201


def test_add_authtoken_keeps_other_settings(agent_log: Path, tmp_path: Path) -> None:
    path = tmp_path / "kept.yml"
    path.write_text("version: '3'\nagent:\n  web_addr: 127.0.0.1:0\n  authtoken: old\nendpoints:\n  - name: x\n")
    out = subprocess.run([FAKE_NGROK, "config", "add-authtoken", "new", "--log", "stdout", "--config", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert out == f"Authtoken saved to configuration file: {path}\n"
    assert yaml.safe_load(path.read_text()) == {"version": "3", "endpoints": [{"name": "x"}],
                                                "agent": {"authtoken": "new", "web_addr": "127.0.0.1:0"}}


def test_v3_endpoint_forwards_raw_bytes_both_ways(pyngrok: MakeConfig, upstream: ThreadingHTTPServer,
                                                  agent_log: Path) -> None:
    config = pyngrok()
    tunnel = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config)
    assert tunnel.public_url and tunnel.public_url.startswith("http://127.0.0.1:") and tunnel.proto == "http"
    assert tunnel.upstream == {"url": f"http://localhost:{upstream.server_port}", "protocol": "http1"}
    assert tunnel.uri == f"/api/endpoints/{tunnel.name}"

    raw = b'{"id": "x"}\r\n\x00\xff not utf-8'
    status, headers, body = request(tunnel, "/hook/abc?x=1&y=%20", raw, "POST",
                                    **{"X-Spark-Signature": "sig", "Content-Type": "application/json"})
    assert (status, headers["X-Upstream"], body) == (201, "yes", b"echo:" + raw)
    method, path, seen, received = upstream.seen[0]  # type: ignore[attr-defined]
    assert (method, path, received) == ("POST", "/hook/abc?x=1&y=%20", raw)
    assert (seen["X-Spark-Signature"], seen["X-Forwarded-For"], seen["X-Forwarded-Proto"]) == \
        ("sig", "127.0.0.1", "https")

    streamed = request(tunnel, "/chunked", iter([raw[:5], raw[5:]]), "POST")
    assert streamed[0] == 201 and upstream.seen[1][3] == raw  # type: ignore[attr-defined]

    assert [t.public_url for t in ngrok.get_tunnels(config)] == [tunnel.public_url]
    ngrok.disconnect(tunnel.public_url, config)
    assert ngrok.get_tunnels(config) == []
    with pytest.raises(urllib.error.URLError):
        request(tunnel)
    assert [(e["method"], e["path"], e["status"]) for e in logged(agent_log, "forward")] == \
        [("POST", "/hook/abc?x=1&y=%20", 201), ("POST", "/chunked", 201)]
    assert {"POST /api/endpoints 201", f"DELETE /api/endpoints/{tunnel.name} 204"} <= \
        {f"{e['method']} {e['path']} {e['status']}" for e in logged(agent_log, "api")}


def test_v2_tunnel_api(pyngrok: MakeConfig, upstream: ThreadingHTTPServer, agent_log: Path) -> None:
    config = pyngrok(config_version="2")
    tunnel = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config)
    assert tunnel.public_url and tunnel.uri == f"/api/tunnels/{tunnel.name}" and tunnel.id
    assert tunnel.config == {"addr": f"http://localhost:{upstream.server_port}", "inspect": True}
    assert request(tunnel, "/v2", b"two", "PUT")[::2] == (201, b"echo:two")
    tunnel.refresh_metrics()
    assert tunnel.metrics["http"]["count"] == 1
    assert [t.name for t in ngrok.get_tunnels(config)] == [tunnel.name]
    ngrok.disconnect(tunnel.public_url, config)
    assert ngrok.get_tunnels(config) == []
    assert all(e["path"].startswith("/api/tunnels") for e in logged(agent_log, "api"))


@pytest.mark.parametrize("version, addr", [("3", "http://127.0.0.1:{}"), ("2", "127.0.0.1:{}")])
def test_upstream_down_answers_502_with_err_ngrok_8012(pyngrok: MakeConfig, version: str, addr: str) -> None:
    port = free_port()
    tunnel = ngrok.connect(addr=addr.format(port), proto="http", pyngrok_config=pyngrok(config_version=version))
    status, headers, body = request(tunnel, "/hook", b"{}", "POST")
    assert (status, headers["Ngrok-Error-Code"]) == (502, "ERR_NGROK_8012")
    assert b"ERR_NGROK_8012" in body and f"127.0.0.1:{port}".encode() in body


def test_v3_turns_a_host_port_addr_into_a_bad_upstream(pyngrok: MakeConfig) -> None:
    """pyngrok 9 with config_version "3" prefixes "http://localhost:" to any addr without "://"."""
    with pytest.raises(PyngrokNgrokHTTPError, match="localhost:127.0.0.1") as raised:
        ngrok.connect(addr="127.0.0.1:8080", proto="http", pyngrok_config=pyngrok())
    assert raised.value.status_code == 400


def test_a_duplicate_name_is_an_api_error(pyngrok: MakeConfig, upstream: ThreadingHTTPServer) -> None:
    config = pyngrok()
    ngrok.connect(addr=str(upstream.server_port), name="bot", pyngrok_config=config)
    with pytest.raises(PyngrokNgrokHTTPError, match="already exists") as raised:
        ngrok.connect(addr=str(upstream.server_port), name="bot", pyngrok_config=config)
    assert raised.value.status_code == 400


@pytest.mark.parametrize("token, code", [(None, "ERR_NGROK_4018"), ("invalid", "ERR_NGROK_105")])
def test_a_missing_or_malformed_authtoken_fails_the_start(pyngrok: MakeConfig, token: str | None,
                                                          code: str) -> None:
    config = pyngrok(auth_token=token)
    with pytest.raises(PyngrokNgrokError, match=code) as raised:
        ngrok.connect(addr="8080", proto="http", pyngrok_config=config)
    assert str(raised.value).startswith("The ngrok process errored on start: authentication failed: ")
    assert raised.value.ngrok_error_code == code
    assert not ngrok.process.is_process_running(config.ngrok_path)


def test_one_agent_session_per_authtoken(pyngrok: MakeConfig, tmp_path: Path) -> None:
    first = pyngrok()
    ngrok.connect(addr="8080", proto="http", pyngrok_config=first)
    second_path = tmp_path / "bin" / "ngrok"
    second_path.parent.mkdir()
    second_path.symlink_to(FAKE_NGROK)
    second = pyngrok(ngrok_path=str(second_path), config_path=str(tmp_path / "second.yml"))
    with pytest.raises(PyngrokNgrokError, match="limited to 1 simultaneous ngrok agent sessions") as raised:
        ngrok.connect(addr="8080", proto="http", pyngrok_config=second)
    assert raised.value.ngrok_error_code == "ERR_NGROK_108"

    ngrok.kill(first)  # SIGKILL: the kernel drops the session lock with the process
    assert ngrok.connect(addr="8080", proto="http", pyngrok_config=second).public_url


def test_fake_ngrok_fail_forces_an_error(pyngrok: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_FAIL", "108")
    with pytest.raises(PyngrokNgrokError) as raised:
        ngrok.connect(addr="8080", proto="http", pyngrok_config=pyngrok())
    assert raised.value.ngrok_error_code == "ERR_NGROK_108"


def test_a_killed_agent_takes_its_public_url_down(pyngrok: MakeConfig, upstream: ThreadingHTTPServer) -> None:
    config = pyngrok()
    tunnel = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config)
    assert request(tunnel, "", b"up", "POST")[0] == 201
    agent = ngrok.get_ngrok_process(config).proc
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(timeout=5)
    with pytest.raises(urllib.error.URLError):
        request(tunnel, "", b"down", "POST")


@pytest.mark.parametrize("version, option", [("3", {"url": "https://my-bot.ngrok-free.app"}),
                                             ("2", {"domain": "my-bot.ngrok-free.app"})])
def test_a_fixed_domain_keeps_its_url_across_restarts(pyngrok: MakeConfig, upstream: ThreadingHTTPServer,
                                                      version: str, option: dict[str, str]) -> None:
    config = pyngrok(config_version=version)
    before = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config, **option)
    assert before.data["domain"] == "my-bot.ngrok-free.app"
    ngrok.kill(config)
    after = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config, **option)
    assert after.public_url == before.public_url
    assert request(after, "", b"again", "POST")[::2] == (201, b"echo:again")


def test_a_fixed_domain_whose_port_is_taken_is_already_online(pyngrok: MakeConfig) -> None:
    config = pyngrok()
    first = ngrok.connect(addr="8080", pyngrok_config=config, url="https://my-bot.ngrok-free.app")
    ngrok.kill(config)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(str(first.public_url).rsplit(":", 1)[1])))
        squatter.listen()
        with pytest.raises(PyngrokNgrokHTTPError, match="ERR_NGROK_334") as raised:
            ngrok.connect(addr="8080", pyngrok_config=config, url="https://my-bot.ngrok-free.app")
    assert raised.value.status_code == 502


def test_sigterm_stops_at_once_and_frees_the_session(pyngrok: MakeConfig, upstream: ThreadingHTTPServer,
                                                     tmp_path: Path) -> None:
    config = pyngrok()
    tunnel = ngrok.connect(addr=str(upstream.server_port), proto="http", pyngrok_config=config)
    agent = ngrok.get_ngrok_process(config).proc
    started = time.monotonic()
    agent.terminate()
    assert agent.wait(timeout=1) == 0 and time.monotonic() - started < 1
    with pytest.raises(urllib.error.URLError):
        request(tunnel)
    assert [lock.read_text() for lock in (tmp_path / "state").glob("session-*.lock")] == [""]
    assert ngrok.connect(addr=str(upstream.server_port), pyngrok_config=config).public_url


def test_web_addr_from_the_config_is_the_api_address(pyngrok: MakeConfig, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "ngrok.yml").write_text(f'version: "3"\nagent:\n    web_addr: localhost:{port}\n')
    assert ngrok.get_ngrok_process(pyngrok()).api_url == f"http://127.0.0.1:{port}"


def test_a_start_delay_within_startup_timeout_is_waited_for(pyngrok: MakeConfig,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_START_DELAY", "0.5")
    started = time.monotonic()
    assert ngrok.connect(addr="8080", proto="http", pyngrok_config=pyngrok()).public_url
    assert time.monotonic() - started >= 0.5


def test_startup_timeout_cannot_cut_short_a_silent_agent(pyngrok: MakeConfig,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """pyngrok checks its deadline only between lines: a silent agent holds it past startup_timeout."""
    monkeypatch.setenv("FAKE_NGROK_START_DELAY", "2")
    started = time.monotonic()
    with pytest.raises(PyngrokNgrokError, match="The ngrok process was unable to start"):
        ngrok.connect(addr="8080", proto="http", pyngrok_config=pyngrok(startup_timeout=1))
    assert time.monotonic() - started >= 2


def test_a_missing_binary_is_downloaded_and_that_fails_offline(pyngrok: MakeConfig, tmp_path: Path,
                                                               offline: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(installer, "DEFAULT_DOWNLOAD_TIMEOUT", 2)
    config = pyngrok(ngrok_path=str(tmp_path / "missing" / "ngrok"))
    started = time.monotonic()
    with pytest.raises(PyngrokNgrokInstallError, match="An error occurred while downloading ngrok from https://bin"):
        ngrok.connect(addr="8080", proto="http", pyngrok_config=config)
    assert time.monotonic() - started < 5
    assert not (tmp_path / "missing" / "ngrok").exists()



@pytest.mark.parametrize("version, setting", [("3", "agent:\n    proxy_url: {}\n"), ("2", "proxy_url: {}\n")])
def test_the_service_is_reached_through_the_proxy_of_the_config(pyngrok: MakeConfig, squids: Callable[..., Squid],
                                                                service: socket.socket, agent_log: Path,
                                                                tmp_path: Path, version: str, setting: str) -> None:
    squid = squids(hosts={SERVICE_HOST: "127.0.0.1"}, credentials=("agent", "secret"))
    (tmp_path / "ngrok.yml").write_text(f'version: "{version}"\n' + setting.format(squid.url))
    assert ngrok.connect(addr="8080", proto="http", pyngrok_config=pyngrok(config_version=version)).public_url
    service.accept()[0].close()
    address = os.environ["FAKE_NGROK_CONNECT"]
    assert [(e["via"], e["proxy"], e["address"], e["ok"]) for e in logged(agent_log, "service")] == \
        [("proxy", f"127.0.0.1:{squid.port}", address, True)]
    tunnelled = squid.wait_for(lambda e: e.method == "CONNECT" and e.target == address, "the agent's CONNECT")
    assert (tunnelled.code, tunnelled.user) == ("TCP_TUNNEL/200", "agent")


def test_without_a_proxy_the_service_name_does_not_resolve(pyngrok: MakeConfig, service: socket.socket,
                                                           agent_log: Path) -> None:
    with pytest.raises(PyngrokNgrokError, match=f"dial tcp: lookup {SERVICE_HOST}: no such host"):
        ngrok.connect(addr="8080", proto="http", pyngrok_config=pyngrok())
    [route] = logged(agent_log, "service")
    assert (route["via"], route["proxy"], route["ok"]) == ("direct", None, False)


def test_a_proxy_that_refuses_the_connect_fails_the_start(pyngrok: MakeConfig, squids: Callable[..., Squid],
                                                          service: socket.socket, agent_log: Path,
                                                          tmp_path: Path) -> None:
    squid = squids(hosts={SERVICE_HOST: "127.0.0.1"}, refuse_connect=[SERVICE_HOST])
    (tmp_path / "ngrok.yml").write_text(f'version: "3"\nagent:\n    proxy_url: {squid.url}\n')
    with pytest.raises(PyngrokNgrokError, match="proxyconnect tcp: 127.0.0.1:[0-9]+: 403 Forbidden"):
        ngrok.connect(addr="8080", proto="http", pyngrok_config=pyngrok())
    assert [(e["via"], e["ok"]) for e in logged(agent_log, "service")] == [("proxy", False)]
