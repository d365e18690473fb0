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
    kind: str  # MESSAGE | CARD_ACTION
    id: str  # REST id of the message or attachment action
    room_id: str
    person_id: str
    person_email: str = ""
    room_type: str = ""
    created: str = ""
    transport: str = "webhook"
    # Where ``id`` was built rather than given by Webex: how to ask Webex for the right one after a 404.
    resolve: Optional[Callable[[], str]] = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """The dedupe key: the same for every form of the id (padded or not, any cluster, built)."""
        return ids.key(self.id)

    @classmethod
    def from_webhook(cls, envelope: dict[str, Any]) -> "Event":
        """The event in a webhook envelope; BadEvent when it is malformed or of a kind we ignore.

        Every id is checked for the shape of a Webex id, as it goes into URLs the bot calls with its
        token; values the bot logs or compares are bounded.
        """
        data = envelope.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise BadEvent("the envelope has no data.id")
        resource = envelope.get("resource")
        if resource == "messages":
            kind = MESSAGE
        elif resource == "attachmentActions":
            kind = CARD_ACTION
        else:
            raise BadEvent(f"resource {clip(resource, 40)} is not handled")
        if envelope.get("event") != "created":
            raise BadEvent(f"event {clip(envelope.get('event'), 40)} is not handled")
        fields = {name: data.get(name, "") for name in ("id", "roomId", "personId", "personEmail", "roomType",
                                                        "created")}
        for name, value in fields.items():
            if not isinstance(value, str) or len(value) > MAX_FIELD:
                raise BadEvent(f"data.{name} is not a short string")
        for name in ("id", "roomId", "personId"):
            if fields[name] and not ids.valid(fields[name]):
                raise BadEvent(f"data.{name} is not a Webex id")
        return cls(kind=kind, id=fields["id"], room_id=fields["roomId"], person_id=fields["personId"],
                   person_email=fields["personEmail"], room_type=fields["roomType"], created=fields["created"],
                   transport="webhook")
