"""The transport-neutral event: what a webhook delivery or a websocket activity tells the bot.

Both transports make the same ``Event`` with the REST id of the message or card action, so the
dispatcher, its dedupe and the handlers never know which way a message came.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Optional

from . import ids
from .errors import BadEvent
from .logs import clip

MESSAGE = "message"
CARD_ACTION = "card_action"
JOINED = "joined"  # someone (maybe the bot) was added to a space: a membership created
LEFT = "left"  # someone (maybe the bot) left or was removed: a membership deleted
JOB = "job"  # work that is no Webex event: a schedule's run, an incoming request, a reminder
MEMBERSHIP_KINDS = {"created": JOINED, "deleted": LEFT}
MAX_FIELD = 400  # longer than any id, email or timestamp Webex sends


class Outcome(str, Enum):
    """What the dispatcher answers a transport that hands it an event.

    A str, so a receiver can put it in its answer as it is.
    """

    ACCEPTED = "accepted"  # queued: it will be handled once
    DUPLICATE = "duplicate"  # seen already (a redelivery, or the other transport's copy)
    IGNORED = "ignored"  # the bot's own message: nothing to do
    BUSY = "busy"  # refused for now (queue full, or stopping): the sender should bring it again


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # MESSAGE | CARD_ACTION | JOINED | LEFT
    id: str  # REST id of the message, attachment action or membership
    room_id: str
    person_id: str  # who wrote or submitted; for a membership, the member
    person_email: str = ""
    room_type: str = ""
    created: str = ""
    transport: str = "webhook"
    actor_id: str = ""  # for a membership: who added or removed the member
    person_name: str = ""  # for a membership: the member's display name
    # Where ``id`` was built rather than given by Webex: how to ask Webex for the right one after a 404.
    resolve: Optional[Callable[[], str]] = field(default=None, compare=False, repr=False)
    work: Optional[Callable[[], None]] = field(default=None, compare=False, repr=False)  # for a JOB

    @property
    def key(self) -> str:
        """The dedupe key: the same for every form of the id (padded or not, any cluster, built).

        A membership's id names the member and the space, so joining and leaving are told apart by kind.
        """
        return f"{self.kind}:{ids.key(self.id)}" if self.is_membership else ids.key(self.id)

    @property
    def is_membership(self) -> bool:
        return self.kind in (JOINED, LEFT)

    @property
    def undone_key(self) -> str:
        """For a membership, the key of the opposite change: once someone leaves, they may join again."""
        return f"{JOINED if self.kind == LEFT else LEFT}:{ids.key(self.id)}"

    @classmethod
    def from_webhook(cls, envelope: dict[str, Any]) -> "Event":
        """The event in a webhook envelope; BadEvent when it is malformed or of a kind we ignore.

        Every id is checked for the shape of a Webex id, as it goes into URLs the bot calls with its
        token; values the bot logs or compares are bounded.
        """
        data = envelope.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise BadEvent("the envelope has no data.id")
        resource, change = envelope.get("resource"), envelope.get("event")
        if not isinstance(change, str):
            raise BadEvent("the envelope's event is not a word")
        if resource == "memberships" and change in MEMBERSHIP_KINDS:
            kind = MEMBERSHIP_KINDS[change]
        elif resource in ("messages", "attachmentActions") and change == "created":
            kind = MESSAGE if resource == "messages" else CARD_ACTION
        elif resource in ("messages", "attachmentActions", "memberships"):
            raise BadEvent(f"event {clip(change, 40)} is not handled")
        else:
            raise BadEvent(f"resource {clip(resource, 40)} is not handled")
        fields = {name: data.get(name, "") for name in ("id", "roomId", "personId", "personEmail", "roomType",
                                                        "created", "personDisplayName")}
        fields["actorId"] = envelope.get("actorId", "")
        for name, value in fields.items():
            where = name if name == "actorId" else f"data.{name}"
            if not isinstance(value, str) or len(value) > MAX_FIELD:
                raise BadEvent(f"{where} is not a short string")
            if name in ("id", "roomId", "personId", "actorId") and value and not ids.valid(value):
                raise BadEvent(f"{where} is not a Webex id")
        if kind in (JOINED, LEFT) and not (fields["roomId"] and fields["personId"]):
            raise BadEvent("a membership event names no room or no person")
        return cls(kind=kind, id=fields["id"], room_id=fields["roomId"], person_id=fields["personId"],
                   person_email=fields["personEmail"], room_type=fields["roomType"], created=fields["created"],
                   transport="webhook", actor_id=fields["actorId"], person_name=fields["personDisplayName"])
