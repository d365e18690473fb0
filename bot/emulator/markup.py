"""Mentions: from the ``<@personId:ID|Name>`` syntax to Webex's text, html and mentionedPeople.

A person's chat client and a bot's markdown both name people this way; Webex turns each mention into
the display name in ``text`` and a ``<spark-mention>`` element in ``html``, which is what bots parse.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

MENTION = re.compile(r"<@(?:(personId|personEmail):([^|>]+)(?:\|([^>]*))?|(all))>")

# (kind, value) -> (rest person id, display name), or None for nobody known.
Resolver = Callable[[str, str], Optional[tuple[str, str]]]


@dataclass
class Rendered:
    text: str
    html: str
    mentioned_people: list[str] = field(default_factory=list)
    mentioned_groups: list[str] = field(default_factory=list)


def render(source: str, resolve: Resolver) -> Rendered:
    """Render ``source`` with its mention tokens; unknown people stay as plain text."""
    text_parts: list[str] = []
    html_parts: list[str] = []
    people: list[str] = []
    groups: list[str] = []
    position = 0
    for match in MENTION.finditer(source):
        before = source[position:match.start()]
        text_parts.append(before)
        html_parts.append(html.escape(before, quote=False))
        position = match.end()
        if match.group(4):
            text_parts.append("All")
            html_parts.append('<spark-mention data-object-type="groupMention" data-group-type="all">All</spark-mention>')
            if "all" not in groups:
                groups.append("all")
            continue
        found = resolve(match.group(1), match.group(2))
        if found is None:
            label = match.group(3) or match.group(2)
            text_parts.append(label)
            html_parts.append(html.escape(label, quote=False))
            continue
        person_id, display_name = found
        label = match.group(3) or display_name
        text_parts.append(label)
        html_parts.append(
            f'<spark-mention data-object-type="person" data-object-id="{person_id}">'
            f"{html.escape(label, quote=False)}</spark-mention>"
        )
        if person_id not in people:
            people.append(person_id)
    tail = source[position:]
    text_parts.append(tail)
    html_parts.append(html.escape(tail, quote=False))
    return Rendered("".join(text_parts), "<p>" + "".join(html_parts) + "</p>", people, groups)
