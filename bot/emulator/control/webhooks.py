"""Control of webhooks behind their owners' backs: list all of them, deactivate or delete one."""
from __future__ import annotations

from flask import Blueprint, Response

from ..http import json_response, lookup
from ..models import Webhook
from ..store import Store

ROUTES = {
    "GET /_emulator/webhooks": "every webhook of every owner",
    "POST /_emulator/webhooks/<id>/deactivate": "switch a webhook to inactive as Webex does",
    "DELETE /_emulator/webhooks/<id>": "delete a webhook behind its owner's back",
}


def create_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    def webhook(rest_id: str) -> Webhook:
        return lookup(store.webhook, rest_id, "WEBHOOK", "webhook")

    @bp.get("/webhooks")
    def webhooks_list() -> Response:
        return json_response({"items": [h.to_json() for h in store.all_webhooks()]})

    @bp.post("/webhooks/<webhook_id>/deactivate")
    def webhooks_deactivate(webhook_id: str) -> Response:
        return json_response(store.deactivate_webhook(webhook(webhook_id)).to_json())

    @bp.delete("/webhooks/<webhook_id>")
    def webhooks_delete(webhook_id: str) -> Response:
        store.delete_webhook(webhook(webhook_id))
        return Response(status=204)

    return bp
