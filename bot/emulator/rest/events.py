"""``/v1/events``: the org's log of created, updated and deleted messages, memberships, rooms and card
submits, for its compliance officers only (``settings.compliance_officers``; anyone else: 403, as
Webex answers a token without the spark-compliance:events_read scope). Newest first, paged like every
list; each event's ``data`` is the resource as it was then.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, request

from ..http import fail, json_response, lookup
from ..store import Store
from .common import Visible, paginate, parse_time

RESOURCES = {"attachmentActions", "businessTexts", "call_records", "convergedRecordings", "file_transcodings",
             "files", "meetingMessages", "meetings", "meetingTranscripts", "memberships", "messages", "rooms", "tabs"}
TYPES = {"created", "updated", "deleted", "ended"}
MAX_PAGE = 1000


def create_events_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("events", __name__)

    @bp.before_request
    def compliance_officers_only() -> None:
        if not visible.compliance_officer():
            fail(403, "The events API is for compliance officers only.")

    @bp.get("/events")
    def events_list() -> Response:
        args = request.args
        if args.get("resource") not in (None, *RESOURCES) or args.get("type") not in (None, *TYPES):
            fail(400, f"resource is one of {sorted(RESOURCES)}; type one of {sorted(TYPES)}.")
        if args.get("max", "").isdigit() and int(args["max"]) > MAX_PAGE:
            fail(400, f"max must be between 1 and {MAX_PAGE}.")
        after = parse_time(args["from"]) if args.get("from") else None
        before = parse_time(args["to"]) if args.get("to") else None
        if before is not None and before > datetime.now(timezone.utc):
            fail(400, "to cannot be in the future.")
        found = [e for e in store.all_events()
                 if args.get("resource") in (None, e.resource) and args.get("type") in (None, e.type)
                 and args.get("actorId") in (None, e.actor.id)
                 and (after is None or parse_time(e.created) > after)
                 and (before is None or parse_time(e.created) < before)]
        return paginate([e.to_json() for e in found], 100)

    @bp.get("/events/<event_id>")
    def events_get(event_id: str) -> Response:
        return json_response(lookup(store.event, event_id, "EVENT", "event").to_json())

    return bp
