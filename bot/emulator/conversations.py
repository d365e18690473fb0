"""The conversation service: how a bot turns the uuid of a websocket activity into a REST id.

Activities name messages and card submits by uuid and carry no readable content, so a bot asks the
conversation service for the activity and fetches the message over REST by the id it answers with.
Anyone who may not see the message or room gets 404, as from Webex.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import Blueprint, Response

from .activities import action_activity, message_activities, target_json
from .http import caller, fail, json_response
from .models import Person
from .settings import Settings
from .store import NotFound, Store
from .urls import CONVERSATION_PATH, Urls

T = TypeVar("T")


def create_conversations_blueprint(store: Store, urls: Urls, settings: Settings) -> Blueprint:
    bp = Blueprint("webex_conversations", __name__, url_prefix=CONVERSATION_PATH)

    def visible(getter: Callable[[str], T], uuid: str, sees: Callable[[T, Person], bool], missing: str) -> T:
        """What ``getter`` finds, when the caller ``sees`` it; 404 ``missing`` otherwise."""
        try:
            found = getter(uuid)
        except NotFound:
            fail(404, missing)
        if not sees(found, caller(store)):
            fail(404, missing)
        return found

    @bp.get("/conversations/<uuid>")
    def conversation_get(uuid: str) -> Response:
        room = visible(store.room, uuid, lambda r, who: who in r.members, "Conversation not found.")
        return json_response({**target_json(room, urls.conversation), "published": room.created,
                              "lastActivity": room.last_activity or room.created,
                              "displayName": room.title})

    @bp.get("/messages/<uuid>")
    def conversation_message(uuid: str) -> Response:
        message = visible(store.message, uuid, lambda m, who: m.visible_to(who), "Activity not found.")
        return json_response({**message_activities(message, urls.conversation)[0], "id": message.id})

    @bp.get("/attachment/actions/<uuid>")
    def conversation_action(uuid: str) -> Response:
        action = visible(store.action, uuid, lambda a, who: who in a.message.room.members, "Activity not found.")
        return json_response({**action_activity(action, urls.conversation, settings), "id": action.id})

    return bp
