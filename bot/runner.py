"""One running bot: the Webex client, the plugins, the dispatcher, the receiver, the tunnel and its
supervisor.

``BotRunner.start()`` brings them up in order and ``stop()`` takes them down in reverse; both are
what run_bot.py and the test kit call, so the tests run the bot exactly as users do.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from .catchup import catch_up, iso
from .config import Config
from .dispatcher import Dispatcher
from .errors import StartupError, TransportError, TunnelError
from .handled import HandledLog
from .metrics import Metrics, MetricsServer
from .network import Network
from .plugins import load_plugins
from .registry import Registry
from .schedules import Scheduler
from .storage import Storage, open_storage
from .wakeups import Wakeups
from .webex import WebexClient

if TYPE_CHECKING:  # each transport's modules are imported when it starts: a bot loads only the one it runs
    from .inbound import Incoming
    from .receiver import Receiver
    from .supervisor import Supervisor
    from .tunnels import Tunnel
    from .webhooks import Webhooks
    from .websocket import WebsocketTransport
    from .wsgi import BackgroundServer

log = logging.getLogger(__name__)
RECEIVER_IDLE_TIMEOUT = 5.0  # seconds an idle connection to the receiver is kept
RECEIVER_REQUEST_DEADLINE = 5.0  # seconds a request may take to arrive, from its first byte


class BotRunner:
    def __init__(self, config: Config, *, registry: Optional[Registry] = None, extra: Iterable[Any] = (),
                 redact: Callable[..., None] = lambda *secrets: None) -> None:
        """``redact`` is told each secret made at start (the webhook's), before any log line can hold it."""
        self.config = config
        self._redact = redact
        self.network = Network.from_config(config)
        self.metrics = Metrics(enabled=config.metrics_port is not None)
        self.metrics_server: Optional[MetricsServer] = None
        self.client = WebexClient(config.token, config.api_url, network=self.network, metrics=self.metrics)
        self.registry = registry
        self._extra = list(extra)
        self.dispatcher: Optional[Dispatcher] = None
        self.receiver: Optional[Receiver] = None
        self.server: Optional[BackgroundServer] = None
        self.webhooks: Optional[Webhooks] = None
        self.handled: Optional[HandledLog] = None
        self.storage: Optional[Storage] = None
        self.scheduler: Optional[Scheduler] = None
        self.incoming: Optional[Incoming] = None
        self.supervisor: Optional[Supervisor] = None
        self.websocket: Optional[WebsocketTransport] = None
        # Replaced before start() by a test that makes a sleep with a clock of its own.
        self.wakeups = Wakeups()
        # Set when the bot can no longer receive messages; run_bot.py then exits non-zero.
        self.failed = threading.Event()
        self._catch_up_lock = threading.Lock()
        self.catch_ups = 0  # catch-ups finished, for whoever waits for one (the tests, a doctor)
        self.failure = ""

    @property
    def local_url(self) -> str:
        """Where the webhook route listens on this machine."""
        assert self.server is not None and self.receiver is not None
        return self.server.url + self.receiver.path

    @property
    def public_url(self) -> Optional[str]:
        return self.supervisor.public_url if self.supervisor is not None else None

    def start(self) -> "BotRunner":
        self._redact(*self.network.secrets())
        self.network.prepare()
        if self.metrics.enabled:
            assert self.config.metrics_port is not None
            self.metrics_server = MetricsServer(self.metrics, self.health, self.config.metrics_host,
                                                self.config.metrics_port).start()
            log.info("health and metrics on %s (/healthz, /metrics)", self.metrics_server.url)
        me = self.client.me()
        log.info("running as %s <%s>", me.displayName, (me.emails or ["?"])[0])
        registry = self.registry
        if registry is None:
            registry, _errors = load_plugins(self.config.commands_paths, extra=self._extra)
            self.registry = registry
        log.info("commands: %s", ", ".join(h.name for h in registry.commands()) or "(none)")
        if self.config.access.open:
            log.warning("the bot answers everyone who can message it; limit it with --allow, --allow-domains "
                        "or --allow-rooms")
        self.handled = HandledLog.for_instance(self.config.state_dir, me.id, self.config.instance)
        self.handled.start_mark(iso(datetime.now(timezone.utc)))
        self.storage = open_storage(self.config.state_dir, me.id)
        self.dispatcher = Dispatcher(client=self.client, registry=registry, access=self.config.access,
                                     allow_bots=self.config.allow_bots, workers=self.config.workers,
                                     record=self.handled, storage=self.storage,
                                     greeting=self.config.greeting, metrics=self.metrics).start()
        self.scheduler = Scheduler(schedules=registry.schedules(), storage=self.storage, jobs=self.dispatcher).start()
        self.dispatcher.reminders = self.scheduler
        self.incoming = self._incoming(registry)
        if self.config.transport == "websocket":
            self._start_websocket()
        else:
            self._start_webhooks(me.displayName)
        self.wakeups.start(self._woke)
        return self

    def _start_webhooks(self, bot_name: str) -> None:
        """Receiver, tunnel, webhooks and supervisor; under ``auto`` a tunnel that cannot start hands
        over to the websocket."""
        from .supervisor import Supervisor
        from .webhooks import Webhooks

        self._start_receiver()
        assert self.receiver is not None and self.server is not None
        log.info("webhook receiver listening on %s:%s", self.config.host, self.server.port)
        self.webhooks = Webhooks(self.client, bot_name=bot_name, instance=self.config.instance,
                                 secret=self.receiver.secret)
        auto = self.config.transport == "auto"
        self.supervisor = Supervisor(tunnel=self._tunnel(), port=self.server.port, receiver=self.receiver,
                                     webhooks=self.webhooks, interval=self.config.health_interval,
                                     catch_up=self.catch_up, on_give_up=self._fall_back if auto else None,
                                     network=self.network, metrics=self.metrics)
        try:
            self.supervisor.bring_up()
        except TunnelError as exc:
            if not auto:
                raise StartupError(str(exc)) from None
            log.warning("no tunnel (%s); using the device websocket instead", exc)
            self.supervisor = None
            self.server.stop(1.0)  # nothing will reach the receiver now
            self.server = self.receiver = None
            try:
                self._start_websocket()
            except StartupError as ws_exc:
                raise StartupError(f"no tunnel ({exc}), and the websocket failed too: {ws_exc}") from None
            return
        self.supervisor.start(catch_up_first=True)

    def _start_receiver(self) -> None:
        """The receiver on its port: the Webex route, and the ``@incoming`` routes there are."""
        from .receiver import Receiver

        assert self.dispatcher is not None
        self.receiver = Receiver(self.dispatcher.submit, max_body_bytes=self.config.max_body_bytes,
                                 incoming=self.incoming)
        self._redact(*self.receiver.secrets)
        self.server = self._serve(self.receiver)

    def _incoming(self, registry: Registry) -> Optional["Incoming"]:
        """The ``@incoming`` routes with their key (kept in the state folder), when a plugin has one."""
        if not registry.routes():
            return None
        from .inbound import Incoming, incoming_key

        assert self.dispatcher is not None
        key = incoming_key(self.config.state_dir, self.config.incoming_key)
        self._redact(key)
        return Incoming(registry.routes(), key=key, github_secret=self.config.incoming_secret, jobs=self.dispatcher,
                        rate_per_minute=self.config.incoming_rate, max_body_bytes=self.config.max_body_bytes)

    def _start_websocket(self) -> None:
        from .wdm import DeviceRegistry
        from .websocket import WebsocketTransport

        assert self.dispatcher is not None
        if self.incoming is not None and self.server is None:
            # No tunnel on the websocket: the routes answer on this machine's port, for senders inside;
            # a port in use costs the routes only, never the chat.
            try:
                self._start_receiver()
            except StartupError as exc:
                log.warning("incoming routes not served: %s", exc)
                self.receiver = None
            else:
                assert self.server is not None
                log.info("incoming routes listening on %s:%s (no tunnel: reachable from this network only)",
                         self.config.host, self.server.port)
        registry = DeviceRegistry(self.config.token, self.config.u2c_url, self.config.instance, network=self.network)
        self.websocket = WebsocketTransport(registry=registry, token=self.config.token,
                                            my_id=self.client.me().id, submit=self.dispatcher.submit,
                                            catch_up=self._catch_up_logged, keep_device=self.config.keep_device,
                                            ping_interval=self.config.ws_ping_interval,
                                            pong_timeout=self.config.ws_pong_timeout, on_fatal=self._fail,
                                            network=self.network, metrics=self.metrics)
        try:
            self.websocket.start()
        except TransportError as exc:
            raise StartupError(str(exc)) from None
        # An event acked on the socket and then not handled (Webex unreachable) is not sent again.
        self.dispatcher.on_unhandled = self.websocket.catch_up_soon
        threading.Thread(target=self._catch_up_logged, name="catch-up", daemon=True).start()

    def _catch_up_logged(self) -> None:
        """Catch up from a thread of its own (the start's, the websocket's): a failure is logged, and the
        next reconnect, gap or start catches up again."""
        try:
            self.catch_up()
        except Exception as exc:
            log.warning("catch-up failed: %s", exc)

    def _fall_back(self, reason: str) -> None:
        """The tunnel keeps failing: move to the websocket, then retire the webhooks and the tunnel."""
        log.warning("%s; switching to the device websocket", reason)
        try:
            self._start_websocket()
        except StartupError as exc:
            self._fail(f"{reason}, and the websocket fallback failed too: {exc}")
            return
        if self.webhooks is not None and not self.config.keep_webhooks:
            try:
                self.webhooks.delete_ours()
            except Exception as exc:  # the websocket runs already; stale webhooks only fail their deliveries
                log.warning("could not remove the webhooks: %s", exc)
        if self.supervisor is not None:
            self.supervisor.tunnel.stop()
            self.supervisor = None

    def _woke(self, reason: str) -> None:
        """After a sleep or a network change nothing tells that a connection broke: check each now,
        and answer what came meanwhile (the handled record keeps it from being answered twice)."""
        log.warning("%s; checking the connections", reason)
        if self.websocket is not None:
            self.websocket.reconnect_now()
        if self.supervisor is not None:
            self.supervisor.check_now()
        self._catch_up_logged()

    def health(self) -> tuple[bool, str]:
        """Whether the bot can receive and answer now, and if not why: what ``/healthz`` says."""
        if self.failed.is_set():
            return False, self.failure
        if self.dispatcher is None or (self.websocket is None and self.supervisor is None):
            return False, "starting"
        if self.dispatcher.pool.full():
            return False, "the queue is full: events are refused until it drains"
        if self.websocket is not None:
            return (True, "the device websocket is connected") if self.websocket.connected else \
                (False, "the device websocket is not connected (reconnecting)")
        assert self.supervisor is not None
        if self.supervisor.failures:
            return False, f"the public URL failed {self.supervisor.failures} check(s) in a row"
        return True, f"webhooks through {self.supervisor.public_url}"

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self.failed.set()

    def catch_up(self) -> int:
        """Answer what arrived while the bot could not be reached."""
        assert self.handled is not None and self.dispatcher is not None
        with self._catch_up_lock:  # one at a time: a second one that waits sees what the first submitted
            submitted = catch_up(self.client, self.handled, self.dispatcher.submit)
            self.catch_ups += 1
            return submitted

    def _tunnel(self) -> "Tunnel":
        from .tunnels import NGROK_SERVICE, CloudflaredTunnel, NgrokTunnel, StaticUrl, ngrok_mode

        config = self.config
        if config.tunnel == "none":
            assert self.server is not None
            return StaticUrl(config.public_url or self.server.url)
        if config.tunnel == "cloudflared":
            return CloudflaredTunnel(state_dir=config.state_dir, instance=config.instance,
                                     cloudflared_path=config.cloudflared_path, network=self.network)
        from pyngrok import conf

        agent_present = bool(config.ngrok_path) or os.path.exists(conf.DEFAULT_NGROK_PATH)
        proxied = self.network.proxy_for(NGROK_SERVICE) is not None
        if ngrok_mode(config.ngrok_mode, agent_present=agent_present, proxied=proxied) == "sdk":
            from .tunnels.ngrok_sdk import NgrokSdkTunnel

            log.info("ngrok: the agent SDK, in this process (nothing to download)")
            return NgrokSdkTunnel(authtoken=config.ngrok_authtoken, domain=config.ngrok_domain,
                                  on_disconnect=self._tunnel_lost)
        return NgrokTunnel(state_dir=config.state_dir, instance=config.instance, ngrok_path=config.ngrok_path,
                           authtoken=config.ngrok_authtoken, domain=config.ngrok_domain,
                           config_path=config.ngrok_config, network=self.network)

    def _tunnel_lost(self, reason: str) -> None:
        """The in-process ngrok says its session dropped: repair now rather than at the next check."""
        log.warning("ngrok: the session dropped (%s); repairing", reason)
        if self.supervisor is not None:
            self.supervisor.check_now()

    def _serve(self, receiver: "Receiver") -> "BackgroundServer":
        from .wsgi import BackgroundServer

        try:
            # A public port: connections that say nothing, or a request a byte at a time, are dropped
            # after a few seconds (Webex sends a delivery in one go).
            server = BackgroundServer(receiver.app, self.config.host, self.config.port, threads=8,
                                      name="webhook-receiver", idle_timeout=RECEIVER_IDLE_TIMEOUT,
                                      request_deadline=RECEIVER_REQUEST_DEADLINE, clear_untrusted_proxy_headers=True,
                                      max_request_body_size=receiver.max_body_bytes * 2)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"port {self.config.port} is in use: stop the program using it or pick "
                                   "another with --port / BOT_PORT") from None
            raise StartupError(f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}") from None
        return server.start()

    def stop(self, timeout: float = 8.0) -> None:
        """Stop the schedules and the checks, let handlers finish, remove our webhooks unless kept, end
        the tunnel."""
        self.wakeups.stop()
        if self.scheduler is not None:
            self.scheduler.stop(timeout / 4)
        supervisor = self.supervisor
        if supervisor is not None:
            supervisor.stop(stop_tunnel=False)
        if self.dispatcher is not None and not self.dispatcher.drain(timeout / 2):
            log.warning("some handlers were still running at shutdown")
        if self.webhooks is not None and supervisor is not None and not self.config.keep_webhooks:
            try:
                if removed := self.webhooks.delete_ours():
                    log.info("removed our %d webhook(s)", removed)
            except Exception as exc:  # shutdown goes on whatever Webex says
                log.warning("could not remove the webhooks: %s", exc)
        if self.websocket is not None:
            self.websocket.stop()
        if supervisor is not None:
            supervisor.tunnel.stop()
        if self.server is not None:
            self.server.stop(timeout / 4)
        if self.handled is not None:
            self.handled.close()
        if self.storage is not None:
            self.storage.close()
        if self.metrics_server is not None:
            self.metrics_server.stop()
