"""The table of EventBridge schedule-expression cases for tests/core/test_schedule.py (the
same table the library comparison in issue 14's notes ran). Expected values were worked out
by hand from the AWS docs' semantics and a calendar (weekday facts are noted inline); they
are not produced by reconciler.core.schedule.

Sources:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
"""

from __future__ import annotations

# (case id, expression, after (exclusive, UTC ISO), expected next fire or None)
NEXT_CASES: list[tuple[str, str, str, str | None]] = [
    # --- the AWS docs' example table / CLI examples --------------------------------
    ("doc-10am", "cron(0 10 * * ? *)", "2024-03-10T10:00", "2024-03-11T10:00"),
    ("doc-10am-before", "cron(0 10 * * ? *)", "2024-03-10T09:59:59", "2024-03-10T10:00"),
    ("doc-12:15", "cron(15 12 * * ? *)", "2024-03-10T12:15:30", "2024-03-11T12:15"),
    # 2024-03-08 is a Friday, 2024-03-11 a Monday
    ("doc-6pm-weekdays", "cron(0 18 ? * MON-FRI *)", "2024-03-08T18:00", "2024-03-11T18:00"),
    ("doc-8am-1st", "cron(0 8 1 * ? *)", "2024-01-31T23:00", "2024-02-01T08:00"),
    ("doc-8am-1st-b", "cron(0 8 1 * ? *)", "2024-02-01T08:00", "2024-03-01T08:00"),
    ("doc-every-15", "cron(0/15 * * * ? *)", "2024-03-10T10:07", "2024-03-10T10:15"),
    ("doc-every-15-newyear", "cron(0/15 * * * ? *)", "2024-12-31T23:59", "2025-01-01T00:00"),
    ("doc-every-10-weekdays", "cron(0/10 * ? * MON-FRI *)", "2024-03-08T23:55", "2024-03-11T00:00"),
    ("doc-every-5-office", "cron(0/5 8-17 ? * MON-FRI *)", "2024-03-11T17:55", "2024-03-12T08:00"),
    ("doc-every-5-office-b", "cron(0/5 8-17 ? * MON-FRI *)", "2024-03-11T07:59", "2024-03-11T08:00"),
    # docs: "between 10:00 pm on the starting day to 2:00 am on the following day ...
    #        Run from 12:00 am to 2:00 am on Monday morning" (hour range 20-2 wraps)
    ("doc-wrap-hours-fri-night", "cron(0/30 20-2 ? * MON-FRI *)", "2024-03-08T23:30", "2024-03-11T00:00"),
    ("doc-wrap-hours-mon", "cron(0/30 20-2 ? * MON-FRI *)", "2024-03-11T02:30", "2024-03-11T20:00"),
    ("doc-first-monday", "cron(0 9 ? * 2#1 *)", "2024-03-01T00:00", "2024-03-04T09:00"),
    ("doc-first-monday-b", "cron(0 9 ? * 2#1 *)", "2024-03-04T09:00", "2024-04-01T09:00"),
    ("doc-noon", "cron(0 12 * * ? *)", "2024-03-10T12:00", "2024-03-11T12:00"),
    ("doc-2:05-2:35", "cron(5,35 14 * * ? *)", "2024-03-10T14:05", "2024-03-10T14:35"),
    ("doc-2:05-2:35-b", "cron(5,35 14 * * ? *)", "2024-03-10T14:35", "2024-03-11T14:05"),
    # 2019-01-31 is a Thursday -> last Friday 2019-01-25; 2022-12-30 is a Friday
    ("doc-last-friday", "cron(15 10 ? * 6L 2019-2022)", "2019-01-01T00:00", "2019-01-25T10:15"),
    ("doc-last-friday-end", "cron(15 10 ? * 6L 2019-2022)", "2022-12-30T10:15", None),
    ("doc-1/10", "cron(1/10 * * * ? *)", "2024-03-10T10:01", "2024-03-10T10:11"),
    # --- L / W / # / names ---------------------------------------------------------
    ("L-leap", "cron(0 0 L * ? *)", "2024-02-01T00:00", "2024-02-29T00:00"),
    ("L-nonleap", "cron(0 0 L * ? *)", "2023-02-01T00:00", "2023-02-28T00:00"),
    ("L-2100-not-leap", "cron(0 0 L * ? *)", "2100-02-01T00:00", "2100-02-28T00:00"),
    ("L-2000-leap", "cron(0 0 L * ? *)", "2000-02-01T00:00", "2000-02-29T00:00"),
    ("L-april", "cron(0 0 L * ? *)", "2024-04-01T00:00", "2024-04-30T00:00"),
    ("feb29", "cron(0 0 29 2 ? *)", "2024-03-01T00:00", "2028-02-29T00:00"),
    ("feb29-skip-2100", "cron(0 0 29 2 ? *)", "2096-03-01T00:00", "2104-02-29T00:00"),
    ("31st-skips-feb", "cron(0 0 31 * ? *)", "2024-01-31T00:00", "2024-03-31T00:00"),
    ("31st-skips-april", "cron(0 0 31 * ? *)", "2024-03-31T00:00", "2024-05-31T00:00"),
    ("never-feb30", "cron(0 0 30 2 ? *)", "2024-01-01T00:00", None),
    ("never-31-short-months", "cron(0 0 31 4,6,9,11 ? *)", "1970-01-01T00:00", None),
    # 2024-06-15 is a Saturday -> Friday 14th; 2024-09-15 is a Sunday -> Monday 16th
    ("15W-saturday", "cron(0 12 15W * ? *)", "2024-06-01T00:00", "2024-06-14T12:00"),
    ("15W-sunday", "cron(0 12 15W * ? *)", "2024-09-01T00:00", "2024-09-16T12:00"),
    # 2024-06-01 is a Saturday -> Monday 3rd (W never leaves the month)
    ("1W-saturday", "cron(0 12 1W * ? *)", "2024-05-31T23:00", "2024-06-03T12:00"),
    # 2024-03-31 is a Sunday -> Friday 29th; April has no 31st; 2024-05-31 is a Friday
    ("31W-sunday", "cron(0 12 31W * ? *)", "2024-03-01T00:00", "2024-03-29T12:00"),
    ("31W-skips-april", "cron(0 12 31W * ? *)", "2024-03-29T12:00", "2024-05-31T12:00"),
    # 2024-08-31 is a Saturday -> last weekday Friday 30th
    ("LW", "cron(0 12 LW * ? *)", "2024-08-01T00:00", "2024-08-30T12:00"),
    ("L-2", "cron(0 12 L-2 * ? *)", "2024-02-01T00:00", "2024-02-27T12:00"),
    # 2024-01-01 is a Monday -> Tuesdays 2, 9 -> second Tuesday = 9th
    ("3#2-second-tuesday", "cron(0 9 ? * 3#2 *)", "2024-01-01T00:00", "2024-01-09T09:00"),
    # Fridays of Mar 2024: 1,8,15,22,29; Apr: 5,12,19,26 (no 5th); May: 3,...,31
    ("6#5-fifth-friday", "cron(0 0 ? * 6#5 *)", "2024-03-01T00:00", "2024-03-29T00:00"),
    ("6#5-skips-april", "cron(0 0 ? * 6#5 *)", "2024-03-29T00:00", "2024-05-31T00:00"),
    ("FRI#1-name", "cron(0 0 ? * FRI#1 *)", "2024-03-02T00:00", "2024-04-05T00:00"),
    # 2024-03-10 is a Sunday
    ("dow-L-alone-is-saturday", "cron(0 0 ? * L *)", "2024-03-10T00:00", "2024-03-16T00:00"),
    ("dow-1-is-sunday", "cron(0 0 ? * 1 *)", "2024-03-10T00:00", "2024-03-17T00:00"),
    ("dow-SUN", "cron(0 0 ? * SUN *)", "2024-03-10T00:00", "2024-03-17T00:00"),
    ("dow-7-is-saturday", "cron(0 0 ? * 7 *)", "2024-03-10T00:00", "2024-03-16T00:00"),
    ("dow-2-is-monday", "cron(0 0 ? * 2 *)", "2024-03-10T00:00", "2024-03-11T00:00"),
    ("dow-wrap-FRI-MON", "cron(0 0 ? * FRI-MON *)", "2024-03-11T00:00", "2024-03-15T00:00"),
    ("dow-lowercase", "cron(0 0 ? * mon *)", "2024-03-10T00:00", "2024-03-11T00:00"),
    ("month-names-step", "cron(0 0 1 JAN/3 ? *)", "2024-01-01T00:00", "2024-04-01T00:00"),
    ("month-list", "cron(0 0 1 JAN,JUL ? *)", "2024-01-01T00:00", "2024-07-01T00:00"),
    ("year-step", "cron(0 0 1 1 ? 2024/4)", "2024-01-01T00:00", "2028-01-01T00:00"),
    ("year-last", "cron(0 0 1 1 ? 2199)", "2199-01-01T00:00", None),
    ("year-end-of-range", "cron(0 0 * * ? *)", "2199-12-31T00:00", None),
    ("year-before-1970", "cron(0 0 1 1 ? *)", "1960-06-01T00:00", "1970-01-01T00:00"),
    ("star-slash", "cron(*/5 * * * ? *)", "2024-03-10T10:02", "2024-03-10T10:05"),
    ("range-step", "cron(10-40/15 * * * ? *)", "2024-03-10T10:26", "2024-03-10T10:40"),
    ("range-step-b", "cron(10-40/15 * * * ? *)", "2024-03-10T10:40", "2024-03-10T11:10"),
]

# (case id, expression, at (inclusive, UTC ISO), expected previous fire or None)
PREV_CASES: list[tuple[str, str, str, str | None]] = [
    ("prev-inclusive", "cron(0 10 * * ? *)", "2024-03-10T10:00", "2024-03-10T10:00"),
    ("prev-seconds", "cron(0 10 * * ? *)", "2024-03-10T10:00:45", "2024-03-10T10:00"),
    ("prev-day-before", "cron(0 10 * * ? *)", "2024-03-10T09:59", "2024-03-09T10:00"),
    ("prev-last-friday", "cron(15 10 ? * 6L 2019-2022)", "2030-01-01T00:00", "2022-12-30T10:15"),
    ("prev-none-before-range", "cron(15 10 ? * 6L 2019-2022)", "2019-01-25T10:14", None),
    ("prev-feb29", "cron(0 0 29 2 ? *)", "2104-02-28T00:00", "2096-02-29T00:00"),
    ("prev-never", "cron(0 0 30 2 ? *)", "2199-12-31T23:59", None),
    ("prev-wrap-hours-weekend", "cron(0/30 20-2 ? * MON-FRI *)", "2024-03-10T12:00", "2024-03-08T23:30"),
]

INVALID: list[tuple[str, str]] = [
    ("both-star", "cron(0 10 * * * *)"),
    ("both-specific", "cron(0 10 1 * MON *)"),
    ("both-question", "cron(0 10 ? * ? *)"),
    ("minute-60", "cron(60 10 * * ? *)"),
    ("hour-24", "cron(0 24 * * ? *)"),
    ("dom-32", "cron(0 0 32 * ? *)"),
    ("dom-0", "cron(0 0 0 * ? *)"),
    ("month-13", "cron(0 0 1 13 ? *)"),
    ("dow-0-unix-sunday", "cron(0 0 ? * 0 *)"),
    ("dow-8", "cron(0 0 ? * 8 *)"),
    ("year-1969", "cron(0 0 1 1 ? 1969)"),
    ("year-2200", "cron(0 0 1 1 ? 2200)"),
    ("five-fields", "cron(0 10 * * ?)"),
    ("seven-fields", "cron(0 10 * * ? * *)"),
    ("bad-token", "cron(0 1O * * ? *)"),
    ("bad-year-token", "cron(0 10 * * ? abc)"),
    ("bad-month-name", "cron(0 0 1 JANUARY ? *)"),
    ("hash-list-doc", "cron(0 0 ? * 3#1,6#3 *)"),
    ("hash-6th", "cron(0 0 ? * 3#6 *)"),
    ("hash-0th", "cron(0 0 ? * 3#0 *)"),
    ("zero-step", "cron(0/0 * * * ? *)"),
    ("question-in-hours", "cron(0 ? * * ? *)"),
    ("L-in-minutes", "cron(L 0 * * ? *)"),
    ("hash-in-dom", "cron(0 0 1#2 * ? *)"),
    ("W-in-dow", "cron(0 0 ? * 2W *)"),
    ("W-with-list", "cron(0 0 1W,15 * ? *)"),
    ("year-backwards", "cron(0 0 1 1 ? 2024-2020)"),
    ("slash-in-dow", "cron(0 0 ? * 2/2 *)"),
    ("empty-cron", "cron()"),
    ("no-wrapper", "0 10 * * ? *"),
    ("uppercase-wrapper", "CRON(0 10 * * ? *)"),
    ("unix-5-field", "*/5 * * * *"),
    ("rate-1-minutes", "rate(1 minutes)"),
    ("rate-5-minute", "rate(5 minute)"),
    ("rate-1-hours", "rate(1 hours)"),
    ("rate-5-hour", "rate(5 hour)"),
    ("rate-0-minutes", "rate(0 minutes)"),
    ("rate-negative", "rate(-1 minutes)"),
    ("rate-fraction", "rate(1.5 hours)"),
    ("rate-week", "rate(1 week)"),
    ("rate-seconds", "rate(30 seconds)"),
    ("rate-no-value", "rate(minutes)"),
    ("rate-no-unit", "rate(5)"),
]

VALID_ONLY: list[str] = [
    "rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)",
    "rate(7 days)", "cron(0 12 * * ? *)", "cron(5,35 14 * * ? *)",
    "cron(15 10 ? * 6L 2019-2022)", "cron(0/30 20-2 ? * MON-FRI *)",
    "cron(0 0 ? * * *)", "cron(0 0 L * ? *)", "cron(0 0 15W * ? *)",
]

# rate cases: (id, expr, anchor, after, expected next)
RATE_CASES: list[tuple[str, str, str, str, str]] = [
    ("rate-5m-first", "rate(5 minutes)", "2024-03-10T10:02:30", "2024-03-10T10:02:30",
     "2024-03-10T10:07:30"),
    ("rate-5m-before-anchor", "rate(5 minutes)", "2024-03-10T10:02:30", "2024-03-01T00:00",
     "2024-03-10T10:07:30"),
    ("rate-5m-on-fire", "rate(5 minutes)", "2024-03-10T10:02:30", "2024-03-10T10:07:30",
     "2024-03-10T10:12:30"),
    ("rate-5m-later", "rate(5 minutes)", "2024-03-10T10:02:30", "2024-03-10T11:00",
     "2024-03-10T11:02:30"),
    ("rate-1d", "rate(1 day)", "2024-02-28T09:00", "2024-02-28T09:00", "2024-02-29T09:00"),
    ("rate-1h", "rate(1 hour)", "2024-03-10T10:00", "2024-03-10T12:30", "2024-03-10T13:00"),
]
