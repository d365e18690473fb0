"""Webex ids: one place that knows their shape, so no module compares or decodes them its own way.

A REST id is the base64 of ``ciscospark://<cluster>/<TYPE>/<uuid>``; Webex sends it with or without
``=`` padding, some clients write it URL-safe, and the websocket and mentions may carry the bare
uuid instead. Two ids name the same thing when they reduce to the same uuid.
"""
from __future__ import annotations

import base64
import binascii
import re

# What a REST id or a bare uuid can hold: base64 of ASCII text has no '+' or '/' unless the text
# holds '?', '>' or '~', which Webex ids do not; checked before an id goes into a URL.
_ID = re.compile(r"[A-Za-z0-9_-]{1,300}={0,2}")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_URLSAFE = str.maketrans("-_", "+/")


def valid(value: object) -> bool:
    """Whether ``value`` has the characters and length a Webex id (or a bare uuid) can have."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def valid_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def unpadded(rest_id: str) -> str:
    """The id without surrounding space and base64 padding: the form ids are stored and keyed in."""
    return rest_id.strip().rstrip("=")


def decode(rest_id: str) -> str:
    """The ``ciscospark://...`` text of a REST id, or "" when it is not one (a bare uuid, garbage)."""
    raw = unpadded(rest_id).translate(_URLSAFE)
    try:
        text = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode()
    except (binascii.Error, ValueError):
        return ""
    return text if text.startswith("ciscospark://") else ""


def uuid_of(rest_id: str) -> str:
    """The uuid a REST id ends in (lower case); a bare uuid is its own; anything else is returned unpadded."""
    decoded = decode(rest_id)
    if decoded:
        return decoded.rsplit("/", 1)[-1].lower()
    raw = unpadded(rest_id)
    return raw.lower() if _UUID.match(raw) else raw


def cluster_of(rest_id: str) -> str:
    """The cluster a REST id names (``us``, ``urn:TEAM:eu-central-1_k``), or "" when it is no REST id."""
    decoded = decode(rest_id)
    return decoded[len("ciscospark://"):].split("/", 1)[0] if decoded else ""


def build(cluster: str, kind: str, uuid: str) -> str:
    """The REST id of object ``uuid`` of TYPE ``kind`` homed in ``cluster`` (unpadded, as Webex writes it).

    Only a guess where the cluster is: the caller must be ready for Webex to answer 404 for it.
    """
    return base64.b64encode(f"ciscospark://{cluster or 'us'}/{kind}/{uuid}".encode()).decode().rstrip("=")


def key(rest_id: str) -> str:
    """What an event is keyed by for dedupe and the handled record: its uuid, the same whether it came
    as a REST id of any cluster (webhook, catch-up) or as an id the bot built (websocket)."""
    return uuid_of(rest_id)


def same(one: str, other: str) -> bool:
    """Whether two ids (REST ids padded or not, or bare uuids) name the same person, room or message."""
    return bool(one) and bool(other) and uuid_of(one) == uuid_of(other)
