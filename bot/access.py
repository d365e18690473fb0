"""Who may talk to the bot: allowed people (emails), email domains and rooms.

An empty rule allows everyone. A person passes a rule when any of its lists admits them; a command
with its own rule needs both the bot's rule and its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from . import ids


@dataclass(frozen=True)
class Access:
    people: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()

    @classmethod
    def of(cls, people: Iterable[str] = (), domains: Iterable[str] = (), rooms: Iterable[str] = ()) -> "Access":
        return cls(frozenset(p.strip().lower() for p in people if p.strip()),
                   frozenset(d.strip().lower().lstrip("@") for d in domains if d.strip()),
                   frozenset(ids.unpadded(r) for r in rooms if r.strip()))

    @property
    def open(self) -> bool:
        """True when the rule lets everyone in."""
        return not (self.people or self.domains or self.rooms)

    def allows(self, email: str, room_id: str) -> bool:
        """Whether ``email`` writing in ``room_id`` passes this rule (room ids compared unpadded)."""
        if self.open:
            return True
        email = email.lower()
        return (email in self.people or email.rpartition("@")[2] in self.domains or ids.unpadded(room_id) in self.rooms)
