"""Plugin discovery: the built-in commands, the examples folder, extra folders, installed packages.

The built-ins (``bot.builtins``) come with the package. ``commands/`` in the folder the bot runs in
(a clone of this project, the sandbox, a workshop) is loaded by path, so an installed bot run
elsewhere lists only what its user wrote.

A plugin is a Python module with decorated functions. A plugin that fails to import is reported with
its file and reason while the others still load; two handlers with one name stop the start-up with
an error that names both files.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import pkgutil
import sys
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Iterator

from .arguments import usage
from .registry import Handler, Registry, marked_handler

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "webex_bot.commands"
BUILTINS = "bot.builtins"
LOCAL_FOLDER = "commands"


def local_commands() -> list[Path]:
    """``commands/`` in the current folder, when there is one."""
    folder = Path.cwd() / LOCAL_FOLDER
    return [folder] if folder.is_dir() else []


@dataclass(frozen=True)
class PluginError:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.source} failed to load: {self.reason}"


def _reason(exc: BaseException) -> str:
    """The exception in one line, with the line of the plugin where it went wrong.

    That is the first module-level frame (the plugin's own code), not the deepest one, which may be
    inside the library the plugin called; a SyntaxError already names its file and line.
    """
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.name == "<module>" and not f.filename.startswith("<")]
    where = f" (line {frames[0].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _origin(handler: Handler) -> tuple[Any, ...]:
    """Where a handler is defined: one file imported under two module names is still one command."""
    code = getattr(handler.function, "__code__", None)
    if code is None:
        return (id(handler.function),)
    return (handler.kind, handler.name, str(Path(code.co_filename).resolve()), code.co_firstlineno)


def handlers_in(obj: Any) -> Iterator[Handler]:
    """The handlers a module holds (or the handler a function is)."""
    own = marked_handler(obj)
    if own is not None:
        yield own
        return
    for value in vars(obj).values() if isinstance(obj, ModuleType) else ():
        handler = marked_handler(value)
        if handler is not None:
            yield handler


def _imported_files() -> dict[Path, ModuleType]:
    """The modules imported already, by their file: a plugin file that another plugin (or a test)
    imported under its own name is loaded as that same module, not run a second time."""
    found = {}
    for module in list(sys.modules.values()):
        location = getattr(module, "__file__", None)
        if location:
            found[Path(location).resolve()] = module
    return found


def _folder_modules(folder: Path) -> Iterator[tuple[str, Any]]:
    tag = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    imported = _imported_files()
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        if path.resolve() in imported:
            yield str(path), imported[path.resolve()]
            continue
        name = f"webex_bot_plugins_{tag}.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # a broken plugin must not stop the others
            sys.modules.pop(name, None)
            yield str(path), PluginError(str(path), _reason(exc))
            continue
        yield str(path), module


def _package_modules(package: str) -> Iterator[tuple[str, Any]]:
    try:
        root = importlib.import_module(package)
    except Exception as exc:
        yield package, PluginError(package, _reason(exc))
        return
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        name = f"{package}.{info.name}"
        try:
            yield name, importlib.import_module(name)
        except Exception as exc:
            yield name, PluginError(name, _reason(exc))


def _entry_point_objects() -> Iterator[tuple[str, Any]]:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            yield f"{point.name} ({point.value})", point.load()
        except Exception as exc:
            yield point.value, PluginError(f"{point.name} ({point.value})", _reason(exc))


def load_plugins(folders: Iterable[Path] = (), *, packages: Iterable[str] = (BUILTINS,),
                 use_entry_points: bool = True, local: bool = True,
                 extra: Iterable[Any] = ()) -> tuple[Registry, list[PluginError]]:
    """Collect every handler into a new Registry; DuplicateCommand when two share a name.

    ``local`` adds ``commands/`` of the current folder before ``folders``; ``extra`` takes modules or
    decorated functions directly (the test kit uses it).
    """
    registry = Registry()
    errors: list[PluginError] = []
    seen: set[tuple[Any, ...]] = set()
    sources: list[Iterable[tuple[str, Any]]] = [_package_modules(p) for p in packages]
    sources += [_folder_modules(Path(f)) for f in [*(local_commands() if local else []), *folders]]
    if use_entry_points:
        sources.append(_entry_point_objects())
    sources.append((getattr(obj, "__name__", repr(obj)), obj) for obj in extra)
    for source in sources:
        for name, loaded in source:
            if isinstance(loaded, PluginError):
                log.error("%s", loaded)
                errors.append(loaded)
                continue
            for handler in handlers_in(loaded):
                if _origin(handler) in seen:
                    continue
                seen.add(_origin(handler))
                try:
                    usage(handler.name, handler.function)  # resolves the type hints now, not mid-chat
                except (TypeError, NameError) as exc:
                    error = PluginError(handler.source, f"the arguments of '{handler.name}' cannot be read: {exc}")
                    log.error("%s", error)
                    errors.append(error)
                    continue
                registry.add(handler)
    return registry, errors
