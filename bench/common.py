"""What the benchmarks share: statistics, the machine's description, the RESULTS.md section writer,
a log counter, and an emulator that can run in its own process.

Each benchmark writes only its own section of RESULTS.md (between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``). The section's table gets a "previous run" column read from the section it
replaces, so running a benchmark twice shows the spread the shared machine causes.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from a checkout that is not installed
    sys.path.insert(0, str(ROOT))

Row = tuple[str, str, str, str, str]  # (#, measurement, result, target, verdict)
HEADER: Row = ("#", "measurement", "result", "target", "verdict")


# -- statistics ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``values`` need not be sorted); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def epoch(created: str) -> float:
    """Seconds since the epoch of a Webex timestamp (``2024-08-05T13:04:31.488Z``)."""
    return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()


def template(path: str) -> str:
    """``/v1/messages/Y2lz...`` -> ``/v1/messages/{id}``: ids are the long segments after the resource."""
    parts = path.split("/")
    return "/".join("{id}" if i >= 3 and len(p) >= 20 else p for i, p in enumerate(parts))


def by_route(calls: list[dict[str, Any]]) -> dict[str, int]:
    """Emulator call-log entries counted by ``METHOD /path/{id}``."""
    return dict(Counter(f"{c['method']} {template(c['path'])}" for c in calls))


# -- the machine and the run ----------------------------------------------------------------------


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    return (f"Python {platform.python_version()} ({platform.python_implementation()}), {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.machine()}")


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def run_lines(started: str, took: float, load: tuple[str, str]) -> str:
    """The bullet lines every section starts with: command, date, machine, load."""
    return (f"- Command: `{command_line()}`\n- Date: {started}; took {took:.0f} s\n- {machine()}\n"
            f"- Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} (a shared machine: expect spread)")


# -- tables and RESULTS.md ------------------------------------------------------------------------


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def previous_results(name: str, path: Path = RESULTS) -> tuple[str, dict[tuple[str, str], str]]:
    """(date, {(#, measurement): result}) of the section this run will replace; empty when none."""
    start, end = markers(name)
    text = path.read_text() if path.exists() else ""
    if start not in text or end not in text:
        return "", {}
    section = text.split(start, 1)[1].split(end, 1)[0]
    date = next((line.split(":", 1)[1].split(";")[0].strip() for line in section.splitlines()
                 if line.startswith("- Date:")), "")
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    if not rows or "result" not in rows[0]:
        return date, {}
    result = rows[0].index("result")
    return date, {(r[0], r[1]): r[result] for r in rows[1:] if len(r) > result}


def with_previous(rows: list[Row], previous: dict[tuple[str, str], str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows, with a "previous run" column after the result when there was one."""
    if not previous:
        return list(HEADER), [list(r) for r in rows]
    header = list(HEADER[:3]) + ["previous run"] + list(HEADER[3:])
    return header, [list(r[:3]) + [previous.get((r[0], r[1].strip()), "")] + list(r[3:]) for r in rows]


def text_table(rows: list[Row], previous: dict[tuple[str, str], str]) -> str:
    """The table for stdout, columns padded."""
    header, body = with_previous(rows, previous)
    width = [max(len(str(r[i])) for r in [header] + body) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(width[i]) for i, v in enumerate(r)).rstrip() for r in [header] + body)


def markdown_table(rows: list[Row], previous: dict[tuple[str, str], str], previous_date: str = "") -> str:
    header, body = with_previous(rows, previous)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    if previous:
        lines.append(f"\nThe previous run ({previous_date or 'date unknown'}) is the section this one replaced: "
                     "the difference is the spread between runs on this machine.")
    return "\n".join(lines)


def write_results(name: str, section: str, path: Path = RESULTS) -> None:
    """Replace the ``name`` section of RESULTS.md (or append it); leave every other section as it is.

    ``section`` is the text between the markers, which this adds."""
    start, end = markers(name)
    body = f"{start}\n{section.strip()}\n{end}"
    fresh = "# Benchmark results\n\nEach benchmark rewrites only its own section (see README.md).\n"
    text = path.read_text() if path.exists() else fresh
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.write_text(text)


# -- logs -----------------------------------------------------------------------------------------


class LogCounter:
    """Counts WARNING+ log records by logger and message template instead of printing them, so the
    table is readable and the section can still say what went wrong during the run."""

    def __init__(self, level: int = logging.WARNING) -> None:
        counts: Counter[str] = Counter()

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                counts[f"{record.name} {record.levelname}: {str(record.msg)[:60]}"] += 1

        self.counts = counts
        root = logging.getLogger()
        root.handlers[:] = [Handler(level)]
        root.setLevel(level)


class Run:
    """One benchmark run: when it began, the load then, and the warnings logged meanwhile; ``publish``
    prints the table and rewrites the benchmark's own section of RESULTS.md."""

    def __init__(self) -> None:
        self.logs = LogCounter()
        self.started, self.load_start, self.clock = now(), load_average(), time.monotonic()

    def publish(self, name: str, write: bool,
                report: Callable[[str, Callable[[list[Row]], str]], tuple[list[Row], str]]) -> int:
        header = run_lines(self.started, time.monotonic() - self.clock, (self.load_start, load_average()))
        previous_date, previous = previous_results(name)
        rows, section = report(header, lambda r: markdown_table(r, previous, previous_date))
        print(text_table(rows, previous))
        if write:
            write_results(name, section)
            print("\nwritten to bench/RESULTS.md")
        return 0


def listed(counts: dict[str, int]) -> str:
    """Counted log records as a markdown list."""
    return "\n".join(f"  - {n} x `{what}`" for what, n in sorted(counts.items())) or "  - none"


# -- an emulator in its own process --------------------------------------------------------------

_CHILD = """
import json, sys
from bot.emulator import Emulator
with Emulator(tls=sys.argv[1:] == ["--tls"]) as emulator:
    print(json.dumps({"api_url": emulator.api_url, "u2c_url": emulator.u2c_url,
                      "control_url": emulator.control_url, "ca_file": emulator.ca_file}), flush=True)
    sys.stdin.read()
"""


class RemoteEmulator:
    """The parts of ``Emulator`` the bot and ``start_test_bot`` use, for an emulator in a child process:
    its REST work then takes neither the bot's GIL nor its CPU time, as with the real Webex."""

    def __init__(self, urls: dict[str, Any]) -> None:
        self.api_url, self.u2c_url, self.control_url = urls["api_url"], urls["u2c_url"], urls["control_url"]
        self.ca_file: Optional[str] = urls.get("ca_file")  # the authority to trust when it serves TLS, else None
        self.control = self.client()

    def client(self) -> Any:
        """A control client of its own, for a thread that must not share ``control``'s session."""
        from bot.emulator import ControlClient

        return ControlClient(self.control_url, verify=self.ca_file or True)


@contextmanager
def emulator(where: str = "process", tls: bool = False) -> Iterator[Any]:
    """An emulator in a child process (``process``) or in this one (``thread``), stopped afterwards; with
    ``tls`` it serves ``https://`` and ``wss://`` only, its authority in ``ca_file``."""
    if where == "thread":
        from bot.emulator import Emulator

        with Emulator(tls=tls) as local:
            yield local
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *(["--tls"] if tls else [])], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the emulator's process did not start")
        yield RemoteEmulator(json.loads(line))
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def spread(values: Sequence[float]) -> str:
    """``p50 / p95 / max`` in ms."""
    return f"{ms(percentile(values, 50))} / {ms(percentile(values, 95))} / {ms(max(values) if values else math.nan)}"


def arg_list(values: Optional[Sequence[float]], form: str = ".0f") -> str:
    return ", ".join(format(v, form) for v in values or [])


def calls_per_command(control: Any, bot: dict[str, Any], person: dict[str, Any], room: dict[str, Any],
                      commands: int, timeout: float = 60.0, text: str = "echo call count") -> dict[str, Any]:
    """The bot's Webex API calls for ``commands`` plain ``echo`` commands, from the emulator's call log
    (cleared first, after the deliveries in flight have ended): total, by route, by status."""
    control.wait_deliveries_idle(10)
    time.sleep(0.3)
    control.clear_calls()
    start = len(control.messages(room=room, author=bot))
    for i in range(commands):
        control.post(person, f"{text} {i}", room=room)
    control.wait_for_messages(bot, commands, room=room, timeout=timeout, after=start)
    control.wait_deliveries_idle(10)
    time.sleep(0.5)
    calls = control.calls(bot)
    return {"commands": commands, "total": len(calls), "by_route": by_route(calls),
            "statuses": dict(Counter(str(c["status"]) for c in calls))}
