"""``BOT_NGROK_MODE=sdk``: ngrok's agent SDK (the ``ngrok`` package) in this process, no agent to download.

The SDK's API is asyncio on top of its own tokio runtime: the tunnel owns one event loop, run by a daemon
thread, and waits for each step with a bound of its own, since the SDK itself has none (a server that
accepts and then says nothing holds its connect for ever). Forwarding runs inside the SDK once
``listen_and_forward`` returns; a dropped session is reported by the SDK's disconnection handler, which
marks the tunnel dead so that the supervisor starts a new one. The SDK dials ngrok's service directly: it
cannot use an HTTP proxy, the ngrok agent (``BOT_NGROK_MODE=agent``) can.

The ``ngrok`` package is imported by ``start`` only, so an idle bot that uses another tunnel never loads it.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import urlsplit

from ..errors import TunnelError
from .base import WEBSOCKET_HINT
from .ngrok import NGROK_SERVICE, explain_ngrok_failure

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)
CLIENT_TYPE = "webex-laptop-bot"  # what ngrok's dashboard shows as the agent's client
STOP_TIMEOUT = 3.0  # per step of stop(): closing the listener, the session, ending the loop's thread
SETTLE = 0.05  # seconds; see the end of stop()
GRACE = 2.0  # how much longer than startup_timeout start() waits for the loop before giving up on it
# What the SDK says (ValueError args) when it cannot open a connection to the service at all.
_UNREACHABLE = ("failed to establish tcp connection", "dns", "resolve", "refused", "unreachable")


def sdk_installed() -> bool:
    """Whether the ngrok agent SDK can be imported, without importing it."""
    return importlib.util.find_spec("ngrok") is not None


def _no_op(reason: str) -> None:
    return None


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version(CLIENT_TYPE)
    except metadata.PackageNotFoundError:
        return "0"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"


def explain_sdk_failure(exc: BaseException, *, service: str, secret: str = "") -> TunnelError:
    """A one-line error that says what to do, for what the SDK raised: a ValueError of (what failed, the
    reason[, its ERR_NGROK_ code]). ``secret`` (the authtoken, which ngrok's service may quote back) is
    blotted out."""
    parts = [str(part) for part in exc.args if str(part).strip()] or [type(exc).__name__]
    if secret:
        parts = [part.replace(secret, "********") for part in parts]
    code = next((part for part in parts if part.startswith("ERR_NGROK_")), "")
    said = ": ".join(_first_line(part) for part in parts if part != code)
    text = "\n".join(parts)
    if "ERR_NGROK_" in text:
        return explain_ngrok_failure(f"{said} ({code})\n{text}" if code else f"{said}\n{text}")
    if any(word in text.lower() for word in _UNREACHABLE):
        return TunnelError(f"cannot reach ngrok's service ({service}): check the network; the SDK cannot use a "
                           f"proxy, so behind one use the ngrok agent (BOT_NGROK_MODE=agent), {WEBSOCKET_HINT}")
    return explain_ngrok_failure(said)


class NgrokSdkTunnel:
    """An ngrok HTTPS endpoint opened by the agent SDK in this process, forwarding to ``127.0.0.1:port``.

    ``on_disconnect`` is told, in one line, when the session to ngrok's service drops; it is called on one
    of the SDK's threads (holding the GIL), so it must only note the fact (set an event), never block.
    ``server_addr`` and ``root_cas`` (a PEM file of authorities, or ``"host"`` for the system's) point the
    session at another ingress, as the agent's config options of the same names do; the tests use them.
    """

    name = "ngrok"
    restartable = True

    def __init__(self, *, authtoken: Optional[str], domain: Optional[str] = None,
                 on_disconnect: Callable[[str], None] = _no_op, startup_timeout: float = 15.0,
                 server_addr: Optional[str] = None, root_cas: Optional[str] = None) -> None:
        self.authtoken = authtoken
        self.domain = domain
        self.on_disconnect = on_disconnect
        self.startup_timeout = startup_timeout
        self.server_addr = server_addr
        self.root_cas = root_cas
        self.public_url: Optional[str] = None
        self._lock = threading.Lock()
        self._alive = threading.Event()
        self._generation = 0  # which start() a disconnection belongs to: an old session's is ignored
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._session: Any = None
        self._listener: Any = None
        self._token = ""

    @property
    def service(self) -> str:
        """Where the session is opened: ``host:port``."""
        return self.server_addr or urlsplit(NGROK_SERVICE).netloc

    def start(self, port: int) -> str:
        self.stop()
        token = self.authtoken or os.environ.get("NGROK_AUTHTOKEN")
        if not token:
            raise explain_ngrok_failure("ERR_NGROK_4018")
        try:
            import ngrok
        except ImportError:
            raise TunnelError("the ngrok agent SDK is not installed: pip install 'webex-laptop-bot[ngrok-sdk]', or "
                              f"use the agent (BOT_NGROK_MODE=agent), {WEBSOCKET_HINT}", permanent=True) from None
        import asyncio

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True, name="ngrok-sdk")
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._loop, self._thread, self._token = loop, thread, token
        thread.start()
        opening = asyncio.run_coroutine_threadsafe(self._open(ngrok, token, port, generation), loop)
        try:
            # The coroutine bounds itself; this bound is for a loop that is stuck.
            url = opening.result(self.startup_timeout + GRACE)
        except TimeoutError:  # asyncio's and concurrent.futures' both, since Python 3.11
            opening.cancel()
            self.stop()
            raise TunnelError(f"ngrok's service ({self.service}) did not answer within {self.startup_timeout:g}s: "
                              "check the network (a firewall may hold the connection); behind a proxy use the "
                              f"ngrok agent (BOT_NGROK_MODE=agent), {WEBSOCKET_HINT}") from None
        except Exception as exc:
            self.stop()
            raise explain_sdk_failure(exc, service=self.service, secret=self._token) from None
        self.public_url = url
        log.info("ngrok: %s forwards to 127.0.0.1:%d (the agent SDK)", url, port)
        return url

    async def _open(self, ngrok: Any, token: str, port: int, generation: int) -> str:
        """Connect the session and its HTTP endpoint, on the tunnel's loop; the listener's public URL."""
        import asyncio

        builder = (ngrok.SessionBuilder().authtoken(token).client_info(CLIENT_TYPE, _version())
                   .handle_disconnection(functools.partial(self._disconnected, generation)))
        if self.server_addr:
            builder = builder.server_addr(self.server_addr)
        if self.root_cas:
            builder = builder.root_cas(self.root_cas)

        async def open_endpoint() -> str:
            session = await builder.connect()
            self._keep(generation, session=session)
            endpoint = session.http_endpoint()
            if self.domain:
                endpoint = endpoint.domain(self.domain)
            # In 1.4.0 the listener forwards by itself once this returns (Listener.forward is deprecated).
            listener = await endpoint.listen_and_forward(f"http://127.0.0.1:{port}")
            self._keep(generation, listener=listener)
            return str(listener.url())

        return await asyncio.wait_for(open_endpoint(), self.startup_timeout)

    def _keep(self, generation: int, *, session: Any = None, listener: Any = None) -> None:
        """Hold on to what start() opened, for stop() to close; alive once the listener is there. What a
        start that was given up on opens late is left to the loop's end."""
        with self._lock:
            if generation != self._generation:
                return
            if session is not None:
                self._session = session
            if listener is not None:
                self._listener = listener
                self._alive.set()

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "********") if self._token else text

    def _disconnected(self, generation: int, addr: str, error: str) -> None:
        """The SDK's disconnection handler, on one of its threads: it must not raise (that would end the
        session's reconnecting with an uncaught error), and it says so only once per start."""
        with self._lock:
            if generation != self._generation or not self._alive.is_set():
                return
            self._alive.clear()
        reason = self._redact(f"lost the session to ngrok's service ({addr}): {_first_line(error)}")
        log.warning("ngrok: %s", reason)
        try:
            self.on_disconnect(reason)
        except Exception as exc:  # the SDK's thread must never see it
            log.warning("ngrok: the disconnection handler failed: %s", exc)

    def alive(self) -> bool:
        return self._alive.is_set()

    def stop(self) -> None:
        """Close the listener and the session and end the loop's thread; each step bounded, never raising."""
        with self._lock:
            self._generation += 1
            self._alive.clear()
            loop, thread, session, listener = self._loop, self._thread, self._session, self._listener
            self._loop = self._thread = self._session = self._listener = None
        if loop is None or thread is None:
            return
        import asyncio

        if (session is not None or listener is not None) and thread.is_alive():
            closing = asyncio.run_coroutine_threadsafe(self._close(listener, session), loop)
            try:
                closing.result(2 * STOP_TIMEOUT + GRACE)
            except Exception as exc:  # stopping goes on whatever state the SDK is in
                closing.cancel()
                log.debug("ngrok: closing the session: %s", type(exc).__name__)
        try:
            loop.call_soon_threadsafe(self._end_loop, loop)
        except RuntimeError:  # the loop is closed already
            return
        if thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        # The SDK's thread that delivered the last outcome may still be letting go of Python objects:
        # a program that exits at that moment (start failed, the CLI ends) crashes in the interpreter's
        # finalisation. Giving up the GIL for a moment lets it finish.
        time.sleep(SETTLE)

    @staticmethod
    async def _close(listener: Any, session: Any) -> None:
        import asyncio

        for what, closable in (("listener", listener), ("session", session)):
            if closable is None:
                continue
            try:
                await asyncio.wait_for(closable.close(), STOP_TIMEOUT)
            except Exception as exc:  # the session may be gone already
                log.debug("ngrok: closing the %s: %s", what, type(exc).__name__)

    @staticmethod
    def _end_loop(loop: asyncio.AbstractEventLoop) -> None:
        """Cancel what still runs on the loop (an abandoned connect drops its connection), and stop it once
        the cancelled tasks had their turn."""
        import asyncio

        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.call_soon(loop.stop)
