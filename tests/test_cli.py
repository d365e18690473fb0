"""run_bot.py and its configuration: the real program in a subprocess, and the pure parts beside it.

Each run starts in an empty temporary folder (so no stray ``.env`` is read) with an environment built
from scratch; the emulator runs in the test process and the program talks to it over HTTP.
"""
from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from webexpythonsdk import WebexAPI

from bot.config import DEFAULT_API_URL, ConfigError, load_config
from bot.emulator import Emulator
from bot.logs import MASK, redact, setup_logging
from support import finish, free_port, hook_name, output, program_env, run_bot, until

OPTIONS = ("--transport", "--tunnel", "--public-url", "--host", "--port", "--commands", "--api-url", "--instance",
           "--keep-webhooks", "--log-level")
VARIABLES = ("WEBEX_BOT_TOKEN", "BOT_TRANSPORT", "BOT_TUNNEL", "BOT_PUBLIC_URL", "BOT_HOST", "BOT_PORT",
             "BOT_COMMANDS_PATH", "WEBEX_API_URL", "BOT_INSTANCE", "BOT_KEEP_WEBHOOKS", "BOT_LOG_LEVEL",
             "WEBEX_U2C_URL", "BOT_NGROK_PATH", "NGROK_AUTHTOKEN", "BOT_CLOUDFLARED_PATH", "BOT_HEALTH_INTERVAL")
Json = dict[str, Any]


def start(cwd: Path, *args: str, **variables: str) -> subprocess.Popen:
    """run_bot.py in ``cwd`` with only what Python needs plus ``variables``: no token leaks in from the
    developer's shell, and nothing beyond this machine is reachable."""
    return run_bot(cwd, program_env(cwd, **variables), *args)


def outcome(process: subprocess.Popen, cwd: Path, timeout: float = 30) -> tuple[int, str, str]:
    return (finish(process, timeout), *output(cwd))


def run(cwd: Path, *args: str, **variables: str) -> tuple[int, str, str]:
    return outcome(start(cwd, *args, **variables), cwd)


def one_error_line(stderr: str) -> str:
    """The single line an expected failure prints; anything else (a traceback) fails the test."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


# -- the program ---------------------------------------------------------------------------------

def test_help_lists_every_option_and_variable(tmp_path):
    code, out, err = run(tmp_path, "--help")
    assert code == 0 and err == ""
    for option in OPTIONS:
        assert option in out, option
    for variable in VARIABLES:
        assert variable in out, variable


def test_no_token_is_one_line_saying_where_to_get_one(tmp_path):
    code, out, err = run(tmp_path, "--tunnel", "none", "--public-url", "https://bot.example.org")
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "WEBEX_BOT_TOKEN" in line and "https://developer.webex.com" in line


def test_invalid_settings_are_one_line_each(tmp_path):
    cases = [  # (flags, variables, what the line names)
        ((), {"BOT_PORT": "abc"}, "BOT_PORT must be a number"),
        (("--port", "70000"), {}, "BOT_PORT must be at most 65535"),
        (("--transport", "x"), {}, "--transport: invalid choice: 'x'"),
        ((), {"BOT_HEALTH_INTERVAL": "-1"}, "BOT_HEALTH_INTERVAL must be at least"),
        (("--tunnel", "none"), {}, "--tunnel none needs --public-url"),
        (("--commands", str(tmp_path / "nowhere")), {}, f"commands folder {tmp_path / 'nowhere'} does not exist"),
        ((), {"WEBEX_API_URL": "ftp://x"}, "WEBEX_API_URL must be an http(s):// URL"),
        ((), {"BOT_PUBLIC_URL": "http://bot.example.org"}, "--public-url / BOT_PUBLIC_URL must be an https:// URL"),
        (("--log-level", "loud"), {}, "--log-level: invalid choice"),
    ]
    runs = []
    for n, (flags, variables, expected) in enumerate(cases):
        folder = tmp_path / f"case{n}"
        folder.mkdir()
        # all at once, they only parse; a token is set so that each fails on its own setting
        runs.append((folder, expected, start(folder, *flags, WEBEX_BOT_TOKEN="a-token-never-used", **variables)))
    for folder, expected, process in runs:
        code, out, err = outcome(process, folder)
        assert code == 2 and out == "", err
        assert expected in one_error_line(err)
        assert "a-token-never-used" not in err


def test_a_refused_token_from_the_env_file_is_one_line_without_the_token(tmp_path, webex_emulator):
    token = "Zm9yZ2VkLXRva2VuLXRoYXQtd2ViZXgtZG9lcy1ub3Qta25vdw"
    (tmp_path / ".env").write_text(f"WEBEX_BOT_TOKEN={token}\nBOT_LOG_LEVEL=DEBUG\n")
    code, out, err = run(tmp_path, "--tunnel", "none", "--public-url", "http://127.0.0.1:9", "--api-url",
                         webex_emulator.api_url)
    assert code == 2
    line = one_error_line(err)
    assert "401" in line and "token" in line
    assert token not in out + err
    assert [c["status"] for c in webex_emulator.control.calls()] == [401]


def run_on_a_taken_port(tmp_path, emulator, bot):
    """run_bot.py told to listen on a port another socket holds: (port, exit code, stdout, stderr)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        return (port, *run(tmp_path, "--port", str(port), "--tunnel", "none", "--public-url",
                           f"http://127.0.0.1:{port}", "--api-url", emulator.api_url, WEBEX_BOT_TOKEN=bot["token"]))


def test_a_port_in_use_is_an_error_saying_so(tmp_path, webex_emulator, webex_bot_account):
    port, code, out, err = run_on_a_taken_port(tmp_path, webex_emulator, webex_bot_account)
    assert code == 2
    assert f"running as {webex_bot_account['displayName']}" in err  # INFO is the default level
    assert err.strip().splitlines()[-1].startswith(f"error: port {port} is in use")
    assert "Traceback" not in err and webex_bot_account["token"] not in out + err
    assert webex_emulator.control.webhooks() == []


def test_the_env_file_is_read_and_the_environment_wins(tmp_path, webex_emulator, webex_bot_account):
    (tmp_path / ".env").write_text("# from the workshop handout\nWEBEX_BOT_TOKEN=refused-by-webex-123456\n"
                                   "BOT_LOG_LEVEL=ERROR\nBOT_INSTANCE=from-dotenv\n")
    port, code, out, err = run_on_a_taken_port(tmp_path, webex_emulator, webex_bot_account)
    assert code == 2
    # the environment's token won (Webex accepted it), the .env's ERROR level held the INFO lines back
    assert one_error_line(err).startswith(f"error: port {port} is in use")
    assert [c["path"] for c in webex_emulator.control.calls() if c["status"] == 401] == []


def wait_for_hooks(emulator: Emulator, process: subprocess.Popen, cwd: Path, names: set[str],
                   timeout: float = 15) -> dict[str, Json]:
    def made() -> dict[str, Json]:
        assert process.poll() is None, output(cwd)[1]
        hooks = {h["name"]: h for h in emulator.control.webhooks() if h["name"] in names}
        return hooks if len(hooks) == len(names) else {}
    return until(made, f"webhooks {names}", timeout)


def stop(process: subprocess.Popen, cwd: Path) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    code, out, err = outcome(process, cwd, timeout=10)
    assert code == 0, err
    return out, err


def test_a_full_run_answers_and_cleans_up_only_its_own_webhooks(tmp_path, webex_emulator, webex_bot_account):
    control = webex_emulator.control
    person = control.create_person("Ada Lovelace", "ada@example.com")
    room = control.direct_room(person, webex_bot_account)
    api = WebexAPI(access_token=webex_bot_account["token"], base_url=webex_emulator.api_url)
    foreign = api.webhooks.create(name=hook_name("production"), targetUrl="https://bot.example.org/hook",
                                  resource="messages", event="created", filter="roomType=group",
                                  secret="production-secret-0123456789")
    foreign_before = next(h for h in control.webhooks() if h["id"] == foreign.id)
    ours = {hook_name("ci"), hook_name("ci", "attachmentActions")}
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    args = ("--tunnel", "none", "--port", str(port), "--public-url", public, "--api-url", webex_emulator.api_url,
            "--instance", "ci")

    first_dir = tmp_path / "first"
    first_dir.mkdir()
    first = start(first_dir, *args, "--log-level", "DEBUG", WEBEX_BOT_TOKEN=webex_bot_account["token"])
    try:
        hooks = wait_for_hooks(webex_emulator, first, first_dir, ours)
        secret = hooks[hook_name("ci")]["secret"]
        for hook in hooks.values():
            assert hook["targetUrl"].startswith(public + "/webhook/") and hook["secret"] == secret
            assert hook["status"] == "active" and len(secret) >= 32
        control.post(person, "echo hi", room=room)
        assert control.wait_for_messages(webex_bot_account, room=room)[0]["text"] == "hi"
    finally:
        out, err = stop(first, first_dir)
    assert [h for h in control.webhooks() if h["name"] in ours] == []
    assert webex_bot_account["token"] not in out + err and secret not in out + err

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = start(second_dir, *args, "--keep-webhooks", WEBEX_BOT_TOKEN=webex_bot_account["token"])
    try:
        kept = wait_for_hooks(webex_emulator, second, second_dir, ours)
    finally:
        out, err = stop(second, second_dir)
    assert {h["id"] for h in control.webhooks() if h["name"] in ours} == {h["id"] for h in kept.values()}
    assert webex_bot_account["token"] not in out + err
    assert kept[hook_name("ci")]["secret"] not in out + err
    assert [h for h in control.webhooks() if h["id"] == foreign.id] == [foreign_before]


# -- load_config, pure --------------------------------------------------------------------------

@pytest.fixture
def in_empty_folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(in_empty_folder):
    config = load_config([], {"WEBEX_BOT_TOKEN": "t0ken-value"})
    assert (config.token, config.transport, config.tunnel, config.public_url) == ("t0ken-value", "auto", "ngrok", None)
    assert (config.host, config.port, config.api_url, config.log_level) == ("127.0.0.1", 8080, DEFAULT_API_URL, "INFO")
    assert config.instance == socket.gethostname()
    assert config.commands_paths == () and config.access.open and not config.keep_webhooks
    assert (config.health_interval, config.workers, config.max_body_bytes) == (30.0, 64, 1024 * 1024)
    assert config.secrets() == ["t0ken-value"]


def test_a_flag_beats_the_environment_which_beats_the_env_file(in_empty_folder):
    (in_empty_folder / ".env").write_text("WEBEX_BOT_TOKEN=from-dotenv\nBOT_PORT=1111\nBOT_INSTANCE=dotenv\n"
                                          "BOT_LOG_LEVEL=debug\nNGROK_AUTHTOKEN=ngrok-dotenv\n")
    config = load_config(["--port", "3333"], {"WEBEX_BOT_TOKEN": "from-env", "BOT_PORT": "2222",
                                              "BOT_INSTANCE": "env"})
    assert config.port == 3333
    assert (config.token, config.instance) == ("from-env", "env")
    assert config.log_level == "DEBUG" and config.ngrok_authtoken == "ngrok-dotenv"
    assert config.host == "127.0.0.1"
    assert config.secrets() == ["from-env", "ngrok-dotenv"]
    other = in_empty_folder / "other.env"
    other.write_text("WEBEX_BOT_TOKEN=from-other\n")
    assert load_config(["--env-file", str(other)], {}).token == "from-other"
    assert load_config([], {}).token == "from-dotenv"


def test_access_lists_are_comma_separated(in_empty_folder):
    config = load_config(["--allow", " Ada@Example.com, ,bob@example.com"],
                         {"WEBEX_BOT_TOKEN": "t", "BOT_ALLOWED_PEOPLE": "ignored@example.com",
                          "BOT_ALLOWED_DOMAINS": "@Corp.example,partner.example,", "BOT_ALLOWED_ROOMS": "room1=="})
    assert config.access.people == {"ada@example.com", "bob@example.com"}
    assert config.access.domains == {"corp.example", "partner.example"}
    assert config.access.rooms == {"room1"}
    assert config.access.allows("someone@partner.example", "elsewhere")
    assert not config.access.allows("someone@other.example", "elsewhere")


def test_commands_folders_come_from_flags_then_the_path_variable(in_empty_folder):
    one, two, three = (in_empty_folder / name for name in ("one", "two", "three"))
    for folder in (one, two, three):
        folder.mkdir()
    config = load_config(["--commands", str(three)],
                         {"WEBEX_BOT_TOKEN": "t", "BOT_COMMANDS_PATH": f"{one}{os.pathsep}{os.pathsep}{two}"})
    assert config.commands_paths == (three, one, two)
    missing = in_empty_folder / "missing"
    with pytest.raises(ConfigError, match="missing"):
        load_config([], {"WEBEX_BOT_TOKEN": "t", "BOT_COMMANDS_PATH": f"{one}{os.pathsep}{missing}"})


def test_other_settings_parse(in_empty_folder):
    config = load_config(["--tunnel", "none", "--public-url", "https://bot.example.org/", "--api-url",
                          "http://127.0.0.1:9/v1", "--log-level", "warning"],
                         {"WEBEX_BOT_TOKEN": " t ", "BOT_KEEP_WEBHOOKS": "yes", "BOT_HEALTH_INTERVAL": "0.5",
                          "BOT_WORKERS": "2", "BOT_ALLOW_BOTS": "on", "BOT_TRANSPORT": "webhook"})
    assert (config.token, config.tunnel, config.public_url) == ("t", "none", "https://bot.example.org")
    assert (config.api_url, config.log_level, config.transport) == ("http://127.0.0.1:9/v1/", "WARNING", "webhook")
    assert config.keep_webhooks and config.allow_bots and (config.health_interval, config.workers) == (0.5, 2)
    assert load_config(["--keep-webhooks"], {"WEBEX_BOT_TOKEN": "t"}).keep_webhooks


def test_the_cloudflared_tunnel_is_chosen_by_flag_or_variable(in_empty_folder):
    config = load_config(["--tunnel", "cloudflared"], {"WEBEX_BOT_TOKEN": "t"})
    assert (config.tunnel, config.cloudflared_path, config.public_url) == ("cloudflared", None, None)
    config = load_config([], {"WEBEX_BOT_TOKEN": "t", "BOT_TUNNEL": "cloudflared",
                              "BOT_CLOUDFLARED_PATH": "/opt/bin/cloudflared"})
    assert (config.tunnel, config.cloudflared_path) == ("cloudflared", "/opt/bin/cloudflared")
    with pytest.raises(ConfigError, match="BOT_TUNNEL must be ngrok, cloudflared or none, got 'cloudflare'"):
        load_config([], {"WEBEX_BOT_TOKEN": "t", "BOT_TUNNEL": "cloudflare"})


@pytest.mark.parametrize("environ", [{}, {"WEBEX_BOT_TOKEN": "   "}])
def test_no_token_is_a_config_error(in_empty_folder, environ):
    with pytest.raises(ConfigError, match="WEBEX_BOT_TOKEN"):
        load_config([], environ)


@pytest.mark.parametrize("argv, environ, words", [
    (["--transport", "carrier-pigeon"], {}, "invalid choice"),
    (["--no-such-flag"], {}, "unrecognized arguments"),
    ([], {"BOT_TRANSPORT": "smoke"}, "BOT_TRANSPORT"),
    ([], {"BOT_TUNNEL": "ssh"}, "BOT_TUNNEL"),
    ([], {"BOT_PORT": "-1"}, "BOT_PORT"),
    ([], {"BOT_WORKERS": "0"}, "BOT_WORKERS"),
    ([], {"BOT_MAX_BODY": "lots"}, "BOT_MAX_BODY"),
    ([], {"BOT_LOG_LEVEL": "chatty"}, "BOT_LOG_LEVEL"),
    (["--tunnel", "none"], {}, "--public-url"),
    ([], {"BOT_PUBLIC_URL": "bot.example.org"}, "--public-url"),
    ([], {"WEBEX_U2C_URL": "u2c"}, "WEBEX_U2C_URL"),
])
def test_a_wrong_setting_is_a_config_error(in_empty_folder, argv, environ, words):
    with pytest.raises(ConfigError, match=words):
        load_config(argv, {"WEBEX_BOT_TOKEN": "t", **environ})


def test_websocket_transport_needs_no_public_url(in_empty_folder):
    config = load_config(["--tunnel", "none", "--transport", "websocket"], {"WEBEX_BOT_TOKEN": "t"})
    assert config.public_url is None


# -- redaction ------------------------------------------------------------------------------------

def test_redact_takes_out_secrets_and_bearer_credentials():
    assert redact("token abcdef123 and abcdef123 again", ["abcdef123"]) == f"token {MASK} and {MASK} again"
    assert redact("Authorization: Bearer eyJ.abc-def_ghi=", []) == f"Authorization: Bearer {MASK}"
    assert redact("bearer  xyz", []) == f"bearer  {MASK}"
    assert redact("the word short stays", ["short", "", None]) == "the word short stays"
    assert redact("nothing to hide", ["s3cret-value"]) == "nothing to hide"


def test_setup_logging_redacts_messages_and_tracebacks(capsys, restore_logging):
    token = "NmQ5ZTRlZGYtYmVhcmVyLXRva2Vu"
    redactor = setup_logging("INFO", [token])
    log = logging.getLogger("bot.test")
    log.info("calling Webex with %s", token)
    try:
        raise RuntimeError(f"Webex said no to {token}")
    except RuntimeError:
        log.exception("request failed")
    redactor.add("webhook-secret-42")
    log.warning("signing with webhook-secret-42 and Bearer %s", "abc.def")
    log.debug("not shown at INFO %s", token)
    err = capsys.readouterr().err
    assert token not in err and "webhook-secret-42" not in err and "abc.def" not in err
    assert f"calling Webex with {MASK}" in err
    assert "Traceback" in err and f"RuntimeError: Webex said no to {MASK}" in err
    assert f"signing with {MASK} and Bearer {MASK}" in err
    assert "not shown" not in err


def test_setup_logging_replaces_its_own_handler(restore_logging):
    stream = io.StringIO()
    setup_logging("INFO")
    setup_logging("DEBUG", ["a-secret-value"])
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_webex_bot", False)]
    assert len(ours) == 1
    ours[0].setStream(stream)
    logging.getLogger("bot.test").debug("value=%s", "a-secret-value")
    assert stream.getvalue().rstrip().endswith(f"bot.test: value={MASK}")


def test_python_warnings_go_through_the_log_with_its_format_and_redaction(capsys, restore_logging):
    import warnings

    logging.captureWarnings(False)  # pytest records each test's warnings: start from a plain state
    try:
        setup_logging("INFO", ["warned-secret-99"])
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a library says warned-secret-99 is deprecated", DeprecationWarning)
    finally:
        logging.captureWarnings(False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and " WARNING py.warnings: " in err[0]
    assert "warned-secret-99" not in err[0] and "a library says *** is deprecated" in err[0]


def test_values_from_the_network_are_cut_short_in_log_lines():
    from bot.logs import clip

    assert clip("short") == "short"
    long = clip("x" * 5000)
    assert len(long) < 100 and long.endswith("(5000 chars)")
    assert clip("line\nbreak") == "line\\nbreak" and clip({"a": 1}) == "{'a': 1}"
