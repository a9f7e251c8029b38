"""Watching AWS as Kubernetes controllers watch: an `Extension` that long-polls the SQS queue
an EventBridge rule fills with AWS's events (write calls via CloudTrail, ECS's own service
and deployment events), maps each to the managed resources it touches, notes who made the
change, and asks the controller for a targeted pass of just those resources at once.

- The reconciler's own writes (its user agent, its principal) are recognised and dropped.
- A burst is drained before the pass is asked for: 500 events are one targeted pass.
  Duplicates and reordering are harmless: keys are a set, and who made a change is kept by
  CloudTrail event id and ordered by the time AWS gave it.
- A message is deleted only once a pass that began after it was received has covered its
  resources. A process killed in between leaves it in the queue: it comes back after the
  visibility timeout and the next process (or replica) handles it. While a pass is awaited,
  its messages are kept invisible (for at most `hold_max` seconds, then let go).
- Only the leader receives (a standby's receive would hide messages from the leader).
- With events flowing, the full resync is a safety net: hourly unless `--resync` was given.
  AWS sends its API-call events only while a CloudTrail trail logs management events in
  the Region: without one (checked at start and hourly), ECS's own events are still read,
  the resync stays as it was, and one alert says why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from reconciler.core.events import Index, Own, parse
from reconciler.core.manifest import ResourceKey
from reconciler.edges.events import MAX_WAIT, Message, Queue, own_identity, trail_logging
from reconciler.edges.slack import Alert
from reconciler.kinds import REGISTRY

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller, PassReport

log = structlog.get_logger(__name__)

FLOWING_RESYNC = 3600.0  # the full resync while events flow (unless set by hand)
DEFAULT_RESYNC = 300.0   # ... and when they stop
FAILING_AFTER = 3        # receives failed in a row before events count as not flowing
TRAIL_CHECK = 3600.0     # how often whether a trail logs is asked again


@dataclass
class _Batch:
    keys: set[ResourceKey]
    messages: list[Message]
    after: int       # the controller's pass_seq when it was asked for: a later pass covers it
    since: float     # monotonic time received
    held_at: float


@dataclass
class EventStats:
    received: int = 0
    handled: int = 0
    deleted: int = 0
    own: int = 0
    unknown: int = 0      # not an event this reconciler reads
    unmanaged: int = 0    # about nothing it manages
    targeted_passes: int = 0
    errors: int = 0
    last_error: str = ""
    last_event_at: float | None = None  # Unix time

    def to_json(self) -> dict[str, Any]:
        return {"received": self.received, "handled": self.handled, "deleted": self.deleted,
                "ownWrites": self.own, "notUnderstood": self.unknown,
                "unmanaged": self.unmanaged, "targetedPasses": self.targeted_passes,
                "errors": self.errors, "lastError": self.last_error,
                "lastEventAt": self.last_event_at}


@dataclass
class EventSource:
    """The `events` extension. `queue_url` None: `eventsQueue` in reconciler.yaml, else
    nothing to do. `flowing_resync` None: the resync was set by hand and stays as it is."""

    queue_url: str | None = None
    wait: float = MAX_WAIT        # the long poll
    drain: float = 1.0            # after a message, how long to wait for more of a burst
    visibility: int = 120         # seconds a received message stays hidden
    max_batch: int = 2000         # messages drained into one pass at most
    hold_max: float = 900.0       # how long messages wait for their pass before let go
    retry_base: float = 2.0       # a failed receive is retried after this, doubling to 60 s
    flowing_resync: float | None = FLOWING_RESYNC
    fallback_resync: float = DEFAULT_RESYNC
    clock: Callable[[], float] = time.monotonic
    stats: EventStats = field(default_factory=EventStats)
    flowing: bool = False
    trail: bool | None = None     # a trail logs here (None: cannot be told)
    _trail_at: float = 0.0
    _pending: list[_Batch] = field(default_factory=list)
    _done: list[Message] = field(default_factory=list)
    _wake: asyncio.Event | None = None
    _lives: dict[ResourceKey, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    _index: Index | None = None
    _own: Own = field(default_factory=Own)
    _failures: int = 0
    url: str | None = None

    @property
    def name(self) -> str:
        return "events"

    def status(self) -> dict[str, Any]:
        waiting = sum(len(b.messages) for b in self._pending)
        return {"queue": self.url, "flowing": self.flowing, "trailLogging": self.trail,
                "waiting": waiting, **self.stats.to_json()}

    # --- the controller's side -------------------------------------------------------------

    def after_pass(self, controller: Controller, report: PassReport) -> None:
        """Learn what AWS objects the managed resources are; release the messages this pass
        covered (it began after they were asked for, and looked at their resources)."""
        if report.result is None:
            return
        if report.only is None:
            self._lives = {}
        for change in report.result.plan.changes:
            if change.live is not None:
                self._lives[change.key] = (change.live.arn, change.live.raw)
        self._index = None
        still = []
        for batch in self._pending:
            if report.seq > batch.after and (report.only is None or batch.keys <= report.only):
                self._done.extend(batch.messages)
            else:
                still.append(batch)
        if len(still) != len(self._pending):
            self._pending = still
            self._woken().set()

    def _woken(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    def index(self, controller: Controller) -> Index:
        """Which managed resource each AWS object is, from the last good tree and what the
        passes read (rebuilt after a pass, when first needed)."""
        if self._index is None:
            tree = controller.last_tree
            self._index = Index.of(tree.manifests if tree is not None else [], self._lives,
                                   REGISTRY)
        return self._index

    # --- the queue's side ------------------------------------------------------------------

    async def run(self, controller: Controller) -> None:
        while controller.last_tree is None:  # nothing is known to map events onto yet
            await asyncio.sleep(0.05)
        self.url = self.queue_url or controller.last_tree.config.events_queue
        if not self.url:
            return
        self._own = await own_identity(controller.aws)
        await self._check_trail(controller)
        self._set_flowing(controller, True)  # until receives fail
        side = controller.aws.side(3)
        side.write_gate = controller.is_leader  # a stopping leader still deletes what it did
        queue = Queue(side, self.url, self.visibility)
        log.info("events.watching", queue=self.url)
        settler = asyncio.create_task(self._settle(queue))
        try:
            await self._poll(controller, queue)
        finally:
            settler.cancel()
            await asyncio.gather(settler, return_exceptions=True)

    async def _check_trail(self, controller: Controller) -> None:
        """Ask whether a trail logs; say so when none does (drift is then found by the resync
        alone, without who made it), and fit the resync to the answer."""
        before, self._trail_at = self.trail, self.clock()
        self.trail = await trail_logging(controller.aws)
        if self.trail is not True and (before is None or before is True):
            every = (self.fallback_resync if self.flowing_resync is not None
                     else controller.settings.resync_interval)
            why = ("no CloudTrail trail is logging in this Region" if self.trail is False
                   else "whether a CloudTrail trail logs here cannot be read "
                        "(cloudtrail:DescribeTrails, cloudtrail:GetTrailStatus)")
            log.warning("events.no_trail", reason=why)
            controller.alert(Alert(
                "events_no_trail", f":information_source: AWS's API-call events cannot "
                f"arrive on {self.url}: {why}. ECS's own service events still do; drift is "
                f"found by the resync every {every:g} s, and who made it comes "
                "from `reconciler diff --why`.", (), "events:trail"))
        if self.trail != before and self.flowing:
            self.flowing = False
            self._set_flowing(controller, True)

    async def _poll(self, controller: Controller, queue: Queue) -> None:
        while True:
            if self.clock() - self._trail_at >= TRAIL_CHECK:
                await self._check_trail(controller)
            if not controller.is_leader():
                self._set_flowing(controller, False)
                await asyncio.sleep(1.0)
                continue
            try:
                batch = await queue.receive(self.wait)
                if batch:
                    log.info("events.received", messages=len(batch))
                    while len(batch) < self.max_batch:  # the rest of a burst, if any
                        more = await queue.receive(self.drain)
                        if not more:
                            break
                        batch.extend(more)
                    self._handle(controller, batch)
                self._failures = 0
                self._set_flowing(controller, True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the queue is a help, never a reason to stop
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                self._failures += 1
                if self._failures >= FAILING_AFTER:
                    self._set_flowing(controller, False)
                delay = min(self.retry_base * 2.0 ** (self._failures - 1), 60.0)
                log.warning("events.receive_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)

    def _set_flowing(self, controller: Controller, flowing: bool) -> None:
        if flowing == self.flowing:
            return
        self.flowing = flowing
        if self.flowing_resync is not None:
            relaxed = flowing and self.trail is True  # API calls arrive: the resync is a net
            controller.set_resync(self.flowing_resync if relaxed else self.fallback_resync)
        log.info("events.flowing" if flowing else "events.stopped",
                 resync=controller.settings.resync_interval)

    def _handle(self, controller: Controller, messages: list[Message]) -> None:
        """Map a batch to resources, note who changed them, ask for one targeted pass."""
        self.stats.received += len(messages)
        self.stats.last_event_at = time.time()
        index = self.index(controller)
        keys: set[ResourceKey] = set()
        for m in messages:
            event = parse(m.body)
            if event is None:
                self.stats.unknown += 1
                continue
            if event.record and self._own(event.record):
                self.stats.own += 1
                continue
            if event.failed:
                continue
            mine = index.keys(event.touched)
            if not mine:
                self.stats.unmanaged += 1
                continue
            who = event.provenance
            for key in mine:
                if who is not None:
                    controller.note_change(key, who)
            keys |= mine
        self.stats.handled += len(messages)
        if not keys:
            self._done.extend(messages)
            self._woken().set()
            return
        now = self.clock()
        self._pending.append(_Batch(keys, messages, controller.pass_seq, now, now))
        self.stats.targeted_passes += 1
        log.info("events.targeted", resources=len(keys), messages=len(messages))
        controller.request_targeted(keys)

    async def _settle(self, queue: Queue) -> None:
        """Delete what was handled; keep what awaits its pass hidden, for a while."""
        wake = self._woken()
        while True:
            try:
                await asyncio.wait_for(wake.wait(), max(self.visibility / 3, 0.5))
            except TimeoutError:
                pass
            wake.clear()
            done, self._done = self._done, []
            try:
                if done:
                    self.stats.deleted += await queue.delete(done)
                now = self.clock()
                self._pending = [b for b in self._pending if now - b.since < self.hold_max]
                due = [b for b in self._pending if now - b.held_at >= self.visibility / 2]
                for b in due:
                    b.held_at = now
                if due:
                    await queue.hold([m for b in due for m in b.messages])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # they come back after the visibility timeout
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                log.warning("events.settle_failed", error=str(exc))


__all__ = ["DEFAULT_RESYNC", "FLOWING_RESYNC", "EventSource", "EventStats"]
