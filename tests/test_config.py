"""The settings table (``bot.settings``) and what ``bot.config`` makes of it: values, precedence, help.

The expectations are derived from ``SETTINGS`` where they can be, so a setting added later is covered
by the precedence and help tests without new test code (or fails them, asking for a sample value).
"""
from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pytest

from bot.config import DEFAULT_U2C_URL, Config, ConfigError, build_parser, load_config, shown_default
from bot.errors import ConfigError as RootConfigError
from bot.settings import SETTINGS, Choice, Csv, Folders, Number, Setting, Switch, Url
from bot.wdm import DeviceRegistry

# Written to every test's .env, under everything a test gives: a token, and the websocket transport
# so that `--tunnel none` needs no public URL.
BASE = {"WEBEX_BOT_TOKEN": "base-token", "BOT_TRANSPORT": "websocket"}
FIELDS = {f.name for f in fields(Config)}
COMBINED = (Switch, Folders)  # kinds whose flag and variable add up instead of one winning
U2C_BASE = "https://u2c.wbx2.com/u2c/api/v1"


@pytest.fixture(autouse=True)
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(flags: Sequence[str] = (), environ: Optional[Mapping[str, str]] = None,
         dotenv: Optional[Mapping[str, str]] = None) -> Config:
    """load_config with these flags and environment, and ``BASE`` plus ``dotenv`` in ./.env."""
    Path(".env").write_text("".join(f"{name}={value}\n" for name, value in {**BASE, **(dotenv or {})}.items()))
    return load_config(list(flags), dict(environ or {}))


def samples(setting: Setting) -> tuple[str, str, str]:
    """Valid texts for ``setting``: the first two give different values (all three, but for a switch)."""
    kind = setting.kind
    if isinstance(kind, Switch):
        return "1", "0", "yes"
    if isinstance(kind, Choice):
        return kind.options[0], kind.options[1], kind.options[2]
    if isinstance(kind, Number):
        return str(int(kind.minimum) + 1), str(int(kind.minimum) + 2), str(int(kind.minimum) + 3)
    if isinstance(kind, Url):
        return "https://one.example/v1", "https://two.example/v1", "https://three.example/v1"
    if isinstance(kind, Csv):
        return "one@a.example", "two@b.example", "three@c.example"
    return "one", "two", "three"


def by_name(name: str) -> Setting:
    return next(s for s in SETTINGS if s.name == name)


def test_config_error_is_the_one_from_bot_errors():
    assert ConfigError is RootConfigError and ConfigError("x").exit_code == 2


def test_every_setting_fills_a_config_field_or_the_access_rule():
    for setting in SETTINGS:
        assert setting.name in FIELDS or setting.name.startswith("allowed_"), setting.name
        assert setting.env or setting.flag, setting.name
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)


# -- precedence: flag > environment > .env > default ---------------------------------------------

@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.flag and s.env and not isinstance(s.kind, COMBINED)],
                         ids=lambda s: s.env)
def test_the_flag_beats_the_environment_which_beats_the_env_file(setting):
    first, second, third = samples(setting)
    env = str(setting.env)
    alone = [load(environ={env: text}) for text in (first, second, third)]
    assert len(set(alone)) == 3, "the samples must give different values"
    assert load([setting.flag, first], {env: second}, {env: third}) == alone[0]
    assert load([setting.flag, first], {}, {env: third}) == alone[0]
    assert load(environ={env: second}, dotenv={env: third}) == alone[1]
    assert load(dotenv={env: third}) == alone[2]


@pytest.mark.parametrize("setting", [s for s in SETTINGS if not s.flag], ids=lambda s: s.env)
def test_the_environment_beats_the_env_file_for_variables_without_a_flag(setting):
    first, second, _ = samples(setting)
    env = str(setting.env)
    assert load(environ={env: first}, dotenv={env: second}) == load(environ={env: first})
    assert load(dotenv={env: second}) == load(environ={env: second}) != load(environ={env: first})
    assert load(environ={env: "  "}, dotenv={env: second}) == load(dotenv={env: second}), "empty is not set"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.name in FIELDS and s.env not in BASE],
                         ids=lambda s: s.name)
def test_an_unset_setting_has_configs_default(setting):
    assert getattr(load(), setting.name) == getattr(Config(token="t"), setting.name)


def test_an_empty_flag_is_not_set():
    assert load(["--instance", ""], {"BOT_INSTANCE": "from-env"}).instance == "from-env"


def test_an_empty_greeting_is_a_choice_not_unset():
    """``BOT_GREETING=`` turns the greeting off; unset, the bot says its own line."""
    assert load().greeting is None
    assert load(environ={"BOT_GREETING": "Hi all"}).greeting == "Hi all"
    assert load(environ={"BOT_GREETING": ""}, dotenv={"BOT_GREETING": "from the file"}).greeting == ""
    assert load(dotenv={"BOT_GREETING": ""}).greeting == ""
    assert load(["--greeting", ""], {"BOT_GREETING": "Hi all"}).greeting == ""
    assert load(["--greeting", "Ahoy"], {"BOT_GREETING": ""}).greeting == "Ahoy"


# -- one test per kind of value -----------------------------------------------------------------

def test_text_is_stripped_and_tidied():
    assert load(environ={"WEBEX_BOT_TOKEN": "  t0ken \n"}).token == "t0ken"
    assert load(environ={"BOT_NGROK_DOMAIN": "https://my-bot.ngrok-free.app/"}).ngrok_domain == "my-bot.ngrok-free.app"
    assert load(environ={"BOT_NGROK_DOMAIN": "my-bot.ngrok-free.app"}).ngrok_domain == "my-bot.ngrok-free.app"
    assert load(environ={"BOT_NGROK_DOMAIN": "https:///"}).ngrok_domain is None


@pytest.mark.parametrize("flags, environ, message", [
    (["--port", "eighty"], {}, "--port / BOT_PORT must be a number, got 'eighty'"),
    ([], {"BOT_PORT": "80.5"}, "--port / BOT_PORT must be a number, got '80.5'"),
    ([], {"BOT_PORT": "-1"}, "--port / BOT_PORT must be at least 0, got -1"),
    (["--port", "65536"], {}, "--port / BOT_PORT must be at most 65535, got 65536"),
    ([], {"BOT_WORKERS": "0"}, "BOT_WORKERS must be at least 1, got 0"),
    ([], {"BOT_MAX_BODY": "1023"}, "BOT_MAX_BODY must be at least 1024, got 1023"),
    ([], {"BOT_HEALTH_INTERVAL": "0.01"}, "BOT_HEALTH_INTERVAL must be at least 0.05, got 0.01"),
    ([], {"BOT_HEALTH_INTERVAL": "nan"}, "BOT_HEALTH_INTERVAL must be a number, got 'nan'"),
])
def test_numbers_have_bounds(flags, environ, message):
    with pytest.raises(ConfigError) as error:
        load(flags, environ)
    assert str(error.value) == message


def test_numbers_parse():
    config = load(["--port", "0"], {"BOT_HEALTH_INTERVAL": "0.05", "BOT_WORKERS": " 3 "})
    assert (config.port, config.health_interval, config.workers) == (0, 0.05, 3)
    assert isinstance(config.port, int) and isinstance(config.health_interval, float)


def test_choices():
    assert load(environ={"BOT_LOG_LEVEL": "warning"}).log_level == "WARNING"
    assert load(["--log-level", "error"]).log_level == "ERROR"
    with pytest.raises(ConfigError) as error:
        load(environ={"BOT_TUNNEL": "NGROK"})
    assert str(error.value) == "--tunnel / BOT_TUNNEL must be ngrok, cloudflared or none, got 'NGROK'"
    with pytest.raises(ConfigError) as error:
        load(environ={"BOT_LOG_LEVEL": "chatty"})
    assert str(error.value) == "--log-level / BOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got 'chatty'"
    with pytest.raises(ConfigError, match=r"argument --transport: invalid choice: 'pigeon' .*\(see --help\)$"):
        load(["--transport", "pigeon"])


@pytest.mark.parametrize("setting", [s for s in SETTINGS if isinstance(s.kind, Switch) and s.env],
                         ids=lambda s: s.env)
def test_switches_are_the_flag_or_the_variable(setting):
    env = str(setting.env)
    assert getattr(load(), setting.name) is False
    for word in ("1", "true", "Yes", "ON"):
        assert getattr(load(environ={env: word}), setting.name) is True, word
    for word in ("0", "false", "no", "Off"):
        assert getattr(load(environ={env: word}), setting.name) is False, word
    if setting.flag:
        assert getattr(load([setting.flag], {env: "0"}), setting.name) is True
    with pytest.raises(ConfigError) as error:
        load(environ={env: "maybe"})
    assert str(error.value) == f"{setting.label} must be on (1, true, yes, on) or off (0, false, no, off), got 'maybe'"


def test_the_sandbox_needs_no_token():
    Path(".env").write_text("")
    config = load_config(["--sandbox", "--tunnel", "none"], {})
    assert config.sandbox and config.token == ""
    with pytest.raises(ConfigError, match="^no bot token: set WEBEX_BOT_TOKEN"):
        load_config([], {})


def test_csv_lists_make_the_access_rule():
    config = load(["--allow-rooms", "room1=="], {"BOT_ALLOWED_PEOPLE": " Ada@Example.com, ,bob@example.com ",
                                                 "BOT_ALLOWED_DOMAINS": ",@Corp.example,"})
    assert config.access.people == {"ada@example.com", "bob@example.com"}
    assert (config.access.domains, config.access.rooms) == ({"corp.example"}, {"room1"})
    assert load(environ={"BOT_ALLOWED_PEOPLE": " , "}).access.open


@pytest.mark.parametrize("flags, environ, value", [
    (["--api-url", "http://127.0.0.1:9/v1"], {}, ("api_url", "http://127.0.0.1:9/v1/")),
    ([], {"WEBEX_API_URL": "https://example.org/v1//"}, ("api_url", "https://example.org/v1/")),
    (["--public-url", "https://bot.example.org/"], {}, ("public_url", "https://bot.example.org")),
    ([], {"BOT_PUBLIC_URL": "http://127.0.0.1:8080"}, ("public_url", "http://127.0.0.1:8080")),
    ([], {"BOT_PUBLIC_URL": "http://localhost:8080/"}, ("public_url", "http://localhost:8080")),
])
def test_urls_parse(flags, environ, value):
    assert getattr(load(flags, environ), value[0]) == value[1]


@pytest.mark.parametrize("environ, message", [
    ({"WEBEX_API_URL": "ftp://x"}, "--api-url / WEBEX_API_URL must be an http(s):// URL, got 'ftp://x'"),
    ({"WEBEX_API_URL": "webexapis.com/v1"}, "--api-url / WEBEX_API_URL must be an http(s):// URL, got "
                                            "'webexapis.com/v1'"),
    ({"WEBEX_U2C_URL": "http://[::1"}, "WEBEX_U2C_URL must be an http(s):// URL, got 'http://[::1'"),
    ({"BOT_PUBLIC_URL": "http://bot.example.org"}, "--public-url / BOT_PUBLIC_URL must be an https:// URL, got "
                                                   "'http://bot.example.org'"),
    ({"BOT_PUBLIC_URL": "http://localhost.example.org"}, "--public-url / BOT_PUBLIC_URL must be an https:// URL, "
                                                         "got 'http://localhost.example.org'"),
])
def test_urls_need_their_scheme(environ, message):
    with pytest.raises(ConfigError) as error:
        load(environ=environ)
    assert str(error.value) == message


@pytest.mark.parametrize("given, catalog", [
    (U2C_BASE, f"{U2C_BASE}/catalog"),
    (f"{U2C_BASE}/", f"{U2C_BASE}/catalog"),
    (f"{U2C_BASE}/catalog", f"{U2C_BASE}/catalog"),
    (f"{U2C_BASE}/catalog/", f"{U2C_BASE}/catalog"),
    (f"{U2C_BASE}/catalog?format=hostmap", f"{U2C_BASE}/catalog"),
    (f"{U2C_BASE}?services=wdm&format=hostmap", f"{U2C_BASE}/catalog?services=wdm"),
    ("http://127.0.0.1:8900/u2c/api/v1", "http://127.0.0.1:8900/u2c/api/v1/catalog"),
])
def test_the_u2c_url_may_be_the_base_or_the_catalog(given, catalog):
    assert load(environ={"WEBEX_U2C_URL": given}).u2c_url == catalog


def test_the_default_u2c_url_is_the_catalog():
    assert load().u2c_url == DEFAULT_U2C_URL == f"{U2C_BASE}/catalog"


def test_the_device_registry_finds_wdm_from_the_u2c_base(webex_emulator, webex_bot_account):
    base = webex_emulator.u2c_url.rsplit("/catalog", 1)[0]
    config = load(environ={"WEBEX_U2C_URL": base})
    assert config.u2c_url == webex_emulator.u2c_url
    assert DeviceRegistry(webex_bot_account["token"], config.u2c_url,
                          "config-test").wdm_url().startswith(webex_emulator.url)


def test_folders_are_paths(in_empty_folder):
    assert load(environ={"BOT_STATE_DIR": "state"}).state_dir == Path("state")
    one, two, three = (in_empty_folder / name for name in ("one", "two", "three"))
    for folder in (one, two, three):
        folder.mkdir()
    config = load(["--commands", str(one), "--commands", str(two)], {"BOT_COMMANDS_PATH": f"{os.pathsep}{three}"},
                  {"BOT_COMMANDS_PATH": "ignored"})
    assert config.commands_paths == (one, two, three)
    with pytest.raises(ConfigError) as error:
        load(["--commands", "nowhere"])
    assert str(error.value) == "commands folder nowhere does not exist"


def test_tunnel_none_needs_a_public_url_but_for_the_websocket_and_the_sandbox():
    with pytest.raises(ConfigError, match="^--tunnel none needs --public-url"):
        load(["--tunnel", "none"], {"BOT_TRANSPORT": "auto"})
    assert load(["--tunnel", "none", "--transport", "websocket"]).public_url is None
    assert load(["--tunnel", "none", "--sandbox"], {"BOT_TRANSPORT": "webhook"}).sandbox


# -- help -----------------------------------------------------------------------------------------

def words(text: str) -> str:
    return " ".join(text.split())


def test_help_shows_every_flag_with_its_variable_and_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    text = words(build_parser().format_help())
    for setting in SETTINGS:
        if setting.flag:
            assert setting.flag in text, setting.flag
            notes = [n for n in (setting.env, shown_default(setting) and f"default {shown_default(setting)}") if n]
            assert words(f"{setting.help} [{', '.join(notes)}]") in text, setting.flag
    assert "--env-file" in text


def test_help_lists_every_variable_without_a_flag_with_its_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    lines = build_parser().format_help().splitlines()
    heading = lines.index("settings read only from the environment or the .env file:")
    listed = {line.split()[0]: line for line in lines[heading + 1:] if line.strip()}
    env_only = [s for s in SETTINGS if not s.flag]
    assert list(listed) == [s.env for s in env_only]
    for setting in env_only:
        default = shown_default(setting)
        assert listed[str(setting.env)].endswith(f"{setting.help} [default {default}]" if default else setting.help)


def test_help_shows_configs_defaults():
    assert shown_default(by_name("port")) == "8080"
    assert shown_default(by_name("health_interval")) == "30"
    assert shown_default(by_name("allow_bots")) == "off"
    assert shown_default(by_name("instance")) == "the host name"
    assert shown_default(by_name("token")) == "" and shown_default(by_name("public_url")) == ""

