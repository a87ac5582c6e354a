"""EventBridge Scheduler's schedule expressions: parsing (as CreateSchedule validates them) and their instants.

AWS sources (EventBridge Scheduler User Guide, docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html,
"Schedule types on EventBridge Scheduler"):
- `rate(value unit)`: value a positive number, unit minutes | hours | days. AWS also accepts the singular unit with
  any value ("rate(2 minute)" is answered 200; LocalStack's AWS-recorded snapshot
  tests/aws/services/scheduler/test_scheduler.snapshot.json, test_update_schedule). A `days` rate is 24 hours of
  elapsed time, whatever DST does to the wall clock (same page, "Daylight saving time").
- `cron(minutes hours day-of-month month day-of-week year)`: the EventBridge cron syntax (fields, ranges and
  wildcards `, - * ? / L W #`, day-of-week 1-7 = SUN-SAT, year 1970-2199); one of day-of-month / day-of-week must be
  `?` and the other not. Evaluated in ScheduleExpressionTimezone (an IANA zone, default UTC).
- `at(yyyy-mm-ddThh:mm:ss)`: one invocation, at that wall time in ScheduleExpressionTimezone.
- DST: "When the time shifts forward in Spring, your schedule invocation gets skipped if the cron expression falls on
  a non-existent date and time. When the time shifts back in the Fall, your schedule runs only once and doesn't
  repeat its invocation" (AWS re:Post Knowledge Center, eventbridge-scheduler-adjust-dst, and the User Guide's
  "Daylight saving time" section). The single run of a repeated wall time is its first occurrence (fold=0).
- A malformed expression is answered `ValidationException` "Invalid Schedule Expression <expression>." (AWS-recorded
  in the LocalStack snapshot above: cron(0 1 * * * *), cron(71 8 1 * ? *), rate(10 seconds), rate(-10 minutes),
  rate( 10 minutes ), at(2021-12-31T23:59:59Z), at(2021-12-31) ...).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import re
import zoneinfo

UTC = datetime.UTC


class ExpressionError(ValueError):
    """The expression is not one AWS accepts."""


RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")
CRON = re.compile(r"^cron\((.*)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = {name: i + 1 for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
DAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
YEARS = (1970, 2199)


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA time zone (UTC when not given); ExpressionError for a name the tz database does not have."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ExpressionError(f"unknown time zone {name!r}") from err


def _local(naive: datetime.datetime, tz: zoneinfo.ZoneInfo) -> datetime.datetime | None:
    """`naive` wall time in `tz` as an aware datetime; None if that wall time does not exist (a DST gap). A repeated
    wall time (DST end) is its first occurrence."""
    aware = naive.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        return None
    return aware


@dataclasses.dataclass(frozen=True)
class At:
    when: datetime.datetime  # naive wall time in the schedule's zone

    def instant(self, tz: zoneinfo.ZoneInfo) -> float:
        aware = _local(self.when, tz)
        if aware is None:  # a wall time in a DST gap: the zone's own reading of it (fold 0)
            aware = self.when.replace(tzinfo=tz)
        return aware.timestamp()

    def next_after(self, after: float, tz: zoneinfo.ZoneInfo) -> float | None:
        t = self.instant(tz)
        return t if t >= after else None


@dataclasses.dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, after: float, start: float) -> float:
        """The first instant start + k*seconds (k >= 0) at or after `after`."""
        if after <= start:
            return start
        k = -(-(after - start) // self.seconds)  # ceil
        return start + k * self.seconds


def _number(text: str, names: dict[str, int] | None, lo: int, hi: int) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ExpressionError(text)
    value = int(text)
    if not lo <= value <= hi:
        raise ExpressionError(text)
    return value


def _values(field: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """`*`, `a`, `a-b`, `a/s`, `*/s`, `a-b/s` and comma lists of them; a range may wrap (FRI-MON)."""
    out: set[int] = set()
    for item in field.split(","):
        if not item:
            raise ExpressionError(field)
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            step = _number(step_text, None, 1, hi - lo + 1 if hi - lo + 1 > 0 else 1)
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _number(a, names, lo, hi), _number(b, names, lo, hi)
        else:
            first = _number(base, names, lo, hi)
            last = hi if step_text else first
        span = (last - first) % (hi - lo + 1)
        out.update(lo + (first - lo + i) % (hi - lo + 1) for i in range(0, span + 1, step))
    return frozenset(out)


@dataclasses.dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: tuple | None  # None: '?'; else ("set", values) / ("L",) / ("LW",) / ("W", n) items
    months: frozenset[int]
    dow: tuple | None  # None: '?'; else ("set", values) / ("L", day) / ("#", day, k) items
    years: frozenset[int]

    @staticmethod
    def parse(body: str) -> Cron:
        fields = body.split(" ")
        if len(fields) != 6:
            raise ExpressionError(body)
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ExpressionError("exactly one of day-of-month and day-of-week must be '?'")
        return Cron(_values(minute, 0, 59), _values(hour, 0, 23), Cron._dom(dom),
                    _values(month, 1, 12, MONTHS), Cron._dow(dow), _values(year, *YEARS))

    @staticmethod
    def _dom(field: str):
        if field == "?":
            return None
        items: list[tuple] = []
        for item in field.split(","):
            if item == "L":
                items.append(("L",))
            elif item == "LW":
                items.append(("LW",))
            elif item.endswith("W"):
                items.append(("W", _number(item[:-1], None, 1, 31)))
            else:
                items.append(("set", _values(item, 1, 31)))
        return tuple(items)

    @staticmethod
    def _dow(field: str):
        if field == "?":
            return None
        items: list[tuple] = []
        for item in field.split(","):
            if item == "L":  # the last day of the week: Saturday
                items.append(("set", frozenset({7})))
            elif item.endswith("L"):
                items.append(("L", _number(item[:-1], DAYS, 1, 7)))
            elif "#" in item:
                day, _, k = item.partition("#")
                items.append(("#", _number(day, DAYS, 1, 7), _number(k, None, 1, 5)))
            else:
                items.append(("set", _values(item, 1, 7, DAYS)))
        return tuple(items)

    def day_matches(self, day: datetime.date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.dom is not None:
            for item in self.dom:
                if item[0] == "set" and day.day in item[1]:
                    return True
                if item[0] == "L" and day.day == last:
                    return True
                if item[0] == "LW" and day == _nearest_weekday(day.year, day.month, last):
                    return True
                if item[0] == "W" and item[1] <= last and day == _nearest_weekday(day.year, day.month, item[1]):
                    return True
            return False
        dow = (day.weekday() + 1) % 7 + 1  # 1 = Sunday ... 7 = Saturday
        assert self.dow is not None  # exactly one of day-of-month and day-of-week is '?' (checked in parse)
        for item in self.dow:
            if item[0] == "set" and dow in item[1]:
                return True
            if item[0] == "L" and dow == item[1] and day.day + 7 > last:
                return True
            if item[0] == "#" and dow == item[1] and (day.day - 1) // 7 + 1 == item[2]:
                return True
        return False

    def next_after(self, after: float, tz: zoneinfo.ZoneInfo) -> float | None:
        """The first instant at or after `after` (epoch seconds) whose wall time in `tz` matches; None if none
        (before the end of year 2199). Wall times in a DST gap are skipped; a repeated one runs once (fold 0)."""
        start = datetime.datetime.fromtimestamp(after, UTC).astimezone(tz)
        day = start.date()
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        # a DST change moves wall times by at most a few hours: begin a day early so nothing is missed
        day -= datetime.timedelta(days=1)
        while day.year <= YEARS[1]:
            if day.year not in self.years:
                later = [y for y in self.years if y > day.year]
                if not later:
                    return None
                day = datetime.date(min(later), 1, 1)
                continue
            if day.month not in self.months:
                day = (datetime.date(day.year + 1, 1, 1) if day.month == 12
                       else datetime.date(day.year, day.month + 1, 1))
                continue
            if self.day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        aware = _local(datetime.datetime(day.year, day.month, day.day, hour, minute), tz)
                        if aware is not None and aware.timestamp() >= after:
                            return aware.timestamp()
            day += datetime.timedelta(days=1)
        return None


def _nearest_weekday(year: int, month: int, dom: int) -> datetime.date:
    """`W`: the weekday (Mon-Fri) nearest to day `dom`, without leaving the month."""
    day = datetime.date(year, month, dom)
    last = calendar.monthrange(year, month)[1]
    if day.weekday() == 5:  # Saturday: Friday, or Monday if that was in the previous month
        return day - datetime.timedelta(days=1) if dom > 1 else day + datetime.timedelta(days=2)
    if day.weekday() == 6:  # Sunday: Monday, or Friday if Monday is in the next month
        return day + datetime.timedelta(days=1) if dom < last else day - datetime.timedelta(days=2)
    return day


def parse(expression: str):
    """At, Rate or Cron; ExpressionError if AWS would answer "Invalid Schedule Expression"."""
    if not isinstance(expression, str):
        raise ExpressionError(repr(expression))
    match = RATE.match(expression)
    if match:
        value = int(match.group(1))
        if value < 1:
            raise ExpressionError("a rate's value is a positive number")
        return Rate(value * UNIT_SECONDS[match.group(2).rstrip("s")])
    match = AT.match(expression)
    if match:
        try:
            year, month, day, hour, minute, second = (int(g) for g in match.groups())
            return At(datetime.datetime(year, month, day, hour, minute, second))
        except ValueError as err:
            raise ExpressionError(str(err)) from err
    match = CRON.match(expression)
    if match:
        return Cron.parse(match.group(1))
    raise ExpressionError(expression)
