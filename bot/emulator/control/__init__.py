"""The control API under ``/_emulator``: what tests and the sandbox do that no Webex API offers.

It creates people, bots and rooms, posts as a person (mentions included), submits cards, reads every
message and delivery, injects faults, changes settings, breaks device websockets and sends test
events to the bot's incoming routes. It needs no token: the emulator listens on loopback only. Each
resource has its own blueprint and module; the index at ``/_emulator`` lists every route with what it
does.
"""
from __future__ import annotations

from flask import Blueprint, Response

from ..chat import CHAT_ROUTES
from ..delivery import Deliverer
from ..faults import Faults
from ..incoming import IncomingRoutes
from ..http import json_response
from ..mercury import Mercury
from ..settings import Settings
from ..store import Store
from ..traffic import Traffic
from ..urls import CONTROL_PATH, Urls
from . import conditions, devices, incoming, logs, messages, webhooks, world


def create_control_blueprint(store: Store, settings: Settings, faults: Faults, traffic: Traffic,
                             deliverer: Deliverer, mercury: Mercury, urls: Urls,
                             incoming_routes: IncomingRoutes) -> Blueprint:
    control = Blueprint("emulator_control", __name__, url_prefix=CONTROL_PATH)
    routes = {**world.ROUTES, **messages.ROUTES, **logs.ROUTES, **conditions.ROUTES, **webhooks.ROUTES,
              **devices.ROUTES, **incoming.ROUTES, **CHAT_ROUTES}

    @control.get("")
    def index() -> Response:
        return json_response({"routes": routes, "apiUrl": urls.api, "u2cUrl": urls.u2c_catalog})

    control.register_blueprint(world.create_blueprint(store))
    control.register_blueprint(messages.create_blueprint(store))
    control.register_blueprint(logs.create_blueprint(deliverer, traffic))
    control.register_blueprint(conditions.create_blueprint(faults, settings))
    control.register_blueprint(webhooks.create_blueprint(store))
    control.register_blueprint(devices.create_blueprint(mercury, urls))
    control.register_blueprint(incoming.create_blueprint(incoming_routes))
    return control
