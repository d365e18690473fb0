"""Who may touch what (docs/architecture.md), kept by reading the code's imports with ``ast``.

Each rule is one slip that, once made, invites the next: a plugin that imports an internal module
breaks when it moves; a transport that imports the dispatcher grows a second way through the bot;
an SDK object outside the one client skips its retries and its errors; an emulator route that
imports its server closes an import circle; a patched library changes code nobody here owns.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import pytest

import bot

REPO = Path(__file__).resolve().parents[1]
PLUGIN_FOLDERS = (REPO / "commands", REPO / "bot" / "builtins")
TRANSPORTS = ("receiver.py", "websocket.py", "catchup.py", "wdm.py", "supervisor.py", "webhooks.py")
SDK = "webexpythonsdk"
OURS = ("bot", "commands")
NAMESPACES = {("flask", "g")}  # objects a library hands out to be written to
OWN_STDIO = {"sys.stderr"}  # the command users run owns its process's streams (bot/child_output.py)


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """Every import of a file, TYPE_CHECKING blocks included: (absolute module, names, line)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base, [a.name for a in node.names], node.lineno


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{line}"


def test_plugins_import_only_the_public_surface() -> None:
    found = []
    for path in python_files(*PLUGIN_FOLDERS):
        for module, names, line in imports(path):
            if module == "bot" and set(names) <= set(bot.__all__):
                continue
            if module == "bot" or module.startswith("bot."):
                found.append(f"{where(path, line)} imports {module} {names}")
    assert found == []


def test_the_public_surface_is_what_plugins_need() -> None:
    assert set(bot.__all__) == {"CommandInfo", "Context", "Member", "Reply", "card", "card_action", "command",
                                "cron", "every", "fallback", "file", "hears", "incoming", "on"}


@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_transport_does_not_import_the_dispatcher(name: str) -> None:
    path = REPO / "bot" / name
    assert [where(path, line) for module, _, line in imports(path) if module == "bot.dispatcher"] == []


def test_only_the_webex_client_uses_the_sdk() -> None:
    found = []
    for path in python_files(REPO / "bot", *PLUGIN_FOLDERS):
        if path == REPO / "bot" / "webex.py":
            continue
        found += [where(path, line) for module, _, line in imports(path) if module.split(".")[0] == SDK]
        found += [where(path, node.lineno) for node in ast.walk(tree_of(path))
                  if isinstance(node, ast.Attribute) and node.attr == "_api"]
    assert found == []


def test_no_emulator_module_imports_its_server() -> None:
    emulator = REPO / "bot" / "emulator"
    found = [where(path, line) for path in python_files(emulator) if path.name not in ("__init__.py", "server.py")
             for module, names, line in imports(path)
             if module == "bot.emulator.server" or (module == "bot.emulator" and "server" in names)]
    assert found == []


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module it comes from, for ``import x.y as z`` and ``from x import y``."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
    return names


def _root(node: ast.expr) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def patches(path: Path) -> Iterator[str]:
    """Writes into another library's module, or into the process environment."""
    tree = tree_of(path)
    names = _imported_names(tree)

    def foreign(node: ast.expr) -> bool:
        root = _root(node)
        top = names.get(root, "").split(".")[0]
        return bool(top) and top not in OURS and (names[root], root) not in NAMESPACES \
            and ast.unparse(node) not in OWN_STDIO

    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "os.environ":
                yield f"{where(path, node.lineno)} writes os.environ"
            elif isinstance(target, ast.Attribute) and foreign(target):
                yield f"{where(path, node.lineno)} assigns {ast.unparse(target)}"
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called in ("os.putenv", "os.environ.update", "os.environ.setdefault") or (
                    called == "setattr" and node.args and foreign(node.args[0])):
                yield f"{where(path, node.lineno)} calls {called}"


def test_the_code_patches_no_library_and_no_environment() -> None:
    found = [line for path in python_files(REPO / "bot", *PLUGIN_FOLDERS) for line in patches(path)]
    assert found == []


def test_the_patch_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nimport pyngrok.process\nimport subprocess\n"
                      "from pyngrok import process\n"
                      "pyngrok.process.subprocess = None\nos.environ['X'] = '1'\nsetattr(subprocess, 'Popen', 1)\n"
                      "process.subprocess = None\nos.environ.update(X='2')\n")
    assert len(list(patches(sample))) == 5


def test_the_emulator_uses_nothing_of_the_bot_but_its_server() -> None:
    found = [f"{where(path, line)} imports {module}" for path in python_files(REPO / "bot" / "emulator")
             for module, _, line in imports(path)
             if module.split(".")[0] == "bot" and not module.startswith("bot.emulator") and module != "bot.wsgi"]
    assert found == []
