"""``POST <public URL>/incoming/github``: GitHub's webhook; pushes, pull requests and CI runs as cards.

An example to copy for relaying another system's webhooks. In the repository's *Settings → Webhooks
→ Add webhook*: the URL that ``python run_bot.py --incoming-urls`` prints for ``github``, content
type ``application/json``, the secret you set as ``BOT_INCOMING_SECRET``, and "Let me select
individual events": *Pushes*, *Pull requests*, *Workflow runs*. ``auth="github"`` makes the bot check
GitHub's ``X-Hub-Signature-256`` on the raw body before it reads the JSON, so only GitHub (who knows
the secret) gets a card posted.

One route takes every event; ``ctx.github_event`` (GitHub's ``X-GitHub-Event`` header) says which
one came. Each kind has a small function that makes its card, or None for what is not worth a
message: the ``ping`` GitHub sends when the webhook is made, a label added, a run still going.

Where it posts: the space (room id) or person (email) in ``GITHUB_ROOM``, read when an event comes.
A route has no space of its own, and every bot run from this folder loads this file: without
``GITHUB_ROOM`` events are accepted and only logged.
"""
import logging
import os
from typing import Any, Callable, Optional

from bot import Reply, card, incoming

log = logging.getLogger(__name__)
SHOWN_COMMITS = 3  # a push of 40 commits is still a small card: the first few, then "and 37 more"


@incoming("github", auth="github")
def github_event(ctx, payload: dict[str, Any]) -> None:
    """A GitHub event: post a card about it to ``GITHUB_ROOM``, when it is one worth telling."""
    describe = EVENTS.get(ctx.github_event)
    reply = describe(payload) if describe is not None else None
    if reply is None:
        log.info("GitHub event %r (%s): nothing to post", ctx.github_event, payload.get("action", "-"))
        return
    room = os.environ.get("GITHUB_ROOM")
    if not room:
        log.warning("GitHub event %r is not posted, GITHUB_ROOM is not set: %s", ctx.github_event, reply.text)
        return
    ctx.send(room, reply)


def push(payload: dict[str, Any]) -> Optional[Reply]:
    """Commits pushed to a branch (a deleted branch has no head commit: nothing to show)."""
    commits = payload.get("commits") or []
    if payload.get("deleted") or not commits:
        return None
    repo, who = payload["repository"]["full_name"], payload["sender"]["login"]
    branch = payload["ref"].removeprefix("refs/heads/")
    count = f"{len(commits)} commit{'s' * (len(commits) != 1)}"
    lines = []
    for commit in commits[:SHOWN_COMMITS]:  # as `git log --oneline` shows them: short id, first line
        title = commit["message"].partition("\n")[0]
        lines.append(f"{commit['id'][:7]} {title}")
    if len(commits) > SHOWN_COMMITS:
        lines.append(f"and {len(commits) - SHOWN_COMMITS} more")
    headline = f"{who} pushed {count} to {branch} of {repo}"
    return small_card(headline, lines, "Compare", payload["compare"])


def pull_request(payload: dict[str, Any]) -> Optional[Reply]:
    """A pull request opened, closed, merged (closed with ``merged``) or reopened."""
    action = payload.get("action")
    pr = payload["pull_request"]
    if action == "closed" and pr.get("merged"):
        action = "merged"
    if action not in ("opened", "closed", "merged", "reopened"):
        return None  # edited, labeled, synchronize (new commits), review requests...
    repo, who = payload["repository"]["full_name"], payload["sender"]["login"]
    headline = f"{who} {action} pull request #{pr['number']} in {repo}"
    return small_card(headline, [pr["title"]], "Open the pull request", pr["html_url"])


def workflow_run(payload: dict[str, Any]) -> Optional[Reply]:
    """A GitHub Actions run that finished with success or failure (not one cancelled or skipped)."""
    run = payload["workflow_run"]
    said = {"success": "✅ passed", "failure": "❌ failed"}.get(run.get("conclusion") or "")
    if payload.get("action") != "completed" or said is None:
        return None
    repo = payload["repository"]["full_name"]
    headline = f"{run['name']} {said} on {run['head_branch']} of {repo}"
    return small_card(headline, [], "Open the run", run["html_url"])


# X-GitHub-Event -> the function that makes its card; an event not named here is not posted.
EVENTS: dict[str, Callable[[dict[str, Any]], Optional[Reply]]] = {
    "push": push, "pull_request": pull_request, "workflow_run": workflow_run,
}


def small_card(headline: str, lines: list[str], button: str, url: str) -> Reply:
    """A headline, a few lines under it and one button to the page on GitHub; the same as text for
    clients that show no cards."""
    body = [{"type": "TextBlock", "text": headline, "weight": "Bolder", "wrap": True}]
    body += [{"type": "TextBlock", "text": text, "wrap": True, "spacing": "Small"} for text in lines]
    content = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.3",  # the highest version Webex renders
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": button, "url": url}],
    }
    return card(content, fallback="\n".join([headline, *lines, url]))
