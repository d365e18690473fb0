"""A greeting of your own for the spaces the bot is added to, and a goodbye in the log.

Copy it into your ``commands/`` folder: with it, the bot no longer says its default line (set
``BOT_GREETING`` to change that line instead, or to an empty value to say nothing).
"""
import logging

from bot import on

log = logging.getLogger(__name__)


@on("bot_added")
def greet(ctx) -> str:
    """Whatever this returns goes to the space; ``ctx.sender_email`` is who added the bot."""
    return f"Hello everyone! {ctx.sender_email or 'Someone'} added me. Mention me with `help` to see what I do."


@on("person_joined")
def welcome(ctx) -> str:
    return f"Welcome, {ctx.person.display_name or ctx.person.email}!"


@on("bot_removed")
def forget(ctx) -> None:
    """Nothing can be sent to a space the bot has left; clean up what it kept for it."""
    ctx.storage.room.clear()
    log.info("removed from space %s; its data is deleted", ctx.room_id)
