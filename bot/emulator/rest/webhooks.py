"""``/v1/webhooks``: the caller's own webhooks; nobody sees or changes another owner's.

``ownedBy: org`` makes a webhook that hears the whole org's events. The spec offers it to compliance
officers (``settings.compliance_officers``), so another person gets 403; what a bot gets is UNSURE
(``settings.org_webhook_by_bot``: 403 by default, or an ordinary webhook, or an org one).
"""
from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, Response

from ..http import body_json, fail, json_response, lookup
from ..models import Webhook
from ..settings import Settings
from ..store import Store
from .common import Visible, paginate

WEBHOOK_RESOURCES = {"messages", "memberships", "rooms", "attachmentActions", "meetings", "recordings",
                     "meetingParticipants", "meetingTranscripts", "telephony_calls", "all"}
WEBHOOK_EVENTS = {"created", "updated", "deleted", "started", "ended", "joined", "left", "all"}


def require_strings(fields: dict[str, Any], *names: str) -> None:
    """400 naming the first of ``names`` that is not a non-empty string."""
    for name in names:
        if not isinstance(fields.get(name), str) or not fields[name]:
            fail(400, f"{name} is required.")


def create_webhooks_blueprint(store: Store, visible: Visible, settings: Settings) -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    def webhook_for(rest_id: str) -> Webhook:
        return lookup(partial(store.webhook, owner=visible.me()), rest_id, "WEBHOOK", "webhook")

    def owner_kind(owned_by: Any) -> str:
        """The ``ownedBy`` the caller may have: "creator", or "org" for a compliance officer."""
        if owned_by not in ("creator", "org"):
            fail(400, "ownedBy is 'creator' or 'org'.")
        if owned_by == "creator" or visible.compliance_officer():
            return owned_by
        if visible.me().type == "bot" and settings.org_webhook_by_bot in ("creator", "org"):
            return settings.org_webhook_by_bot
        fail(403, "Only a compliance officer can create a webhook owned by the org.")

    @bp.post("/webhooks")
    def webhooks_create() -> Response:
        fields = body_json()
        require_strings(fields, "name", "targetUrl", "resource", "event")
        if not fields["targetUrl"].startswith(("http://", "https://")):
            fail(400, "targetUrl must be an http or https URL.")
        if fields["resource"] not in WEBHOOK_RESOURCES or fields["event"] not in WEBHOOK_EVENTS:
            fail(400, "Unknown resource or event.")
        hook = store.add_webhook(visible.me(), name=fields["name"], target_url=fields["targetUrl"],
                                 resource=fields["resource"], event=fields["event"],
                                 filter=fields.get("filter"), secret=fields.get("secret"),
                                 owned_by=owner_kind(fields.get("ownedBy", "creator")))
        return json_response(hook.to_json())

    @bp.get("/webhooks")
    def webhooks_list() -> Response:
        return paginate([h.to_json() for h in store.webhooks_of(visible.me())], 100)

    @bp.get("/webhooks/<webhook_id>")
    def webhooks_get(webhook_id: str) -> Response:
        return json_response(webhook_for(webhook_id).to_json())

    @bp.put("/webhooks/<webhook_id>")
    def webhooks_update(webhook_id: str) -> Response:
        hook = webhook_for(webhook_id)
        fields = body_json()
        require_strings(fields, "name", "targetUrl")
        status = fields.get("status")
        if status not in (None, "active"):
            fail(400, "status can only be set to 'active'.")
        secret = {"secret": fields["secret"]} if "secret" in fields else {}
        store.update_webhook(hook, name=fields["name"], target_url=fields["targetUrl"],
                             reactivate=status == "active", **secret)
        return json_response(hook.to_json())

    @bp.delete("/webhooks/<webhook_id>")
    def webhooks_delete(webhook_id: str) -> Response:
        store.delete_webhook(webhook_for(webhook_id))
        return Response(status=204)

    return bp
