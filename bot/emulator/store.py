"""The emulator's world: people, teams, rooms, messages, webhooks, card actions, files and the
org's event log.

One lock guards it all; the REST, control and device layers read and change it only through these
methods, and listeners (webhook delivery, the device websocket) hear of new messages and card actions
and of every logged event after the lock is released, so a slow listener never blocks the API.
"""
from __future__ import annotations

import html
import itertools
import secrets
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from .ids import decode_id, encode_id, new_uuid, timestamp
from .markup import Rendered, render
from .models import (AttachmentAction, Event, MembershipChange, Message, Person, Room, StoredFile, Team, Webhook,
                     new_token)

T = TypeVar("T")
WEBHOOK_CHANGES = frozenset({"name", "target_url", "secret"})


class NotFound(KeyError):
    """An id that names nothing the caller may see."""


Listener = Callable[[str, Any], None]


class Store:
    """All state of one emulator, safe to use from many request threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}
        self.rooms: dict[str, Room] = {}
        self.messages: dict[str, Message] = {}
        self.actions: dict[str, AttachmentAction] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.files: dict[str, StoredFile] = {}
        self.teams: dict[str, Team] = {}
        self.events: dict[str, Event] = {}
        self.base_url = ""
        self._sequence = itertools.count(1)
        self._listeners: list[Listener] = []
        self._unpublished: list[Event] = []
        self._depth = 0

    # -- listeners and the event log -------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(kind, obj)`` for each new message ("message"), card submit ("action") and
        logged event ("event": any created, updated or deleted message, membership, room or submit)."""
        self._listeners.append(listener)

    def _publish(self, kind: str, obj: Any) -> None:
        for listener in self._listeners:
            listener(kind, obj)

    def _log(self, resource: str, type: str, actor: Person, data: dict[str, Any],
             audience: Callable[[Person], bool], hook_data: dict[str, Any] | None = None,
             membership: MembershipChange | None = None) -> None:
        """Log one change (within ``_change``), to be published when the change is done."""
        event = Event(new_uuid(), resource, type, actor, data, data if hook_data is None else hook_data,
                      audience, timestamp(), next(self._sequence), membership)
        self.events[event.uuid] = event
        self._unpublished.append(event)

    @contextmanager
    def _change(self) -> Iterator[None]:
        """Hold the lock for one change, which may make others; the events they log are published
        once the outermost change lets the lock go, in the order they happened."""
        with self.lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            ready = []
            if self._depth == 0:
                ready, self._unpublished = self._unpublished, []
        for event in ready:
            self._publish("event", event)

    def _log_membership(self, type: str, actor: Person, room: Room, person: Person, founding: bool = False) -> None:
        """Told to who is in the room at that moment (a bot added later does not hear of the members
        before it), and the removed person keeps hearing of their removal by webhook."""
        members = tuple(room.members)
        self._log("memberships", type, actor, room.membership_json(person),
                  lambda owner: owner in members or owner is person,
                  membership=MembershipChange(room, person, members, founding))

    def _log_room(self, type: str, actor: Person, room: Room) -> None:
        self._log("rooms", type, actor, room.to_json(), lambda owner: owner in room.members)

    def _log_message(self, type: str, actor: Person, message: Message) -> None:
        self._log("messages", type, actor, message.to_json(), message.visible_to, message.webhook_json())

    def event(self, raw: str) -> Event:
        return self._get(self.events, raw)

    def all_events(self) -> list[Event]:
        """Every logged event, newest first, as Webex lists them."""
        with self.lock:
            return sorted(self.events.values(), key=lambda e: e.seq, reverse=True)

    def _get(self, table: dict[str, T], raw: str) -> T:
        with self.lock:
            if raw not in table:
                raise NotFound(raw)
            return table[raw]

    # -- people ----------------------------------------------------------------------------------
    def add_person(self, display_name: str, email: str | None = None, type: str = "person",
                   token: str | None = None) -> Person:
        with self.lock:
            raw = new_uuid()
            if email is None:
                slug = "".join(ch for ch in display_name.lower() if ch.isalnum()) or "user"
                domain = "webex.bot" if type == "bot" else "example.com"
                email = f"{slug}-{raw[:6]}@{domain}"
            person = Person(raw, display_name, email, type, token or new_token(), timestamp())
            self.people[raw] = person
            return person

    def person_by_token(self, token: str) -> Optional[Person]:
        with self.lock:
            for person in self.people.values():
                if secrets.compare_digest(person.token, token):
                    return person
            return None

    def person_by_email(self, email: str) -> Optional[Person]:
        with self.lock:
            wanted = email.lower()
            return next((p for p in self.people.values() if p.email.lower() == wanted), None)

    def person(self, raw: str) -> Person:
        return self._get(self.people, raw)

    def everyone(self) -> list[Person]:
        """Every person and bot, in the order they were made."""
        with self.lock:
            return list(self.people.values())

    # -- rooms -----------------------------------------------------------------------------------
    def add_room(self, title: str, type: str, creator: Person, members: list[Person],
                 cluster: str = "us", team: Team | None = None) -> Room:
        """A new room; the creator of a group room is its moderator, as the emulator always showed."""
        with self._change():
            room = Room(new_uuid(), title, type, creator, timestamp(), cluster, team=team)
            if type == "group":
                room.moderators.add(creator.uuid)
            self.rooms[room.uuid] = room
            self._log_room("created", creator, room)
            for person in [creator] + [m for m in members if m is not creator]:
                self.add_member(room, person, actor=creator, founding=True)
        return room

    def direct_room(self, one: Person, other: Person) -> Room:
        """The 1:1 room of two people, made on first use as Webex does."""
        with self._change():
            for room in self.rooms.values():
                if room.type == "direct" and set(map(id, room.members)) == {id(one), id(other)}:
                    return room
            return self.add_room(other.display_name, "direct", one, [other])

    def room(self, raw: str) -> Room:
        return self._get(self.rooms, raw)

    def rooms_of(self, person: Person) -> list[Room]:
        with self.lock:
            return [r for r in self.rooms.values() if person in r.members]

    def all_rooms(self) -> list[Room]:
        with self.lock:
            return list(self.rooms.values())

    @staticmethod
    def _join(group: Room | Team, person: Person, moderator: bool) -> bool:
        """Add ``person`` to a room's or a team's members; whether they were not in it yet."""
        if person in group.members:
            return False
        group.members.append(person)
        group.joined[person.uuid] = timestamp()
        if moderator:
            group.moderators.add(person.uuid)
        return True

    def add_member(self, room: Room, person: Person, *, actor: Person, moderator: bool = False,
                   founding: bool = False) -> None:
        """Add ``person``; ``founding``: as one of the members ``room`` is made with."""
        with self._change():
            if self._join(room, person, moderator):
                self._log_membership("created", actor, room, person, founding)

    def remove_member(self, room: Room, person: Person, *, actor: Person) -> None:
        with self._change():
            if person in room.members:
                self._log_membership("deleted", actor, room, person)
                room.members.remove(person)
                room.moderators.discard(person.uuid)

    def update_membership(self, room: Room, person: Person, *, actor: Person,
                          moderator: bool | None = None, hidden: bool | None = None) -> None:
        """Make ``person`` a moderator or not, and hide the room from them or not (``None``: unchanged)."""
        with self._change():
            for flag, members in ((moderator, room.moderators), (hidden, room.hidden)):
                if flag is not None:
                    (members.add if flag else members.discard)(person.uuid)
            self._log_membership("updated", actor, room, person)

    def update_room(self, room: Room, *, actor: Person, title: str, locked: bool | None = None,
                    team: Team | None = None, options: dict[str, Any] | None = None) -> None:
        """Rename ``room``; lock it (its creator becomes a moderator, as the spec says), move it under a
        team, or set Webex's other room fields (``options``, by their Webex names; "" removes one)."""
        with self._change():
            room.title = title
            if locked is not None:
                room.is_locked = locked
                if locked:
                    room.moderators.add(room.creator.uuid)
            if team is not None:
                room.team = team
            room.options.update(options or {})
            room.options = {k: v for k, v in room.options.items() if v != ""}  # "description": " " removes it
            self._log_room("updated", actor, room)

    def delete_room(self, room: Room, *, actor: Person) -> None:
        """Delete ``room`` with its messages and memberships, each membership of a group room logged as
        deleted (Webex is reported to send membership deletions of group rooms only)."""
        with self._change():
            for person in list(room.members) if room.type == "group" else []:
                self.remove_member(room, person, actor=actor)
            room.members.clear()
            for message in [m for m in self.messages.values() if m.room is room]:
                self.messages.pop(message.uuid)
            self.rooms.pop(room.uuid, None)

    def team_rooms(self, team: Team) -> list[Room]:
        with self.lock:
            return [r for r in self.rooms.values() if r.team is team]

    # -- teams -----------------------------------------------------------------------------------
    def add_team(self, name: str, description: str | None, creator: Person) -> Team:
        """A team with its creator as moderator, and its General room (see ``rest/teams.py``)."""
        with self._change():
            team = Team(new_uuid(), name, description, creator, timestamp())
            self.teams[team.uuid] = team
            team.general = self.add_room(name, "group", creator, [], team=team).uuid
            self.add_team_member(team, creator, actor=creator, moderator=True)
        return team

    def team(self, raw: str) -> Team:
        return self._get(self.teams, raw)

    def teams_of(self, person: Person) -> list[Team]:
        with self.lock:
            return [t for t in self.teams.values() if person in t.members]

    def general_room(self, team: Team) -> Room:
        """The room a team was made with; its members are the team's members."""
        return self.room(team.general)

    def add_team_member(self, team: Team, person: Person, *, actor: Person, moderator: bool = False) -> None:
        """Add ``person`` to ``team`` and to its General room (the team's members are that room's)."""
        with self._change():
            self._join(team, person, moderator)
            self.add_member(self.general_room(team), person, actor=actor, moderator=moderator)

    def update_team_member(self, team: Team, person: Person, *, actor: Person, moderator: bool) -> None:
        """Make ``person`` a moderator of ``team`` (and of its General room) or not."""
        with self._change():
            (team.moderators.add if moderator else team.moderators.discard)(person.uuid)
            general = self.general_room(team)
            if person in general.members:
                self.update_membership(general, person, actor=actor, moderator=moderator)

    def remove_team_member(self, team: Team, person: Person, *, actor: Person) -> None:
        with self._change():
            if person in team.members:
                team.members.remove(person)
                team.moderators.discard(person.uuid)
                self.remove_member(self.general_room(team), person, actor=actor)

    def update_team(self, team: Team, *, name: str, description: str | None) -> None:
        with self._change():
            team.name = name
            if description is not None:
                team.description = description

    def delete_team(self, team: Team, *, actor: Person) -> None:
        """Delete ``team`` and every room of it (assumed: see ``rest/teams.py``)."""
        with self._change():
            for room in self.team_rooms(team):
                self.delete_room(room, actor=actor)
            self.teams.pop(team.uuid, None)

    # -- messages --------------------------------------------------------------------------------
    def resolver(self, kind: str, value: str) -> Optional[tuple[str, str]]:
        with self.lock:
            if kind == "personEmail":
                found = self.person_by_email(value)
            else:
                decoded = decode_id(value)
                found = self.people.get(decoded[1]) if decoded else None
            return (found.id, found.display_name) if found else None

    def add_message(self, author: Person, room: Room, *, text: str | None = None,
                    markdown: str | None = None, files: list[str] | None = None,
                    attachments: list[dict[str, Any]] | None = None,
                    parent: Message | None = None, mentions_in_text: bool = True) -> Message:
        """Post as ``author``. Mentions are read from the markdown, and from the text only when
        ``mentions_in_text`` (a person's chat client; Webex's REST API reads them in markdown only)."""
        rendered = self._render(text, markdown, mentions_in_text)
        with self._change():
            message = Message(new_uuid(), room, author, rendered, markdown, files or [],
                              attachments or [], parent, timestamp(), next(self._sequence))
            self.messages[message.uuid] = message
            room.last_activity = message.created
            room.hidden.clear()  # the spec: any new message makes a hidden direct room visible again
            self._log_message("created", author, message)
        self._publish("message", message)
        return message

    def _render(self, text: str | None, markdown: str | None, mentions_in_text: bool) -> Rendered:
        """Markdown rendered (``text``, when given, is kept as the plain text); else the text as typed."""
        if markdown is not None:
            rendered = render(markdown, self.resolver)
            rendered.text = text or rendered.text
            return rendered
        if mentions_in_text:
            return render(text or "", self.resolver, markdown=False)
        return Rendered(text or "", f"<p>{html.escape(text or '', quote=False)}</p>")

    def edit_message(self, message: Message, *, text: str | None, markdown: str | None) -> None:
        """Replace what ``message`` says, as its author's edit does (Webex's REST API: mentions in markdown)."""
        rendered = self._render(text, markdown, mentions_in_text=False)
        with self._change():
            message.rendered, message.markdown = rendered, markdown
            message.updated, message.edits = timestamp(), message.edits + 1
            self._log_message("updated", message.author, message)

    def message(self, raw: str) -> Message:
        return self._get(self.messages, raw)

    def delete_message(self, message: Message, *, actor: Person) -> None:
        with self._change():
            if self.messages.pop(message.uuid, None) is not None:
                self._log_message("deleted", actor, message)

    def room_messages(self, room: Room) -> list[Message]:
        """Newest first, as Webex lists them."""
        with self.lock:
            found = [m for m in self.messages.values() if m.room is room]
        return sorted(found, key=lambda m: m.seq, reverse=True)

    def all_messages(self) -> list[Message]:
        """Every message of every room, oldest first."""
        with self.lock:
            return sorted(self.messages.values(), key=lambda m: m.seq)

    # -- card actions ----------------------------------------------------------------------------
    def add_action(self, person: Person, message: Message, inputs: dict[str, Any]) -> AttachmentAction:
        with self._change():
            action = AttachmentAction(new_uuid(), message, person, inputs, timestamp())
            self.actions[action.uuid] = action
            self._log("attachmentActions", "created", person, action.to_json(),
                      lambda owner: owner is message.author, action.webhook_json())
        self._publish("action", action)
        return action

    def action(self, raw: str) -> AttachmentAction:
        return self._get(self.actions, raw)

    # -- webhooks --------------------------------------------------------------------------------
    def add_webhook(self, owner: Person, **fields: Any) -> Webhook:
        with self.lock:
            hook = Webhook(new_uuid(), owner, created=timestamp(), **fields)
            self.webhooks[hook.uuid] = hook
            return hook

    def webhook(self, raw: str, owner: Person | None = None) -> Webhook:
        with self.lock:
            hook = self.webhooks.get(raw)
            if hook is None or (owner is not None and hook.owner is not owner):
                raise NotFound(raw)
            return hook

    def webhooks_of(self, owner: Person) -> list[Webhook]:
        with self.lock:
            return [h for h in self.webhooks.values() if h.owner is owner]

    def all_webhooks(self) -> list[Webhook]:
        with self.lock:
            return list(self.webhooks.values())

    def update_webhook(self, hook: Webhook, *, reactivate: bool = False, **changes: Any) -> None:
        """Set ``name``, ``target_url`` or ``secret``; ``reactivate`` makes it active with a clean slate."""
        unknown = set(changes) - WEBHOOK_CHANGES
        if unknown:
            raise TypeError(f"a webhook has no changeable {', '.join(sorted(unknown))}")
        with self.lock:
            for name, value in changes.items():
                setattr(hook, name, value)
            if reactivate:
                hook.status, hook.consecutive_failures = "active", 0

    def deactivate_webhook(self, hook: Webhook) -> Webhook:
        """Switch ``hook`` to inactive, as Webex does after many failures; return it."""
        with self.lock:
            hook.status = "inactive"
            return hook

    def count_delivery(self, hook: Webhook, ok: bool, inactive_after: int) -> None:
        """Count a delivery's outcome; ``inactive_after`` failures in a row make the webhook inactive."""
        with self.lock:
            hook.consecutive_failures = 0 if ok else hook.consecutive_failures + 1
            if hook.consecutive_failures >= inactive_after:
                hook.status = "inactive"

    def delete_webhook(self, hook: Webhook) -> None:
        with self.lock:
            self.webhooks.pop(hook.uuid, None)

    # -- files -----------------------------------------------------------------------------------
    def add_file(self, name: str, content_type: str, data: bytes) -> str:
        """Keep an uploaded file and return its public content URL."""
        with self.lock:
            raw = new_uuid()
            self.files[raw] = StoredFile(name, content_type, data)
            return f"{self.base_url}/v1/contents/{encode_id('CONTENT', raw)}"

    def file(self, raw: str) -> StoredFile:
        return self._get(self.files, raw)
