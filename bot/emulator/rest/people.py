"""``/v1/people``: the caller and the people they look up by id, email or name."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..http import fail, json_response, lookup
from ..ids import decode_id
from ..store import Store
from .common import Visible, paginate


def create_people_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("people", __name__)

    @bp.get("/people/me")
    def people_me() -> Response:
        return json_response(visible.me().to_json())

    @bp.get("/people/<person_id>")
    def people_get(person_id: str) -> Response:
        return json_response(lookup(store.person, person_id, "PEOPLE", "person").to_json())

    @bp.get("/people", strict_slashes=False)  # webex-js-sdk 2.x looks people up as GET /people/?id=a,b
    def people_list() -> Response:
        email, name, ids = (request.args.get(k) for k in ("email", "displayName", "id"))
        if not (email or name or ids):
            fail(400, "Either email, displayName or id is required.")
        wanted = {d[1] for d in map(decode_id, (ids or "").split(",")) if d and d[0] == "PEOPLE"}
        found = [p for p in store.everyone()
                 if (not email or p.email.lower() == email.lower())
                 and (not name or p.display_name.lower().startswith(name.lower()))
                 and (not ids or p.uuid in wanted)]
        return paginate([p.to_json() for p in found], 100)

    return bp
