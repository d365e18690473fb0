"""Conformance: Cisco's webex-js-sdk and webex-node-bot-framework, unmodified, answer on the emulator.

Both are Node programs written against the real Webex and pointed here only by service URLs, so what
they need from U2C (the limited catalog too), WDM, Mercury and the metrics service, the emulator must
serve as Webex does (WEBEX_PROTOCOL.md, section 6). The scripts in ``conformance/js`` pin exact
versions in their package.json and lock file; the tests install them once with ``npm ci`` into the
user's cache folder (as the webex-bot conformance test does its venv) and reuse them while both files
stay the same. Without node, npm or the registry they skip, except under CI, where that fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bot.emulator import Emulator
from conformance_kit import cache_folder, held
from support import unavailable

SCRIPTS = Path(__file__).parent / "conformance" / "js"
MANIFESTS = ("package.json", "package-lock.json")
WAIT = 60.0
Json = dict[str, Any]


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The scripts' packages, installed once per package.json and lock file, outside the checkout."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        unavailable("node and npm are needed for the webex-js-sdk conformance test")
    folder = cache_folder() / "conformance-js"
    stamp = folder / "installed.txt"
    made_for = hashlib.sha256(b"".join((SCRIPTS / name).read_bytes() for name in MANIFESTS)).hexdigest()
    with held(cache_folder() / "conformance-js.lock"):
        if not (folder / "node_modules").is_dir() or not stamp.exists() or stamp.read_text() != made_for:
            folder.mkdir(parents=True, exist_ok=True)
            for name in MANIFESTS:
                shutil.copyfile(SCRIPTS / name, folder / name)
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder,
                                  capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                unavailable(f"npm ci of the webex-js-sdk conformance packages failed: {done.stderr.strip()[-500:]}")
            stamp.write_text(made_for)
    return folder / "node_modules"


class Script:
    """One Node script in a subprocess; its stdout is a JSON line per step, kept with its log."""

    def __init__(self, modules: Path, command: list[str], emulator: Emulator, env: dict[str, str], log: Path) -> None:
        self.emulator = emulator
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["node", str(SCRIPTS / command[0]), *command[1:]],
                env={**os.environ, "NODE_PATH": str(modules), **env}, stdout=out, stderr=subprocess.STDOUT)

    def steps(self, step: str) -> list[Json]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                parsed = json.loads(line)
                if parsed.get("step") == step:
                    found.append(parsed)
        return found

    def wait_for(self, read: Callable[[], list[Any]], what: str) -> list[Any]:
        try:
            return self.emulator.control.wait_for(read, 1, WAIT, what)
        except TimeoutError as exc:
            tail = self.log.read_text(errors="replace")[-4000:]
            pytest.fail(f"{exc}\nthe script exited with {self.process.poll()}; its log ends:\n{tail}")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def script(node_modules: Path, webex_emulator: Emulator, tmp_path: Path) -> Iterator[Callable[..., Script]]:
    started: list[Script] = []

    def start(name: str, bot: Json, *args: str, **env: str) -> Script:
        """Run script ``name`` with ``args`` as ``bot``, with ``env`` added to the environment."""
        env = {"WEBEX_TOKEN": bot["token"], **env}
        started.append(Script(node_modules, [name, *args], webex_emulator, env, tmp_path / f"{name}.log"))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def connected(emulator: Emulator, bot: Json) -> list[Json]:
    return [d for d in emulator.control.devices() if d["connected"] and d["ownerId"] == bot["id"]]


def test_webex_js_sdk_listens_and_replies(webex_emulator: Emulator, script: Callable[..., Script]) -> None:
    control = webex_emulator.control
    bot, alice = control.create_bot("JS Bot"), control.create_person("Alice Smith")
    room = control.direct_room(alice, bot)
    sdk = script("listen.js", bot, webex_emulator.urls.u2c, webex_emulator.api_url.rstrip("/"))
    sdk.wait_for(lambda: sdk.steps("listening"), "the SDK to register a device and listen")
    [device] = connected(webex_emulator, bot)
    assert device["deviceType"] == "WEB" and device["deviceName"] == device["name"]

    asked = control.post(alice, "hello js", room=room)
    [created] = sdk.wait_for(lambda: [s for s in sdk.steps("created") if s["id"] == asked["id"]],
                             "a created event for Alice's message")
    assert created["personId"] == alice["id"] and created["text"] == "hello js"
    [reply] = sdk.wait_for(lambda: control.messages(room=room, author=bot), "the SDK's reply")
    assert reply["text"] == "js saw: hello js"
    paths = {call["path"] for call in control.calls()}
    assert {"/u2c/api/v1/limited/catalog", "/u2c/api/v1/catalog", "/wdm/api/v1/devices"} <= paths
    sdk.wait_for(lambda: [webex_emulator.client_metrics.posts] if webex_emulator.client_metrics.posts else [],
                 "the SDK to post its client metrics")
    # Mercury's envelope ids, acked as Cisco's SDK acks them, match what was sent.
    sdk.wait_for(lambda: [a for a in control.acks() if a["device"] == device["id"] and a["matched"]],
                 "the SDK to ack the envelope")
    assert sdk.process.poll() is None


def test_bot_framework_answers_in_a_direct_room_and_a_group_mention(
        webex_emulator: Emulator, script: Callable[..., Script]) -> None:
    control = webex_emulator.control
    bot, alice, bob = control.create_bot("Frame Bot"), control.create_person("Alice"), control.create_person("Bob")
    direct, group = control.direct_room(alice, bot), control.create_group("Team", alice, [bot, bob])
    framework = script("framework.js", bot, U2C_SERVICE_URL=webex_emulator.urls.u2c,
                       HYDRA_SERVICE_URL=webex_emulator.api_url.rstrip("/"))
    framework.wait_for(lambda: framework.steps("initialized") and connected(webex_emulator, bot),
                       "the framework to start and connect its websocket")

    control.post(alice, "ping one", room=direct)
    [answer] = framework.wait_for(lambda: control.messages(room=direct, author=bot), "the answer in the direct room")
    assert answer["text"] == "pong: one"

    control.post(bob, "ping nobody", room=group)
    control.post(alice, "ping two", room=group, mentions=(bot,))
    [answer] = framework.wait_for(lambda: control.messages(room=group, author=bot), "the answer to the mention")
    assert answer["text"] == "pong: two"
    assert [s["text"] for s in framework.steps("heard")][1:] == ["Frame Bot ping two"], "only the mention is heard"
