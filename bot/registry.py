"""Handlers and their registry: the decorators plugin authors use (``@command``, ``@hears``, ``@on``,
``@card_action``, ``@fallback``), and how a message finds its handler.

A decorator only marks a function; nothing is registered globally. Plugin loading (plugins.py)
collects marked functions into a ``Registry``, so two bots in one process never share commands. A
message goes to its command word first, then to the first ``hears`` pattern that matches it (in the
order the handlers were loaded), then to the fallback.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from .access import Access
from .arguments import usage
from .errors import DuplicateCommand

if TYPE_CHECKING:  # the triggers (cronsim, the time zones) are imported by the first schedule that needs them
    from .triggers import Trigger

MARK = "__webex_bot_handler__"


@dataclass(frozen=True)
class CommandInfo:
    """A command as ``ctx.commands`` shows it to plugins (``help``): a description, not the handler."""

    name: str
    aliases: tuple[str, ...]
    summary: str  # the first line of the help
    help: str  # the whole help text
    usage: str  # e.g. ``deploy <service> [--replicas:int]``
    kind: str = "command"  # command | hears (a phrase the bot listens for; ``name`` is its pattern)


@dataclass(frozen=True)
class Handler:
    """A command, a card action or the fallback, with where it came from (for clear errors)."""

    kind: str  # command | hears | event | schedule | incoming | card_action | fallback
    name: str  # the command word, the pattern, the event, the schedule's, route's or card action's name
    function: Callable[..., Any]
    help: str = ""
    aliases: tuple[str, ...] = ()
    access: Access = field(default_factory=Access)
    hidden: bool = False
    pattern: Optional[re.Pattern[str]] = None  # hears
    trigger: Optional["Trigger"] = None  # schedule: when it is due
    room: Optional[str] = None  # schedule, incoming: where what it returns goes (a room id or an email)
    misfire_grace: float = 0.0  # schedule: how late (s) a run missed while the bot was down still runs
    auth: str = ""  # incoming: "key" or "github"

    @property
    def source(self) -> str:
        """``file:line`` of the handler, to name it in error messages."""
        try:
            return f"{inspect.getsourcefile(self.function)}:{inspect.getsourcelines(self.function)[1]}"
        except (OSError, TypeError):
            return getattr(self.function, "__module__", "?")

    @property
    def summary(self) -> str:
        """The first line of the help: the ``help=`` text, else the docstring's first line."""
        text = self.help_text
        return text.splitlines()[0] if text else ""

    @property
    def help_text(self) -> str:
        """The whole help: the ``help=`` text, else the docstring."""
        return inspect.cleandoc(self.help or inspect.getdoc(self.function) or "").strip()

    @functools.cached_property
    def info(self) -> CommandInfo:
        """The read-only description plugins get (made once: ``help`` may list it on every message)."""
        shown_usage = self.name if self.kind == "hears" else usage(self.name, self.function)
        return CommandInfo(self.name, self.aliases, self.summary, self.help_text, shown_usage, self.kind)

    @property
    def label(self) -> str:
        """How logs and users are told which handler this is: its command or its function."""
        return self.function.__name__ if self.kind in ("hears", "event", "fallback") else self.name


def _mark(handler: Handler) -> Callable[..., Any]:
    setattr(handler.function, MARK, handler)
    return handler.function


def command(name: Optional[str] = None, *, help: str = "", aliases: Iterable[str] = (),
            people: Iterable[str] = (), domains: Iterable[str] = (), rooms: Iterable[str] = (),
            hidden: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a function a chat command. ``name`` defaults to the function's name; ``help`` to its
    docstring. ``people``, ``domains`` and ``rooms`` restrict who may run it (on top of the bot's rules).
    """
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        word = (name or function.__name__).strip().lower()
        if not word or any(ch.isspace() for ch in word):
            raise ValueError(f"command name {word!r} must be one word")
        return _mark(Handler("command", word, function, help, tuple(a.lower() for a in aliases),
                             Access.of(people, domains, rooms), hidden))
    return decorate


def hears(pattern: str, *, flags: int = re.IGNORECASE, help: str = "", people: Iterable[str] = (),
          domains: Iterable[str] = (), rooms: Iterable[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Answer messages that no command word claims and that match the regular expression ``pattern``
    (searched anywhere in the text, the bot's @-mention removed); ``ctx.match`` is the ``re.Match``.

    Listed in ``help`` only when given ``help=``: a phrase is something the bot overhears.
    """
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"@hears pattern {pattern!r} does not compile: {exc}") from None

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(Handler("hears", pattern, function, help, access=Access.of(people, domains, rooms),
                             hidden=not help, pattern=compiled))
    return decorate


EVENTS = ("bot_added", "person_joined", "person_left", "bot_removed")


def on(event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Handle a space event: ``bot_added`` (its return value greets the space), ``person_joined``,
    ``person_left`` (``ctx.person`` is who) or ``bot_removed`` (nothing can be sent there any more)."""
    if event not in EVENTS:
        raise ValueError(f"@on({event!r}): unknown event; the events are {', '.join(EVENTS)}")

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(Handler("event", event, function))
    return decorate


MISFIRE_GRACE = 300.0  # seconds: a run missed by a short outage still happens, once


def every(*, seconds: float = 0, minutes: float = 0, hours: float = 0, room: Optional[str] = None,
          name: Optional[str] = None, misfire_grace: float = MISFIRE_GRACE
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the function at a fixed interval, counted from the bot's first start and kept across
    restarts; what it returns goes to ``room`` (a room id or an email), when given."""
    from .triggers import Every

    trigger = Every(timedelta(seconds=seconds, minutes=minutes, hours=hours))
    return _schedule(trigger, room, name, misfire_grace)


def cron(expression: str, *, timezone: str = "UTC", room: Optional[str] = None, name: Optional[str] = None,
         misfire_grace: float = MISFIRE_GRACE) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the function when the cron ``expression`` (``"0 9 * * mon-fri"``) says, in ``timezone``;
    what it returns goes to ``room``, when given. A bad expression or zone stops the plugin's import."""
    from .triggers import Cron

    return _schedule(Cron(expression, timezone), room, name, misfire_grace)


def _schedule(trigger: "Trigger", room: Optional[str], name: Optional[str],
              misfire_grace: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    if misfire_grace < 0:
        raise ValueError("misfire_grace is seconds, at least 0")

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(Handler("schedule", name or function.__name__, function, trigger=trigger, room=room,
                             misfire_grace=misfire_grace))
    return decorate


INCOMING_AUTH = ("key", "github")
_ROUTE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def incoming(name: str, *, room: Optional[str] = None, auth: str = "key"
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve ``POST <public URL>/incoming/<name>`` for other systems (CI, monitoring, GitHub): the
    function gets ``ctx`` and the request's JSON (or form) as ``payload``; what it returns goes to
    ``room``. ``auth="key"``: the bot's incoming key; ``auth="github"``: GitHub's signature."""
    if not _ROUTE_NAME.fullmatch(name):
        raise ValueError(f"@incoming({name!r}): a route name is lower-case letters, digits, '-' and '_'")
    if auth not in INCOMING_AUTH:
        raise ValueError(f"@incoming({name!r}, auth={auth!r}): auth is 'key' or 'github'")

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(Handler("incoming", name, function, room=room, auth=auth))
    return decorate


def card_action(name: str, *, people: Iterable[str] = (), domains: Iterable[str] = (),
                rooms: Iterable[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Handle the submits of Adaptive Cards whose Action.Submit data has ``"action": name``."""
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(Handler("card_action", name, function, access=Access.of(people, domains, rooms)))
    return decorate


def fallback(function: Callable[..., Any]) -> Callable[..., Any]:
    """Handle every message that names no command (for example, to pass it to another system)."""
    return _mark(Handler("fallback", "", function))


def marked_handler(obj: Any) -> Optional[Handler]:
    """The handler a decorator attached to ``obj``, if any."""
    handler = getattr(obj, MARK, None)
    return handler if isinstance(handler, Handler) else None


class Registry:
    """The commands, phrases, event handlers, card actions and fallback of one bot."""

    def __init__(self) -> None:
        self._commands: dict[str, Handler] = {}
        self._words: dict[str, Handler] = {}
        self._actions: dict[str, Handler] = {}
        self._phrases: list[Handler] = []
        self._schedules: dict[str, Handler] = {}
        self._routes: dict[str, Handler] = {}
        self._events: dict[str, list[Handler]] = {event: [] for event in EVENTS}
        self.fallback: Optional[Handler] = None

    def add(self, handler: Handler) -> None:
        if handler.kind == "command":
            for word in (handler.name, *handler.aliases):
                if word in self._words:
                    other = self._words[word]
                    raise DuplicateCommand(f"command '{word}' is defined twice: in {other.source} and in "
                                           f"{handler.source}; rename one of them")
            self._commands[handler.name] = handler
            for word in (handler.name, *handler.aliases):
                self._words[word] = handler
        elif handler.kind == "card_action":
            if handler.name in self._actions:
                raise DuplicateCommand(f"card action '{handler.name}' is defined twice: in "
                                       f"{self._actions[handler.name].source} and in {handler.source}")
            self._actions[handler.name] = handler
        elif handler.kind == "hears":
            self._phrases.append(handler)
        elif handler.kind == "event":
            self._events[handler.name].append(handler)
        elif handler.kind in ("schedule", "incoming"):
            named = self._schedules if handler.kind == "schedule" else self._routes
            if handler.name in named:
                what = "schedule" if handler.kind == "schedule" else "incoming route"
                raise DuplicateCommand(f"{what} '{handler.name}' is defined twice: in {named[handler.name].source} "
                                       f"and in {handler.source}; give one of them another name")
            named[handler.name] = handler
        else:
            if self.fallback is not None:
                raise DuplicateCommand(f"two fallbacks: in {self.fallback.source} and in {handler.source}")
            self.fallback = handler

    def find(self, word: str) -> Optional[Handler]:
        """The command named ``word`` or one of its aliases, case-insensitively."""
        return self._words.get(word.lower())

    def action(self, name: str) -> Optional[Handler]:
        return self._actions.get(name)

    def phrases(self) -> tuple[Handler, ...]:
        """The ``hears`` handlers, in the order they were loaded: the first that matches answers."""
        return tuple(self._phrases)

    def on(self, event: str) -> tuple[Handler, ...]:
        """The handlers of a space event, in the order they were loaded."""
        return tuple(self._events[event])

    def schedules(self) -> tuple[Handler, ...]:
        return tuple(self._schedules.values())

    def routes(self) -> tuple[Handler, ...]:
        """The ``@incoming`` routes, by name."""
        return tuple(sorted(self._routes.values(), key=lambda h: h.name))

    def route(self, name: str) -> Optional[Handler]:
        return self._routes.get(name)

    def commands(self) -> list[Handler]:
        """Every command, sorted by name."""
        return sorted(self._commands.values(), key=lambda h: h.name)

    def suggest(self, word: str) -> list[str]:
        """The command names closest to a mistyped ``word``."""
        return difflib.get_close_matches(word.lower(), list(self._words), n=3, cutoff=0.6)
