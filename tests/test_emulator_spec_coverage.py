"""Every operation of Webex's messaging spec is either served by the emulator or listed, with a reason,
under "## Not served" in docs/emulator.md; a listed line must name a spec operation the emulator does
not serve, so the list cannot go stale in either direction."""
from __future__ import annotations

import re
from pathlib import Path

from bot.emulator import Emulator
from support import unavailable
from webex_openapi import SPEC_ENV, load_document, spec_path

DOC = Path(__file__).resolve().parents[1] / "docs" / "emulator.md"
LINE = re.compile(r"^- (GET|POST|PUT|DELETE|PATCH) (/\S+): \S")
Operation = tuple[str, str]


def shape(path: str) -> str:
    """A path with its parameters blanked, so ``{id}``, ``{roomId}`` and ``<room_id>`` compare equal."""
    return re.sub(r"\{[^}]+\}|<[^>]+>", "{}", path)


def spec_operations() -> set[Operation]:
    if not spec_path().exists():
        unavailable(f"no Webex OpenAPI spec at {spec_path()} (set {SPEC_ENV})")
    paths = load_document(spec_path())["paths"]
    return {(method.upper(), shape(path)) for path, ops in paths.items() for method in ops
            if method in ("get", "post", "put", "delete", "patch")}


def served_operations() -> set[Operation]:
    emulator = Emulator()
    try:
        return {(method, shape(rule.rule[len("/v1"):])) for rule in emulator.app.url_map.iter_rules()
                if rule.rule.startswith("/v1/") for method in rule.methods - {"HEAD", "OPTIONS"}}
    finally:
        emulator.deliverer.close()


def not_served() -> list[Operation]:
    section = DOC.read_text(encoding="utf-8").split("## Not served", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    bad = [line for line in lines if not LINE.match(line)]
    assert not bad, f"lines not shaped '- METHOD /path: reason': {bad}"
    return [(m.group(1), shape(m.group(2))) for m in map(LINE.match, lines) if m]


def test_every_spec_operation_is_served_or_listed_as_not_served() -> None:
    spec, served, listed = spec_operations(), served_operations(), not_served()
    assert len(listed) == len(set(listed)), "an operation is listed twice"
    assert sorted(spec - served - set(listed)) == [], "neither served nor listed under 'Not served'"
    assert sorted(set(listed) & served) == [], "listed under 'Not served' but served"
    assert sorted(set(listed) - spec) == [], "listed lines that name no spec operation"
