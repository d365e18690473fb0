"""When a schedule is due: a fixed interval (``@every``) or a cron expression in a time zone (``@cron``).

The cron grammar is cronsim's (the library of a well-known cron monitor: Debian cron's rules, names of
days and months, ``L``, and daylight-saving days handled as cron does). It only computes times; the
schedule's runs, their record and their workers are the bot's own (``schedules.py``), so a run is
claimed in the same store a second instance would claim it in. Every time here is timezone-aware.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Optional, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError


class Trigger(Protocol):
    def next_after(self, moment: datetime) -> datetime:
        """The first due time strictly after ``moment``."""

    def latest(self, after: datetime, until: datetime) -> Optional[datetime]:
        """The last due time in (``after``, ``until``], or None when there is none."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Every:
    """Every ``interval``, counted from the schedule's first start (kept across restarts)."""

    interval: timedelta

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ValueError(f"@every needs a positive interval, not {self.interval}")

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval

    def latest(self, after: datetime, until: datetime) -> Optional[datetime]:
        if until < after + self.interval:
            return None
        return after + self.interval * ((until - after) // self.interval)

    def describe(self) -> str:
        return f"every {self.interval}"


@dataclass(frozen=True)
class Cron:
    """A cron expression (5 fields, or 6 with seconds first) read in ``timezone``."""

    expression: str
    timezone: str = "UTC"
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"@cron time zone {self.timezone!r} is unknown (names are like 'Europe/Berlin')") \
                from None
        try:
            CronSim(self.expression, datetime.now(zone))
        except CronSimError as exc:
            raise ValueError(f"@cron expression {self.expression!r} does not parse: {exc}") from None
        object.__setattr__(self, "zone", zone)

    def next_after(self, moment: datetime) -> datetime:
        return next(CronSim(self.expression, moment.astimezone(self.zone))).astimezone(timezone.utc)

    def latest(self, after: datetime, until: datetime) -> Optional[datetime]:
        # Backwards from the second after ``until`` (cronsim's reverse ticks are strictly before).
        start = until.astimezone(self.zone).replace(microsecond=0) + timedelta(seconds=1)
        last = next(CronSim(self.expression, start, reverse=True))
        return last.astimezone(timezone.utc) if after < last <= until else None

    def describe(self) -> str:
        return f"cron '{self.expression}' ({self.timezone})"
