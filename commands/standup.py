"""A stand-up reminder at 09:00 on weekdays: an example of ``@cron``, to copy for anything periodic.

The schedule is read in ``STANDUP_TZ`` (a name like ``Europe/Berlin``; UTC by default), so "9:00"
stays 9:00 for the team across daylight-saving changes. What the function returns goes to the
``room=`` of the decorator: ``STANDUP_ROOM``, a room id (or an email, for a direct message).

Both are read when the plugin loads, because the decorator needs them then: set them before the bot
starts. Every bot run from this folder loads this file, so without ``STANDUP_ROOM`` the schedule
still runs but returns nothing, and nobody is told anything.

The bot keeps each run's record in its storage: a run happens at most once, also after a restart in
the middle of it or with two instances sharing one store; a run missed while the bot was down still
happens when the bot is back within ``misfire_grace`` (5 minutes), else it waits for the next day.
"""
import os
from typing import Optional

from bot import cron

STANDUP_ROOM = os.environ.get("STANDUP_ROOM")


@cron("0 9 * * mon-fri", timezone=os.environ.get("STANDUP_TZ", "UTC"), room=STANDUP_ROOM)
def standup(ctx) -> Optional[str]:
    """The daily stand-up reminder, posted to ``STANDUP_ROOM``."""
    if not STANDUP_ROOM:
        return None
    return ("☀️ **Stand-up time!** In one line each: what you did yesterday, what you do today, "
            "and what blocks you.")
