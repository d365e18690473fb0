"""``remind me <when> to <what>``: a reminder, sent once, that survives a restart of the bot.

An example to copy for commands that do something later. ``ctx.schedule(when, reply)`` files the
reply in the bot's storage and the scheduler sends it when it is due, into the space asked in: a bot
that is down at that moment sends it as soon as it is back, never twice (also with several instances
sharing one store).

Reading "in 10 minutes", "at 15:30" or "tomorrow 9:00" is the job of ``dateparser`` (install
``webex-laptop-bot[reminders]``). It is imported inside the handler, not at the top: every bot run
from this folder loads this file, and a bot without ``dateparser`` must still start and answer.

Times of day are this machine's local time: Webex does not tell a bot in which time zone a person
is, so the answer says the time the bot understood, and a person in another zone sees it at once.
"""
from datetime import datetime, timedelta
from typing import Optional

from bot import command

USAGE = ("Usage: `remind me in 10 minutes to stretch`, `remind me at 15:30 to call Ada` or "
         "`remind me tomorrow 9:00 to send the report`")
INSTALL = "Reminders need `dateparser`: install `webex-laptop-bot[reminders]` and restart me."


@command("remind")
def remind(ctx, *words: str) -> str:
    """Remind you of something later: `remind me in 10 minutes to stretch`

    The time can be `in 2 hours`, `at 15:30` (the next 15:30), `tomorrow 9:00` or a date; the
    reminder comes into the space you asked in, once.
    """
    if words[:1] and words[0].lower() == "me":
        words = words[1:]
    # The first "to" ends the time: "tomorrow to go to the shop" is "tomorrow", then "go to the shop".
    when_text, _, what = " ".join(words).partition(" to ")
    if not when_text or not what:
        return USAGE
    try:
        import dateparser
    except ImportError:
        return INSTALL
    now = datetime.now().astimezone()
    # "future": "at 15:30" after 15:30 means tomorrow's; RELATIVE_BASE: "in 10 minutes" counts from now.
    when: Optional[datetime] = dateparser.parse(when_text, settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": now.replace(tzinfo=None),
        "RETURN_AS_TIMEZONE_AWARE": True})
    if when is None:
        return f"I could not read `{when_text}` as a time. {USAGE}"
    when = when.astimezone()  # "15:30 CET" is answered in this machine's time, like every other time
    if when <= now:
        return f"`{when_text}` is in the past ({said_time(when, now)}): give me a time still to come."
    ctx.schedule(when, f"Reminder: {what}")
    return f"I'll remind you {said_time(when, now)} ({delay(when - now)})."


def said_time(when: datetime, now: datetime) -> str:
    """The time as people say it: "at 15:30", "tomorrow at 09:00", "on Fri 4 Dec 2026 at 10:00"."""
    clock = when.strftime("%H:%M")
    days = (when.date() - now.date()).days
    if days == 0:
        return f"at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    return f"on {when.strftime('%a')} {when.day} {when.strftime('%b %Y')} at {clock}"


def delay(left: timedelta) -> str:
    """How long until then, roughly: "in 2 seconds", "in 10 minutes", "in 3 hours", "in 2 days"."""
    seconds = round(left.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return plural(round(seconds / size), unit)
    return plural(seconds, "second")


def plural(count: int, unit: str) -> str:
    return f"in {count} {unit}{'s' * (count != 1)}"
