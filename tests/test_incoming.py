"""``@incoming`` routes end to end: the real bot against the emulator, requests over HTTP to its own
port, and what it posted read back from the emulator; ``--incoming-urls`` as users run it."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import stat
import uuid
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode

import pytest
import requests

from bot import incoming
from bot.inbound import TokenBucket, incoming_key, route_urls
from bot.registry import Handler, Registry
from bot.runner import BotRunner
from support import NOWHERE, Bots, finish, output, program_env, run_bot, until

PERSON = "test.user@example.com"  # the ``webex_person``: the routes post to the bot's direct room with them
KEY = "the-incoming-key-of-the-tests"
SECRET = "the-github-secret-of-the-tests"
PRIVATE = ("Authorization", "X-Hub-Signature-256", "X-Hub-Signature", "Cookie")
Json = dict[str, Any]
# A push as GitHub sends it (trimmed to the fields a handler reads), with its headers.
PUSH = {"ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        "repository": {"id": 1296269, "name": "hello", "full_name": "octo/hello", "private": False},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "Fix the build"}}


@incoming("ci-deploy", room=PERSON)
def deployed(ctx, payload):
    return f"{payload['service']} deployed"


@incoming("echo", room=PERSON)
def echoed(ctx, payload):
    """What the handler got: the payload, and which private headers reached it (none may)."""
    private = [name for name in PRIVATE if name in ctx.request.headers]
    return f"{ctx.request.route} got {json.dumps(payload, sort_keys=True)} private={private}"


@incoming("gh", room=PERSON, auth="github")
def pushed(ctx, payload):
    return f"{ctx.github_event} to {payload['repository']['full_name']}: {payload['head_commit']['message']}"


@incoming("fragile", room=PERSON)
def fragile(ctx, payload):
    if payload.get("fail"):
        raise RuntimeError("the handler broke")
    return "fragile is fine"


ROUTES = [deployed, echoed, pushed, fragile]


@pytest.fixture
def chat(bots: Bots):
    """The person's direct room with the bot, where the routes post."""
    return bots.chat()


def start(bots: Bots, **settings: Any) -> BotRunner:
    return bots.start(*ROUTES, **{"incoming_key": KEY, "incoming_secret": SECRET, **settings})


def post(runner: BotRunner, name: str, payload: Any = None, *, key: Optional[str] = KEY, query: bool = False,
         **options: Any) -> requests.Response:
    """POST ``payload`` as JSON to route ``name``, with ``key`` by header (or by query)."""
    headers = dict(options.pop("headers", {}))
    params = {}
    if key is not None and query:
        params["key"] = key
    elif key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if payload is not None:
        options["json"] = payload
    assert runner.server is not None
    return requests.post(f"{runner.server.url}/incoming/{name}", headers=headers, params=params, timeout=10,
                         **options)


def github(runner: BotRunner, body: bytes, *, secret: Optional[str] = SECRET, delivery: Optional[str] = None,
           **headers: str) -> requests.Response:
    """POST ``body`` to the ``gh`` route as GitHub does: signed with ``secret`` (unsigned when None)."""
    signed = {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
              } if secret is not None else {}
    sent = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/7f1d2a3", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()), **signed, **headers}
    return post(runner, "gh", key=None, data=body, headers=sent)


def said(chat) -> list[str]:
    """What the bot has posted in the chat's room, oldest first."""
    return [m.get("markdown", m.get("text", "")) for m in chat.control.messages(room=chat.room, author=chat.bot)]


def answered(response: requests.Response, status: int, outcome: str) -> None:
    assert (response.status_code, response.json()) == (status, {"status": outcome}), response.text


# -- the key --------------------------------------------------------------------------------------

def test_the_key_by_header_or_by_query_is_accepted_and_posts_once(bots, chat):
    runner = start(bots)
    answered(post(runner, "ci-deploy", {"service": "api"}, query=True), 202, "accepted")
    assert chat.reply() == "api deployed"
    answered(post(runner, "echo", {"n": 1}, headers={"Cookie": "session=1", "X-Hub-Signature": "sha1=0"}), 202,
             "accepted")
    assert chat.reply() == 'echo got {"n": 1} private=[]'
    assert said(chat) == ["api deployed", 'echo got {"n": 1} private=[]']


def test_no_key_is_401_a_wrong_key_403_and_nothing_is_posted(bots, chat):
    runner = start(bots)
    answered(post(runner, "ci-deploy", {"service": "none"}, key=None), 401, "missing key")
    answered(post(runner, "ci-deploy", {"service": "wrong"}, key="not-the-key"), 403, "wrong key")
    answered(post(runner, "ci-deploy", {"service": "wrong"}, key="not-the-key", query=True), 403, "wrong key")
    answered(post(runner, "ci-deploy", {"service": "é"}, key="ключ", query=True), 403, "wrong key")
    answered(post(runner, "ci-deploy", {"service": "basic"}, key=None, headers={"Authorization": f"Basic {KEY}"}),
             401, "missing key")
    answered(post(runner, "ci-deploy", {"service": "api"}), 202, "accepted")
    assert chat.reply() == "api deployed"
    assert said(chat) == ["api deployed"]


# -- GitHub ---------------------------------------------------------------------------------------

def test_githubs_signature_is_checked_on_the_raw_body(bots, chat):
    runner = start(bots)
    body = json.dumps(PUSH, indent=2).encode()
    answered(github(runner, body, secret=None), 401, "missing signature")
    answered(github(runner, body, secret="another secret"), 403, "bad signature")
    answered(github(runner, body.replace(b"Fix", b"Fox")[:-1] + b"}",
                    **{"X-Hub-Signature-256": "sha256=" + "0" * 64}), 403, "bad signature")
    answered(github(runner, body), 202, "accepted")
    assert chat.reply() == "push to octo/hello: Fix the build"
    assert said(chat) == ["push to octo/hello: Fix the build"]


def test_a_github_route_without_its_secret_answers_503_and_the_bot_still_chats(bots, chat, caplog):
    caplog.set_level(logging.WARNING)
    runner = start(bots, incoming_secret=None)
    warned = [r.getMessage() for r in caplog.records if "'gh'" in r.getMessage()]
    assert warned == ["route 'gh' needs BOT_INCOMING_SECRET; it refuses every request until it is set"]
    response = github(runner, json.dumps(PUSH).encode(), secret="anything")
    assert response.status_code == 503 and "BOT_INCOMING_SECRET" in response.json()["status"]
    chat.say("echo still here")
    assert chat.reply() == "still here"
    answered(post(runner, "ci-deploy", {"service": "api"}), 202, "accepted")
    assert chat.reply() == "api deployed"


# -- the body -------------------------------------------------------------------------------------

def test_too_large_the_wrong_type_and_bad_json_are_refused(bots, chat):
    runner = start(bots, max_body_bytes=2048)  # the server itself refuses a body over twice that
    answered(post(runner, "ci-deploy", {"service": "x" * 3000}), 413, "body too large")
    answered(post(runner, "ci-deploy", data=iter([b'{"service": "', b"x" * 3000, b'"}']),
                  headers={"Content-Type": "application/json"}), 413, "body too large")
    answered(github(runner, json.dumps({**PUSH, "padding": "x" * 3000}).encode()), 413, "body too large")
    answered(post(runner, "ci-deploy", data=b"service=api", headers={"Content-Type": "text/plain"}), 415,
             "unsupported content type")
    answered(post(runner, "ci-deploy", data=b"service=api"), 415, "unsupported content type")
    answered(post(runner, "ci-deploy", data=b'{"service": ', headers={"Content-Type": "application/json"}), 400,
             "malformed body")
    answered(post(runner, "echo", data="[" * 2000, headers={"Content-Type": "application/json"}), 400,
             "malformed body")
    answered(post(runner, "echo", data=b"a=%FF", headers={"Content-Type": "application/x-www-form-urlencoded"}),
             400, "malformed body")
    answered(post(runner, "echo", [1, "two"]), 202, "accepted")
    assert chat.reply() == 'echo got [1, "two"] private=[]'
    assert len(said(chat)) == 1


def test_a_form_is_a_dict_and_githubs_payload_form_is_its_json(bots, chat):
    runner = start(bots)
    answered(post(runner, "echo", data={"service": "api", "version": "2"}), 202, "accepted")
    assert chat.reply() == 'echo got {"service": "api", "version": "2"} private=[]'
    answered(post(runner, "echo", data={"payload": json.dumps({"zen": "Keep it simple"})}), 202, "accepted")
    assert chat.reply() == 'echo got {"zen": "Keep it simple"} private=[]'
    answered(post(runner, "echo", data={"payload": "not json"}), 202, "accepted")
    assert chat.reply() == 'echo got {"payload": "not json"} private=[]'
    form = urlencode({"payload": json.dumps(PUSH)}).encode()
    answered(github(runner, form, **{"Content-Type": "application/x-www-form-urlencoded"}), 202, "accepted")
    assert chat.reply() == "push to octo/hello: Fix the build"


# -- once, and not too often ----------------------------------------------------------------------

def test_a_repeated_delivery_posts_once(bots, chat):
    runner = start(bots)
    body, delivery = json.dumps(PUSH).encode(), str(uuid.uuid4())
    answered(github(runner, body, delivery=delivery), 202, "accepted")
    answered(github(runner, body, delivery=delivery), 200, "duplicate")
    assert chat.reply() == "push to octo/hello: Fix the build"
    once = {"Idempotency-Key": "deploy-42"}
    answered(post(runner, "ci-deploy", {"service": "api"}, headers=once), 202, "accepted")
    answered(post(runner, "ci-deploy", {"service": "api"}, headers=once), 200, "duplicate")
    answered(post(runner, "echo", {"same key": "other route"}, headers=once), 202, "accepted")
    assert sorted([chat.reply(), chat.reply()]) == ["api deployed", 'echo got {"same key": "other route"} private=[]']
    answered(post(runner, "ci-deploy", {"service": "web"}), 202, "accepted")
    assert chat.reply() == "web deployed"
    assert len(said(chat)) == 4


def test_over_its_rate_a_route_answers_429_with_retry_after_and_the_others_go_on(bots, chat):
    runner = start(bots, incoming_rate=3)
    for n in range(3):
        answered(post(runner, "ci-deploy", {"service": f"s{n}"}), 202, "accepted")
    limited = post(runner, "ci-deploy", {"service": "s3"})
    answered(limited, 429, "too many requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    for _ in range(5):  # refused requests spend nothing of the budget
        answered(post(runner, "echo", {"n": 0}, key="wrong"), 403, "wrong key")
    answered(post(runner, "echo", {"n": 1}), 202, "accepted")
    until(lambda: len(said(chat)) == 4, "the four accepted requests posted")
    assert sorted(said(chat)) == ["echo got {\"n\": 1} private=[]", "s0 deployed", "s1 deployed", "s2 deployed"]


def test_the_token_bucket_refills_with_the_clock():

    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take(), bucket.take()] == [0, 0, 30]
    now[0] = 29.0
    assert bucket.take() == 1
    now[0] = 30.0
    assert (bucket.take(), bucket.take()) == (0, 30)


# -- only what plugins define -----------------------------------------------------------------------

def test_only_the_routes_plugins_define_are_served_and_only_by_post(bots):
    runner = start(bots)
    assert runner.server is not None
    base = runner.server.url
    for path in ("/incoming/nobody", "/incoming/", "/incoming", "/incoming/ci-deploy/x", "/static/x"):
        response = requests.post(base + path, params={"key": KEY}, json={}, timeout=10)
        assert (response.status_code, response.json()) == (404, {"status": "not found"}), path
    for method in ("GET", "PUT", "DELETE", "OPTIONS"):
        response = requests.request(method, f"{base}/incoming/ci-deploy", params={"key": KEY}, timeout=10)
        assert response.status_code in (404, 405), method
        assert KEY not in response.text and "deploy" not in response.text
        assert response.json() == {"status": "method not allowed"}


def test_a_failing_handler_is_logged_with_a_reference_and_the_route_keeps_working(bots, chat, caplog):
    caplog.set_level(logging.ERROR)
    runner = start(bots)
    answered(post(runner, "fragile", {"fail": True}), 202, "accepted")
    failed = until(lambda: [r for r in caplog.records if "failed, reference" in r.getMessage()],
                   "the handler's failure logged")
    assert "fragile" in failed[0].getMessage() and failed[0].exc_info is not None
    answered(post(runner, "fragile", {}), 202, "accepted")
    assert chat.reply() == "fragile is fine"
    assert said(chat) == ["fragile is fine"]


# -- the key, kept ----------------------------------------------------------------------------------

def test_the_key_is_made_once_and_kept_across_restarts(bots, chat, tmp_path):
    state = tmp_path / "state"
    first = start(bots, incoming_key=None, state_dir=state)
    kept = state / "incoming-key"
    key = kept.read_text().strip()
    assert len(key) >= 40 and stat.S_IMODE(kept.stat().st_mode) == 0o600
    answered(post(first, "ci-deploy", {"service": "first"}, key=key), 202, "accepted")
    assert chat.reply() == "first deployed"
    bots.stop(first)
    second = start(bots, incoming_key=None, state_dir=state)
    assert kept.read_text().strip() == key
    answered(post(second, "ci-deploy", {"service": "second"}, key=key, query=True), 202, "accepted")
    assert chat.reply() == "second deployed"
    answered(post(second, "ci-deploy", {"service": "x"}), 403, "wrong key")  # the tests' KEY is not it


def test_incoming_key_prefers_the_configured_one_and_makes_a_private_folder(tmp_path):

    assert incoming_key(tmp_path / "unused", "configured") == "configured"
    assert not (tmp_path / "unused").exists()
    folder = tmp_path / "new"
    made = incoming_key(folder, None)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert incoming_key(folder, None) == made


def test_the_key_never_appears_in_the_log(bots, chat, caplog):
    caplog.set_level(logging.DEBUG)
    runner = start(bots, incoming_key=None)
    key = (runner.config.state_dir / "incoming-key").read_text().strip()
    answered(post(runner, "ci-deploy", {"service": "api"}, key=key, query=True), 202, "accepted")
    assert chat.reply() == "api deployed"
    answered(post(runner, "ci-deploy", {"service": "x"}, key=key + "x", query=True), 403, "wrong key")
    answered(post(runner, "ci-deploy", key=key, query=True, data=b"x", headers={"Content-Type": "text/plain"}), 415,
             "unsupported content type")
    answered(post(runner, "nobody", {}, key=key, query=True), 404, "not found")
    assert runner.server is not None
    assert requests.get(f"{runner.server.url}/incoming/ci-deploy", params={"key": key}, timeout=10).status_code == 405
    bots.stop(runner)
    served = [r for r in caplog.records if not r.name.startswith("urllib3")]  # the test's own client logs its URLs
    assert served and all(key not in f"{r.getMessage()} {r.exc_text or ''}" for r in served)


def test_route_urls_carry_the_key_for_key_routes_only():

    routes = [Handler("incoming", "deploy", deployed, auth="key"), Handler("incoming", "github", pushed, auth="github")]
    assert route_urls("https://bot.example.org/", routes, "k") == ["https://bot.example.org/incoming/deploy?key=k",
                                                                    "https://bot.example.org/incoming/github"]


# -- the websocket transport ------------------------------------------------------------------------

def test_under_the_websocket_the_routes_answer_on_the_local_port(bots, chat):
    runner = start(bots, transport="websocket")
    assert runner.websocket is not None and runner.server is not None
    answered(post(runner, "ci-deploy", {"service": "api"}), 202, "accepted")
    assert chat.reply() == "api deployed"
    chat.say("echo over the socket")
    assert chat.reply() == "over the socket"


# -- --incoming-urls --------------------------------------------------------------------------------

PLUGIN = '''
from bot import incoming
from bot.inbound import TokenBucket, incoming_key, route_urls

@incoming("deploy", room="ops@example.com")
def deployed(ctx, payload):
    return "deployed"

@incoming("github", room="ops@example.com", auth="github")
def pushed(ctx, payload):
    return "pushed"
'''


def incoming_urls(tmp_path: Path, *args: str, **variables: str) -> tuple[int, list[str], str]:
    """``run_bot.py --incoming-urls`` with a plugin of two routes; Webex is unreachable (NOWHERE)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "routes.py").write_text(PLUGIN)
    cwd = tmp_path / "run"
    env = program_env(cwd, WEBEX_BOT_TOKEN="a-token", WEBEX_API_URL=NOWHERE, BOT_STATE_DIR=str(tmp_path / "state"),
                      **variables)
    code = finish(run_bot(cwd, env, "--incoming-urls", "--commands", str(plugins), *args), 30)
    out, err = output(cwd)
    return code, out.splitlines(), err


def test_incoming_urls_prints_each_route_with_its_key_and_exits(tmp_path):
    code, lines, err = incoming_urls(tmp_path, "--public-url", "https://bot.example.org", BOT_INCOMING_SECRET="s")
    key = (tmp_path / "state" / "incoming-key").read_text().strip()
    assert code == 0 and "Traceback" not in err
    assert lines == [f"https://bot.example.org/incoming/deploy?key={key}",
                     "https://bot.example.org/incoming/github  secret: BOT_INCOMING_SECRET (set it in GitHub's "
                     "webhook settings)"]
    code, again, _ = incoming_urls(tmp_path, "--public-url", "https://bot.example.org", BOT_INCOMING_SECRET="s")
    assert (code, again) == (0, lines)


def test_incoming_urls_use_the_ngrok_domain_or_say_the_url_is_random(tmp_path):
    code, lines, _ = incoming_urls(tmp_path, BOT_INCOMING_KEY="k", BOT_NGROK_DOMAIN="bot.ngrok.app")
    assert code == 0
    assert lines == ["https://bot.ngrok.app/incoming/deploy?key=k",
                     "https://bot.ngrok.app/incoming/github  BOT_INCOMING_SECRET is not set: the route refuses "
                     "every request until it is"]
    code, lines, _ = incoming_urls(tmp_path, BOT_INCOMING_KEY="k")
    assert code == 0 and "random per start" in lines[0] and '"public URL: ..."' in lines[0]
    assert lines[1:3] == ["<public URL>/incoming/deploy?key=k", lines[2]]
    assert lines[2].startswith("<public URL>/incoming/github  ")


def test_two_incoming_routes_with_one_name_name_both_places() -> None:
    def route():
        @incoming("deploy")
        def deployed(ctx, payload):
            return None
        return deployed.__webex_bot_handler__

    registry = Registry()
    registry.add(route())
    with pytest.raises(Exception, match="incoming route 'deploy' is defined twice: in .*test_incoming.py:.* and in "):
        registry.add(route())
