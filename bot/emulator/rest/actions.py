"""``/v1/attachment/actions``: submitting a card, and reading a submit by its id."""
from __future__ import annotations

from flask import Blueprint, Response

from ..http import body_json, fail, json_response
from ..store import Store
from .common import Visible


def create_actions_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("attachment_actions", __name__)

    @bp.post("/attachment/actions")
    def actions_create() -> Response:
        fields = body_json()
        if fields.get("type") != "submit" or not isinstance(fields.get("inputs"), dict):
            fail(400, "type 'submit', messageId and inputs are required.")
        message = visible.message(str(fields.get("messageId", "")))
        if not message.attachments:
            fail(400, "The message has no card to submit.")
        return json_response(store.add_action(visible.me(), message, fields["inputs"]).to_json(), status=202)

    @bp.get("/attachment/actions/<action_id>")
    def actions_get(action_id: str) -> Response:
        return json_response(visible.action(action_id).to_json())

    return bp
