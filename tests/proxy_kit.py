"""A real corporate-style forward proxy for tests: Debian's squid, on its own config and a free port.

A bot behind a firewall reaches Webex and ngrok only through such a proxy, so a test of that route
needs one that speaks the real protocol (CONNECT tunnels, 403 refusals, 407 proxy authentication).
``Squid`` writes its config, hosts file and password file into a folder of the test's, runs
``squid -N`` there and reads its ``access.log``. Its ``hosts`` are how a test closes the direct route:
the bot is given names it cannot resolve, and only the proxy maps them to the emulator's address.

Squid drops root for ``cache_effective_user`` before it opens a file, and pytest's folders are closed
to other users; so the folder is given to that user and every path in the config is relative to it
(squid runs with the folder as its working directory, which it can always reach). Each squid has a
service name of its own (``-n``), which names its shared memory segments: a system squid, or another
test's, then never clashes with it.

A test module imports the ``squids`` fixture by name: ``squids(hosts={...})`` gives a started ``Squid``.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional
from urllib.parse import quote

import pytest

from support import free_port, unavailable, until

SQUID = shutil.which("squid") or "/usr/sbin/squid"  # Debian's place, not on a user's PATH
NCSA_AUTH = "/usr/lib/squid/basic_ncsa_auth"  # Debian's helper for basic proxy authentication
READY = "Accepting HTTP Socket connections"  # what cache.log says once squid serves its port
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
SHARED_MEMORY = Path("/dev/shm")  # where squid's segments (named after its service) live on Linux
ROOT_USER = "proxy"  # Debian's squid user: squid will not serve as root


@dataclass(frozen=True)
class Entry:
    """One line of squid's native ``access.log``; written when the request ends (a tunnel, when it closes)."""

    method: str  # CONNECT, GET, ...
    target: str  # host:port for CONNECT, else the URL
    result: str  # squid's result code: TCP_TUNNEL, TCP_DENIED, TCP_MISS, ...
    status: int  # the HTTP status squid answered: 200, 403, 407, ...
    user: str  # the authenticated user, "-" when none

    @property
    def code(self) -> str:
        """As squid logs it: ``TCP_TUNNEL/200``."""
        return f"{self.result}/{self.status:03d}"


def parse_entry(line: str) -> Entry:
    """``time elapsed client result/status bytes method target user hierarchy type`` (squid's native format)."""
    fields = line.split()
    result, _, status = fields[3].partition("/")
    return Entry(method=fields[5], target=fields[6], result=result, status=int(status), user=fields[7])


def password_line(user: str, password: str) -> str:
    """A line of an htpasswd-style file (APR1 MD5), which ``basic_ncsa_auth`` checks."""
    hashed = subprocess.run(["openssl", "passwd", "-apr1", password], capture_output=True, text=True,
                            check=True).stdout.strip()
    return f"{user}:{hashed}\n"


class Squid:
    """A squid on ``127.0.0.1:<free port>``, its files in ``folder``; a context manager.

    ``hosts`` (name -> address) is its hosts file, ``refuse_connect`` the host names it answers CONNECT
    with 403, and ``credentials`` (user, password), when given, the only proxy login it takes (407 else).
    CONNECT goes to any port, since the emulator's are not 443; nothing is cached.
    """

    def __init__(self, folder: Path, *, hosts: Optional[Mapping[str, str]] = None, refuse_connect: Iterable[str] = (),
                 credentials: Optional[tuple[str, str]] = None) -> None:
        self.folder = Path(folder)
        self.hosts = dict(hosts or {})
        self.refuse_connect = list(refuse_connect)
        self.credentials = credentials
        self.port = 0
        self._process: Optional[subprocess.Popen[bytes]] = None

    @property
    def service(self) -> str:
        """squid's ``-n`` service name: unique while it runs, since its port is."""
        return f"proxykit{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def url(self) -> str:
        """What ``proxies=`` and ``proxy=`` take, with ``user:password@`` when it asks for credentials."""
        login = f"{quote(self.credentials[0], safe='')}:{quote(self.credentials[1], safe='')}@" \
            if self.credentials else ""
        return f"http://{login}127.0.0.1:{self.port}"

    def config(self, user: str) -> str:
        """squid.conf: every path relative to the folder (see the module's docstring)."""
        lines = [f"http_port 127.0.0.1:{self.port}", "pid_filename squid.pid", "cache_log cache.log",
                 "access_log stdio:access.log squid", "cache_store_log none", "netdb_filename none",
                 "cache deny all", "pinger_enable off", "shutdown_lifetime 0 seconds", "hosts_file hosts",
                 "visible_hostname proxy-kit", f"cache_effective_user {user}", "acl CONNECT method CONNECT"]
        if self.credentials:
            lines += [f"auth_param basic program {NCSA_AUTH} passwd", "auth_param basic realm proxy-kit",
                      "acl login proxy_auth REQUIRED", "http_access deny !login"]
        if self.refuse_connect:
            lines += [f"acl refused dstdomain {' '.join(self.refuse_connect)}", "http_access deny CONNECT refused"]
        return "\n".join(lines + ["http_access allow all"]) + "\n"

    def start(self) -> "Squid":
        user = ROOT_USER if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        files = {"squid.conf": self.config(user),
                 "hosts": "".join(f"{address} {name}\n" for name, address in self.hosts.items())}
        if self.credentials:
            files["passwd"] = password_line(*self.credentials)
        for name, text in files.items():
            (self.folder / name).write_text(text)
        for path in [self.folder, *(self.folder / name for name in files)]:
            shutil.chown(path, user)
        with (self.folder / "squid.out").open("wb") as out:
            self._process = subprocess.Popen([SQUID, "-N", "-n", self.service, "-f", "squid.conf"], cwd=self.folder,
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Poll until squid takes TCP connections and its cache.log says so; else stop it and say why."""
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not (READY in self._read("cache.log") and self._accepts()):
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                self.stop()
                why = f"exited with {code}" if code is not None else f"was not ready in {START_TIMEOUT:.0f} s"
                raise RuntimeError(f"squid on port {self.port} {why}; cache.log ends:\n{self.tail()}")
            time.sleep(0.05)

    def _accepts(self) -> bool:
        try:
            socket.create_connection(self.address, timeout=1).close()
            return True
        except OSError:
            return False

    def _read(self, name: str) -> str:
        path = self.folder / name
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, lines: int = 20) -> str:
        """The end of cache.log, or what squid printed before it had one."""
        text = self._read("cache.log") or self._read("squid.out")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Kill it and remove what its shutdown would have (its shared memory, its pid file): squid's own
        shutdown takes 2 s whatever ``shutdown_lifetime`` says, and it writes its log as each request
        ends, so nothing logged is lost (a tunnel still open is cut)."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait(STOP_TIMEOUT)
        self._process = None
        for leftover in [*SHARED_MEMORY.glob(f"{self.service}-*"), self.folder / "squid.pid"]:
            leftover.unlink(missing_ok=True)

    def log(self) -> list[Entry]:
        """access.log so far, oldest first (the readiness probe, which sent nothing, is a ``-`` entry)."""
        return [parse_entry(line) for line in self._read("access.log").splitlines() if line.strip()]

    def wait_for(self, matches: Callable[[Entry], bool], what: str, timeout: float = 10.0) -> Entry:
        """The first entry that ``matches``, waiting for it: squid logs a tunnel only once it has closed."""
        return until(lambda: next((entry for entry in self.log() if matches(entry)), None),
                     f"squid to log {what}", timeout)

    def __enter__(self) -> "Squid":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


@pytest.fixture
def squids(tmp_path: Path) -> Iterator[Callable[..., Squid]]:
    """``squids(**options)`` starts a ``Squid`` (options as its keywords) in the test's folder; all are
    stopped afterwards. Without squid installed: ``unavailable`` (a failure under CI, else a skip)."""
    if not os.access(SQUID, os.X_OK):
        unavailable("squid is not installed (apt-get install squid)")
    started: list[Squid] = []

    def start(**options: Any) -> Squid:
        started.append(Squid(tmp_path / f"squid-{len(started)}", **options))
        return started[-1].start()

    try:
        yield start
    finally:
        for squid in started:
            squid.stop()
