"""Running hooks inside a pass (the `Gate` of `sync.apply`): start a hook's task, follow it
for as long as the pass may wait, record how it ended, and tell the changes it gates whether
they may go.

Level-triggered: everything a later pass needs is in AWS (the record on the cluster, the
task's `startedBy`), so a pass that stops waiting (`HookOptions.wait`, the controller's
budget) leaves the hook running and the next pass, on any replica, picks it up where it is.
The time a hook may take (`timeoutSeconds`) counts from its record's start, whoever started
it; past it, the task is stopped and the run counts as failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import cast

import structlog

from reconciler.core.hooks import HookPlan, Record, Run, Runnable, client_token, started_by, task_id
from reconciler.core.kind import Context, Live, Registry, is_pending
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask_text
from reconciler.core.ownership import MANAGED_BY
from reconciler.core.plan import Change
from reconciler.core.policy import Verdict
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Decision, Hold, HookPhase, HookState, Result, RunState
from reconciler.sync.apply import Outcome

log = structlog.get_logger(__name__)

POLL_SECONDS = 5.0
LAST_PHASE = (0, 1 << 30)  # after every create and update, before the deletes


@dataclass
class HookOptions:
    wait: float | None = None  # seconds a pass follows a running hook (None: its timeout)
    poll: float = POLL_SECONDS
    rerun: bool = False  # run again hooks that failed for this revision
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    clock: Callable[[], float] = time.time  # Unix seconds: records are read by every replica
    progress: Callable[[ResourceKey, str], None] | None = None


async def follow(kind: Runnable, aws: AwsApi, cluster: str, task: str, *,
                 until: float, sleep: Callable[[float], Awaitable[object]],
                 clock: Callable[[], float], poll: float = POLL_SECONDS,
                 on_status: Callable[[Run], None] | None = None) -> Run:
    """The task, observed until it stops or `until` (on `clock`) passes: the last Run seen."""
    status = ""
    delay = min(0.25, poll)
    while True:
        run = (await kind.observe(aws, cluster, [task]))[task]
        if on_status is not None and run.status != status:
            on_status(run)
        status = run.status
        left = until - clock()
        if run.stopped or left <= 0:
            return run
        await sleep(min(delay, left))
        delay = min(delay * 2, poll)


class HookRunner:
    """The hooks of one apply: runs them in their phase and keeps what each did for the
    changes that wait for it."""

    def __init__(self, aws: AwsApi, ctx: Context, registry: Registry,
                 options: HookOptions | None = None) -> None:
        self.aws, self.ctx, self.registry = aws, ctx, registry
        self.o = options or HookOptions()
        self.passed: dict[ResourceKey, bool | None] = {}  # None: still running
        self.failures: dict[ResourceKey, str] = {}
        self.applied: dict[ResourceKey, Outcome] = {}

    # --- Gate -------------------------------------------------------------------------------

    def phase(self, change: Change) -> tuple[int, int] | None:
        h = change.hook
        return LAST_PHASE if h is not None and h.phase is HookPhase.POST_SYNC else None

    def hold(self, change: Change) -> Verdict | None:
        for hook in change.after_hooks:
            passed = self.passed.get(hook, False)
            if passed is None:
                return Verdict(Decision.HOLD, Hold.HOOK_WAITING,
                               detail=f"waiting for PreSync hook {hook} (still running)")
            if not passed:
                why = self.failures.get(hook, "it did not run")
                return Verdict(Decision.HOLD, Hold.HOOK_FAILED,
                               detail=f"PreSync hook {hook} failed ({why})")
        return None

    def seen(self, outcome: Outcome) -> None:
        key = outcome.change.key
        if outcome.change.hook is not None:
            self.passed[key] = outcome.result.ok
            if not outcome.result.ok:
                self.failures.setdefault(key, outcome.error.split("\n", 1)[0])
        else:
            self.applied[key] = outcome

    async def run(self, change: Change) -> Outcome | Verdict:
        h = change.hook
        assert h is not None and change.manifest is not None
        self.passed[change.key] = None
        if h.phase is HookPhase.POST_SYNC and h.state is HookState.DUE:
            waiting = [str(k) for k in h.gates if k not in self.applied
                       or not self.applied[k].result.ok]
            if waiting:
                self.passed[change.key] = False
                return Verdict(Decision.HOLD, Hold.HOOK_WAITING,
                               detail=f"{', '.join(waiting)} not applied this pass")
        kind = cast(Runnable, self.registry[change.key.kind])
        record = h.record
        if h.state in (HookState.DUE, HookState.FAILED):
            started = await self._start(kind, change, h)
            if isinstance(started, Outcome):
                return started
            record = started
        assert record is not None and record.task
        return await self._follow(kind, change, h, record)

    # --- one hook ---------------------------------------------------------------------------

    def _say(self, key: ResourceKey, text: str) -> None:
        log.info("hook.progress", hook=str(key), status=text)
        if self.o.progress is not None:
            self.o.progress(key, text)

    async def _start(self, kind: Runnable, change: Change, h: HookPlan) -> Record | Outcome:
        """Record the attempt, then start it: a replica that dies in between leaves a record
        whose task is found by its `startedBy` (or never started: then the same attempt, with
        the same idempotency token, starts it)."""
        m = change.manifest
        assert m is not None
        request = self.registry[m.kind].desired(m, self.ctx)
        if is_pending(request):
            return Outcome(change, Result.SKIPPED, "a resource it references was not applied")
        record = Record(h.digest, RunState.STARTING, h.attempt, revision=self.ctx.revision or "",
                        at=self.o.clock(), passed=h.passed)
        await kind.remember(self.aws, m.key, record, self.ctx)
        arn = await kind.start(self.aws, m.key, request, self.ctx,
                               started_by=started_by(h.digest, h.attempt),
                               client_token=client_token(h.digest, h.attempt))
        record = replace(record, state=RunState.RUNNING, task=task_id(arn))
        await kind.remember(self.aws, m.key, record, self.ctx)
        self._say(m.key, f"{h.phase} hook started: {arn}")
        return record

    async def _follow(self, kind: Runnable, change: Change, h: HookPlan, record: Record
                      ) -> Outcome | Verdict:
        key, cluster = change.key, str(change.key.cluster)
        deadline = record.at + h.timeout
        now = self.o.clock()
        until = min(deadline, now + self.o.wait) if self.o.wait is not None else deadline
        if h.state is HookState.FINISHED and h.run is not None:
            run = h.run
        else:
            run = await follow(kind, self.aws, cluster, record.task, until=until,
                               sleep=self.o.sleep, clock=self.o.clock, poll=self.o.poll,
                               on_status=lambda r: self._say(key, f"task {r.status.lower()}"))
        timed_out = False
        if not run.stopped:
            if self.o.clock() < deadline:
                change.live = Live(key, run.arn, {}, {MANAGED_BY: self.ctx.owner},
                                   {"record": record, "run": run})
                return Verdict(Decision.HOLD, Hold.HOOK_RUNNING,
                               detail=f"{h.phase} hook running (task {record.task}, "
                                      f"{self.o.clock() - record.at:.0f} s of {h.timeout:.0f})")
            timed_out = True
            await kind.stop(self.aws, cluster, record.task,
                            f"reconciler: {h.phase} hook {key} ran past its "
                            f"timeoutSeconds ({h.timeout:.0f})")
            run = (await kind.observe(self.aws, cluster, [record.task]))[record.task]
        ok = run.succeeded and not timed_out
        final = replace(record, state=RunState.SUCCEEDED if ok else RunState.FAILED,
                        exit=None if run.missing else run.exit_code,
                        passed=record.digest if ok else record.passed)
        await kind.remember(self.aws, key, final, self.ctx)
        # what the pass now knows of it (its status is read from here)
        change.live = Live(key, run.arn, {}, {MANAGED_BY: self.ctx.owner},
                           {"record": final, "run": run})
        if h.superseded:
            self._say(key, f"an earlier run ended ({'passed' if ok else run.failure()})")
            return Verdict(Decision.HOLD, Hold.HOOK_RUNNING,
                           detail="an earlier revision's run just ended: this revision's "
                                  "run starts on the next pass")
        if ok:
            self._say(key, f"{h.phase} hook passed")
            return Outcome(change, Result.RAN, arn=run.arn)
        why = f"timed out after {h.timeout:.0f} s" if timed_out else run.failure()
        self.failures[key] = why
        gated = ", ".join(map(str, h.gates))
        effect = (f": {gated} not updated" if h.phase is HookPhase.PRE_SYNC and gated
                  else f" after {gated}" if gated else "")
        revision = f" at revision {self.ctx.revision[:12]}" if self.ctx.revision else ""
        lines = [f"{h.phase} hook failed{revision} ({why}){effect}", *run.details(),
                 "It runs again when git changes what it covers, or with "
                 "`reconciler apply --rerun-hooks`."]
        self._say(key, f"{h.phase} hook failed ({why})")
        return Outcome(change, Result.FAILED, mask_text("\n".join(lines)), arn=run.arn)


__all__ = ["LAST_PHASE", "POLL_SECONDS", "HookOptions", "HookRunner", "follow"]
