"""The Webex REST API under ``/v1``, one blueprint per resource, all behind Webex's bearer auth.

Each resource's routes live in their own module; what they share (the caller, what the caller may
see, pagination) is in ``common.py``.
"""
from __future__ import annotations

from flask import Blueprint

from ..http import caller
from ..settings import Settings
from ..store import Store
from ..urls import API_PATH
from .actions import create_actions_blueprint
from .common import Visible
from .contents import create_contents_blueprint
from .events import create_events_blueprint
from .memberships import create_memberships_blueprint
from .messages import create_messages_blueprint
from .people import create_people_blueprint
from .rooms import create_rooms_blueprint
from .teams import create_teams_blueprint
from .webhooks import create_webhooks_blueprint


def create_rest_blueprint(store: Store, settings: Settings) -> Blueprint:
    api = Blueprint("webex_rest", __name__, url_prefix=API_PATH)

    @api.before_request
    def authenticate() -> None:
        """401 before anything else is read or stored, as Webex answers a request without a valid token."""
        caller(store)

    visible = Visible(store, settings)
    api.register_blueprint(create_people_blueprint(store, visible))
    api.register_blueprint(create_teams_blueprint(store, visible))
    api.register_blueprint(create_rooms_blueprint(store, visible))
    api.register_blueprint(create_memberships_blueprint(store, visible))
    api.register_blueprint(create_messages_blueprint(store, visible, settings))
    api.register_blueprint(create_contents_blueprint(store))
    api.register_blueprint(create_webhooks_blueprint(store, visible, settings))
    api.register_blueprint(create_events_blueprint(store, visible))
    api.register_blueprint(create_actions_blueprint(store, visible))
    return api
