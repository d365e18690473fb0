"""``POST <public URL>/incoming/deploy``: a CI job says a deploy finished; the bot tells a space.

An example to copy for any system that should post into Webex through the bot (CI, monitoring, a
cron job). The last step of a deploy job runs::

    curl -fsS -X POST "$BOT_URL/incoming/deploy" \\
         -H "Authorization: Bearer $BOT_INCOMING_KEY" -H "Content-Type: application/json" \\
         -d '{"service": "api", "version": "1.4.2", "status": "succeeded", "url": "https://ci.example.com/run/812"}'

``python run_bot.py --incoming-urls`` prints the URL with its key. The bot answers 202 at once and
posts from a worker, so a slow Webex never holds up the CI job.

Where it posts: the space (room id) or person (email) in ``DEPLOY_ROOM``, read when a call comes,
so it can be set without touching the code. A route has no space of its own, and every bot run from
this folder loads this file: without ``DEPLOY_ROOM`` the call is accepted and only logged.

What the CI sends is checked first: a missing or odd field is said in one line that names it and
shows what is expected (in the space, and in the log), never a traceback.
"""
import logging
import os
from typing import Any

from bot import incoming

log = logging.getLogger(__name__)
STATUSES = {"succeeded": "✅", "failed": "❌"}
EXPECTED = 'Send `{"service": "api", "version": "1.4.2", "status": "succeeded"}` (or `"failed"`; `"url"` optional).'


@incoming("deploy")
def deploy_finished(ctx, payload: Any) -> None:
    """A deploy finished: post one line about it to ``DEPLOY_ROOM``."""
    problem = check(payload)
    # A call that does not fit is said in the space too: there someone sees that the CI job needs fixing.
    text = f"A deploy notice I could not read: {problem}. {EXPECTED}" if problem else line(payload)
    room = os.environ.get("DEPLOY_ROOM")
    if not room:
        log.warning("a deploy notice is not posted, DEPLOY_ROOM is not set: %s", text)
        return
    ctx.send(room, text)


def check(payload: Any) -> str:
    """What is wrong with the payload, in words ("" when nothing is)."""
    if not isinstance(payload, dict):
        return f"the body is a JSON {type(payload).__name__}, not an object"
    missing = [name for name in ("service", "version", "status") if payload.get(name) in (None, "")]
    if missing:
        return "missing " + ", ".join(f"`{name}`" for name in missing)
    status = payload["status"]
    if not (isinstance(status, str) and status in STATUSES):  # a list is no key: ask isinstance first
        return f"`status` is {status!r}, not one of {', '.join(STATUSES)}"
    url = payload.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        return f"`url` {url!r} is no web address"
    return ""


def line(payload: dict[str, Any]) -> str:
    """``✅ **api** 1.4.2 deployed ([details](https://…))``: one line of markdown."""
    status = payload["status"]
    said = "deployed" if status == "succeeded" else "failed to deploy"
    link = f" ([details]({payload['url']}))" if payload.get("url") else ""
    return f"{STATUSES[status]} **{payload['service']}** {payload['version']} {said}{link}"
