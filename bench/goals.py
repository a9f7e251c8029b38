"""The issue's goals, checked against measured rows: a verdict per goal and N, printed as
text and written into the JSON, so a reader (or a CI job with `--check`) sees at once what
holds. The goals are set at N = 1,000 and 50 ms; at smaller N fixed costs dominate and the
verdicts are shown for information only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

GOAL_N = 1000
GOAL_LATENCY = 0.05


class Measured(Protocol):
    n: int
    scenario: str
    seconds: float
    throttled: int
    resources: int
    rss_mb: float
    writes: int
    changes: int
    bound: float
    extra: dict[str, Any]

    @property
    def total_calls(self) -> int: ...


@dataclass(frozen=True)
class Verdict:
    n: int
    goal: str
    measured: float
    target: float | None  # None: the verdict is the detail ("identical plan")
    op: str  # how measured compares to target: "<=", ">=", "<", "="
    met: bool
    applies: bool  # set for this N and latency (the others are for information)
    detail: str = ""

    def line(self) -> str:
        mark = ("met" if self.met else "NOT MET") if self.applies else "for information"
        goal = "" if self.target is None else f" (goal {self.op} {self.target:g})"
        text = f"N={self.n}: {self.goal}: {self.measured:g}{goal} - {mark}"
        return f"{text}; {self.detail}" if self.detail else text


def verdicts(rows: Sequence[Measured], latency: float, quota_floor: dict[int, float]
             ) -> list[Verdict]:
    """Every goal whose rows were measured, per N. `quota_floor` is the documented-quota
    floor of the cold read per N: it bounds what any client can reach under those quotas."""
    by = {(r.n, r.scenario): r for r in rows}
    out: list[Verdict] = []
    for n in sorted({r.n for r in rows}):
        applies = n == GOAL_N and abs(latency - GOAL_LATENCY) < 1e-9

        def add(goal: str, measured: float, target: float | None, op: str, met: bool,
                detail: str = "", n: int = n, applies: bool = applies) -> None:
            out.append(Verdict(n, goal, round(measured, 3), target, op, met, applies, detail))


        cold, free = by.get((n, "cold diff")), by.get((n, "cold diff, quotas off"))
        steady, naive = by.get((n, "steady resync")), by.get((n, "naive baseline"))
        throttled = by.get((n, "cold diff, 20% throttled"))
        if free and free.bound:
            ratio = free.seconds / free.bound
            runs = ", ".join(f"{x:.2f}" for x in free.extra.get("runs", []))
            add("cold diff without quotas, x the latency bound", ratio, 1.25, "<=", ratio <= 1.25,
                f"median of {runs} s against {free.bound:.3g} s")
        client = by.get((n, "boto3 client floor"))
        if free and client:
            add("cold diff without quotas, x the boto3 client floor", free.seconds / client.seconds,
                None, "", True, f"plain boto3 threads make the same {client.total_calls} calls "
                f"in {client.seconds:.2f} s: what the latency bound leaves out, Python and "
                "botocore on this machine", applies=False)
        if free and naive:
            speedup = naive.seconds / free.seconds
            add("cold diff without quotas, x faster than naive", speedup, 10, ">=",
                speedup >= 10)
        if cold and cold.bound:
            ratio = cold.seconds / cold.bound
            add("cold diff under the documented quotas, x max(latency bound, quota floor)",
                ratio, 1.25, "<=", ratio <= 1.25 and cold.throttled == 0,
                f"{cold.seconds:.1f} s, {cold.throttled} calls refused")
        if cold and naive:
            speedup = naive.seconds / cold.seconds
            floor = quota_floor.get(n, 0.0)
            best = naive.seconds / floor if floor else float("inf")
            # The goal's bound counts latency and calls in flight, not quotas; where the
            # quotas make it unreachable for any client, this is shown, not judged.
            detail = (f"no client can do better than {best:.1f}x: the quotas alone take "
                      f"{floor:.1f} s" if best < 10 else "")
            add("cold diff under the documented quotas, x faster than naive", speedup, 10, ">=",
                speedup >= 10, detail, applies=applies and best >= 10)
        if steady:
            per = steady.total_calls / steady.resources
            add("steady resync, API calls per managed resource", per, 0.5, "<=", per <= 0.5)
            add("steady resync, write calls", steady.writes, 0, "=",
                steady.writes == 0)
            add("controller peak RSS, MB", steady.rss_mb, 200, "<",
                steady.rss_mb < 200)
        if throttled and cold:
            same = throttled.changes == cold.changes
            add("20% throttled: throttled answers absorbed",
                throttled.throttled, None, "", same,
                "identical plan, no error" if same else "the plan DIFFERS")
    return out


def text(found: list[Verdict]) -> str:
    return "\n".join(v.line() for v in found)


def as_json(found: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in found]


def missed(found: list[Verdict]) -> list[Verdict]:
    """The goals that apply (N = 1,000 at 50 ms) and are not met."""
    return [v for v in found if v.applies and not v.met]
