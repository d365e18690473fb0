"""A framework for Webex bots that run from a laptop inside a firewall.

The public surface for plugin authors (plugins import nothing else of ``bot``)::

    from bot import command

    @command("shout", help="Shout your words back")
    def shout(ctx):
        return ctx.text.upper()
"""
from .context import Context, Member
from .registry import CommandInfo, card_action, command, cron, every, fallback, hears, incoming, on
from .replies import Reply, card, file

__all__ = ["CommandInfo", "Context", "Member", "Reply", "card", "card_action", "command", "cron", "every",
           "fallback", "file", "hears", "incoming", "on"]
