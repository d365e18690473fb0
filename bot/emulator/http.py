"""What every emulated Webex endpoint shares: bearer auth, id lookups and Webex-shaped error bodies."""
from __future__ import annotations

import re
from typing import Any, Callable, NoReturn, Optional, TypeVar

from flask import Response, abort, g, jsonify, request

from .ids import decode_id, new_uuid
from .models import Person, StoredFile
from .store import NotFound, Store

T = TypeVar("T")

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A Webex error: ``message``, ``errors[].description`` and a ``trackingId`` (also a header)."""
    tracking_id = f"EMULATOR_{new_uuid()}"
    response = jsonify({"message": message, "errors": [{"description": message}], "trackingId": tracking_id})
    response.status_code = status
    response.headers["TrackingID"] = tracking_id
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def fail(status: int, message: str) -> NoReturn:
    abort(error_response(status, message))


def json_response(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def token_owner(store: Store) -> Optional[Person]:
    """Whose bearer token came with the request, if any (no error: the traffic log uses it too)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return store.person_by_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


def caller(store: Store) -> Person:
    """The person or bot whose bearer token came with the request; 401 without a valid one."""
    if "caller" in g:
        return g.caller
    person = token_owner(store)
    if person is None:
        fail(401, "The request requires a valid access token set in the Authorization request header.")
    g.caller = person
    return person


def raw_id(rest_id: str, kind: str, what: str) -> str:
    """The uuid inside a REST id of TYPE ``kind``; 404 naming ``what`` when it is none.

    A bare uuid (the id a websocket activity carries) is taken too: webex-bot's thread replies send
    one as parentId and work against Webex.
    """
    if UUID.fullmatch(rest_id):
        return rest_id.lower()
    decoded = decode_id(rest_id)
    if decoded is None or decoded[0] != kind:
        fail(404, f"Could not find a {what} with the provided ID.")
    return decoded[1]


def lookup(getter: Callable[[str], T], rest_id: str, kind: str, what: str) -> T:
    """What ``getter`` finds for the uuid inside ``rest_id``; 404 naming ``what`` when it finds nothing."""
    try:
        return getter(raw_id(rest_id, kind, what))
    except NotFound:
        fail(404, f"Could not find a {what} with the provided ID.")


def file_response(stored: StoredFile) -> Response:
    """An uploaded file as Webex serves its content URL: the bytes, typed, as an attachment."""
    return Response(stored.data, content_type=stored.content_type, headers={
        "Content-Disposition": f'attachment; filename="{stored.name}"'})


def body_json() -> dict[str, Any]:
    """The JSON object of the request body; 400 when the body is not one."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        fail(400, "The request body must be a JSON object.")
    return payload
