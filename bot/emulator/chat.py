"""The chat page: a browser client of the emulator for people who have never written a bot.

``/chat?as=<personId>`` shows that person's spaces and lets them talk to the bot; a side panel shows
the webhooks and REST calls going between the emulator and the bot, and sends test events to the
bot's incoming routes. The page is static files plus
two JSON routes: ``/_emulator/chat/state`` (everything at once) and ``/_emulator/changes`` (what is
new since a cursor).

Live updates come from ``feed.py``, by long poll.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from flask import Blueprint, Response, request

from .delivery import Deliverer
from .feed import HOLD, Feed
from .http import fail, json_response, lookup
from .ids import decode_id
from .incoming import TEST_EVENT, TEST_PAYLOAD, IncomingRoutes
from .models import Message, Person
from .store import NotFound, Store
from .traffic import Traffic
from .urls import CHAT_PATH, CONTROL_PATH

STATIC = Path(__file__).with_name("static")

CHAT_ROUTES = {
    "GET /chat?as=<personId>": "the chat page: talk to the bot as that person, watch the traffic",
    "GET /_emulator/chat/state": "what the chat page shows {as?: personId}: people, rooms, messages, "
                                 "incoming routes, cursor",
    "GET /_emulator/changes": "long poll: new messages, card submits, deliveries, calls and incoming requests "
                              "{after: cursor}",
}


def message_view(message: Message, base_url: str, find_file: Callable[[str], Any]) -> dict[str, Any]:
    """A message as the REST API shows it, plus its order and its files as links the page can follow."""
    links = []
    own = f"{base_url}/v1/contents/"
    for url in message.files:
        name, href = url.rstrip("/").rsplit("/", 1)[-1] or "file", url
        if base_url and url.startswith(own):
            content_id = url[len(own):]
            href = f"{CONTROL_PATH}/contents/{content_id}"
            decoded = decode_id(content_id)
            try:
                name = find_file(decoded[1]).name if decoded else name
            except NotFound:
                pass
        links.append({"name": name, "href": href})
    return {**message.to_json(), "seq": message.seq, "fileLinks": links}


def person_view(person: Person) -> dict[str, Any]:
    """What the page needs of a person; no token."""
    return {"id": person.id, "displayName": person.display_name, "email": person.email, "type": person.type}


def create_chat_blueprint(store: Store, traffic: Traffic, deliverer: Deliverer, routes: IncomingRoutes) -> Blueprint:
    # Assets live under /_emulator so that they are neither logged as API traffic nor hit by faults.
    chat = Blueprint("emulator_chat", __name__, static_folder=str(STATIC),
                     static_url_path=f"{CONTROL_PATH}/chat/static")

    def shown(message: Message) -> dict[str, Any]:
        return message_view(message, store.base_url, store.file)

    feed = Feed(store, traffic, deliverer, routes, shown)

    def viewer(rest_id: Optional[str]) -> Optional[Person]:
        if rest_id:
            return lookup(store.person, rest_id, "PEOPLE", "person")
        return next((p for p in store.everyone() if p.type == "person"), None)

    @chat.get(CHAT_PATH)
    def page() -> Response:
        response = chat.send_static_file("chat.html")
        # Defence in depth for a page that shows what anyone typed: no inline script, no foreign code.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        response.headers["Cache-Control"] = "no-store"
        return response

    @chat.get(f"{CONTROL_PATH}/chat/state")
    def state() -> Response:
        me = viewer(request.args.get("as"))
        cursor, recent = feed.snapshot()
        people = [person_view(p) for p in store.everyone()]
        rooms = store.rooms_of(me) if me is not None else []
        uuids = {r.uuid for r in rooms}
        messages = [m for m in store.all_messages() if m.room.uuid in uuids]
        return json_response({
            "me": me.id if me else None, "people": people, "rooms": [r.control_json() for r in rooms],
            "messages": [shown(m) for m in messages], "cursor": cursor, "traffic": recent,
            "incoming": {"routes": routes.list(), "testPayload": TEST_PAYLOAD, "testEvent": TEST_EVENT}})

    @chat.get(f"{CONTROL_PATH}/changes")
    def changes() -> Response:
        try:
            after = int(request.args.get("after", "0"))
            hold = min(max(float(request.args.get("wait", HOLD)), 0.0), HOLD)
        except ValueError:
            fail(400, "after is a whole number and wait a number of seconds.")
        # waitress marks the connection closed when the server stops; a waiting poll then ends.
        gone = request.environ.get("waitress.client_disconnected", lambda: False)
        return json_response(feed.since(after, hold, gone))

    return chat
