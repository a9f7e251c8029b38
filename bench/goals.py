"""The goals of issue 15 (read AWS by tags), checked against measured rows: a verdict per
goal and N, printed as text and written into the JSON, so a reader (or a CI job with
`--check`) sees at once what holds. The performance goals are set at N = 1,000 and 50 ms; at
smaller N fixed costs dominate and their verdicts are shown for information only. That the
new read path prints what `--verify` prints is judged at every size."""

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
        where = f"N={self.n}" if self.n else "manifests/"
        text = f"{where}: {self.goal}: {self.measured:g}{goal} - {mark}"
        return f"{text}; {self.detail}" if self.detail else text


class Agreed(Protocol):
    label: str
    equal: bool
    compared: int


CALLS_PER_RESOURCE = 0.2
NAIVE_SPEEDUP = 25
FIRST_CONTACT = 1.15
LATENCY_BOUND = 1.25
RSS_MB = 200
AGREE = "diff output = diff --verify's, byte for byte: estates where they differ"


def verdicts(rows: Sequence[Measured], latency: float, quota_floor: dict[int, float],
             agreements: Sequence[Agreed] = ()) -> list[Verdict]:
    """Every goal whose rows were measured, per N. `quota_floor` is the documented-quota
    floor of the cold read per N: it bounds what any client can reach under those quotas.
    `agreements`: the read paths compared byte for byte, judged at every size (correctness
    does not depend on N)."""
    by = {(r.n, r.scenario): r for r in rows}
    out: list[Verdict] = []
    for n in sorted({r.n for r in rows}):
        applies = n == GOAL_N and abs(latency - GOAL_LATENCY) < 1e-9

        def add(goal: str, measured: float, target: float | None, op: str, met: bool,
                detail: str = "", n: int = n, applies: bool = applies) -> None:
            out.append(Verdict(n, goal, round(measured, 3), target, op, met, applies, detail))

        cold, free = by.get((n, "cold diff")), by.get((n, "cold diff, quotas off"))
        warm, steady = by.get((n, "warm diff")), by.get((n, "steady resync"))
        naive, first = by.get((n, "naive baseline")), by.get((n, "first contact"))
        throttled = by.get((n, "cold diff, 20% throttled"))
        if cold and naive:
            speedup = naive.seconds / cold.seconds
            floor = quota_floor.get(n, 0.0)
            best = naive.seconds / floor if floor else float("inf")
            # where the quotas make the goal unreachable for any client, shown, not judged
            reach = (f"; no client can do better than {best:.1f}x: the quotas alone take "
                     f"{floor:.1f} s" if best < NAIVE_SPEEDUP else "")
            add("cold diff under the documented quotas, x faster than naive", speedup,
                NAIVE_SPEEDUP, ">=", speedup >= NAIVE_SPEEDUP and cold.throttled == 0,
                f"{cold.seconds:.2f} s against {naive.seconds:.1f} s, {cold.throttled} "
                f"throttled answers{reach}", applies=applies and best >= NAIVE_SPEEDUP)
        if cold and cold.bound:
            add("cold diff under the documented quotas, x max(latency bound, quota floor)",
                cold.seconds / cold.bound, None, "", True,
                f"{cold.seconds:.2f} s against {cold.bound:.2f} s", applies=False)
        for label, row in (("warm diff", warm), ("steady resync", steady)):
            if row is None:
                continue
            per = row.total_calls / row.resources
            add(f"{label}, API calls per managed resource", per, CALLS_PER_RESOURCE, "<=",
                per <= CALLS_PER_RESOURCE, f"{row.total_calls} calls for {row.resources}")
            add(f"{label}, write calls", row.writes, 0, "=", row.writes == 0)
        if first and first.bound:
            ratio = first.seconds / first.bound
            add("first contact, x its documented-quota floor", ratio, FIRST_CONTACT, "<=",
                ratio <= FIRST_CONTACT,
                f"{first.seconds:.1f} s against {first.bound:.1f} s, {first.throttled} "
                "throttled answers")
        if free and free.bound:
            ratio = free.seconds / free.bound
            runs = ", ".join(f"{x:.2f}" for x in free.extra.get("runs", []))
            add("cold diff without quotas, x the latency bound", ratio, LATENCY_BOUND, "<=",
                ratio <= LATENCY_BOUND, f"median of {runs} s against {free.bound:.3g} s")
        client = by.get((n, "boto3 client floor"))
        if free and client:
            add("cold diff without quotas, x the boto3 client floor", free.seconds / client.seconds,
                None, "", True, f"plain boto3 threads make the same {client.total_calls} calls "
                f"in {client.seconds:.2f} s: what the latency bound leaves out, Python and "
                "botocore on this machine", applies=False)
        if steady:
            add("controller peak RSS, MB", steady.rss_mb, RSS_MB, "<", steady.rss_mb < RSS_MB)
        if throttled and cold:
            same = throttled.changes == cold.changes
            add("20% throttled: throttled answers absorbed",
                throttled.throttled, None, "", same,
                "identical plan, no error" if same else "the plan DIFFERS")
        mine = [a for a in agreements if a.label.startswith(f"N={n},")]
        if mine:
            differ = [a.label for a in mine if not a.equal]
            add(AGREE, len(differ), 0, "=", not differ,
                f"{len(mine)} estates, {sum(a.compared for a in mine)} outputs compared"
                + (f"; DIFFER: {'; '.join(differ)}" if differ else ""), applies=True)
    examples = [a for a in agreements if not a.label.startswith("N=")]
    if examples:
        differ = [a.label for a in examples if not a.equal]
        out.append(Verdict(0, AGREE, len(differ), 0, "=", not differ, True,
                           f"{len(examples)} estates, {sum(a.compared for a in examples)} "
                           "outputs compared"))
    return out


def text(found: list[Verdict]) -> str:
    return "\n".join(v.line() for v in found)


def as_json(found: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in found]


def missed(found: list[Verdict]) -> list[Verdict]:
    """The goals that apply (N = 1,000 at 50 ms) and are not met."""
    return [v for v in found if v.applies and not v.met]
