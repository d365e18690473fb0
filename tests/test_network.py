"""The proxy and trust decisions of ``bot.network``: which rule picks the proxy, PAC files, and the one
certificate error; end to end through a real proxy in ``test_corporate_network.py``."""
from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Iterator

import pytest
import requests

from bot.emulator import Emulator
from bot.errors import CertificateError, ConfigError, ProxyRefusal
from bot.network import Network, credentials_of, is_local, without_credentials

PROXY_NAMES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
               "no_proxy", "REQUESTS_CA_BUNDLE")
PAC = """
function FindProxyForURL(url, host) {
    if (dnsDomainIs(host, ".intranet.test")) return "DIRECT";
    if (host == "eu.webex.test") return "PROXY eu-proxy.test:8080; DIRECT";
    return "PROXY proxy.test:3128";
}
"""


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable of the machine's."""
    for name in PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pac_file(tmp_path: Path) -> Path:
    path = tmp_path / "proxy.pac"
    path.write_text(PAC)
    return path


def test_this_machine_is_local_and_nothing_else():
    for host in ("localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "bot.localhost"):
        assert is_local(host), host
    for host in ("webexapis.com", "10.0.0.1", "192.168.1.2", "localhost.example.com", ""):
        assert not is_local(host), host


def test_credentials_are_found_to_be_hidden_and_taken_out_to_be_shown():
    assert set(credentials_of("http://me:p%40ss@proxy.test:3128")) == {"p%40ss", "p@ss", "me:p%40ss"}
    assert credentials_of("proxy.test:3128") == [] and credentials_of(None) == []
    assert without_credentials("http://me:secret@proxy.test:3128") == "http://proxy.test:3128"
    assert without_credentials("http://me:secret@[::1]:3128") == "http://[::1]:3128"


def test_the_variables_pick_the_proxy_and_no_proxy_or_this_machine_go_direct(clean, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "proxy.test:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy.test:80")
    monkeypatch.setenv("NO_PROXY", "intranet.test")
    network = Network()
    assert network.proxy_for("https://webexapis.com/v1/") == "http://proxy.test:3128"
    assert network.source("https://webexapis.com/v1/") == "HTTPS_PROXY"
    assert network.proxy_for("wss://mercury.wbx2.com/v1/apps") == "http://proxy.test:3128"  # wss goes as https
    assert network.proxy_for("ws://mercury.example/") == "http://plain-proxy.test:80"
    assert network.proxy_for("https://wiki.intranet.test/") is None
    assert network.source("https://wiki.intranet.test/") == "NO_PROXY"
    assert network.proxy_for("http://127.0.0.1:4040/api/endpoints") is None
    assert network.source("http://localhost:8080/") == "this machine"


def test_bot_proxy_overrides_the_variables_and_direct_turns_them_off(clean, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "intranet.test")
    chosen = Network(proxy="http://me:pw@other-proxy.test:8080")
    assert chosen.proxy_for("https://webexapis.com/") == "http://me:pw@other-proxy.test:8080"
    assert chosen.proxy_for("https://wiki.intranet.test/") is None  # NO_PROXY still applies
    assert chosen.source("https://webexapis.com/") == "BOT_PROXY"
    assert "pw" in chosen.secrets() and "me:pw" in chosen.secrets()
    assert Network(proxy="direct").proxy_for("https://webexapis.com/") is None
    assert Network(proxy="other-proxy.test:8080").proxy_for("https://a.test/") == "http://other-proxy.test:8080"


def test_a_pac_file_picks_per_host_over_the_variables(clean, monkeypatch, pac_file):
    monkeypatch.setenv("HTTPS_PROXY", "http://ignored.test:1")
    for location in (str(pac_file), pac_file.as_uri()):
        network = Network(pac_url=location).prepare()
        assert network.proxy_for("https://webexapis.com/v1/people/me") == "http://proxy.test:3128"
        assert network.proxy_for("https://eu.webex.test/v1/") == "http://eu-proxy.test:8080"  # the first choice
        assert network.proxy_for("https://wiki.intranet.test/") is None
        assert network.source("https://webexapis.com/") == "BOT_PAC_URL"


def test_a_pac_file_served_over_http_is_fetched_directly(clean, monkeypatch, pac_file):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a dead proxy: the PAC must not be fetched through it
    served = _serve_file(pac_file)
    try:
        network = Network(pac_url=f"http://127.0.0.1:{served.server_address[1]}/proxy.pac").prepare()
    finally:
        served.shutdown()
    assert network.proxy_for("https://webexapis.com/") == "http://proxy.test:3128"


def _serve_file(path: Path):
    """A one-folder HTTP server on a free port, serving until shut down."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_pac_file_that_cannot_be_read_or_run_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the PAC file .*missing.pac"):
        Network(pac_url=str(tmp_path / "missing.pac")).prepare()
    broken = tmp_path / "broken.pac"
    broken.write_text("this is not javascript {")
    with pytest.raises(ConfigError, match="is not a PAC script"):
        Network(pac_url=str(broken)).prepare()
    with pytest.raises(ConfigError, match="cannot fetch the PAC file at http://127.0.0.1:9/"):
        Network(pac_url="http://127.0.0.1:9/proxy.pac").prepare()


def test_a_ca_bundle_that_is_no_certificate_file_is_a_config_error(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    for bundle in (junk, tmp_path / "missing.pem"):
        with pytest.raises(ConfigError, match=f"BOT_CA_BUNDLE .*names {bundle}"):
            Network(ca_bundle=str(bundle)).prepare()


def test_each_library_gets_the_decision(clean, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "intranet.test")
    network = Network()
    options = network.websocket_options("wss://mercury.wbx2.com/v1/")
    assert options["proxy"] == "http://proxy.test:3128" and isinstance(options["ssl"], ssl.SSLContext)
    assert network.websocket_options("ws://127.0.0.1:9/") == {"proxy": None}  # None: websockets reads no variable
    environment = network.child_environment("https://api.trycloudflare.com/")
    assert environment["HTTPS_PROXY"] == environment["HTTP_PROXY"] == "http://proxy.test:3128"
    assert environment["NO_PROXY"].split(",") == ["intranet.test", "localhost", "127.0.0.1", "::1"]
    assert "https_proxy" not in environment and "no_proxy" not in environment
    session = network.session()
    assert session.trust_env is False


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as emulator:
        yield emulator


def test_an_untrusted_certificate_is_one_error_naming_host_issuer_and_setting(clean, tls_emulator):
    bot = tls_emulator.control.create_bot("Inspected Bot")
    network = Network()
    with network.session() as session:
        with pytest.raises(requests.exceptions.SSLError) as failure:
            session.get(f"{tls_emulator.api_url}people/me", headers={"Authorization": f"Bearer {bot['token']}"})
    problem = network.problem(tls_emulator.api_url, failure.value)
    assert isinstance(problem, CertificateError) and problem.permanent and problem.exit_code == 2
    port = tls_emulator.port
    assert str(problem).startswith(f"the TLS certificate of 127.0.0.1:{port} is signed by ")
    assert "O=Webex emulator (this run only)" in str(problem) and "BOT_CA_BUNDLE" in str(problem)
    assert "unable to get local issuer certificate" in str(problem)


def test_the_ca_bundle_is_trusted_on_top_of_the_others(clean, tls_emulator):
    bot = tls_emulator.control.create_bot("Inspected Bot")
    with Network(ca_bundle=tls_emulator.ca_file).session() as session:
        answer = session.get(f"{tls_emulator.api_url}people/me", headers={"Authorization": f"Bearer {bot['token']}"})
    assert answer.status_code == 200 and answer.json()["displayName"] == "Inspected Bot"


def test_the_issuer_cannot_be_named_when_the_host_does_not_answer():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert Network().issuer_of("127.0.0.1", port) is None
    assert "signed by an authority it could not name" in str(Network().untrusted(f"https://127.0.0.1:{port}/"))


def test_a_proxy_refusal_says_which_setting_to_change(clean, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://me:secret@proxy.test:3128")
    network = Network()
    wants = network.refused("https://webexapis.com/v1/", 407, "Proxy Authentication Required")
    assert isinstance(wants, ProxyRefusal) and wants.permanent and "secret" not in str(wants)
    assert str(wants) == ("the proxy http://proxy.test:3128 wants credentials (407 Proxy Authentication Required) "
                          "to reach webexapis.com: put them in the proxy URL, http://user:password@host:port, in "
                          "BOT_PROXY or HTTPS_PROXY")
    refuses = network.problem("https://webexapis.com/v1/", OSError("Tunnel connection failed: 403 Forbidden"))
    assert isinstance(refuses, ProxyRefusal) and "refuses connections to webexapis.com (403 Forbidden)" in str(refuses)
    assert network.problem("https://webexapis.com/v1/", OSError("Connection reset by peer")) is None
