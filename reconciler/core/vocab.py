"""The closed vocabularies: what a plan does, what applying did, how healthy a resource is,
and what the policy decided. Each is a `StrEnum` (its value is what JSON, metrics and
`/status` show, unchanged) with one total order, so sorting and "the worst of" are one call
everywhere (gitops-engine's `healthOrder`, Flux's `ssa.Action`)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Action(StrEnum):
    """What the plan does to one resource. Ordered as a plan is read and shown."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    RUN = "run"  # a hook (`kind: Job`) runs its one-off task
    NOOP = "noop"

    @property
    def rank(self) -> int:
        return list(Action).index(self)


PENDING_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)  # counted


class Result(StrEnum):
    """What applying one change did (Flux's changeset vocabulary, plus adoption)."""

    CREATED = "created"
    CONFIGURED = "configured"
    REPLACED = "replaced"
    DELETED = "deleted"
    ADOPTED = "adopted"
    RAN = "ran"  # a hook's task ran and every essential container exited 0
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    FENCED = "fenced"  # not sent: the replica stopped or lost the lease; left for the leader

    @property
    def ok(self) -> bool:
        return self not in (Result.SKIPPED, Result.FAILED, Result.FENCED)

    @property
    def wrote(self) -> bool:
        return self in (Result.CREATED, Result.CONFIGURED, Result.REPLACED, Result.DELETED,
                        Result.ADOPTED, Result.RAN)


class Health(StrEnum):
    """How a live resource is doing, whatever git says. Ordered best to worst."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    UNKNOWN = "Unknown"
    MISSING = "Missing"
    DEGRADED = "Degraded"

    @property
    def rank(self) -> int:
        return list(Health).index(self)

    def worse_than(self, other: Health) -> bool:
        return self.rank > other.rank


def worst_of(healths: Iterable[Health]) -> Health:
    """The worst health of a set (Healthy for an empty one)."""
    return max(healths, key=lambda h: h.rank, default=Health.HEALTHY)


class Sync(StrEnum):
    """Whether AWS equals git for one resource."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    ORPHANED = "Orphaned"


class State(StrEnum):
    """The one-word state `/status` and the metrics show per resource: sync and health
    folded together, worst first in importance."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    ORPHANED = "Orphaned"


class Decision(StrEnum):
    """What the policy does with a pending change."""

    APPLY = "apply"
    HOLD = "hold"


class Hold(StrEnum):
    """Why a pending change is held back; the value is what people read."""

    SELF_HEAL_OFF = "drift, held back: selfHeal is off"
    OBSERVE = "observe mode: reported, never applied"
    BACKOFF = "in backoff after failures"
    ROLLED_BACK = "rolled back by AWS: held until git changes it (or a manual apply)"
    PRUNE_REFUSED = "prune refused: nothing is applied"
    HOOK_WAITING = "waiting for a PreSync hook"
    HOOK_FAILED = "a PreSync hook failed"
    HOOK_RUNNING = "hook still running: the next pass looks again"
    HOOK_IDLE = "nothing it gates is applied this pass"


class HookPhase(StrEnum):
    """When a hook (`metadata.hook` of a Job) runs, as Argo CD names its hook phases."""

    PRE_SYNC = "PreSync"    # before what it gates is applied; a failure stops them
    POST_SYNC = "PostSync"  # after what it gates was applied (a smoke test)


class HookState(StrEnum):
    """Where a hook stands for the current git state (its digest), as a pass sees it."""

    IDLE = "idle"            # nothing it gates is pending: it does not run
    DUE = "due"              # it has not run for this digest: it runs now
    RUNNING = "running"      # its task runs: the pass follows it
    FINISHED = "finished"    # its task stopped, not yet recorded: the pass records it
    SUCCEEDED = "succeeded"  # it ran for this digest and passed
    FAILED = "failed"        # it ran for this digest and failed: held until git changes


class RunState(StrEnum):
    """What AWS remembers of a hook's run (the record on its cluster)."""

    STARTING = "starting"  # about to call RunTask (a crash here is found by startedBy)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunVerdict(StrEnum):
    """What became of one expected run of a schedule, best to worst. `pending`: not due yet
    (inside its tolerance); `unknown`: nothing can be said any more (ECS forgets stopped
    tasks after about an hour) or yet (before the watch began)."""

    SUCCEEDED = "succeeded"
    RUNNING = "running"
    PENDING = "pending"
    UNKNOWN = "unknown"
    MISSED = "missed"
    OVERDUE = "overdue"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return list(RunVerdict).index(self)

    @property
    def bad(self) -> bool:
        """Worth one alert."""
        return self in (RunVerdict.MISSED, RunVerdict.OVERDUE, RunVerdict.FAILED)

    @property
    def final(self) -> bool:
        return self in (RunVerdict.SUCCEEDED, RunVerdict.MISSED, RunVerdict.FAILED)


class ClusterScope(StrEnum):
    """Whether a kind's manifests name a cluster in `metadata.cluster`."""

    NONE = "none"
    REQUIRED = "required"
    ALLOWED = "allowed"


__all__ = ["PENDING_ACTIONS", "Action", "ClusterScope", "Decision", "Health", "Hold", "HookPhase",
           "HookState", "Result", "RunState", "RunVerdict", "State", "Sync", "worst_of"]
