"""Our webhooks: registered, repaired and removed by name, never touching anyone else's.

Each webhook is named from the bot and the instance (``Helper Bot [laptop-ada] messages``), so a laptop
run and a production run of the same bot token each manage only their own pair.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from .webex import WebexClient

# What the bot hears, by the name its webhook ends in: (resource, event). Space events come as
# memberships: the bot's own created is "added to a space", anyone's deleted is "gone".
HOOKS = {
    "messages": ("messages", "created"),
    "attachmentActions": ("attachmentActions", "created"),
    "memberships created": ("memberships", "created"),
    "memberships deleted": ("memberships", "deleted"),
}


def webhook_name(bot_name: str, instance: str, label: str) -> str:
    return f"{bot_name} [{instance}] {label}"


class Webhooks:
    def __init__(self, client: WebexClient, *, bot_name: str, instance: str, secret: str) -> None:
        self.client = client
        self.secret = secret
        self.names = {webhook_name(bot_name, instance, label): hook for label, hook in HOOKS.items()}

    def ours(self) -> list[Any]:
        """Our webhooks as Webex lists them (one GET)."""
        return [h for h in self.client.webhooks() if h.name in self.names]

    def sync(self, target_url: str) -> list[str]:
        """Make exactly our webhooks point at ``target_url`` with this run's secret, active.

        Reuses our webhooks from an earlier run (PUT keeps their ids), recreates missing ones and
        removes duplicates. Returns one readable phrase per change, for the caller's log line.
        """
        changes: list[str] = []
        found: dict[str, Any] = {}
        for hook in self.ours():
            if hook.name in found:
                self.client.delete_webhook(hook.id)
                changes.append(f"removed a duplicate webhook '{hook.name}'")
            else:
                found[hook.name] = hook
        # The webhooks are independent: made in parallel, start-up waits for one round trip, not four.
        with ThreadPoolExecutor(max_workers=len(self.names)) as pool:
            outcomes = list(pool.map(lambda item: self._ensure(found.get(item[0]), *item, target_url),
                                     self.names.items()))
        return changes + [change for change in outcomes if change]

    def _ensure(self, hook: Any, name: str, kind: tuple[str, str], target_url: str) -> Optional[str]:
        """Create or mend one of our webhooks; the change made, if any."""
        if hook is None:
            resource, event = kind
            self.client.create_webhook(name=name, targetUrl=target_url, resource=resource, event=event,
                                       secret=self.secret)
            return f"created webhook '{name}'"
        if hook.targetUrl != target_url or hook.status != "active" or hook.secret != self.secret:
            self.client.update_webhook(hook.id, name=name, targetUrl=target_url, secret=self.secret,
                                       status="active")
            return f"{'re-activated' if hook.status != 'active' else 'updated'} webhook '{name}'"
        return None

    def delete_ours(self) -> int:
        """Remove our webhooks (clean shutdown); returns how many went."""
        hooks = self.ours()
        for hook in hooks:
            self.client.delete_webhook(hook.id)
        return len(hooks)
