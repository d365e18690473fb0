"""``/v1/contents``: the files of messages, both ways.

In: a file posted by public URL is fetched once, as Webex does, and kept; a local file comes as the
``files`` field of a ``multipart/form-data`` post (webexpythonsdk's requests-toolbelt encoder). Out:
``message.files`` names ``/v1/contents/<id>`` URLs, served with the bearer token checked.
"""
from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

import requests
from flask import Blueprint, Response
from werkzeug.datastructures import FileStorage

from ..http import fail, file_response, lookup
from ..store import Store

FETCH_TIMEOUT = 10.0
MAX_FILE_BYTES = 100 * 1024 * 1024  # Webex's limit for one file
FILENAME = re.compile(r'filename="?([^";\r\n]+)"?')


def fetch_file(store: Store, url: str) -> str:
    """Fetch ``url`` and keep its bytes; its content URL. 400 when it cannot be had, as Webex answers."""
    if urlparse(url).scheme not in ("http", "https"):
        fail(400, f"files takes a public http or https URL: {url}")
    try:
        with requests.get(url, timeout=FETCH_TIMEOUT, stream=True) as answer:
            answer.raise_for_status()
            data = bytearray()
            for chunk in answer.iter_content(64 * 1024):
                data += chunk
                if len(data) > MAX_FILE_BYTES:
                    fail(400, f"The file at {url} is larger than {MAX_FILE_BYTES} bytes.")
            named = FILENAME.search(answer.headers.get("Content-Disposition", ""))
            name = named.group(1) if named else unquote(urlparse(url).path.rsplit("/", 1)[-1]) or "file"
            content_type = answer.headers.get("Content-Type", "application/octet-stream")
    except requests.RequestException as error:
        fail(400, f"Unable to retrieve content from {url}: {type(error).__name__}")
    return store.add_file(name, content_type, bytes(data))


def keep_upload(store: Store, upload: FileStorage) -> str:
    """Keep a multipart upload; its content URL."""
    return store.add_file(upload.filename or "file", upload.mimetype or "application/octet-stream", upload.read())


def create_contents_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("contents", __name__)

    @bp.get("/contents/<content_id>")
    def contents_get(content_id: str) -> Response:
        return file_response(lookup(store.file, content_id, "CONTENT", "file"))

    return bp
