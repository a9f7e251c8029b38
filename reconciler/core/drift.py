"""Drift bookkeeping: which drift is new, which was already reported, which went away.

Pure. A drift is identified by its resource and a hash of the normalised difference — never
by message text, which carries times and durations (the cause of Flux's alert floods). The
same drift is reported once, reminded after `remind_after` seconds, and a "resolved" follows
when it goes away; a healed drift is reported once as healed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.ignore import show
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask
from reconciler.core.normalize import canonical_json


def fingerprint(key: ResourceKey, fields: list[FieldChange]) -> str:
    """Resource + normalised difference; the same drift always gives the same value."""
    diff = [(list(map(str, f.path)), repr(f.old) if f.old is ABSENT else f.old,
             repr(f.new) if f.new is ABSENT else f.new) for f in fields]
    text = f"{key}|{canonical_json(sorted(diff, key=lambda d: d[0]))}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def describe_fields(fields: list[FieldChange]) -> list[dict[str, Any]]:
    """Field changes for people: path, live value, git value, secrets masked."""
    out = []
    for f in fields:
        out.append({
            "path": show(f.path) if f.path else "(resource)",
            "live": None if f.old is ABSENT else mask(f.old, f.path),
            "git": None if f.new is ABSENT else mask(f.new, f.path),
        })
    return out


@dataclass(frozen=True)
class DriftEvent:
    """What to tell people about one resource's drift."""

    kind: str  # drift | reminder | healed | resolved
    key: ResourceKey
    fingerprint: str
    fields: tuple[dict[str, Any], ...] = ()
    revision: str | None = None


@dataclass
class _Active:
    fingerprint: str
    first_seen: float
    last_sent: float


@dataclass
class DriftTracker:
    remind_after: float = 4 * 3600.0
    active: dict[ResourceKey, _Active] = field(default_factory=dict)

    def observe(
        self,
        now: float,
        drifted: dict[ResourceKey, list[FieldChange]],
        healed: set[ResourceKey],
        in_sync: set[ResourceKey],
        revision: str | None = None,
    ) -> list[DriftEvent]:
        """Feed one pass's findings; get the messages worth sending, and only those."""
        events: list[DriftEvent] = []
        for key, fields in sorted(drifted.items(), key=lambda kv: str(kv[0])):
            fp = fingerprint(key, fields)
            shown = tuple(describe_fields(fields))
            prior = self.active.get(key)
            if key in healed:
                self.active.pop(key, None)
                events.append(DriftEvent("healed", key, fp, shown, revision))
            elif prior is None or prior.fingerprint != fp:
                self.active[key] = _Active(fp, now, now)
                events.append(DriftEvent("drift", key, fp, shown, revision))
            elif now - prior.last_sent >= self.remind_after:
                prior.last_sent = now
                events.append(DriftEvent("reminder", key, fp, shown, revision))
        for key in sorted(in_sync, key=str):
            prior = self.active.pop(key, None)
            if prior is not None:
                events.append(DriftEvent("resolved", key, prior.fingerprint, (), revision))
        return events
