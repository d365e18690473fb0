"""The storage handlers keep: real SQLite files, real threads, real processes (one killed mid-run)."""
from __future__ import annotations

import base64
import datetime
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.storage import Shelf, SQLiteBackend, Storage, open_storage

REPO = Path(__file__).resolve().parents[1]
UUID = "5e3bd4f0-4b6a-11ee-9a3a-6f0e7a1c2b3d"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    opened = open_storage(tmp_path)
    yield opened
    opened.close()


def child(code: str, state_dir: Path) -> subprocess.Popen[str]:
    """A python process running ``code`` with ``storage`` opened on ``state_dir``, stdin and stdout piped."""
    prelude = f"import sys\nfrom pathlib import Path\nfrom bot.storage import open_storage\n" \
              f"storage = open_storage(Path({str(state_dir)!r}))\n"
    return subprocess.Popen([sys.executable, "-c", prelude + code], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_shelf_is_a_mapping(storage: Storage) -> None:
    shelf = storage.bot
    shelf["b"] = 2
    shelf["a"] = 1
    assert shelf["a"] == 1 and len(shelf) == 2 and list(shelf) == ["a", "b"]
    assert "a" in shelf and "z" not in shelf and 3 not in shelf
    assert shelf.get("z") is None and shelf.get("z", 7) == 7 and shelf.get("a", 7) == 1
    del shelf["a"]
    assert "a" not in shelf and dict(shelf) == {"b": 2}
    with pytest.raises(KeyError):
        del shelf["a"]
    with pytest.raises(KeyError):
        shelf["a"]


@pytest.mark.parametrize("value", [
    {"nested": {"list": [1, 2.5, "three", None, True, False], "empty": {}}},
    [[], [1, [2, [3]]]],
    "ünïcödé ✓ 日本語 🤖",
    None, True, False, 0, -17, 1.5, 1e300, "", 2 ** 60,
])
def test_values_round_trip(storage: Storage, value: Any) -> None:
    storage.bot["v"] = value
    assert storage.bot["v"] == value and type(storage.bot["v"]) is type(value)


def test_a_value_read_is_a_copy(storage: Storage) -> None:
    shelf = storage.bot
    shelf["todo"] = {"items": ["one"]}
    read = shelf["todo"]
    read["items"].append("two")
    assert shelf["todo"] == {"items": ["one"]}
    assert shelf["todo"] is not shelf["todo"]


@pytest.mark.parametrize("key", [1, None, ("a",), b"bytes"])
def test_a_key_must_be_a_str(storage: Storage, key: Any) -> None:
    with pytest.raises(TypeError, match="keys are str"):
        storage.bot[key] = 1
    assert len(storage.bot) == 0


@pytest.mark.parametrize("value, kind", [
    (datetime.datetime(2026, 12, 2, 16, 30), "datetime"),
    ({1, 2}, "set"),
    (float("nan"), "Out of range float"),
    (float("inf"), "Out of range float"),
    (object(), "object"),
    ({"deep": [{"when": datetime.date(2026, 1, 1)}]}, "date"),
])
def test_a_value_that_is_not_json_writes_nothing(storage: Storage, value: Any, kind: str) -> None:
    shelf = storage.bot
    shelf["when"] = "before"
    with pytest.raises(TypeError, match=rf"storage: the value for 'when' is not JSON-serialisable \({kind}"):
        shelf["when"] = value
    with pytest.raises(TypeError, match="'other'"):
        shelf["other"] = value
    assert dict(shelf) == {"when": "before"}


def test_update_applies_a_function_and_returns_the_new_value(storage: Storage) -> None:
    shelf = storage.bot
    assert shelf.update("count", lambda v: v + 1, default=0) == 1
    assert shelf.update("count", lambda v: v + 1, default=0) == 2
    assert shelf.update("seen", lambda v: (v or []) + ["x"]) == ["x"]
    assert shelf.update("pair", lambda v: (1, 2), default=None) == [1, 2]  # as stored, as a read gives it
    assert dict(shelf) == {"count": 2, "pair": [1, 2], "seen": ["x"]}


def test_update_with_a_value_that_is_not_json_writes_nothing(storage: Storage) -> None:
    shelf = storage.bot
    shelf["when"] = "before"
    with pytest.raises(TypeError, match="the value for 'when' is not JSON-serialisable \\(datetime\\)"):
        shelf.update("when", lambda v: datetime.datetime.now())
    assert shelf["when"] == "before"


def test_dict_form_update_still_works(storage: Storage) -> None:
    shelf = storage.bot
    assert shelf.update({"a": 1}, b=2) is None
    shelf.update([("c", 3)])
    shelf.update(default=4, key=5, fn=6)  # keywords are keys, even the names the atomic form uses
    shelf.update()
    assert dict(shelf) == {"a": 1, "b": 2, "c": 3, "default": 4, "fn": 6, "key": 5}
    with pytest.raises(TypeError, match="'bad'"):
        shelf.update({"a": 10, "bad": {1}})
    assert shelf["a"] == 1  # one bad value writes none of them
    with pytest.raises(TypeError):
        shelf.update("a")
    with pytest.raises(TypeError):
        shelf.update("a", lambda v: v, extra=1)


def rest_id(cluster: str, kind: str, uuid: str) -> str:
    """A REST id as Webex sends it, with its base64 padding."""
    return base64.b64encode(f"ciscospark://{cluster}/{kind}/{uuid}".encode()).decode()


@pytest.mark.parametrize("kind, shelf_of", [("ROOM", Storage.room), ("PEOPLE", Storage.person)])
def test_one_scope_whichever_way_the_id_came(storage: Storage, kind: str, shelf_of: Any) -> None:
    padded = rest_id("us", kind, UUID)
    other_clusters = [rest_id(cluster, kind, UUID)
                      for cluster in ("urn:TEAM:eu-central-1_k", "urn:TEAM:ap-southeast-2_c")]
    forms = {padded, UUID, UUID.upper(), *other_clusters}
    forms |= {form.rstrip("=") for form in forms}
    assert any(form.endswith("=") for form in forms)  # a ROOM id in "us" has no padding, in these others it has
    shelf_of(storage, padded)["topic"] = "storage"
    for form in forms:
        assert shelf_of(storage, form)["topic"] == "storage"
        assert shelf_of(storage, form).scope == shelf_of(storage, UUID).scope
    assert len({shelf_of(storage, form).scope for form in forms}) == 1
    assert "topic" not in storage.bot
    with pytest.raises(ValueError):
        shelf_of(storage, "")


def test_scopes_are_apart(storage: Storage) -> None:
    storage.room("r1")["k"] = "room one"
    storage.room("r2")["k"] = "room two"
    storage.person("r1")["k"] = "person"
    storage.bot["k"] = "bot"
    assert [storage.room("r1")["k"], storage.room("r2")["k"], storage.person("r1")["k"], storage.bot["k"]] == [
        "room one", "room two", "person", "bot"]
    assert list(storage.room("r1")) == ["k"]


def test_it_survives_a_restart(tmp_path: Path) -> None:
    first = open_storage(tmp_path)
    first.person("p")["name"] = "Ada"
    first.close()
    second = open_storage(tmp_path)
    try:
        assert dict(second.person("p")) == {"name": "Ada"}
    finally:
        second.close()


def test_two_bots_in_one_state_folder_keep_apart(tmp_path: Path) -> None:
    one, other = open_storage(tmp_path, rest_id("us", "PEOPLE", UUID)), open_storage(tmp_path, "other-bot")
    try:
        one.bot["name"] = "one"
        other.bot["name"] = "other"
        again = open_storage(tmp_path, UUID)  # the same bot, its id in another form
        try:
            assert [one.bot["name"], other.bot["name"], again.bot["name"]] == ["one", "other", "one"]
        finally:
            again.close()
    finally:
        one.close()
        other.close()
    assert {p.name for p in tmp_path.glob("*.sqlite3")} == {f"storage-{UUID}.sqlite3", "storage-other-bot.sqlite3"}


def test_it_survives_a_killed_process(tmp_path: Path) -> None:
    writer = child("storage.bot['last'] = {'words': 'kept'}\nprint('written', flush=True)\nsys.stdin.read()\n",
                   tmp_path)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "written\n"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    reader = open_storage(tmp_path)
    try:
        assert reader.bot["last"] == {"words": "kept"}
    finally:
        reader.close()


def test_the_file_is_for_its_owner_only(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    opened = open_storage(state_dir)
    opened.bot["secret"] = "x"
    try:
        for path in state_dir.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        names = {p.name for p in state_dir.iterdir()}
        assert names == {"storage.sqlite3", "storage.sqlite3-wal", "storage.sqlite3-shm"}  # WAL, and its files too
    finally:
        opened.close()


def test_a_wider_file_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    SQLiteBackend(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_threads_update_atomically(storage: Storage) -> None:
    shelf = storage.room(UUID)
    start = threading.Barrier(20)
    returned: list[int] = []

    def bump() -> None:
        start.wait()
        returned.append(shelf.update("count", lambda v: v + 1, default=0))

    threads = [threading.Thread(target=bump) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shelf["count"] == 20
    assert sorted(returned) == list(range(1, 21))


def test_update_calls_again_when_another_writer_got_in_first(storage: Storage) -> None:
    shelf = storage.bot
    all_read = threading.Barrier(5, timeout=10)
    seen: list[int] = []
    returned: list[int] = []

    def bump_once() -> None:
        first = True

        def bump(value: int) -> int:
            nonlocal first
            if first:  # every thread has read the key before any writes it
                first = False
                all_read.wait()
            seen.append(value)
            return value + 1

        returned.append(shelf.update("count", bump, default=0))

    threads = [threading.Thread(target=bump_once) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[:5] == [0] * 5 and len(seen) >= 5 + 4  # one wrote 1, the other four were called again
    assert shelf["count"] == 5 and sorted(returned) == [1, 2, 3, 4, 5]


def test_two_processes_update_one_file_atomically(tmp_path: Path) -> None:
    open_storage(tmp_path).close()
    code = ("import json\nshelf = storage.bot\nprint('ready', flush=True)\nsys.stdin.readline()\n"
            "print(json.dumps([shelf.update('count', lambda v: v + 1, default=0) for _ in range(50)]))\n")
    workers = [child(code, tmp_path) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0]
    returned = [n for output in outputs for n in json.loads(output)]
    assert sorted(returned) == list(range(1, 101))
    reader = open_storage(tmp_path)
    try:
        assert reader.bot["count"] == 100
    finally:
        reader.close()


def test_swap_is_compare_and_set(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.sqlite3")
    try:
        assert backend.swap("s", "k", None, None)
        assert backend.swap("s", "k", None, "1") and backend.get("s", "k") == "1"
        assert not backend.swap("s", "k", None, "2")
        assert not backend.swap("s", "k", "0", "2") and backend.get("s", "k") == "1"
        assert not backend.swap("s", "k", None, None)
        assert backend.swap("s", "k", "1", "2") and backend.get("s", "k") == "2"
        assert not backend.swap("s", "k", "1", None)
        assert backend.swap("s", "k", "2", None) and backend.get("s", "k") is None
        assert not backend.delete("s", "k")
        backend.put("s", "b", "1")
        backend.put("s", "a", "1")
        backend.put("t", "c", "1")
        assert backend.keys("s") == ["a", "b"] and backend.delete("s", "a") and backend.keys("s") == ["b"]
    finally:
        backend.close()


def test_a_shelf_runs_on_any_backend() -> None:
    """The narrow interface is all a shelf uses: a dict-backed backend (as a Redis one would) serves it."""

    class DictBackend:
        def __init__(self) -> None:
            self.values: dict[tuple[str, str], str] = {}

        def get(self, scope: str, key: str) -> str | None:
            return self.values.get((scope, key))

        def put(self, scope: str, key: str, value: str) -> None:
            self.values[scope, key] = value

        def delete(self, scope: str, key: str) -> bool:
            return self.values.pop((scope, key), None) is not None

        def keys(self, scope: str) -> list[str]:
            return sorted(k for s, k in self.values if s == scope)

        def swap(self, scope: str, key: str, expected: str | None, new: str | None) -> bool:
            if self.values.get((scope, key)) != expected:
                return False
            if new is None:
                self.values.pop((scope, key), None)
            else:
                self.values[scope, key] = new
            return True

        def close(self) -> None:
            self.values.clear()

    backend = DictBackend()
    shelf = Shelf(backend, "bot")
    shelf["a"] = [1]
    assert shelf.update("a", lambda v: v + [2]) == [1, 2]
    assert backend.values == {("bot", "a"): "[1,2]"}
