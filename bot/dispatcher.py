"""The dispatcher: from an event to a handler's replies, on a bounded pool of workers.

The receiver hands events over in microseconds; the work (fetch the message, check who asks, find
the command or phrase, bind its arguments, run it, send the replies) happens here, where a slow or
crashing handler can neither block nor kill the bot. Dedupe by message id makes every answer happen
once. Space events (the bot or someone added to a space or gone from it) go to ``@on`` handlers;
with none for ``bot_added``, the bot greets the space with one line.
"""
from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import ids
from .access import Access
from .arguments import bind, split_words
from .context import Context
from .dedupe import Dedupe
from .context import Member, Reminders
from .errors import UsageError, WebexAuthError, WebexError, WebexUnavailable
from .events import CARD_ACTION, JOB, JOINED, Event, Outcome
from .handled import SENDING, Answering, HandledLog, InFlight, reply_digest
from .limits import Unsendable
from .logs import clip
from .mentions import command_text
from .metrics import Metrics
from .registry import CommandInfo, Handler, Registry
from .replies import replies_of
from .webex import WebexClient
from .workers import ElasticPool

if TYPE_CHECKING:
    from .storage import Storage

log = logging.getLogger(__name__)
BOT_DOMAINS = ("@webex.bot", "@sparkbot.io")
MAX_LOOK_BACK = 100  # messages after a question searched for a reply sent just before a crash
ROOMS_LOOKED_THROUGH = 100  # recent spaces searched for one whose built id Webex did not know
GREETING = "Hello, I'm {name}. Mention me with `help` to see what I can do."
# (someone joined rather than left, that someone is the bot) -> the ``@on`` event
SPACE_EVENTS = {(True, True): "bot_added", (True, False): "person_joined",
                (False, True): "bot_removed", (False, False): "person_left"}


class Dispatcher:
    def __init__(self, *, client: WebexClient, registry: Registry, access: Access = Access(),
                 allow_bots: bool = False, workers: int = 64, queue_size: int = 1000,
                 dedupe: Optional[Dedupe] = None, record: Optional[HandledLog] = None,
                 storage: Optional["Storage"] = None, greeting: Optional[str] = None,
                 metrics: Optional[Metrics] = None) -> None:
        """``record`` is the on-disk record of answered messages: it survives restarts, so what was
        answered before one is not answered again, and what was being answered is checked first.
        ``greeting`` is what a space the bot is added to hears when no ``bot_added`` handler speaks
        (None: a line pointing at ``help``; "": nothing)."""
        self.client = client
        self.metrics = metrics or Metrics()
        self.registry = registry
        self.access = access
        self.allow_bots = allow_bots
        self.dedupe = dedupe or Dedupe()
        self.record = record
        self.me = client.me()
        self.storage = storage
        self.reminders: Optional[Reminders] = None  # set once the scheduler runs
        self.greeting = GREETING.format(name=self.me.displayName) if greeting is None else greeting
        # ``workers`` is the most handlers that run at once; threads come and go with the work.
        self.pool: ElasticPool[Event] = ElasticPool(self.handle, most=workers, least=min(2, workers),
                                                    queue_size=queue_size, name="dispatch")
        self.metrics.watch_queue(self.pool.pending)
        self._accepting = True
        self.handled = 0
        # Called with the reason when an accepted event could not be handled and nobody will bring it
        # again by themselves (Webex unreachable): the transport's catch-up then looks for it.
        self.on_unhandled: Optional[Callable[[str], None]] = None

    def start(self) -> "Dispatcher":
        self.pool.start()
        return self

    # -- intake (called from the receiver's or the websocket's thread) ---------------------------
    def submit(self, event: Event) -> Outcome:
        """Queue ``event`` unless it is ours, seen already, or the pool is full; say which."""
        if not self._accepting:
            return Outcome.BUSY
        if not event.is_membership and ids.same(event.person_id, self.me.id):
            return Outcome.IGNORED
        if (self.record is not None and event.key in self.record) or not self.dedupe.first_time(event.key):
            self.metrics.duplicate()
            return Outcome.DUPLICATE
        try:
            self.pool.put(event)
        except queue.Full:
            self.dedupe.forget(event.key)
            log.error("dispatcher queue full: event %s refused, Webex or the catch-up will bring it again", event.id)
            return Outcome.BUSY
        if event.is_membership:
            self.dedupe.forget(event.undone_key)  # who left may join again, and be greeted again
        self.metrics.received(event.transport)
        return Outcome.ACCEPTED

    def submit_job(self, name: str, work: Callable[[], None]) -> Outcome:
        """Queue work that is no Webex event (a schedule's run, an incoming request, a reminder): run
        on the same workers, under the same failure handling; BUSY when the queue is full."""
        if not self._accepting:
            return Outcome.BUSY
        try:
            self.pool.put(Event(kind=JOB, id=name, room_id="", person_id="", work=work))
        except queue.Full:
            log.error("dispatcher queue full: %s refused for now", name)
            return Outcome.BUSY
        return Outcome.ACCEPTED

    def run_handler(self, handler: Handler, *, room: Optional[str] = None, args: tuple[Any, ...] = (),
                    context: Optional[dict[str, Any]] = None) -> None:
        """Run a schedule's or an incoming route's handler (from a job): its ``ctx`` can send, keep and
        schedule; what it returns goes to ``room`` (a room id or an email), when there is one."""
        room_id = room if room and "@" not in room else ""
        ctx = self._context(room_id=room_id, command=handler.name, **(context or {}))
        self._run(handler, ctx, [], call=args, send=(lambda reply: ctx.send(room, reply)) if room else None)

    def deliver(self, to: str, reply: Any) -> None:
        """Send ``reply`` to ``to`` (a room id or an email) from no handler: a reminder coming due."""
        self._context().send(to, reply)

    def idle(self) -> bool:
        """Nothing queued and no handler running (an event counts until its handler returns)."""
        return self.pool.pending() == 0

    def drain(self, timeout: float) -> bool:
        """Stop accepting, let queued and running handlers finish (at most ``timeout`` s)."""
        self._accepting = False
        done = threading.Event()
        threading.Thread(target=lambda: (self.pool.join(), done.set()), daemon=True).start()
        finished = done.wait(timeout)
        self.pool.stop()
        return finished

    # -- work ------------------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Handle one event to the end; failures are logged, never raised."""
        started = time.monotonic()
        try:
            if event.kind == JOB:
                assert event.work is not None
                event.work()
            elif event.kind == CARD_ACTION:
                self._on_card_action(event)
            elif event.is_membership:
                self._on_space_event(event)
            else:
                answering = Answering(self.record, event.id, event.created) if self.record is not None else None
                self._on_message(event, answering)
                if answering is not None:
                    answering.sent()
            self.handled += 1
            if event.kind != JOB:
                self.metrics.answered(time.monotonic() - started)
        except (WebexUnavailable, WebexAuthError) as exc:
            self.dedupe.forget(event.key)
            log.error("could not handle %s %s: %s", event.kind, event.id, exc)
            if self.on_unhandled is not None and isinstance(exc, WebexUnavailable):
                self.on_unhandled(f"{event.kind} {event.id} could not be handled")
        except WebexError as exc:
            if exc.status == 404:
                log.info("%s %s is gone (deleted, or not visible to the bot) before it could be read",
                         event.kind, event.id)
            else:
                log.error("Webex refused a call while handling %s %s: %s", event.kind, event.id, exc)
        except Exception:
            log.exception("unexpected failure handling %s %s", event.kind, event.id)

    def _on_message(self, event: Event, answering: Optional[Answering]) -> None:
        if event.person_email and event.room_id and not self.access.allows(event.person_email, event.room_id):
            log.info("ignored a message from %s: not allowed by the bot's access rules", clip(event.person_email))
            return
        message = self._fetch(event, self.client.message)
        email = (message.personEmail or "").lower()
        if ids.same(message.personId, self.me.id):
            return
        if email.endswith(BOT_DOMAINS) and not self.allow_bots:
            log.info("ignored a message from the bot %s (BOT_ALLOW_BOTS is off)", email)
            return
        if not self.access.allows(email, message.roomId):
            log.info("ignored a message from %s: not allowed by the bot's access rules", email)
            return
        if answering is not None and self._answered_before_a_crash(event, message, answering.interrupted):
            answering.sent()
            return
        text = command_text(message.text or "", getattr(message, "html", None), self.me.id, self.me.displayName,
                            direct=message.roomType == "direct")
        words = split_words(text)
        handler = self.registry.find(words[0]) if words else None
        command, rest, rest_words = "", text, words
        if handler is not None:
            parts = text.split(None, 1)
            command, rest, rest_words = handler.name, parts[1].strip() if len(parts) > 1 else "", words[1:]
        match = None
        if handler is None:
            handler, match = self._phrase(text, email, message.roomId)
        ctx = self._context(room_id=message.roomId, room_type=message.roomType or "", sender_id=message.personId,
                            sender_email=email, command=command, text=rest, words=tuple(rest_words), message=message,
                            thread_id=message.parentId or message.id, in_thread=message.parentId is not None,
                            commands=self._commands_for(email, message.roomId), observer=answering, match=match)
        if handler is None:
            self._no_command(ctx)
            return
        if not handler.access.allows(email, message.roomId):
            ctx.reply(f"Sorry, you may not use `{handler.name}` here.")
            return
        self._run(handler, ctx, [] if match else ctx.words)

    def _phrase(self, text: str, email: str, room_id: str) -> tuple[Optional[Handler], Optional[Any]]:
        """The first ``hears`` handler (in load order) that matches ``text`` and that the sender may use."""
        for handler in self.registry.phrases():
            assert handler.pattern is not None
            match = handler.pattern.search(text)
            if match and handler.access.allows(email, room_id):
                return handler, match
        return None, None

    @staticmethod
    def _fetch(event: Event, get: Callable[[str], Any]) -> Any:
        """The message or card action an event names; a built id Webex does not know is looked up once."""
        try:
            return get(event.id)
        except WebexError as exc:
            if exc.status != 404 or event.resolve is None:
                raise
        return get(event.resolve())

    def _answered_before_a_crash(self, event: Event, message: Any, state: Optional[InFlight]) -> bool:
        """Whether an earlier run's reply to ``message`` reached Webex although it was not recorded.

        Only a reply that was on its way when the process died leaves the doubt; in a direct room the
        bot looks for it after the question. A bot may not list a group room (only what mentions it),
        so there the doubt is settled against answering twice.
        """
        if state is None or state.state != SENDING:
            return False
        if message.roomType != "direct":
            log.warning("message %s was being answered when the bot stopped; a bot cannot look in a group room "
                        "for its reply, so it is not answered again", event.id)
            return True
        later = self.client.recent_messages(message.roomId, mentioning_me=False, limit=MAX_LOOK_BACK,
                                            while_=lambda m: m.created >= message.created)
        found = any(ids.same(m.personId, self.me.id) and
                    state.digest in (reply_digest(getattr(m, "markdown", None), None), reply_digest(None, m.text))
                    for m in later)
        if found:
            log.info("message %s was answered just before the bot stopped; not answering it again", event.id)
        return found

    def _on_card_action(self, event: Event) -> None:
        action = self._fetch(event, self.client.card_action)
        name = str((action.inputs or {}).get("action", ""))
        handler = self.registry.action(name)
        if handler is None:
            log.warning("card submit %s names no card action (inputs.action=%r)", event.id, name)
            return
        email = event.person_email
        if not (self.access.open and handler.access.open) and not email:
            email = (self.client.person(action.personId).emails or [""])[0].lower()
        if not (self.access.allows(email, action.roomId) and handler.access.allows(email, action.roomId)):
            log.info("ignored a card submit from %s: not allowed", email or action.personId)
            return
        ctx = self._context(room_id=action.roomId, room_type=event.room_type, sender_id=action.personId,
                            sender_email=email, command=name, action=action, card_message_id=action.messageId,
                            commands=self._commands_for(email, action.roomId))
        self._run(handler, ctx, [])

    def _on_space_event(self, event: Event) -> None:
        """The bot or someone added to a space or gone from it: its ``@on`` handlers, or the greeting."""
        if event.room_type == "direct":
            return  # a 1:1 space begins with the person's first message, which is the event that counts
        name = SPACE_EVENTS[(event.kind == JOINED, ids.same(event.person_id, self.me.id))]
        handlers = self.registry.on(name)
        greet = name == "bot_added" and not handlers and bool(self.greeting)
        if not (handlers or greet):
            return
        room_id = event.room_id if name == "bot_removed" else self._space_id(event)
        member = Member(event.person_id, event.person_email.lower(), event.person_name)
        if handlers and not member.email and name.startswith("person_"):
            person = self.client.person(event.person_id)
            member = Member(person.id, (person.emails or [""])[0].lower(), person.displayName or "")
        ctx = self._context(room_id=room_id, room_type=event.room_type, sender_id=event.actor_id, person=member,
                            commands=self._commands_for("", room_id))
        if not self.access.open and name != "bot_removed":
            who = ctx.sender_email if name == "bot_added" else member.email
            if not self.access.allows(who, room_id):
                log.info("ignored %s in a space of %s: not allowed by the bot's access rules", name, clip(who))
                return
        if greet:
            ctx.reply(self.greeting)
        for handler in handlers:
            self._run(handler, ctx, [], answers=name != "bot_removed")

    def _space_id(self, event: Event) -> str:
        """The space's REST id: the webhook's as given; one built from the websocket's uuid is checked,
        and where Webex does not know it (a space homed in another cluster), found among the bot's
        recent spaces."""
        if event.transport != "websocket":
            return event.room_id
        try:
            return str(self.client.room(event.room_id).id)
        except WebexError as exc:
            if exc.status != 404:
                raise
        found = next((room.id for room in self.client.rooms_by_activity(ROOMS_LOOKED_THROUGH)
                      if ids.same(room.id, event.room_id)), None)
        if found is None:
            raise WebexError(f"space {clip(event.room_id)} is not among the bot's {ROOMS_LOOKED_THROUGH} most "
                             "recent spaces", status=404)
        return str(found)

    def _context(self, **fields: Any) -> Context:
        """A handler's ``ctx``, with what every handler has: the client, the storage, the reminders."""
        base = {"room_id": "", "room_type": "", "sender_id": "", "sender_email": ""}
        return Context(client=self.client, storage=self.storage, reminders=self.reminders, **{**base, **fields})

    def _commands_for(self, email: str, room_id: str) -> tuple[CommandInfo, ...]:
        listed = (*self.registry.commands(), *self.registry.phrases())
        return tuple(h.info for h in listed if not h.hidden and h.access.allows(email, room_id))

    def _no_command(self, ctx: Context) -> None:
        if self.registry.fallback is not None:
            self._run(self.registry.fallback, ctx, [])
        elif not ctx.words:
            ctx.reply("Hello! Say `help` to see what I can do.")
        else:
            word = ctx.words[0]
            close = self.registry.suggest(word)
            hint = f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
            ctx.reply(f"I don't know the command `{word}`.{hint} Say `help` to see what I can do.")

    def _run(self, handler: Handler, ctx: Context, words: list[str], *, answers: bool = True,
             call: Optional[tuple[Any, ...]] = None, send: Optional[Callable[[Any], Any]] = None) -> None:
        """Run ``handler`` and send what it returns: by ``ctx.reply`` unless ``send`` is given, and
        nowhere when ``answers`` is False. ``call``: the arguments, instead of binding ``words``."""
        if call is None:
            try:
                args, kwargs = bind(handler.function, words, handler.name)
            except UsageError as exc:
                ctx.reply(str(exc))
                return
        else:
            args, kwargs = call, {}
        can_answer = answers and (send is not None or bool(ctx.room_id))
        try:
            result = handler.function(ctx, *args, **kwargs)
            if not can_answer:
                if result is not None:
                    log.warning("handler %r (%s) returned a reply where the bot can send nothing; not sent",
                                handler.label, handler.source)
                return
            if send is not None:
                send(list(replies_of(result)))  # all made before any is sent: a failure posts nothing
                return
            for reply in replies_of(result):
                ctx.reply(reply)
        except (WebexUnavailable, WebexAuthError):
            raise
        except Unsendable as exc:
            log.error("handler %r (%s) made a reply Webex would refuse: %s", handler.label, handler.source, exc)
            self._apologise(ctx, send, f"Sorry, I could not send the answer of `{handler.label}`: Webex would "
                                       "refuse it.")
        except Exception:
            self.metrics.handler_failed()
            reference = secrets.token_hex(3).upper()
            log.exception("handler %r (%s) failed, reference %s", handler.label, handler.source, reference)
            self._apologise(ctx, send, f"Sorry, something went wrong running `{handler.label or 'that'}`. "
                                       f"Reference: `{reference}`.")

    @staticmethod
    def _apologise(ctx: Context, send: Optional[Callable[[Any], Any]], text: str) -> None:
        """Tell the person who asked that it failed. A schedule or a route was asked by nobody in the
        chat: there the log line is all, and nothing of the failed run is posted."""
        if send is None and ctx.room_id:
            ctx.reply(text)
