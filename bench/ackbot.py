"""The acknowledgement path of the bot, for the benchmarks that load it: a real ``Dispatcher`` and a
real ``Receiver`` on ``BackgroundServer`` with the options ``BotRunner`` gives the receiver."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when imported
from loadclient import envelope  # noqa: E402


def serve(app: Any, name: str, max_body: int) -> Any:
    """The app on BackgroundServer with the options BotRunner._serve uses."""
    from bot.runner import RECEIVER_IDLE_TIMEOUT, RECEIVER_REQUEST_DEADLINE
    from bot.wsgi import BackgroundServer

    return BackgroundServer(app, "127.0.0.1", 0, threads=8, name=name, idle_timeout=RECEIVER_IDLE_TIMEOUT,
                            request_deadline=RECEIVER_REQUEST_DEADLINE, clear_untrusted_proxy_headers=True,
                            max_request_body_size=max_body * 2).start()


class AckBot:
    """A real Dispatcher (workers started, large queue) and a real Receiver on BackgroundServer."""

    def __init__(self, emulator: Any, name: str, queue_size: int) -> None:
        from bot.dispatcher import Dispatcher
        from bot.plugins import load_plugins
        from bot.receiver import Receiver
        from bot.webex import WebexClient

        control = emulator.control
        self.account = control.create_bot(name, f"{name.lower().replace(' ', '-')}@webex.bot")
        self.person = control.create_person(f"{name} Sender", f"{name.lower().replace(' ', '.')}@example.com")
        self.room = control.direct_room(self.person, self.account)
        registry, _errors = load_plugins(())
        self.dispatcher = Dispatcher(client=WebexClient(self.account["token"], emulator.api_url), registry=registry,
                                     workers=4, queue_size=queue_size).start()
        self.receiver = Receiver(self.dispatcher.submit)
        self.server = serve(self.receiver.app, f"bench-{name}", self.receiver.max_body_bytes)

    def target(self) -> dict[str, Any]:
        return {"host": self.server.host, "port": self.server.port, "path": self.receiver.path,
                "secret": self.receiver.secret,
                "envelope": envelope(self.account, self.person, self.room, self.server.url + self.receiver.path)}

    def discard_backlog(self) -> int:
        """Drop the queued fabricated events; how many.

        Done before each round: the real bot's queue holds at most 1,000 events, and a backlog of 10^5
        left from earlier rounds would charge the later ones with the garbage collector's walks over it;
        and at the end, or the workers would fetch 404s for minutes.
        """
        return self.dispatcher.pool.discard()

    def stop(self) -> None:
        """Drop the backlog, let the workers end, stop the server."""
        self.discard_backlog()
        self.dispatcher.drain(2.0)
        self.server.stop(2)
