"""What the controller tells people, and when: the wording of each alert and the memory
that makes each thing one message (an invalid revision, a failed apply, a resource turning
unhealthy), then one "recovered". Drift has its own tracker (`core.drift`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from reconciler.core.drift import DriftEvent
from reconciler.core.events import Provenance
from reconciler.core.load import Tree
from reconciler.core.manifest import ResourceKey
from reconciler.core.vocab import Health
from reconciler.edges.slack import Alert


def short(sha: str | None) -> str:
    return (sha or "?")[:12]


def _value(v: object) -> str:
    """A value as people read it in Slack: JSON-like, never Python's repr."""
    import json

    return "(AWS default)" if v is None else json.dumps(v, sort_keys=True, default=str)


def drift_alert(event: DriftEvent, healing: bool, by: Provenance | None = None) -> Alert:
    """A drift, reminded, healed or resolved; `by` names who made it (AWS's event), and the
    message about a drift is one thread (`drift:<key>`), so naming them later updates it."""
    who = str(event.key)
    rev = short(event.revision)
    lines = [f"• `{f['path']}`: {_value(f['live'])} (AWS) → {_value(f['git'])} (git)"
             for f in event.fields]
    signed = f" by {by.who} via {by.via}" if by is not None and by.known else ""
    if by is not None and event.kind != "resolved":
        lines.append(f"• changed by {by.line()}")
        if by.principal:
            lines.append(f"• principal: {by.principal}")
    thread = f"drift:{event.key}"
    if event.kind == "healed":
        return Alert("healed", f":white_check_mark: Drift healed on {who} (revision {rev}): "
                     f"AWS was put back to git{' (changed' + signed + ')' if signed else ''}",
                     tuple(lines), thread)
    if event.kind == "resolved":
        return Alert("resolved", f":white_check_mark: Drift resolved on {who}: AWS matches git "
                     f"again (revision {rev})", (), thread)
    verb = "still drifted" if event.kind == "reminder" else "drifted from git"
    state = "not healed: self-heal is off" if not healing else "not healed"
    return Alert(event.kind, f":warning: {who} {verb}{signed} (revision {rev}, {state})",
                 tuple(lines), thread)


def invalid_alert(sha: str, tree: Tree, kept: str | None) -> Alert:
    shown = [str(e) for e in tree.errors[:20]]
    more = len(tree.errors) - len(shown)
    if more > 0:
        shown.append(f"… and {more} more")
    return Alert("invalid_revision",
                 f":x: Revision {short(sha)} is invalid: nothing from it was applied; "
                 f"still on {short(kept)}", tuple(shown), f"invalid:{sha}")


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class OnceEach:
    """One message per distinct thing per key; `clear` when it is over, so that the next
    occurrence is news again."""

    sent: dict[ResourceKey, str] = field(default_factory=dict)

    def first(self, key: ResourceKey, what: str) -> bool:
        fp = _fingerprint(what)
        if self.sent.get(key) == fp:
            return False
        self.sent[key] = fp
        return True

    def clear(self, key: ResourceKey) -> bool:
        return self.sent.pop(key, None) is not None


def failure_alert(key: ResourceKey, error: str, skipped: bool = False) -> Alert:
    """One line per line of the error (a hook's says why, where the logs are, what next).
    A change held back (a replace not allowed, what it references not applied) was never
    tried: it is "not applied", not "failed", and its line says what would let it go."""
    if skipped:
        return Alert("apply_skipped", f":warning: Not applied: {key}",
                     tuple(error.splitlines()), f"failed:{key}")
    return Alert("apply_failed", f":x: Apply failed for {key}", tuple(error.splitlines()),
                 f"failed:{key}")


def health_alert(key: ResourceKey, health: Health, reason: str) -> Alert:
    return Alert("unhealthy", f":rotating_light: {key} is {health}: {reason}", (),
                 f"health:{key}")


def recovered_alert(key: ResourceKey) -> Alert:
    return Alert("recovered", f":white_check_mark: {key} is healthy again", (), f"health:{key}")


def prune_refused_alert(reasons: list[str], sha: str) -> Alert:
    return Alert("prune_refused", ":no_entry: Prune refused: nothing was deleted (other "
                 "changes were applied)", tuple(reasons), f"prune:{sha}")


def source_alert(message: str) -> Alert:
    return Alert("source_failed", ":x: Cannot read the git source: nothing new is applied "
                 "until it is back", (message,), "source")


def source_recovered_alert(failing_since: float | None) -> Alert:
    import time

    lasted = f" after {round(time.time() - failing_since)} s" if failing_since else ""
    return Alert("source_recovered", f":white_check_mark: The git source is readable again{lasted}",
                 (), "source")


__all__ = ["OnceEach", "drift_alert", "failure_alert", "health_alert", "invalid_alert",
           "prune_refused_alert", "recovered_alert", "short", "source_alert",
           "source_recovered_alert"]
