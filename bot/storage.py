"""Storage that lasts, for handlers: ``ctx.storage.room``, ``.person`` and ``.bot``, each a mapping of
str to JSON values, written through at once, kept across restarts and safe under concurrent handlers.

A ``Shelf`` (one scope) turns values into JSON text; a ``Backend`` only keeps text by (scope, key).
The backend is kept narrow (get, put, delete, keys, a compare-and-set ``swap``) so that a Redis
backend can sit behind the same shelves; everything JSON, and the atomic update loop, lives above it.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from . import ids

FILE_NAME = "storage.sqlite3"
BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's write before giving up

_UNSET: Any = object()


class Backend(Protocol):
    """Where values live: JSON text by (scope, key). Narrow, so that a Redis backend can sit behind it."""

    def get(self, scope: str, key: str) -> Optional[str]: ...

    def put(self, scope: str, key: str, value: str) -> None: ...

    def delete(self, scope: str, key: str) -> bool:
        """Remove the key; whether it was there."""

    def keys(self, scope: str) -> list[str]:
        """The keys of a scope, sorted."""

    def swap(self, scope: str, key: str, expected: Optional[str], new: Optional[str]) -> bool:
        """Compare-and-set: store ``new`` (None: delete) only if the current value is ``expected``
        (None: absent), atomically even against other processes; whether it did."""

    def close(self) -> None: ...


class SQLiteBackend:
    """A ``Backend`` in one SQLite file, the embedded default.

    One connection under a lock serves every thread: SQLite lets one writer at a time anyway, so a
    connection per thread would only add concurrent reads (a bot's reads take microseconds), and it
    would leave a connection behind every pool thread that ``close`` cannot reach. The connection
    is in autocommit mode, so each write is its own committed transaction when it returns (a process
    killed right after keeps it); WAL with ``synchronous=FULL`` keeps it across a power cut too.
    Other processes on the same file wait for each other through the busy timeout.
    """

    def __init__(self, path: Path) -> None:
        # Created before SQLite opens it, so it is never readable by others (it may hold user data);
        # SQLite gives its -wal and -shm files the database file's mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS storage (scope TEXT NOT NULL, key TEXT NOT NULL, "
                         "value TEXT NOT NULL, PRIMARY KEY (scope, key)) WITHOUT ROWID")

    def _rows(self, sql: str, *params: Any) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _write(self, sql: str, *params: Any) -> int:
        """How many rows it changed, read inside the lock (the next thread's statement would reset it)."""
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def get(self, scope: str, key: str) -> Optional[str]:
        rows = self._rows("SELECT value FROM storage WHERE scope = ? AND key = ?", scope, key)
        return rows[0][0] if rows else None

    def put(self, scope: str, key: str, value: str) -> None:
        self._write("INSERT INTO storage (scope, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value", scope, key, value)

    def delete(self, scope: str, key: str) -> bool:
        return self._write("DELETE FROM storage WHERE scope = ? AND key = ?", scope, key) == 1

    def keys(self, scope: str) -> list[str]:
        return [row[0] for row in self._rows("SELECT key FROM storage WHERE scope = ? ORDER BY key", scope)]

    def swap(self, scope: str, key: str, expected: Optional[str], new: Optional[str]) -> bool:
        """Each case is one conditional SQL statement, atomic in SQLite itself (it holds the write lock
        from its read to its write), so no other thread or process can write in between."""
        if expected is None and new is None:
            return self.get(scope, key) is None
        if expected is None:
            sql, params = "INSERT OR IGNORE INTO storage (scope, key, value) VALUES (?, ?, ?)", (scope, key, new)
        elif new is None:
            sql, params = "DELETE FROM storage WHERE scope = ? AND key = ? AND value = ?", (scope, key, expected)
        else:
            sql = "UPDATE storage SET value = ? WHERE scope = ? AND key = ? AND value = ?"
            params = (new, scope, key, expected)
        return self._write(sql, *params) == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _refuse(value: object) -> Any:
    """What ``json.dumps`` calls on a value JSON cannot hold: the type's name goes into the message."""
    raise TypeError(type(value).__name__)


def _encode(key: str, value: Any) -> str:
    """The JSON text of ``value``, or a TypeError naming ``key``: the handler's author sees which value."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), default=_refuse)
    except (TypeError, ValueError) as exc:
        detail = str(exc)
    raise TypeError(f"storage: the value for {key!r} is not JSON-serialisable ({detail})")


def _checked(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"storage: keys are str, not {type(key).__name__} ({key!r})")
    return key


class Shelf(MutableMapping[str, Any]):
    """One scope (a room, a person, the bot) as a mapping of str to JSON values.

    Every read and write goes to the backend at once; nothing is cached, so several handlers (and
    several processes) see each other's writes. A value read is a fresh copy decoded from JSON each
    time: mutating it changes nothing stored; assign it back (or use ``update(key, fn)``) to store it.
    """

    def __init__(self, backend: Backend, scope: str) -> None:
        self._backend = backend
        self.scope = scope

    def __repr__(self) -> str:
        return f"Shelf({self.scope!r})"

    def __getitem__(self, key: str) -> Any:
        text = self._backend.get(self.scope, key) if isinstance(key, str) else None
        if text is None:
            raise KeyError(key)
        return json.loads(text)

    def __setitem__(self, key: str, value: Any) -> None:
        self._backend.put(self.scope, _checked(key), _encode(key, value))

    def __delitem__(self, key: str) -> None:
        if not (isinstance(key, str) and self._backend.delete(self.scope, key)):
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._backend.keys(self.scope))

    def __len__(self) -> int:
        return len(self._backend.keys(self.scope))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._backend.get(self.scope, key) is not None

    def update(self, key: Any = (), fn: Optional[Callable[[Any], Any]] = None, /, default: Any = _UNSET,
               **more: Any) -> Any:
        """Two forms, told apart by the first argument.

        ``update(key: str, fn, default=None)``, the atomic one: stores ``fn(current value)`` (``default``
        when the key is absent) and returns the new value as stored. It is a compare-and-set loop on
        the backend's ``swap``: when another writer got in between, ``fn`` is called again on the
        newer value, so ``fn`` may run more than once and must only compute, not act.

        ``update(mapping_or_pairs=(), **kw)`` is ``dict.update``: every value is encoded before
        anything is written, so one that is not JSON writes none of them (a key named ``default``
        goes in with the others).
        """
        if isinstance(key, str):
            if not callable(fn) or more:
                raise TypeError("storage: update(key, fn, default=None) takes a key and a function")
            return self._update_one(key, fn, None if default is _UNSET else default)
        if fn is not None:
            raise TypeError("storage: update(mapping) takes one mapping; update(key, fn) takes a str key")
        if default is not _UNSET:
            more["default"] = default
        pairs: Iterable[tuple[Any, Any]] = key.items() if isinstance(key, Mapping) else key
        encoded = [(_checked(k), _encode(k, v)) for k, v in [*pairs, *more.items()]]
        for name, text in encoded:
            self._backend.put(self.scope, name, text)
        return None

    def _update_one(self, key: str, fn: Callable[[Any], Any], default: Any) -> Any:
        while True:
            current = self._backend.get(self.scope, key)
            new = _encode(key, fn(default if current is None else json.loads(current)))
            if self._backend.swap(self.scope, key, current, new):
                return json.loads(new)


class Storage:
    """The bot's storage: a Shelf per room, per person, and one for the bot.

    Rooms and people are keyed by ``ids.key``, so one room is one shelf whether its id came padded,
    unpadded, from another cluster or as the websocket's bare uuid.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def room(self, room_id: str) -> Shelf:
        return Shelf(self.backend, f"room:{_id_key(room_id, 'room')}")

    def person(self, person_id: str) -> Shelf:
        return Shelf(self.backend, f"person:{_id_key(person_id, 'person')}")

    @property
    def bot(self) -> Shelf:
        return Shelf(self.backend, "bot")

    def close(self) -> None:
        self.backend.close()


def _id_key(rest_id: str, kind: str) -> str:
    key = ids.key(rest_id) if isinstance(rest_id, str) else ""
    if not key:
        raise ValueError(f"storage: a {kind} needs its id, not {rest_id!r}")
    return key


def open_storage(state_dir: Path, bot_id: str = "") -> Storage:
    """The embedded storage: SQLite at ``state_dir / "storage.sqlite3"`` (the folder is made if missing).

    Given the bot's id the file is ``storage-<its uuid>.sqlite3`` instead, so that two bots run from
    one state folder do not share their ``bot`` shelves (as ``handled`` keeps a record per bot).
    """
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"storage-{re.sub(r'[^A-Za-z0-9_.-]', '_', _id_key(bot_id, 'bot'))}.sqlite3" if bot_id else FILE_NAME
    return Storage(SQLiteBackend(state_dir / name))
