"""A framework for Webex bots that run from a laptop inside a firewall.

The public surface for plugin authors::

    from bot import command

    @command("shout", help="Shout your words back")
    def shout(ctx):
        return ctx.text.upper()
"""
from .registry import card_action, command, fallback
from .replies import Reply, card, file

__all__ = ["Reply", "card", "card_action", "command", "fallback", "file"]
