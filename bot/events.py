"""The transport-neutral event: what a webhook delivery or a websocket activity tells the bot.

Both transports make the same ``Event`` with the REST id of the message or card action, so the
dispatcher, its dedupe and the handlers never know which way a message came.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MESSAGE = "message"
CARD_ACTION = "card_action"


class BadEvent(ValueError):
    """A delivery that is not a Webex event the bot handles; the message says what is missing."""


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

    @property
    def key(self) -> str:
        """The dedupe key: the id without base64 padding, as Webex may send either."""
        return self.id.rstrip("=")

    @classmethod
    def from_webhook(cls, envelope: dict[str, Any]) -> "Event":
        """The event in a webhook envelope; BadEvent when it is malformed or of a kind we ignore."""
        data = envelope.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise BadEvent("the envelope has no data.id")
        resource = envelope.get("resource")
        if resource == "messages":
            kind = MESSAGE
        elif resource == "attachmentActions":
            kind = CARD_ACTION
        else:
            raise BadEvent(f"resource {resource!r} is not handled")
        if envelope.get("event") != "created":
            raise BadEvent(f"event {envelope.get('event')!r} is not handled")
        return cls(kind=kind, id=data["id"], room_id=str(data.get("roomId", "")),
                   person_id=str(data.get("personId", "")), person_email=str(data.get("personEmail", "")),
                   room_type=str(data.get("roomType", "")), created=str(data.get("created", "")),
                   transport="webhook")
