"""EventBridge schedule expressions (reconciler/core/schedule.py), against tables worked out
by hand from the AWS documentation (tests/core/schedule_cases.py), plus brute-force checks
of the search:

- Cron expressions reference:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
- Rate expressions reference:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html
- The scheduled-rule examples table (0/30 20-2 ? * MON-FRI *) and the CLI examples
  (5,35 14 * * ? *), (15 10 ? * 6L 2019-2022):
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
"""

from __future__ import annotations

import calendar
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reconciler.core import schedule as se
from tests.core.schedule_cases import INVALID, NEXT_CASES, PREV_CASES, RATE_CASES, VALID_ONLY


def T(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def maybe(s: str | None) -> datetime | None:
    return None if s is None else T(s)


def _cron(expr: str) -> se.CronSchedule:
    s = se.parse(expr)
    assert isinstance(s, se.CronSchedule)
    return s


@pytest.mark.parametrize("cid, expr, after, expected", NEXT_CASES, ids=[c[0] for c in NEXT_CASES])
def test_next_after_table(cid: str, expr: str, after: str, expected: str | None) -> None:
    assert se.parse(expr).next_after(T(after)) == maybe(expected)


@pytest.mark.parametrize("cid, expr, at, expected", PREV_CASES, ids=[c[0] for c in PREV_CASES])
def test_previous_before_or_at_table(cid: str, expr: str, at: str, expected: str | None) -> None:
    assert se.parse(expr).previous_before_or_at(T(at)) == maybe(expected)


@pytest.mark.parametrize("cid, expr", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_expressions(cid: str, expr: str) -> None:
    with pytest.raises(se.ScheduleError) as ei:
        se.parse(expr)
    assert isinstance(ei.value, ValueError) and str(ei.value)
    assert not se.is_valid(expr)


@pytest.mark.parametrize("expr", VALID_ONLY)
def test_valid_expressions(expr: str) -> None:
    assert se.is_valid(expr) and str(se.parse(expr)) == expr


@pytest.mark.parametrize("cid, expr, anchor, after, expected", RATE_CASES,
                         ids=[c[0] for c in RATE_CASES])
def test_rate_table(cid: str, expr: str, anchor: str, after: str, expected: str) -> None:
    assert se.parse(expr).next_after(T(after), anchor=T(anchor)) == T(expected)


@pytest.mark.parametrize("expr, fragment", [
    ("rate(1 minutes)", "singular"),
    ("rate(5 hour)", "plural"),
    ("rate(0 minutes)", "positive"),
    ("cron(0 10 * * ? * *)", "exactly 6 fields"),
    ("cron(0 10 * * * *)", "must be '?'"),
    ("cron(0 10 ? * ? *)", "both be '?'"),
    ("cron(60 10 * * ? *)", "Minutes field: value 60 out of range 0-59"),
    ("cron(0 0 ? * 0 *)", "Day-of-week field: value 0 out of range 1-7"),
    ("cron(0 0 1 1 ? 2200)", "Year field: value 2200 out of range 1970-2199"),
    ("cron(0 0 ? * 3#1,6#3 *)", "cannot be combined"),
])
def test_error_messages_name_the_field_and_token(expr: str, fragment: str) -> None:
    with pytest.raises(se.ScheduleError) as ei:
        se.parse(expr)
    assert fragment in str(ei.value), str(ei.value)


def test_day_of_week_numbering_one_is_sunday() -> None:
    start = T("2024-03-09T12:00")  # a Saturday
    for n, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1):
        a = se.parse(f"cron(0 0 ? * {n} *)").next_after(start)
        assert a is not None and a == se.parse(f"cron(0 0 ? * {name} *)").next_after(start)
        assert a.strftime("%a").upper() == name


def test_fires_between_is_start_exclusive_end_inclusive() -> None:
    s = se.parse("cron(0/15 * * * ? *)")
    assert list(s.fires_between(T("2024-03-10T10:00"), T("2024-03-10T11:00"))) == [
        T("2024-03-10T10:15"), T("2024-03-10T10:30"), T("2024-03-10T10:45"), T("2024-03-10T11:00")]
    assert len(list(s.fires_between(T("2024-03-10T00:00"), T("2024-03-11T00:00")))) == 96


def test_doc_office_hours_and_wrapping_hours() -> None:
    office = se.parse("cron(0/5 8-17 ? * MON-FRI *)")
    fires = list(office.fires_between(T("2024-03-11T00:00"), T("2024-03-12T00:00")))
    assert (len(fires), fires[0], fires[-1]) == (120, T("2024-03-11T08:00"), T("2024-03-11T17:55"))
    assert list(office.fires_between(T("2024-03-09T00:00"), T("2024-03-11T00:00"))) == []
    night = se.parse("cron(0/30 20-2 ? * MON-FRI *)")
    # Friday 20:00-23:30 fires; Saturday 00:00-02:30 does not (Saturday is not MON-FRI)
    fri = list(night.fires_between(T("2024-03-08T19:00"), T("2024-03-09T06:00")))
    assert (len(fri), fri[0], fri[-1]) == (8, T("2024-03-08T20:00"), T("2024-03-08T23:30"))


def test_last_friday_doc_example() -> None:
    fires = list(se.parse("cron(15 10 ? * 6L 2019-2022)").fires_between(
        T("2018-01-01T00:00"), T("2030-01-01T00:00")))
    assert len(fires) == 48
    assert all(f.weekday() == 4 and (f + timedelta(days=7)).month != f.month for f in fires)


def test_L_every_month_of_leap_and_common_years() -> None:
    s = se.parse("cron(0 0 L * ? *)")
    for year in (1999, 2000, 2023, 2024, 2100):
        fires = s.fires_between(T(f"{year}-01-01T00:00") - timedelta(minutes=1),
                                T(f"{year}-12-31T00:00"))
        assert [f.day for f in fires] == [calendar.monthrange(year, m)[1] for m in range(1, 13)]


def _aws_dow(y: int, m: int, d: int) -> int:
    return (datetime(y, m, d).isoweekday() % 7) + 1  # Sun=1 .. Sat=7


@pytest.mark.parametrize("year", [2024, 2100])
def test_special_day_rules_against_brute_force(year: int) -> None:
    """nL, n#k, LW and nW for every month, against the days counted one by one."""
    for month in range(1, 13):
        n = calendar.monthrange(year, month)[1]
        weekdays = [d for d in range(1, n + 1) if datetime(year, month, d).weekday() < 5]
        for dow in range(1, 8):
            same = [d for d in range(1, n + 1) if _aws_dow(year, month, d) == dow]
            assert _cron(f"cron(0 0 ? * {dow}L *)").day_rule.days(year, month) == (same[-1],)
            for k in range(1, 6):
                want = (same[k - 1],) if k <= len(same) else ()
                assert _cron(f"cron(0 0 ? * {dow}#{k} *)").day_rule.days(year, month) == want
        assert _cron("cron(0 0 LW * ? *)").day_rule.days(year, month) == (weekdays[-1],)
        for day in range(1, 32):
            got = _cron(f"cron(0 0 {day}W * ? *)").day_rule.days(year, month)
            best = min(weekdays, key=lambda w: (abs(w - day), w))
            assert got == (() if day > n else (best,)), (year, month, day)


def _random_cron(rng: random.Random) -> str:
    def simple(lo: int, hi: int) -> str:
        r = rng.random()
        if r < 0.25:
            return "*"
        if r < 0.45:
            return str(rng.randint(lo, hi))
        if r < 0.6:
            return f"{rng.randint(lo, hi)}-{rng.randint(lo, hi)}"
        if r < 0.8:
            return f"{rng.randint(lo, hi)}/{rng.randint(1, max(1, (hi - lo) // 2))}"
        return ",".join(str(v) for v in rng.sample(range(lo, hi + 1), 3))

    minute, hour, month = simple(0, 59), simple(0, 23), simple(1, 12)
    year = rng.choice(["*", "*", "2024-2026", "2025", "2024/2"])
    if rng.random() < 0.5:
        dom, dow = rng.choice([simple(1, 31), "L", "LW", "15W", "1W", "31W", "L-3"]), "?"
    else:
        day = simple(1, 7)
        dom, dow = "?", rng.choice([day if "/" not in day else "2-6", "MON-FRI", "FRI-MON", "6L",
                                    "L", "2#1", "7#5"])
    return f"cron({minute} {hour} {dom} {month} {dow} {year})"


def test_next_and_previous_match_a_minute_by_minute_scan() -> None:
    rng = random.Random(1414)
    checked = 0
    for _ in range(60):
        s = se.parse(_random_cron(rng))
        assert isinstance(s, se.CronSchedule)
        t0 = T("2024-01-01T00:00") + timedelta(minutes=rng.randint(0, 60 * 24 * 700),
                                               seconds=rng.randint(0, 59))
        base, window = t0.replace(second=0), 60 * 24 * 2
        scan_next = next((base + timedelta(minutes=i) for i in range(1, window)
                          if s.matches(base + timedelta(minutes=i))), None)
        got = s.next_after(t0)
        assert got == scan_next if scan_next else got is None or got >= base + timedelta(
            minutes=window), s
        scan_prev = next((base - timedelta(minutes=i) for i in range(window)
                          if s.matches(base - timedelta(minutes=i))), None)
        prev = s.previous_before_or_at(t0)
        assert prev == scan_prev if scan_prev else prev is None or prev <= base - timedelta(
            minutes=window), s
        if got is not None:
            assert s.matches(got) and s.previous_before_or_at(got) == got
            assert s.next_after(got - timedelta(seconds=1)) == got
        checked += 1
    assert checked == 60


def test_bounds_and_schedules_that_never_fire() -> None:
    """A search ends at the model's limits (1970-2199) instead of looping or overflowing."""
    assert se.parse("cron(0 0 30 2 ? *)").next_after(T("1970-01-01T00:00")) is None
    assert se.parse("cron(0 0 ? * 2#5 2026)").previous_before_or_at(T("2199-12-31T23:59")) == T(
        "2026-11-30T00:00")
    every = se.parse("cron(* * * * ? *)")
    assert every.next_after(T("2199-12-31T23:58")) == T("2199-12-31T23:59")
    assert every.next_after(T("2199-12-31T23:59")) is None
    assert every.previous_before_or_at(T("1969-12-31T23:59")) is None
    yearly = se.parse("cron(0 0 1 1 ? *)")
    assert yearly.next_after(datetime.max.replace(tzinfo=UTC)) is None
    assert yearly.next_after(datetime.min.replace(tzinfo=UTC)) == T("1970-01-01T00:00")
    assert se.parse("rate(1 day)").next_after(datetime.max.replace(tzinfo=UTC) - timedelta(hours=1),
                                              anchor=T("2024-01-01T00:00")) is None


def test_times_are_aware_and_answers_utc() -> None:
    with pytest.raises(ValueError):
        se.parse("cron(0 10 * * ? *)").next_after(datetime(2024, 1, 1))
    plus2 = timezone(timedelta(hours=2))
    got = se.parse("cron(0 10 * * ? *)").next_after(datetime(2024, 3, 10, 11, 30, tzinfo=plus2))
    assert got == T("2024-03-10T10:00") and got.tzinfo == UTC  # 11:30+02 is 09:30Z


def test_a_rate_needs_its_anchor_and_counts_from_it() -> None:
    r = se.parse("rate(2 hours)")
    assert isinstance(r, se.RateSchedule)
    with pytest.raises(ValueError, match="anchor"):
        r.next_after(T("2024-01-01T00:00"))
    a = T("2024-03-10T10:05")
    assert r.previous_before_or_at(T("2024-03-10T12:04"), anchor=a) is None
    assert r.previous_before_or_at(T("2024-03-10T15:00"), anchor=a) == T("2024-03-10T14:05")
    assert list(r.fires_between(T("2024-03-10T12:05"), T("2024-03-10T18:05"), anchor=a)) == [
        T("2024-03-10T14:05"), T("2024-03-10T16:05"), T("2024-03-10T18:05")]
    assert (r.interval, r.value, r.unit) == (timedelta(hours=2), 2, "hour")
    assert se.parse("cron(0 10 * * ? *)").next_after(
        T("2024-03-10T00:00"), anchor=T("2020-01-01T00:00")) == T("2024-03-10T10:00")


def test_whitespace_and_the_case_of_names() -> None:
    s, u = _cron("  cron(0  18 ?  * mon-fri *)  "), _cron("cron(0 18 ? * MON-FRI *)")
    assert s.expression == "cron(0 18 ? * mon-fri *)"
    assert (s.minutes, s.hours, s.day_rule, s.months, s.years) == (
        u.minutes, u.hours, u.day_rule, u.months, u.years)
    with pytest.raises(se.ScheduleError):
        se.parse(None)  # type: ignore[arg-type]
