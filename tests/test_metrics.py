"""``--metrics-port``: ``/healthz`` and Prometheus ``/metrics`` of a real bot, on a port of their own."""
from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest
import requests

from bot import command
from bot.config import load_config
from bot.errors import StartupError
from support import REPO, Bots, free_port, until

Json = dict[str, Any]


@command("explode", help="fails on purpose")
def explode(ctx):
    raise RuntimeError("on purpose")


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus' text format (0 when it is not there yet)."""
    shown = ",".join(f'{key}="{value}"' for key, value in labels.items())
    wanted = f"{name}{{{shown}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(base: str) -> str:
    return requests.get(f"{base}/metrics", timeout=5).text


def test_without_a_metrics_port_prometheus_client_is_never_loaded():
    code = ("import sys; from bot.metrics import Metrics; m = Metrics(); m.received('webhook'); m.answered(0.1); "
            "m.watch_queue(lambda: 1); print('prometheus_client' in sys.modules, m.enabled)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert shown.stdout.split() == ["False", "False"]


def test_the_metrics_port_is_off_by_default_and_local_unless_told():
    config = load_config([], {"WEBEX_BOT_TOKEN": "t"})
    assert config.metrics_port is None and config.metrics_host == "127.0.0.1"
    config = load_config(["--metrics-port", "9464", "--metrics-host", "0.0.0.0"], {"WEBEX_BOT_TOKEN": "t"})
    assert (config.metrics_port, config.metrics_host) == (9464, "0.0.0.0")


def test_a_bot_counts_what_it_does_and_says_it_is_healthy(bots: Bots):
    port = free_port()
    runner = bots.start(explode, transport="websocket", metrics_port=port)
    base = f"http://127.0.0.1:{port}"
    health = requests.get(f"{base}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "reason": "the device websocket is connected"}
    chat = bots.chat()
    chat.say("echo counted")
    assert chat.reply() == "counted"
    chat.say("explode")
    assert chat.reply().startswith("Sorry, something went wrong running `explode`")
    text = until(lambda: next((t for t in [scrape(base)] if sample(t, "webex_bot_answered_total") >= 2), None),
                 "both messages to be counted")
    assert sample(text, "webex_bot_events_received_total", transport="websocket") == 2
    assert sample(text, "webex_bot_handler_errors_total") == 1
    assert sample(text, "webex_bot_handler_seconds_count") == 2
    assert sample(text, "webex_bot_webex_calls_total", status="ok") >= 4  # fetch and answer, each message
    assert sample(text, "webex_bot_queue_depth") == 0
    [device] = [d["id"] for d in bots.control.devices() if d["connected"]]
    bots.control.drop_websocket(device)
    until(lambda: sample(scrape(base), "webex_bot_websocket_reconnects_total") == 1, "the reconnect to be counted")
    assert requests.get(f"{base}/nothing-else", timeout=5).status_code == 404
    runner.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/healthz", timeout=5)


def test_webex_calls_are_counted_by_status(bots: Bots):
    port = free_port()
    bots.start(transport="websocket", metrics_port=port)
    bots.control.inject("server_error", count=1, status=503, path="/v1/messages/", method="GET")
    chat = bots.chat()
    chat.say("echo after a 503")
    assert chat.reply() == "after a 503"
    assert sample(scrape(f"http://127.0.0.1:{port}"), "webex_bot_webex_calls_total", status="503") == 1


def test_health_is_503_with_the_reason_when_the_public_url_does_not_reach_the_bot(bots: Bots):
    port, dead = free_port(), free_port()
    bots.start(transport="webhook", tunnel="none", public_url=f"http://127.0.0.1:{dead}", port=0,
               health_interval=0.1, metrics_port=port)

    def unhealthy() -> Any:
        answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        return answer.json() if answer.status_code == 503 else None

    said = until(unhealthy, "the health check to fail")
    assert said["status"] == "unhealthy" and "the public URL failed" in said["reason"]


def test_the_metrics_are_never_on_the_receiver_port(bots: Bots):
    port = free_port()
    runner = bots.start(transport="webhook", tunnel="none", port=0, metrics_port=port)
    assert runner.server is not None and runner.server.port != port
    for path in ("/metrics", "/healthz"):
        assert requests.get(f"{runner.server.url}{path}", timeout=5).status_code == 404


def test_a_metrics_port_in_use_stops_the_start_with_one_line(bots: Bots):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"cannot serve the metrics on 127.0.0.1:{port} .*--metrics-port"):
            bots.start(transport="websocket", metrics_port=port)
