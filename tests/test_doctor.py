"""``run_bot.py doctor`` against a real emulator: one line per check, exit 0 only when the bot can run.

Most runs go through the CLI's ``main`` in this process, with the environment of a laptop without a
way out (the ``offline`` fixture) and the settings in the environment; one runs the real program.
"""
from __future__ import annotations

import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from bot import doctor, network
from bot.cli import main
from bot.emulator import Emulator
from support import NOWHERE, finish, free_port, output, program_env, run_bot
from supervisor_kit import FAKE_NGROK

Json = dict[str, str]
SETTINGS = ("WEBEX_BOT_TOKEN", "WEBEX_U2C_URL", "WEBEX_API_URL", "BOT_TRANSPORT", "BOT_TUNNEL", "BOT_PUBLIC_URL",
            "BOT_PORT", "BOT_HOST", "BOT_NGROK_PATH", "NGROK_AUTHTOKEN", "BOT_NGROK_CONFIG", "BOT_CLOUDFLARED_PATH",
            "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "BOT_CA_BUNDLE", "BOT_PROXY", "BOT_PAC_URL",
            "BOT_NGROK_MODE")
NO_TUNNEL = ("--tunnel", "none", "--public-url", NOWHERE, "--port", "0")


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: Json, restore_logging: None) -> Path:
    """An empty folder to run in (no stray .env), none of the developer's settings, no ngrok config."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BOT_NGROK_CONFIG", str(tmp_path / "ngrok.yml"))
    return tmp_path


def doctor_run(capsys: pytest.CaptureFixture[str], emulator: Emulator, token: str, *args: str,
               monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict[str, str], str]:
    """Exit code, the lines by what they checked, and all of stdout, of ``doctor`` with ``token``."""
    monkeypatch.setenv("WEBEX_BOT_TOKEN", token)
    monkeypatch.setenv("WEBEX_U2C_URL", emulator.u2c_url)
    code = main(["doctor", "--api-url", emulator.api_url, *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and token not in out + err
    return code, lines_of(out), out


def lines_of(out: str) -> dict[str, str]:
    """``{what: "verdict: detail"}`` of each check line."""
    checks = {}
    for line in out.splitlines():
        verdict, _, rest = line.partition("  ")
        what, _, detail = rest.strip().partition(": ")
        if verdict.strip() in ("ok", "FAIL", "warn", "skip"):
            checks[what] = f"{verdict.strip()}: {detail}"
    return checks


def test_all_ok_with_a_bot_token(laptop, capsys, monkeypatch, webex_emulator, webex_bot_account):
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], *NO_TUNNEL,
                                   monkeypatch=monkeypatch)
    assert code == 0, out
    assert list(checks) == ["proxy", "REST API", "token", "clock", "U2C and WDM", "websocket", "tunnel",
                            "receiver port", "auto would use"]
    assert all(line.startswith("ok: ") for line in checks.values()), out
    assert "webhooks through --tunnel none" in checks["auto would use"]
    assert webex_emulator.control.devices() == [], "the handshake's device must be deleted"
    assert webex_emulator.control.webhooks() == []


def test_the_program_runs_it_as_its_first_word(tmp_path, webex_emulator, webex_bot_account):
    env = program_env(tmp_path, WEBEX_BOT_TOKEN=webex_bot_account["token"], WEBEX_U2C_URL=webex_emulator.u2c_url,
                      BOT_STATE_DIR=str(tmp_path / "state"))
    code = finish(run_bot(tmp_path, env, "doctor", "--api-url", webex_emulator.api_url, *NO_TUNNEL), 60)
    out, err = output(tmp_path)
    assert code == 0 and err == "", out + err
    assert "ok    token: a bot's: Test Bot" in out and out.rstrip().endswith("the bot can run here")
    assert webex_bot_account["token"] not in out


def test_a_refused_token_fails_naming_the_variable(laptop, capsys, monkeypatch, webex_emulator):
    code, checks, out = doctor_run(capsys, webex_emulator, "not-a-token", *NO_TUNNEL, monkeypatch=monkeypatch)
    assert code == 1
    assert checks["token"].startswith("FAIL: ") and "WEBEX_BOT_TOKEN" in checks["token"]
    assert checks["auto would use"].startswith("FAIL: ")


def test_a_persons_token_is_a_warning(laptop, capsys, monkeypatch, webex_emulator, webex_person):
    code, checks, out = doctor_run(capsys, webex_emulator, webex_person["token"], *NO_TUNNEL, monkeypatch=monkeypatch)
    assert code == 0, out
    assert checks["token"].startswith("warn: ") and "answers as that person" in checks["token"]


def test_no_token_is_a_failed_setting(laptop, capsys):
    assert main(["doctor"]) == 1
    assert capsys.readouterr().out.startswith("FAIL  settings: no bot token: set WEBEX_BOT_TOKEN")


def test_an_api_url_where_nothing_listens_fails_saying_what_to_check(laptop, capsys, monkeypatch, webex_emulator,
                                                                     webex_bot_account):
    monkeypatch.setenv("WEBEX_BOT_TOKEN", webex_bot_account["token"])
    assert main(["doctor", "--api-url", f"{NOWHERE}/v1/", *NO_TUNNEL]) == 1
    checks = lines_of(capsys.readouterr().out)
    assert checks["REST API"].startswith(f"FAIL: cannot reach {NOWHERE}/v1/ (ConnectionError)")
    assert "WEBEX_API_URL" in checks["REST API"] and checks["token"].startswith("skip: ")


def test_a_proxy_that_takes_no_connection_fails_without_its_credentials(laptop, capsys, monkeypatch,
                                                                        webex_bot_account):
    closed = free_port()
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:secret@127.0.0.1:{closed}")
    monkeypatch.setenv("WEBEX_BOT_TOKEN", webex_bot_account["token"])
    assert main(["doctor", "--api-url", "https://api.webex.test/v1/", *NO_TUNNEL]) == 1
    out = capsys.readouterr().out
    assert lines_of(out)["proxy"] == (f"FAIL: http://127.0.0.1:{closed} for REST, U2C (from HTTPS_PROXY) takes no "
                                      "connection (Connection refused): fix HTTPS_PROXY, or add the hosts to NO_PROXY")
    assert "secret" not in out and "user:" not in out


def test_ngrok_without_an_authtoken_fails_and_auto_falls_back_to_the_websocket(laptop, capsys, monkeypatch,
                                                                               webex_emulator, webex_bot_account):
    monkeypatch.setenv("BOT_NGROK_PATH", FAKE_NGROK)
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--tunnel", "ngrok",
                                   "--port", "0", monkeypatch=monkeypatch)
    assert code == 0, out
    assert checks["ngrok"].startswith("FAIL: ") and "NGROK_AUTHTOKEN" in checks["ngrok"]
    assert checks["auto would use"] == "ok: the device websocket (no tunnel can start here)"
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--transport", "webhook",
                                   "--tunnel", "ngrok", "--port", "0", monkeypatch=monkeypatch)
    assert code == 1 and checks["U2C, WDM and websocket"].startswith("skip: ")


def test_ngrok_found_with_an_authtoken_is_ok_and_auto_uses_webhooks(laptop, capsys, monkeypatch, webex_emulator,
                                                                    webex_bot_account):
    monkeypatch.setenv("BOT_NGROK_PATH", FAKE_NGROK)
    monkeypatch.setenv("NGROK_AUTHTOKEN", "the-authtoken-1234")
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--tunnel", "ngrok",
                                   "--port", "0", monkeypatch=monkeypatch)
    assert code == 0 and checks["ngrok"] == f"ok: agent at {FAKE_NGROK}, authtoken set, its session through {NOWHERE}"
    assert checks["auto would use"] == "ok: webhooks through --tunnel ngrok (its checks passed)"
    assert "the-authtoken-1234" not in out


def test_a_missing_cloudflared_fails_naming_its_setting(laptop, capsys, monkeypatch, webex_emulator,
                                                        webex_bot_account):
    monkeypatch.setenv("BOT_CLOUDFLARED_PATH", str(laptop / "no-cloudflared"))
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--transport", "webhook",
                                   "--tunnel", "cloudflared", "--port", "0", monkeypatch=monkeypatch)
    assert code == 1 and checks["cloudflared"].startswith("FAIL: ") and "BOT_CLOUDFLARED_PATH" in checks["cloudflared"]


@pytest.mark.parametrize("ahead, verdict", [(timedelta(minutes=1), "warn"), (timedelta(minutes=6), "FAIL")])
def test_a_clock_off_from_webexs_warns_then_fails(laptop, capsys, monkeypatch, webex_emulator, webex_bot_account,
                                                  ahead, verdict):
    class Ahead(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + ahead

    monkeypatch.setattr(doctor, "datetime", Ahead)
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], *NO_TUNNEL,
                                   monkeypatch=monkeypatch)
    assert checks["clock"].startswith(f"{verdict}: this machine is ") and "ahead of Webex" in checks["clock"]
    assert "NTP" in checks["clock"] and code == (1 if verdict == "FAIL" else 0)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_receiver_port_in_use_fails_naming_the_flag(laptop, capsys, monkeypatch, webex_emulator, webex_bot_account,
                                                      busy_port):
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--transport", "webhook",
                                   "--tunnel", "none", "--public-url", NOWHERE, "--port", str(busy_port),
                                   monkeypatch=monkeypatch)
    assert code == 1
    assert checks["receiver port"].startswith(f"FAIL: cannot listen on 127.0.0.1:{busy_port}")
    assert "--port" in checks["receiver port"]


def test_an_unexpected_error_is_a_fail_line_not_a_traceback(laptop, capsys, monkeypatch, webex_emulator,
                                                            webex_bot_account):
    def broken(self: doctor.Doctor) -> doctor.Check:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(doctor.Doctor, "port", broken)
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--transport", "webhook",
                                   *NO_TUNNEL, monkeypatch=monkeypatch)
    assert code == 1 and checks["receiver port"] == "FAIL: unexpected ZeroDivisionError: division by zero"


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    pytest.importorskip("trustme")
    with Emulator(tls=True) as emulator:
        yield emulator


def test_an_untrusted_certificate_fails_naming_the_host_and_the_ca_setting(laptop, capsys, monkeypatch, tls_emulator):
    bot = tls_emulator.control.create_bot("TLS Bot")
    code, checks, out = doctor_run(capsys, tls_emulator, bot["token"], *NO_TUNNEL, monkeypatch=monkeypatch)
    assert code == 1
    port = urlsplit(tls_emulator.api_url).port
    assert checks["REST API"].startswith(f"FAIL: the TLS certificate of 127.0.0.1:{port} is signed by ")
    assert "O=Webex emulator (this run only)" in checks["REST API"]
    assert "which this machine does not trust" in checks["REST API"] and "BOT_CA_BUNDLE" in checks["REST API"]


@pytest.mark.parametrize("variable", ["BOT_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_one_ca_bundle_makes_rest_and_the_websocket_trusted(laptop, capsys, monkeypatch, tls_emulator, variable):
    bot = tls_emulator.control.create_bot("TLS Bot")
    monkeypatch.setenv(variable, str(tls_emulator.ca_file))
    code, checks, out = doctor_run(capsys, tls_emulator, bot["token"], "--transport", "websocket",
                                   monkeypatch=monkeypatch)
    assert checks["REST API"].startswith(f"ok: {tls_emulator.api_url} answered 200, TLS verified"), out
    assert checks["token"].startswith("ok: a bot's: TLS Bot")
    assert code == 0 and checks["websocket"].startswith("ok: Mercury at "), out
    assert tls_emulator.control.devices() == []


def test_proxy_credentials_are_taken_out():
    assert network.without_credentials("http://user:secret@proxy.example:3128") == "http://proxy.example:3128"
    assert network.without_credentials("http://proxy.example") == "http://proxy.example"


def test_a_proxy_for_this_machine_too_fails_the_ngrok_agent_naming_no_proxy(laptop, capsys, monkeypatch,
                                                                             webex_emulator, webex_bot_account):
    """pyngrok calls the agent on 127.0.0.1 with urllib, which would send that through HTTP_PROXY too."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("BOT_NGROK_PATH", FAKE_NGROK)
    monkeypatch.setenv("NGROK_AUTHTOKEN", "tok-doctor")
    code, checks, out = doctor_run(capsys, webex_emulator, webex_bot_account["token"], "--transport", "webhook",
                                   "--port", "0", monkeypatch=monkeypatch)
    assert code == 1, out
    assert checks["ngrok"] == (f"FAIL: HTTP_PROXY is set ({NOWHERE}) and NO_PROXY does not name 127.0.0.1, so the "
                               "calls to the ngrok agent on this machine would go to the proxy: add "
                               "127.0.0.1,localhost to NO_PROXY, or run with --transport websocket, which needs no "
                               "tunnel")
