"""Behaviours of Webex the protocol facts leave UNSURE, as settings a test may change at run time."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Settings:
    # Consecutive failed deliveries after which Webex switches a webhook to inactive.
    webhook_inactive_after: int = 100
    # Seconds Webex waits for the bot to answer a delivery.
    delivery_timeout: float = 10.0
    # Further attempts after a failed delivery (0: Webex does not retry).
    delivery_retries: int = 0
    # Device registrations one user may hold before WDM answers 403.
    device_limit: int = 100
    # Whether the websocket answers the client's ping frames with pongs.
    answer_pings: bool = True
    # Whether un-acknowledged websocket envelopes are replayed on the next connection.
    replay_unacked: bool = True
    # Whether Mercury keeps anything for a device with no live connection. False: events while it has
    # none are dropped at once, and the un-acked envelopes of a connection that ends are dropped with
    # it; their sequence numbers are used all the same, so the next connection sees a gap.
    ws_replay: bool = True
    # Whether a reply's id given as a message's parentId is taken as its thread's root (reported of
    # Webex, which keeps threads one level deep). False: 400, so a bot that names the root itself,
    # which works either way, is what passes.
    reply_parent_to_root: bool = False
    # Seconds an un-acknowledged envelope stays replayable (Webex is reported to keep them about 15
    # minutes); older ones are dropped when the next connection comes.
    replay_window: float = 900.0
    # The ``type`` of a cardAction activity's ``parent`` (which names the card's message). UNSURE at
    # Webex; webex-bot answers in the card's thread only when it is "reply", and outside it otherwise.
    card_action_parent_type: str = "reply"
    # Which message a cardAction activity's ``parent`` names: "card", the card's own message (what a
    # parent is said to name), or "thread", the root of the card's thread when the card is a reply (as
    # a message's parent does; webex-bot's thread answers work only so, since it deletes the card
    # first). UNSURE at Webex.
    card_action_parent: str = "card"
    # Emails (comma-separated) of the people Webex treats as the org's compliance officers. Sure: only
    # they may read GET /events (Webex's spark-compliance:events_read scope) and create
    # ``ownedBy: org`` webhooks for messaging resources (the spec: "for Compliance Officers").
    compliance_officers: str = ""
    # What Webex answers a bot that creates an ``ownedBy: org`` webhook. UNSURE: "forbidden" (403, the
    # unkind default), "creator" (accepted as an ordinary webhook of the bot, ownedBy creator) or
    # "org" (accepted; it sees the whole org's events).
    org_webhook_by_bot: str = "forbidden"

    # Whether an id naming another cluster than the object's home (a client's guess: "us" for a space
    # homed in eu-central-1_k) still finds it. UNSURE at Webex; False answers 404, the unkind choice.
    ids_any_cluster: bool = False

    # Whether the ``object`` of an ``add``/``leave`` websocket activity names the person's
    # ``emailAddress`` and ``displayName``. UNSURE at Webex; False (only ``id`` and ``objectType``) is
    # the unkind choice: the client must look the person up over REST.
    space_event_person_fields: bool = True
    # Whether the removed person's own devices get the ``leave`` activity of their removal. UNSURE at
    # Webex; False, the unkind default: a bot on the websocket does not learn that it was removed.
    leave_seen_by_removed: bool = False
    # Whether the members a space is made with get ``add`` activities (Webex may send the space's
    # ``create`` activity instead, which the emulator does not). UNSURE; False, the unkind default: a
    # bot on the websocket made a member of a new space hears of it only by its first message.
    add_seen_at_creation: bool = False
    # The highest Adaptive Card ``version`` POST /messages takes. UNSURE whether Webex refuses a newer
    # card or shows its fallback text; refusing (400) is the unkind choice.
    card_max_version: str = "1.3"

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (snake_case or camelCase names); unknown names raise ValueError."""
        known = {f.name: f.type for f in fields(self)}
        for name, value in changes.items():
            key = "".join("_" + c.lower() if c.isupper() else c for c in name)
            if key not in known:
                raise ValueError(f"unknown setting: {name}")
            current = getattr(self, key)
            setattr(self, key, type(current)(value))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
