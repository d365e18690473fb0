"""``longtask [seconds]``: answer "working on it…" at once, then the result when the work is done.

An example to copy for commands that take a while (a build, a query, a call to a slow service).
People see at once that the bot heard them; both answers go into the thread of the question, so a
busy room stays readable.

The bot runs each command on a thread of its own (at most BOT_WORKERS at once, 64 by default): a
handler that waits holds only its own, the other commands keep being answered. Keep the wait bounded.
"""
import time

from bot import Reply, command

MAX_SECONDS = 10


@command("longtask")
def longtask(ctx, seconds: int = 3) -> Reply:
    """Pretend to work for a few seconds (at most 10), answering in the thread: `longtask 5`"""
    seconds = min(max(seconds, 0), MAX_SECONDS)
    # ctx.reply() sends now, while the handler goes on; thread=True puts it under the question.
    ctx.reply(f"Working on it… (about {seconds} s)", thread=True)
    started = time.monotonic()
    time.sleep(seconds)  # the long work goes here
    took = time.monotonic() - started
    # What the handler returns is sent when it ends: the result, in the same thread.
    return Reply(markdown=f"Done: the task took {took:.1f} s.", thread=True)
