"""EventBridge schedule expressions (`cron(...)` and `rate(...)`, as scheduled rules take
them): parse them and say when they fire. Pure and stdlib-only; UTC, minute precision.

No library on PyPI handles this dialect whole (aws-croniter, the best, has no `rate()`,
rejects `/` in the year, and returns a false "never fires" after ten recursion steps), so
this one is small and tested against the documented examples (tests/core/test_schedule.py).

Grammar, from the EventBridge User Guide ("Cron expressions reference",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html, and
"Rate expressions reference", .../eb-rate-expressions.html):

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, exactly six fields.

============  ===============  ================
Field         Values           Wildcards
============  ===============  ================
Minutes       0-59             , - * /
Hours         0-23             , - * /
Day-of-month  1-31             , - * ? / L W
Month         1-12 or JAN-DEC  , - * /
Day-of-week   1-7 or SUN-SAT   , - * ? L #   (1 = SUN ... 7 = SAT)
Year          1970-2199        , - * /
============  ===============  ================

- Exactly one of Day-of-month / Day-of-week is ``?`` ("If you specify a value or a * in one
  of the fields, you must use a ? in the other"); both ``?`` is refused too.
- Day-of-week 1 is Sunday ("3#2 would be the second Tuesday of the month: the 3 refers to
  Tuesday"); ``6L`` is the last Friday; ``L`` alone there is Saturday (Quartz).
- ``L`` in Day-of-month is the month's last day; ``nW`` the weekday nearest day *n*, never
  leaving the month (and not firing in a month shorter than *n*); ``n#k`` the k-th (1-5)
  weekday *n*, not firing in a month without one.
- Ranges wrap in cyclic fields (the docs' own ``cron(0/30 20-2 ? * MON-FRI *)``), not in
  the year. ``a/s`` is a, a+s, ... up to the field's maximum; ``*/s`` is ``min/s``.
- Names and the letters L/W are read case-insensitively.
- Beyond the docs (Quartz heritage, accepted but not confirmed against AWS, whose PutRule
  stays the authority): ``LW`` and ``L-n`` in Day-of-month. Refused on purpose: ``/`` in
  Day-of-week (the English docs do not list it; a translation does) and ``L``/``W``/``#``
  mixed into lists (``3#1,6#3``: "you can define only one expression in the day-of-week
  field").

``rate(value unit)``: minute(s), hour(s) or day(s); a positive integer; the singular for 1
and the plural above ("rate(1 hours) and rate(5 hour) aren't valid").

A rate has no wall-clock phase: "A rate expression starts when you create the scheduled
event rule", and a rule "runs within that minute, but not on the precise 0th second"
(eb-create-rule-schedule). So every rate query takes an ``anchor`` (the caller knows the
phase best: the rule's creation or re-enabling, or a run it saw), and fires are ``anchor +
k * interval`` for k >= 1. Cron queries ignore the anchor.

Times must be timezone-aware and come back as aware UTC. The cron search walks year, month,
day, hour, minute over pre-expanded values with bisection, so even a schedule that never
fires (``cron(0 0 30 2 ? *)``) is answered in about a millisecond.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MIN_YEAR = 1970
MAX_YEAR = 2199

_MONTH_NAMES = {n: i for i, n in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
# EventBridge: 1 = SUN ... 7 = SAT
_DOW_NAMES = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


class ScheduleError(ValueError):
    """An expression that EventBridge would not accept (or that we cannot parse)."""


# --------------------------------------------------------------------------- helpers

def _to_utc(t: datetime, what: str = "t") -> datetime:
    if not isinstance(t, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {t!r})")
    return t.astimezone(UTC)


def _floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _aws_dow(year: int, month: int, day: int) -> int:
    """Day of week in EventBridge numbering: 1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1  # Mon(0)->2 ... Sun(6)->1


# --------------------------------------------------------------------------- fields

@dataclass(frozen=True)
class _FieldSpec:
    name: str
    lo: int
    hi: int
    names: dict[str, int] | None = None
    cyclic: bool = True


_MINUTES = _FieldSpec("Minutes", 0, 59)
_HOURS = _FieldSpec("Hours", 0, 23)
_DOM = _FieldSpec("Day-of-month", 1, 31)
_MONTH = _FieldSpec("Month", 1, 12, _MONTH_NAMES)
_DOW = _FieldSpec("Day-of-week", 1, 7, _DOW_NAMES)
_YEAR = _FieldSpec("Year", MIN_YEAR, MAX_YEAR, cyclic=False)

_NUM = re.compile(r"\d{1,4}")


def _value(tok: str, spec: _FieldSpec) -> int:
    if spec.names and tok in spec.names:
        return int(spec.names[tok])
    if not _NUM.fullmatch(tok):
        raise ScheduleError(f"{spec.name} field: {tok!r} is not a valid value")
    v = int(tok)
    if not spec.lo <= v <= spec.hi:
        raise ScheduleError(f"{spec.name} field: value {v} out of range {spec.lo}-{spec.hi}")
    return v


def _expand_item(item: str, spec: _FieldSpec) -> list[int]:
    step = 1
    has_step = "/" in item
    if has_step:
        base, _, step_s = item.partition("/")
        if not step_s.isdigit() or len(step_s) > 4:
            raise ScheduleError(f"{spec.name} field: bad increment in {item!r}")
        step = int(step_s)
        if step < 1:
            raise ScheduleError(f"{spec.name} field: increment must be >= 1 in {item!r}")
        if step > spec.hi - spec.lo + 1:
            raise ScheduleError(
                f"{spec.name} field: increment {step} larger than the field's span in {item!r}")
    else:
        base = item
    if base == "":
        raise ScheduleError(f"{spec.name} field: empty value in {item!r}")
    if base == "*":
        start, end = spec.lo, spec.hi
    elif "-" in base:
        a, _, b = base.partition("-")
        if a == "" or b == "":
            raise ScheduleError(f"{spec.name} field: bad range {base!r}")
        start, end = _value(a, spec), _value(b, spec)
    else:
        start = _value(base, spec)
        end = spec.hi if has_step else start
    if start <= end:
        return list(range(start, end + 1, step))
    if not spec.cyclic:
        raise ScheduleError(f"{spec.name} field: range {base!r} runs backwards")
    span = spec.hi - spec.lo + 1
    length = (end - start) % span + 1
    return [spec.lo + (start - spec.lo + k) % span for k in range(0, length, step)]


def _expand(text: str, spec: _FieldSpec) -> tuple[int, ...]:
    items = text.split(",")
    values: set[int] = set()
    for item in items:
        if item in ("?",):
            raise ScheduleError(f"{spec.name} field: '?' must be the whole field")
        values.update(_expand_item(item, spec))
    return tuple(sorted(values))


# --------------------------------------------------------------------------- day rules

@dataclass(frozen=True)
class _DayRule:
    """How days are chosen within a (year, month)."""
    kind: str                 # "dom", "dom_last", "dom_lastweekday", "dom_nearest",
                              # "dow", "dow_last", "dow_nth"
    values: tuple[int, ...] = ()
    arg: int = 0

    def days(self, y: int, m: int) -> tuple[int, ...]:
        ndays = calendar.monthrange(y, m)[1]
        k = self.kind
        if k == "dom":
            return tuple(d for d in self.values if d <= ndays)
        if k == "dom_last":                      # L or L-n
            d = ndays - self.arg
            return (d,) if d >= 1 else ()
        if k == "dom_lastweekday":               # LW
            d = ndays
            while calendar.weekday(y, m, d) >= 5:
                d -= 1
            return (d,)
        if k == "dom_nearest":                   # nW
            n = self.arg
            if n > ndays:
                return ()
            wd = calendar.weekday(y, m, n)       # Mon=0 .. Sun=6
            if wd == 5:                          # Saturday
                return (n - 1,) if n > 1 else (n + 2,)
            if wd == 6:                          # Sunday
                return (n + 1,) if n < ndays else (n - 2,)
            return (n,)
        first = _aws_dow(y, m, 1)
        if k == "dow":
            wanted = set(self.values)
            return tuple(d for d in range(1, ndays + 1)
                         if (first - 1 + d - 1) % 7 + 1 in wanted)
        if k == "dow_last":                      # nL
            last_dow = _aws_dow(y, m, ndays)
            return (ndays - (last_dow - self.arg) % 7,)
        if k == "dow_nth":                       # n#k
            d = 1 + (self.arg - first) % 7 + 7 * (self.values[0] - 1)
            return (d,) if d <= ndays else ()
        raise AssertionError(k)  # pragma: no cover



_LAST_OFFSET = re.compile(r"L-(\d{1,2})")
_NEAREST = re.compile(r"(\d{1,2})W")
_DOW_LAST = re.compile(r"([0-9A-Z]+)L")
_DOW_NTH = re.compile(r"([0-9A-Z]+)#(\d+)")


def _special_alone(text: str, spec: _FieldSpec, token: str) -> None:
    if "," in text:
        raise ScheduleError(
            f"{spec.name} field: {token!r} cannot be combined with other values in {text!r}")


def _parse_dom(text: str) -> _DayRule:
    if "L" in text or "W" in text:
        _special_alone(text, _DOM, "L/W")
        if text == "L":
            return _DayRule("dom_last", arg=0)
        if text == "LW":
            return _DayRule("dom_lastweekday")
        m = _LAST_OFFSET.fullmatch(text)
        if m:
            off = int(m.group(1))
            if off > 30:
                raise ScheduleError(f"Day-of-month field: offset in {text!r} must be 0-30")
            return _DayRule("dom_last", arg=off)
        m = _NEAREST.fullmatch(text)
        if m:
            return _DayRule("dom_nearest", arg=_value(m.group(1), _DOM))
        raise ScheduleError(f"Day-of-month field: invalid use of L/W in {text!r}")
    return _DayRule("dom", _expand(text, _DOM))


def _parse_dow(text: str) -> _DayRule:
    if "#" in text:
        _special_alone(text, _DOW, "#")
        m = _DOW_NTH.fullmatch(text)
        if not m:
            raise ScheduleError(f"Day-of-week field: invalid '#' expression {text!r}")
        dow = _value(m.group(1), _DOW)
        nth = int(m.group(2))
        if not 1 <= nth <= 5:
            raise ScheduleError(f"Day-of-week field: occurrence in {text!r} must be 1-5")
        return _DayRule("dow_nth", (nth,), arg=dow)
    if "/" in text:
        raise ScheduleError(f"Day-of-week field: '/' is not allowed in this field ({text!r})")
    if text == "L":
        return _DayRule("dow", (7,))            # last day of the week = Saturday
    if text.endswith("L"):
        _special_alone(text, _DOW, "L")
        m = _DOW_LAST.fullmatch(text)
        if not m:
            raise ScheduleError(f"Day-of-week field: invalid 'L' expression {text!r}")
        return _DayRule("dow_last", arg=_value(m.group(1), _DOW))
    if "L" in text:
        raise ScheduleError(f"Day-of-week field: invalid use of L in {text!r}")
    return _DayRule("dow", _expand(text, _DOW))


# --------------------------------------------------------------------------- schedules

class Schedule:
    """Base class. ``expression`` is the normalised source text."""

    expression: str

    def next_after(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        raise NotImplementedError

    def previous_before_or_at(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        raise NotImplementedError

    def fires_between(self, start: datetime, end: datetime, *,
                      anchor: datetime | None = None) -> Iterator[datetime]:
        """Fire times f with start < f <= end, ascending (lazy)."""
        end_u = _to_utc(end, "end")
        t = self.next_after(start, anchor=anchor)
        while t is not None and t <= end_u:
            yield t
            t = self.next_after(t, anchor=anchor)

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True, eq=True)
class CronSchedule(Schedule):
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: _DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]
    _days_cache: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False)

    def _days(self, y: int, m: int) -> tuple[int, ...]:
        key = (y, m)
        d = self._days_cache.get(key)
        if d is None:
            d = self.day_rule.days(y, m)
            self._days_cache[key] = d
        return d

    def matches(self, t: datetime) -> bool:
        """True if the minute containing ``t`` is a fire time."""
        u = _to_utc(t)
        return (u.minute in self.minutes and u.hour in self.hours and u.year in self.years
                and u.month in self.months and u.day in self._days(u.year, u.month))

    def next_after(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        u = _to_utc(t)
        if u.year > MAX_YEAR:
            return None
        try:
            c = _floor_minute(u) + timedelta(minutes=1)
        except OverflowError:
            return None
        if c.year < MIN_YEAR:
            c = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
        y0, mo0, d0, h0, mi0 = c.year, c.month, c.day, c.hour, c.minute
        months, hours, minutes = self.months, self.hours, self.minutes
        for y in self.years[bisect_left(self.years, y0):]:
            same_y = y == y0
            for mo in months[bisect_left(months, mo0) if same_y else 0:]:
                same_m = same_y and mo == mo0
                days = self._days(y, mo)
                for d in days[bisect_left(days, d0) if same_m else 0:]:
                    same_d = same_m and d == d0
                    for h in hours[bisect_left(hours, h0) if same_d else 0:]:
                        i = bisect_left(minutes, mi0) if (same_d and h == h0) else 0
                        if i < len(minutes):
                            return datetime(y, mo, d, h, minutes[i], tzinfo=UTC)
        return None

    def previous_before_or_at(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        u = _to_utc(t)
        if u.year < MIN_YEAR:
            return None
        c = _floor_minute(u)
        if c.year > MAX_YEAR:
            c = datetime(MAX_YEAR, 12, 31, 23, 59, tzinfo=UTC)
        y0, mo0, d0, h0, mi0 = c.year, c.month, c.day, c.hour, c.minute
        months, hours, minutes = self.months, self.hours, self.minutes
        for y in reversed(self.years[:bisect_right(self.years, y0)]):
            same_y = y == y0
            for mo in reversed(months[:bisect_right(months, mo0)] if same_y else months):
                same_m = same_y and mo == mo0
                days = self._days(y, mo)
                for d in reversed(days[:bisect_right(days, d0)] if same_m else days):
                    same_d = same_m and d == d0
                    for h in reversed(hours[:bisect_right(hours, h0)] if same_d else hours):
                        i = (bisect_right(minutes, mi0) if (same_d and h == h0) else len(minutes)) - 1
                        if i >= 0:
                            return datetime(y, mo, d, h, minutes[i], tzinfo=UTC)
        return None


_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, eq=True)
class RateSchedule(Schedule):
    expression: str
    value: int
    unit: str                      # singular form: minute | hour | day

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.value * _RATE_UNITS[self.unit])

    def _anchor(self, anchor: datetime | None) -> datetime:
        if anchor is None:
            raise ValueError(
                f"{self.expression}: rate schedules fire relative to the rule's creation/enable "
                "time; pass anchor=<that datetime>")
        return _to_utc(anchor, "anchor")

    def next_after(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        a = self._anchor(anchor)
        u = _to_utc(t)
        step = self.interval
        k = 1 if u < a + step else (u - a) // step + 1
        try:
            return a + k * step
        except OverflowError:
            return None

    def previous_before_or_at(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        a = self._anchor(anchor)
        u = _to_utc(t)
        step = self.interval
        if u < a + step:
            return None
        return a + ((u - a) // step) * step

    def fires_between(self, start: datetime, end: datetime, *,
                      anchor: datetime | None = None) -> Iterator[datetime]:
        a = self._anchor(anchor)
        end_u = _to_utc(end, "end")
        t = self.next_after(start, anchor=a)
        step = self.interval
        while t is not None and t <= end_u:
            yield t
            try:
                t = t + step
            except OverflowError:
                return


# --------------------------------------------------------------------------- parse

_TOP = re.compile(r"(cron|rate)\((.*)\)", re.S)
_RATE = re.compile(r"(\d+)\s+([a-z]+)")


def parse(expr: str) -> Schedule:
    """Parse an EventBridge ``cron(...)`` or ``rate(...)`` schedule expression.

    Raises ScheduleError (a ValueError) with a message naming the offending part.
    """
    if not isinstance(expr, str):
        raise ScheduleError(f"schedule expression must be a string, got {type(expr).__name__}")
    text = expr.strip()
    if len(text) > 256:   # PutRule: ScheduleExpression max length 256
        raise ScheduleError("schedule expression longer than 256 characters")
    m = _TOP.fullmatch(text)
    if not m:
        raise ScheduleError(
            f"{expr!r}: expected 'cron(<6 fields>)' or 'rate(<value> <unit>)'")
    kind, inner = m.group(1), m.group(2).strip()
    if kind == "rate":
        return _parse_rate(text, inner)
    return _parse_cron(text, inner)


def _parse_rate(text: str, inner: str) -> RateSchedule:
    m = _RATE.fullmatch(inner)
    if not m:
        raise ScheduleError(f"{text!r}: rate expression must be 'rate(<positive integer> <unit>)'")
    value_s, unit = m.groups()
    if len(value_s) > 9:
        raise ScheduleError(f"{text!r}: rate value too large")
    value = int(value_s)
    if value < 1:
        raise ScheduleError(f"{text!r}: rate value must be a positive number")
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise ScheduleError(f"{text!r}: unit must be one of minute(s), hour(s), day(s)")
    if value == 1 and unit != singular:
        raise ScheduleError(f"{text!r}: value 1 requires the singular unit '{singular}'")
    if value > 1 and unit == singular:
        raise ScheduleError(f"{text!r}: values greater than 1 require the plural unit '{singular}s'")
    return RateSchedule(f"rate({value} {unit})", value, singular)


def _parse_cron(text: str, inner: str) -> CronSchedule:
    fields = inner.split()
    if len(fields) != 6:
        raise ScheduleError(
            f"{text!r}: cron expressions need exactly 6 fields "
            f"(Minutes Hours Day-of-month Month Day-of-week Year), got {len(fields)}")
    mi, h, dom, mon, dow, yr = (f.upper() for f in fields)
    for spec, f in ((_MINUTES, mi), (_HOURS, h), (_MONTH, mon), (_YEAR, yr)):
        if "?" in f:
            raise ScheduleError(f"{text!r}: '?' is only allowed in Day-of-month or Day-of-week")
        if re.search(r"[LW#]", f.replace("JUL", "").replace("JUN", "")):
            raise ScheduleError(f"{text!r}: {spec.name} field does not allow L, W or #: {f!r}")
    if dom == "?" and dow == "?":
        raise ScheduleError(f"{text!r}: Day-of-month and Day-of-week cannot both be '?'")
    if dom != "?" and dow != "?":
        raise ScheduleError(
            f"{text!r}: one of Day-of-month / Day-of-week must be '?' "
            "(they cannot both be specified, and '*' counts as specified)")
    try:
        rule = _parse_dow(dow) if dom == "?" else _parse_dom(dom)
        sched = CronSchedule(
            expression=f"cron({' '.join(fields)})",
            minutes=_expand(mi, _MINUTES),
            hours=_expand(h, _HOURS),
            day_rule=rule,
            months=_expand(mon, _MONTH),
            years=_expand(yr, _YEAR),
        )
    except ScheduleError as e:
        raise ScheduleError(f"{text!r}: {e}") from None
    return sched


def is_valid(expr: str) -> bool:
    try:
        parse(expr)
    except ScheduleError:
        return False
    return True


__all__ = ["MAX_YEAR", "MIN_YEAR", "CronSchedule", "RateSchedule", "Schedule", "ScheduleError",
           "is_valid", "parse"]
