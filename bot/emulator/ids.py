"""Webex identifiers and timestamps, shaped exactly as the real API shapes them.

Webex IDs are base64 of ``ciscospark://<cluster>/<TYPE>/<uuid>`` with the ``=`` padding stripped.
Clients must treat them as opaque, so the emulator makes them the same way and accepts padded ones.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timezone

DEFAULT_CLUSTER = "us"


def new_uuid() -> str:
    return str(uuid.uuid4())


def encode_id(kind: str, raw: str, cluster: str = DEFAULT_CLUSTER) -> str:
    """The REST id of object ``raw`` of TYPE ``kind`` (PEOPLE, ROOM, MESSAGE, ...).

    Objects homed in another cluster name it as Webex does, ``urn:TEAM:<cluster>``, so a client
    that builds ids by assuming ``us`` breaks here as it would against Webex.
    """
    home = cluster if cluster == DEFAULT_CLUSTER else f"urn:TEAM:{cluster}"
    uri = f"ciscospark://{home}/{kind}/{raw}"
    return base64.b64encode(uri.encode()).decode().rstrip("=")


def decode_id(rest_id: str) -> tuple[str, str] | None:
    """``(TYPE, raw)`` of a REST id, padded or not; None when it is no Webex id."""
    text = rest_id.strip().rstrip("=")
    try:
        uri = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not uri.startswith("ciscospark://"):
        return None
    parts = uri[len("ciscospark://"):].split("/")
    if len(parts) < 3:
        return None
    return parts[-2], parts[-1]


def home_of(rest_id: str) -> str | None:
    """The cluster part of a REST id (``us``, ``urn:TEAM:eu-central-1_k``); None for a bare uuid or no id."""
    text = rest_id.strip().rstrip("=")
    try:
        uri = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return uri[len("ciscospark://"):].split("/", 1)[0] if uri.startswith("ciscospark://") else None


def timestamp(moment: datetime | None = None) -> str:
    """``2024-08-05T13:04:31.488Z``: milliseconds and a literal Z, as the SDK parses it."""
    moment = moment or datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
