"""``echo``: says your words back, the simplest command to copy."""
from bot import command


@command("echo", help="Say your words back: `echo hello`")
def echo(ctx):
    return ctx.text or "Say `echo` followed by some words."
