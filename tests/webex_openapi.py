"""Webex's published OpenAPI spec as the judge of what the emulator answers.

The spec is data kept outside the repo: ``shared/specs/webex-messaging.json`` beside the clone (as CI
lays it out), or the file named by ``$WEBEX_OPENAPI_SPEC``. Each recorded call is matched to its spec
operation by path template; its status must be one the operation documents, and a JSON body is
validated against that status's response schema with the OpenAPI 3.0 validator, ``$ref``s resolved in
the whole document.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_ENV = "WEBEX_OPENAPI_SPEC"
SPEC_URI = "urn:webex:messaging"
API_PREFIX = "/v1"


def spec_path() -> Path:
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "specs" / "webex-messaging.json"


def load_document(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class WebexSpec:
    """Operations, response schemas and validators of one OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self._registry = Registry().with_resource(SPEC_URI, resource)
        # Literal templates first, so /people/me wins over /people/{personId}.
        self._templates = sorted(((template, _pattern(template)) for template in document["paths"]),
                                 key=lambda pair: pair[0].count("{"))
        self._validators: dict[tuple[str, str, str], OAS30Validator] = {}

    def template(self, path: str) -> Optional[str]:
        """The spec's path template for a request path (with or without ``/v1``), or None."""
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX):]
        return next((template for template, pattern in self._templates if pattern.match(path)), None)

    def operation(self, method: str, template: str) -> Optional[dict[str, Any]]:
        return self.document["paths"].get(template, {}).get(method.lower())

    def problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """What is wrong with one answer; empty when it conforms."""
        template = self.template(path)
        operation = self.operation(method, template) if template else None
        where = f"{method} {path} -> {status}"
        if operation is None:
            return [f"{where}: no such operation in the spec"]
        response = operation["responses"].get(str(status))
        if response is None:
            return [f"{where}: status not documented (spec: {', '.join(operation['responses'])})"]
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None or body is None:
            return []
        validator = self._validator(template, method.lower(), str(status))
        return [f"{where}: {'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}"
                for error in validator.iter_errors(body)]

    def _validator(self, template: str, method: str, status: str) -> OAS30Validator:
        """A validator of the schema where it stands in the document, so its ``$ref``s resolve there."""
        key = (template, method, status)
        if key not in self._validators:
            pointer = "/".join(_escape(part) for part in
                               ("paths", template, method, "responses", status, "content", "application/json", "schema"))
            self._validators[key] = OAS30Validator({"$ref": f"{SPEC_URI}#/{quote(pointer)}"}, registry=self._registry)
        return self._validators[key]


def _pattern(template: str) -> re.Pattern[str]:
    parts = ("[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/"))
    return re.compile("^" + "/".join(parts) + "$")


def _escape(token: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")
