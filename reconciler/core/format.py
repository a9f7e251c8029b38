"""Showing a plan: text for people (coloured on a TTY unless NO_COLOR), JSON for machines,
Markdown for pull-request comments. Every value passes through `mask` first."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.events import Provenance
from reconciler.core.ignore import show
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask
from reconciler.core.plan import Change, Plan
from reconciler.core.policy import Verdict
from reconciler.core.vocab import Action, Decision

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta",
          Action.DELETE: "red"}
Verdicts = dict[ResourceKey, Verdict]
Why = dict[ResourceKey, Provenance]  # who made each drift (`diff --why`)


def _held(c: Change, verdicts: Verdicts | None) -> Verdict | None:
    v = (verdicts or {}).get(c.key)
    return v if v is not None and v.decision is Decision.HOLD else None


def _value(v: Any) -> str:
    if v is ABSENT:
        return "(absent)"
    return json.dumps(v, sort_keys=True, default=str)


def _masked(change: FieldChange) -> tuple[Any, Any]:
    old = change.old if change.old is ABSENT else mask(change.old, change.path)
    new = change.new if change.new is ABSENT else mask(change.new, change.path)
    return old, new


def change_json(c: Change, verdicts: Verdicts | None = None, why: Why | None = None
                ) -> dict[str, Any]:
    diff = []
    for f in c.fields:
        old, new = _masked(f)
        entry: dict[str, Any] = {"path": show(f.path) if f.path else "", "op": f.op}
        if old is not ABSENT:
            entry["old"] = old
        if new is not ABSENT:
            entry["new"] = new
        diff.append(entry)
    out: dict[str, Any] = {
        "kind": c.key.kind,
        "name": c.key.name,
        "cluster": c.key.cluster,
        "action": c.action,
        "diff": diff,
    }
    if c.ignored:
        out["ignored"] = [{"path": show(i.path), "reason": i.reason} for i in c.ignored]
    if c.adopt:
        out["adopt"] = True
    if c.live:
        out["arn"] = c.live.arn
    if c.action is not Action.DELETE and c.live is not None:
        out["drift"] = c.drift
    if why is not None and c.key in why:
        out["changedBy"] = why[c.key].to_json()
    held = _held(c, verdicts)
    if held is not None:
        out["decision"] = str(held.decision)
        out["reason"] = held.reason
    elif verdicts is not None and c.key in verdicts:
        out["decision"] = str(verdicts[c.key].decision)
    return out


def ignored_json(plan: Plan) -> list[dict[str, Any]]:
    """Every ignored field that differs from git, for resources in sync too."""
    return [
        {"kind": c.key.kind, "name": c.key.name, "cluster": c.key.cluster,
         "path": show(i.path), "reason": i.reason}
        for c in plan.ignored for i in c.ignored
    ]


def plan_json(plan: Plan, verdicts: Verdicts | None = None, why: Why | None = None
              ) -> dict[str, Any]:
    return {
        "changes": [change_json(c, verdicts, why) for c in plan.pending],
        "summary": plan.counts(),
        "adopt": [{"kind": c.key.kind, "name": c.key.name, "cluster": c.key.cluster,
                   "arn": c.live.arn if c.live else None} for c in plan.adoptions],
        "ignored": ignored_json(plan),
        "refused": plan.refused,
        "orphaned": [{"kind": lv.key.kind, "name": lv.key.name, "cluster": lv.key.cluster,
                      "arn": lv.arn} for lv in plan.orphaned],
    }


def _style(text: str, colour: str | None, enabled: bool, bold: bool = False) -> str:
    if not enabled:
        return text
    import click

    return click.style(text, fg=colour, bold=bold)


def plan_text(plan: Plan, colour: bool = False, verdicts: Verdicts | None = None,
              why: Why | None = None) -> str:
    lines: list[str] = []
    for c in plan.pending:
        sym = SYMBOL[c.action]
        note = " (adopting: not yet owned by this controller)" if c.adopt else ""
        if c.note:
            note = f" ({c.note})"
        held = _held(c, verdicts)
        if held is not None:
            note += f" ({held.reason})"
        head = f"{sym} {c.key} ({c.action}){note}"
        lines.append(_style(head, COLOUR[c.action], colour, bold=True))
        if why is not None and c.key in why:
            lines.append(_style(f"    changed by {why[c.key].line(slack=False)}", "cyan",
                                colour))
        if c.action is Action.DELETE:
            continue
        for f in c.fields:
            old, new = _masked(f)
            path = show(f.path)[len("spec.") :] if f.path else "(resource)"
            if c.action is Action.CREATE:
                lines.append(_style(f"    + {path}: {_value(new)}", "green", colour))
            elif f.op == "add" and len(f.path) == 1:
                lines.append(_style(f"    ~ {path}: (AWS default) → {_value(new)}", "yellow",
                                    colour))
            elif f.op == "add":
                lines.append(_style(f"    + {path}: {_value(new)}", "green", colour))
            elif f.op == "remove" and len(f.path) == 1:
                lines.append(_style(f"    ~ {path}: {_value(old)} → (AWS default)", "yellow",
                                    colour))
            elif f.op == "remove":
                lines.append(_style(f"    - {path}: {_value(old)}", "red", colour))
            else:
                lines.append(_style(f"    ~ {path}: {_value(old)} → {_value(new)}", "yellow", colour))
        for i in c.ignored:
            lines.append(_style(f"    ignored: {show(i.path)[len('spec.'):]} ({i.reason})",
                                None, colour))
    for c in plan.adoptions:
        if c.action is Action.NOOP:
            lines.append(_style(f"= {c.key} (in sync; adopting: apply tags it as owned)", "cyan",
                                colour))
    for c in plan.ignored:
        if c.action is not Action.NOOP:
            continue
        lines.append(_style(f"= {c.key} (in sync)", None, colour))
        for i in c.ignored:
            lines.append(_style(f"    ignored: {show(i.path)[len('spec.'):]} ({i.reason})",
                                None, colour))
    for lv in plan.orphaned:
        lines.append(_style(f"? {lv.key} (orphaned: owned by this controller, no longer in git; "
                            "--prune deletes it)", "magenta", colour))
    counts = plan.counts()
    for r in plan.refused:
        lines.append(_style(f"refused: {r}", "red", colour, bold=True))
    if not plan.pending:
        lines.append("No changes: AWS matches git.")
    else:
        lines.append(
            f"Plan: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['replace']} to replace, {counts['delete']} to delete."
        )
    return "\n".join(lines)


def plan_markdown(plan: Plan, verdicts: Verdicts | None = None, why: Why | None = None
                  ) -> str:
    if not plan.pending:
        return "### reconciler diff\n\nNo changes: AWS matches git.\n"
    out = ["### reconciler diff", ""]
    counts = plan.counts()
    out.append(
        f"**{counts['create']}** to create, **{counts['update']}** to update, "
        f"**{counts['replace']}** to replace, **{counts['delete']}** to delete."
    )
    for c in plan.pending:
        held = _held(c, verdicts)
        held_why = f" — {held.reason}" if held is not None else ""
        out += ["", f"<details><summary><code>{SYMBOL[c.action]} {c.key}</code> ({c.action})"
                    f"{held_why}</summary>", ""]
        if why is not None and c.key in why:
            who = why[c.key]
            link = f" ([CloudTrail event]({who.link}))" if who.link else ""
            out += [f"Changed by {who.summary()}{link}", ""]
        out += ["```diff"]
        for f in c.fields:
            old, new = _masked(f)
            path = show(f.path)[len("spec.") :] if f.path else "(resource)"
            if f.op != "add" and c.action is not Action.CREATE:
                out.append(f"- {path}: {_value(old)}")
            if f.op != "remove":
                out.append(f"+ {path}: {_value(new)}")
        out += ["```", "</details>"]
    for r in plan.refused:
        out.append(f"\n> refused: {r}")
    return "\n".join(out) + "\n"
