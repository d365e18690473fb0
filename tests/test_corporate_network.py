"""The bot inside a corporate network, for real: a squid forward proxy in front of the emulator over TLS.

The emulator hands out host names (``api.webex.test``, ``mercury.webex.test``) that only the proxy can
resolve, so the direct route is closed: whatever the bot reaches, it reached through the proxy. The bot
is ``run_bot.py`` configured through its environment only, as a user behind a proxy would run it.
"""
from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest

from bot.emulator import Emulator
from proxy_kit import Squid, squids  # noqa: F401  (the fixture)
from support import finish, free_port, logged, output, program_env, run_bot, until
from supervisor_kit import FAKE_NGROK

Json = dict[str, Any]
API_HOST, WEBSOCKET_HOST, NGROK_HOST = "api.webex.test", "mercury.webex.test", "connect.ngrok.test"
NAMES = {API_HOST: "127.0.0.1", WEBSOCKET_HOST: "127.0.0.1", NGROK_HOST: "127.0.0.1"}
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


@pytest.fixture
def inside() -> Iterator[Emulator]:
    """Webex over TLS, at names this machine cannot resolve."""
    with Emulator(tls=True, public_host=API_HOST, websocket_host=WEBSOCKET_HOST) as emulator:
        yield emulator


@pytest.fixture
def service() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for ngrok's service (``host:port`` by a name only the proxy knows): it takes connections
    and counts them."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[str] = []

    def serve() -> None:
        while True:
            try:
                connection, peer = listener.accept()
            except OSError:
                return
            accepted.append(f"{peer[0]}:{peer[1]}")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"{NGROK_HOST}:{listener.getsockname()[1]}", accepted
    listener.close()


def bot_env(home: Path, emulator: Emulator, bot: Json, proxy: str, **variables: str) -> dict[str, str]:
    """run_bot.py's environment: the emulator's URLs, its authority in BOT_CA_BUNDLE, the proxy in the
    variables a corporate laptop sets (NO_PROXY only for this machine, as the bot would add anyway)."""
    return program_env(home, WEBEX_BOT_TOKEN=bot["token"], WEBEX_API_URL=emulator.api_url,
                       WEBEX_U2C_URL=emulator.u2c_url, BOT_STATE_DIR=str(home / "state"),
                       BOT_CA_BUNDLE=str(emulator.ca_file), BOT_INSTANCE="corp", BOT_LOG_LEVEL="DEBUG",
                       **{name: proxy for name in PROXY_VARIABLES}, **variables)


def webhook_settings(port: int) -> dict[str, str]:
    return {"BOT_TRANSPORT": "webhook", "BOT_TUNNEL": "none", "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "BOT_PORT": str(port)}


def answered(emulator: Emulator, bot: Json, start: Callable[[], Any], text: str, timeout: float = 30) -> str:
    """Start the bot, have a person say ``echo <text>`` to it once it listens, and return its answer."""
    control = emulator.control
    alice = control.create_person("Alice")
    room = control.direct_room(alice, bot)
    process = start()
    try:
        listening = (lambda: control.webhooks() or [d for d in control.devices() if d["connected"]])
        until(listening, "the bot to listen (webhooks or a connected device)", timeout=timeout)
        control.post(alice, f"echo {text}", room=room)
        [answer] = control.wait_for_messages(bot, room=room, timeout=timeout)
    finally:
        process.send_signal(signal.SIGTERM)
        finish(process, 15)
    return str(answer["text"])


def urlport(url: str) -> int:
    return urlsplit(url).port or 443


def connects(squid: Squid) -> set[tuple[str, str]]:
    """(target, squid's code) of each CONNECT the proxy tunnelled or refused."""
    return {(entry.target, entry.code) for entry in squid.log() if entry.method == "CONNECT"}


@pytest.mark.parametrize("transport", ["webhook", "websocket"])
def test_configured_only_by_the_environment_the_bot_answers_through_the_proxy(inside, squids, tmp_path,
                                                                              transport):
    squid = squids(hosts=NAMES)
    bot = inside.control.create_bot("Corporate Bot")
    port = free_port()
    settings = webhook_settings(port) if transport == "webhook" else {"BOT_TRANSPORT": "websocket"}
    env = bot_env(tmp_path, inside, bot, squid.url, **settings)
    assert answered(inside, bot, lambda: run_bot(tmp_path, env), "through the proxy") == "through the proxy"
    stdout, stderr = output(tmp_path)
    assert "Traceback" not in stdout + stderr
    api = f"{API_HOST}:{inside.port}"
    expected = {(api, "TCP_TUNNEL/200")}
    if transport == "websocket":
        expected.add((f"{WEBSOCKET_HOST}:{urlport(inside.ws_url)}", "TCP_TUNNEL/200"))
    squid.wait_for(lambda e: e.method == "CONNECT" and e.target == api, "the REST tunnel")
    # Nothing went around the proxy (the names resolve nowhere else), and nothing else went through it.
    until(lambda: connects(squid) == expected, f"the proxy to have tunnelled exactly {expected}")


def test_proxy_credentials_are_used_and_never_logged(inside, squids, tmp_path):
    squid = squids(hosts=NAMES, credentials=("bob", "s3cret-pw"))
    bot = inside.control.create_bot("Corporate Bot")
    env = bot_env(tmp_path, inside, bot, squid.url, BOT_TRANSPORT="websocket")
    assert answered(inside, bot, lambda: run_bot(tmp_path, env), "with a login") == "with a login"
    stdout, stderr = output(tmp_path)
    assert "s3cret-pw" not in stdout + stderr and "bob:" not in stdout + stderr  # at DEBUG, too
    entry = squid.wait_for(lambda e: e.method == "CONNECT" and e.code == "TCP_TUNNEL/200", "a tunnel")
    assert entry.user == "bob"


def test_a_proxy_that_wants_credentials_stops_the_start_with_one_line(inside, squids, tmp_path):
    squid = squids(hosts=NAMES, credentials=("bob", "s3cret-pw"))
    bot = inside.control.create_bot("Corporate Bot")
    anonymous = squid.url.replace("bob:s3cret-pw@", "")
    process = run_bot(tmp_path, bot_env(tmp_path, inside, bot, anonymous, BOT_TRANSPORT="websocket"))
    assert finish(process, 30) == 2
    _, stderr = output(tmp_path)
    assert f"error: the proxy {anonymous} wants credentials (407" in stderr
    assert f"to reach {API_HOST}:{inside.port}" in stderr and "Traceback" not in stderr


def test_an_authority_the_bot_does_not_trust_is_one_clear_error(inside, squids, tmp_path):
    squid = squids(hosts=NAMES)
    bot = inside.control.create_bot("Corporate Bot")
    env = bot_env(tmp_path, inside, bot, squid.url, BOT_TRANSPORT="websocket")
    del env["BOT_CA_BUNDLE"]
    process = run_bot(tmp_path, env)
    assert finish(process, 30) == 2
    _, stderr = output(tmp_path)
    [line] = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: the TLS certificate of {API_HOST}:{inside.port} is signed by ")
    assert "O=Webex emulator (this run only)" in line and "which this machine does not trust" in line
    assert "set BOT_CA_BUNDLE" in line and "Traceback" not in stderr
    # The issuer was read through the proxy too: the name resolves nowhere else.
    assert connects(squid) == {(f"{API_HOST}:{inside.port}", "TCP_TUNNEL/200")}


def test_a_proxy_refusing_the_websocket_host_the_doctor_says_so_and_auto_uses_webhooks(inside, squids, tmp_path,
                                                                                      service):
    squid = squids(hosts=NAMES, refuse_connect=[WEBSOCKET_HOST])
    bot = inside.control.create_bot("Corporate Bot")
    address, reached = service
    agents = tmp_path / "agents"
    ngrok = {"BOT_TUNNEL": "ngrok", "BOT_NGROK_PATH": FAKE_NGROK, "NGROK_AUTHTOKEN": "tok-corporate",
             "BOT_NGROK_CONFIG": str(tmp_path / "ngrok.yml"), "FAKE_NGROK_STATE_DIR": str(agents),
             "FAKE_NGROK_LOG": str(tmp_path / "agent.log"), "FAKE_NGROK_CONNECT": address, "BOT_PORT": "0"}
    env = bot_env(tmp_path, inside, bot, squid.url, **ngrok)

    doctor = run_bot(tmp_path / "doctor", env, "doctor")
    assert finish(doctor, 60) == 0
    report, _ = output(tmp_path / "doctor")
    lines = {line.split(":", 1)[0][6:]: line for line in report.splitlines() if line[:4] in ("ok  ", "FAIL")}
    assert lines["websocket"].startswith(f"FAIL  websocket: the proxy {squid.url} refuses connections to "
                                         f"{WEBSOCKET_HOST}:{urlport(inside.ws_url)} (403)"), report
    assert lines["ngrok"].startswith(f"ok    ngrok: agent at {FAKE_NGROK}, authtoken set, its session through "
                                     f"{squid.url}"), report
    assert lines["auto would use"].startswith("ok    auto would use: webhooks"), report
    assert inside.control.devices() == []  # the doctor's own device is gone

    # The agent's config says the proxy; its session went there and nowhere else (the name resolves
    # only at the proxy); pyngrok's calls to the agent's own API stayed on this machine (NO_PROXY).
    assert answered(inside, bot, lambda: run_bot(tmp_path / "bot", env), "over webhooks") == "over webhooks"
    [route] = [event for event in logged(tmp_path / "agent.log", "service") if event["ok"]]
    assert route["via"] == "proxy" and route["proxy"] == f"127.0.0.1:{squid.port}" and len(reached) == 1
    assert not [entry for entry in squid.log() if "127.0.0.1" in entry.target]
    _, stderr = output(tmp_path / "bot")
    assert "Traceback" not in stderr and "tok-corporate" not in stderr


def test_the_agent_config_keeps_the_proxy_private(inside, squids, tmp_path):
    """The private agent config the bot writes holds the proxy (credentials and all): mode 0600."""
    from bot.network import Network
    from bot.tunnels import NgrokTunnel

    squid = squids(hosts=NAMES, credentials=("bob", "s3cret-pw"))
    tunnel = NgrokTunnel(state_dir=tmp_path, instance="corp", ngrok_path=FAKE_NGROK, authtoken="tok",
                         config_path=str(tmp_path / "none.yml"), network=Network(proxy=squid.url))
    written = Path(tunnel._write_agent_config("tok", squid.url))
    assert written.stat().st_mode & 0o777 == 0o600
    text = written.read_text()
    assert f"proxy_url: {squid.url}" in text and "authtoken: tok" in text


@pytest.fixture
def ngrok_downloads(tmp_path: Path) -> Iterator[tuple[bytes, str]]:
    """ngrok's download server, at its real name on port 443 (the URL pyngrok names is fixed), with a
    certificate of an authority of the test's own, serving an agent archive; (the program, the CA file)."""
    import http.server
    import io
    import os
    import ssl
    import tarfile

    import trustme

    from support import unavailable

    if os.geteuid() != 0:
        unavailable("serving ngrok's download name needs port 443, which only root may listen on")
    authority = trustme.CA(organization_name="Corporate Inspection CA")
    ca_file = tmp_path / "corporate-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    program = b"#!/bin/sh\necho 'ngrok version 3.22.1'\n"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        member = tarfile.TarInfo("ngrok")
        member.size, member.mode = len(program), 0o755
        tar.addfile(member, io.BytesIO(program))
    body = archive.getvalue()

    class Downloads(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 443), Downloads)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("bin.ngrok.com").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield program, str(ca_file)
    server.shutdown()
    server.server_close()


def test_the_ngrok_agent_is_downloaded_through_the_proxy_trusting_the_bundle(squids, tmp_path, ngrok_downloads):
    from bot.errors import TunnelError
    from bot.network import Network
    from bot.tunnels.ngrok import download_agent

    program, ca_file = ngrok_downloads
    squid = squids(hosts={"bin.ngrok.com": "127.0.0.1"})  # nowhere else does that name lead here
    target = tmp_path / "bin" / "ngrok"
    with pytest.raises(TunnelError) as untrusted:
        download_agent(str(target), Network(proxy=squid.url))
    assert untrusted.value.permanent and not target.exists()
    assert "cannot be downloaded (the TLS certificate of bin.ngrok.com:443 is signed by " in str(untrusted.value)
    assert "O=Corporate Inspection CA" in str(untrusted.value) and "BOT_CA_BUNDLE" in str(untrusted.value)
    download_agent(str(target), Network(proxy=squid.url, ca_bundle=ca_file))
    assert target.read_bytes() == program and target.stat().st_mode & 0o777 == 0o700
    assert squid.wait_for(lambda e: e.target == "bin.ngrok.com:443" and e.code == "TCP_TUNNEL/200", "the download")
