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


def test_sandbox_starts_without_a_token_and_answers(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "BOT_", "NGROK_"))}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen([sys.executable, str(RUN_BOT), "--sandbox"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the sandbox exited early:\n" + "".join(seen)
            seen.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+)/chat\?as=(\S+)", line)
            if found:
                url = found.group(0)
        assert url is not None, "".join(seen)
        base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
        control = ControlClient(base + "/_emulator")
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
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output
    assert "Traceback" not in output
