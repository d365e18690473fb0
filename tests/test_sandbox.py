"""`python run_bot.py --sandbox`: no token, no account, no tunnel; the real bot answers in the emulator."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bot.emulator import ControlClient

RUN_BOT = Path(__file__).resolve().parents[1] / "run_bot.py"


PLUGIN = """
from bot import incoming


@incoming("deploy", room="you@example.com")
def deploy(ctx, payload):
    return f"deployed {payload['version']}"


@incoming("github", room="you@example.com", auth="github")
def github(ctx, payload):
    return f"github says {ctx.request.headers['X-GitHub-Event']}"
"""


def start_sandbox(folder: Path, *args: str) -> tuple[subprocess.Popen, list[str], str]:
    """``run_bot.py --sandbox`` in ``folder``: the process, what it printed up to the end of its
    announcement, and the chat page's URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "BOT_", "NGROK_"))}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen([sys.executable, str(RUN_BOT), "--sandbox", *args], cwd=folder, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    url = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            stop_sandbox(process)
            raise AssertionError("the sandbox exited early:\n" + "".join(seen))
        seen.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+)/chat\?as=(\S+)", line)
        url = found.group(0) if found else url
        if url and line.startswith("Press Ctrl-C"):
            return process, seen, url
    stop_sandbox(process)
    raise AssertionError("".join(seen))


def stop_sandbox(process: subprocess.Popen) -> str:
    """Ctrl-C, as a user stops it; everything it printed after the start."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=15)
    return output


def control_of(url: str) -> ControlClient:
    return ControlClient(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}/_emulator")


def test_sandbox_starts_without_a_token_and_answers(tmp_path):
    process, _seen, url = start_sandbox(tmp_path)
    try:
        control = control_of(url)
        me = next(p for p in control.people() if p["id"] == parse_qs(urlsplit(url).query)["as"][0])
        bot = next(p for p in control.people() if p["type"] == "bot")
        rooms = control.rooms()
        assert {r["type"] for r in rooms} == {"direct", "group"}
        direct = next(r for r in rooms if r["type"] == "direct")
        control.post(me, "echo hello sandbox", room=direct)
        [answer] = control.wait_for_messages(bot, room=direct, timeout=15)
        assert answer["markdown"] == "hello sandbox"
        group = next(r for r in rooms if r["type"] == "group")
        control.post(me, "whoami", room=group, mentions=(bot,))
        [answer] = control.wait_for_messages(bot, room=group, timeout=15)
        assert me["emails"][0] in answer["markdown"]
        assert control.incoming_routes() == []
    finally:
        output = stop_sandbox(process)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "incoming routes" not in output


def test_sandbox_registers_the_incoming_routes_of_the_plugins(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "hooks.py").write_text(PLUGIN)
    process, seen, url = start_sandbox(tmp_path, "--commands", str(tmp_path / "plugins"))
    try:
        control = control_of(url)
        assert [(r["name"], r["auth"]) for r in control.incoming_routes()] == [("deploy", "key"), ("github", "github")]
        assert all(r["url"].startswith("http://127.0.0.1:") for r in control.incoming_routes())
        assert control.send_incoming("deploy", {"version": "1.2.3"})["status"] == 202
        assert control.send_incoming("github", event="release")["status"] == 202
        bot = next(p for p in control.people() if p["type"] == "bot")
        direct = next(r for r in control.rooms() if r["type"] == "direct")
        answers = control.wait_for_messages(bot, 2, room=direct, timeout=15)
        assert sorted(a["markdown"] for a in answers) == ["deployed 1.2.3", "github says release"]
        assert [r["status"] for r in control.calls() if r["path"] == "/v1/messages" and r["method"] == "POST"]
    finally:
        output = "".join(seen) + stop_sandbox(process)
    assert process.returncode == 0, output
    assert "incoming routes: deploy, github (send test events from the chat page)" in output
    assert "Traceback" not in output
