"""Showing a plan: text for people (coloured on a TTY unless NO_COLOR), JSON for machines,
Markdown for pull-request comments. Every value passes through `mask` first."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.ignore import show
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask
from reconciler.core.plan import Change, Plan
from reconciler.core.policy import Verdict
from reconciler.core.vocab import Action, Decision, HookPhase, HookState

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-",
          Action.RUN: ">"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta",
          Action.DELETE: "red", Action.RUN: "cyan"}
Verdicts = dict[ResourceKey, Verdict]


def hook_note(c: Change, held: bool = False) -> str:
    """What a hook does in this pass, or what a gated change waits for, in words: "PreSync
    hook: runs before Service/c/api" / "after PreSync hook Job/c/migrate" (for a held change,
    the hold says it)."""
    if held:
        return ""
    if c.after_hooks:
        return "after PreSync hook " + ", ".join(map(str, c.after_hooks))
    h = c.hook
    if h is None or c.action is not Action.RUN:
        return ""
    gates = ", ".join(map(str, h.gates))
    if h.state is HookState.RUNNING and h.run is not None:
        older = " (started for an earlier revision)" if h.superseded else ""
        waits = f"; {gates} wait for it" if gates and h.phase is HookPhase.PRE_SYNC else ""
        return f"{h.phase} hook running: task {h.run.task_id}{older}{waits}"
    if h.state is HookState.FINISHED and h.run is not None:
        result = "passed" if h.run.succeeded else f"failed, {h.run.failure()}"
        return f"{h.phase} hook's task stopped: {result}"
    when = "before" if h.phase is HookPhase.PRE_SYNC else "after"
    if h.state is HookState.FAILED:
        return f"{h.phase} hook failed for this revision ({h.failure}): runs again {when} {gates}"
    return f"{h.phase} hook: runs {when} {gates}"


def hook_json(c: Change) -> dict[str, Any]:
    h = c.hook
    assert h is not None
    out: dict[str, Any] = {"phase": str(h.phase), "state": str(h.state), "digest": h.digest,
                           "gates": [str(k) for k in h.gates], "attempt": h.attempt,
                           "timeoutSeconds": int(h.timeout)}
    if h.run is not None:
        out["task"] = h.run.arn
        if h.run.stopped:
            out["exitCode"] = h.run.exit_code
    elif h.record is not None and h.record.exit is not None:
        out["exitCode"] = h.record.exit
    if h.failed:
        out["failure"] = h.failure
    return out


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


def change_json(c: Change, verdicts: Verdicts | None = None) -> dict[str, Any]:
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
    if c.live and c.live.arn:
        out["arn"] = c.live.arn
    if c.action not in (Action.DELETE, Action.RUN) and c.live is not None:
        out["drift"] = c.drift
    if c.hook is not None and c.action is Action.RUN:
        out["hook"] = hook_json(c)
    if c.after_hooks:
        out["after"] = [str(k) for k in c.after_hooks]
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


def plan_json(plan: Plan, verdicts: Verdicts | None = None) -> dict[str, Any]:
    return {
        "changes": [change_json(c, verdicts) for c in plan.pending],
        "summary": {**plan.counts(), "run": len(plan.runs)},
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


def plan_text(plan: Plan, colour: bool = False, verdicts: Verdicts | None = None) -> str:
    lines: list[str] = []
    for c in plan.pending:
        sym = SYMBOL[c.action]
        note = " (adopting: not yet owned by this controller)" if c.adopt else ""
        if c.note:
            note = f" ({c.note})"
        held = _held(c, verdicts)
        if hook_note(c, held is not None):
            note += f" ({hook_note(c, held is not None)})"
        if held is not None:
            note += f" ({held.reason})"
        head = f"{sym} {c.key} ({c.action}){note}"
        lines.append(_style(head, COLOUR[c.action], colour, bold=True))
        if c.action in (Action.DELETE, Action.RUN):
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
            f"{counts['replace']} to replace, {counts['delete']} to delete{_runs(plan)}."
        )
    return "\n".join(lines)


def _runs(plan: Plan, bold: bool = False) -> str:
    n = len(plan.runs)
    shown = f"**{n}**" if bold else str(n)
    return f", {shown} hook{'s' if n != 1 else ''} to run" if n else ""


def plan_markdown(plan: Plan, verdicts: Verdicts | None = None) -> str:
    if not plan.pending:
        return "### reconciler diff\n\nNo changes: AWS matches git.\n"
    out = ["### reconciler diff", ""]
    counts = plan.counts()
    out.append(
        f"**{counts['create']}** to create, **{counts['update']}** to update, "
        f"**{counts['replace']}** to replace, **{counts['delete']}** to delete"
        f"{_runs(plan, bold=True)}."
    )
    for c in plan.pending:
        held = _held(c, verdicts)
        why = f" — {held.reason}" if held is not None else ""
        if hook_note(c, held is not None):
            why = f" — {hook_note(c, held is not None)}{why}"
        if c.action is Action.RUN:
            out += ["", f"<code>{SYMBOL[c.action]} {c.key}</code> ({c.action}){why}"]
            continue
        out += ["", f"<details><summary><code>{SYMBOL[c.action]} {c.key}</code> ({c.action})"
                    f"{why}</summary>", "", "```diff"]
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
