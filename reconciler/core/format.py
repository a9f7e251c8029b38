"""Showing a plan: text for people (coloured on a TTY unless NO_COLOR), JSON for machines,
Markdown for pull-request comments. Every value passes through `mask` first."""

from __future__ import annotations

import difflib
import json
from typing import Any

import yaml

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.events import Provenance
from reconciler.core.ignore import show
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask
from reconciler.core.plan import Change, Plan
from reconciler.core.policy import Verdict
from reconciler.core.vocab import Action, Decision, Hold, HookPhase, HookState

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-",
          Action.RUN: ">"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta",
          Action.DELETE: "red", Action.RUN: "cyan"}
Verdicts = dict[ResourceKey, Verdict]
Why = dict[ResourceKey, Provenance]  # who made each drift (`diff --why`)


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
    if c.live and c.live.arn:
        out["arn"] = c.live.arn
    if c.manifest is not None:
        out["file"], out["line"] = c.manifest.file, c.manifest.line
    if c.action not in (Action.DELETE, Action.RUN) and c.live is not None:
        out["drift"] = c.drift
    if c.hook is not None and c.action is Action.RUN:
        out["hook"] = hook_json(c)
    if c.after_hooks:
        out["after"] = [str(k) for k in c.after_hooks]
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


# --- text and Markdown: what people read ----------------------------------------------------

INDENT = "    "
Line = tuple[str | None, str]  # (colour, text)


def _yaml(value: Any) -> list[str]:
    """A value as YAML lines (blocks for maps and lists, one line for a scalar)."""
    if isinstance(value, dict | list) and value:
        text = yaml.safe_dump(value, default_flow_style=False, sort_keys=True, width=100,
                              allow_unicode=True)
        return text.rstrip("\n").split("\n")
    return [_value(value)]


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _block(symbol: str, colour: str, path: str, value: Any) -> list[Line]:
    if not _is_block(value):
        return [(colour, f"{symbol} {path}: {_value(value)}")]
    return [(colour, f"{symbol} {path}:"), *((colour, f"{symbol}     {line}")
                                             for line in _yaml(value))]


def _lines_changed(path: str, old: Any, new: Any) -> list[Line]:
    """A changed block as line-level changes inside it, like a unified diff."""
    before, after = _yaml(old), _yaml(new)
    out: list[Line] = [("yellow", f"~ {path}:")]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after).get_opcodes():
        if op == "equal":
            out.extend((None, f"      {line}") for line in before[i1:i2])
            continue
        out.extend(("red", f"-     {line}") for line in before[i1:i2])
        out.extend(("green", f"+     {line}") for line in after[j1:j2])
    return out


def _described(doc: Any, path: tuple[Any, ...]) -> Any:
    """The value AWS's describe shows at a comparison path (list items by index or by their
    `name`), or None where it shows none."""
    for p in path:
        if isinstance(doc, dict):
            doc = doc.get(p)
        elif isinstance(doc, list):
            if isinstance(p, int):
                doc = doc[p] if 0 <= p < len(doc) else None
            else:
                doc = next((x for x in doc if isinstance(x, dict) and x.get("name") == p), None)
        else:
            return None
        if doc is None:
            return None
    return doc


def _live_default(c: Change, f: FieldChange) -> str:
    """What AWS has where git sets a field AWS holds at its default: the live value when the
    describe shows it, noted as AWS's default."""
    if c.live is not None:
        raw = _described(c.live.spec, f.path)
        if raw not in (None, [], {}):
            return f"{_value(mask(raw, f.path))} (AWS default)"
    return "(AWS default)"


def field_lines(c: Change, f: FieldChange) -> list[Line]:
    """The lines one field change reads as."""
    old, new = _masked(f)
    path = show(f.path)[len("spec."):] if f.path else "(resource)"
    if c.action is Action.CREATE:
        return _block("+", "green", path, new)
    top = len(f.path) == 1
    if f.op == "add" and not top and _live_default(c, f) == "(AWS default)":
        return _block("+", "green", path, new)
    if f.op == "remove" and not top:
        return _block("-", "red", path, old)
    if f.op == "add":
        if _is_block(new):
            return [("yellow", f"~ {path}: {_live_default(c, f)} →"),
                    *(("green", f"+     {line}") for line in _yaml(new))]
        return [("yellow", f"~ {path}: {_live_default(c, f)} → {_value(new)}")]
    if f.op == "remove":
        if _is_block(old):
            return [("yellow", f"~ {path}: → (AWS default)"),
                    *(("red", f"-     {line}") for line in _yaml(old))]
        return [("yellow", f"~ {path}: {_value(old)} → (AWS default)")]
    if _is_block(old) or _is_block(new):
        return _lines_changed(path, old, new)
    return [("yellow", f"~ {path}: {_value(old)} → {_value(new)}")]


def deleted_lines(c: Change) -> list[Line]:
    """What a delete removes, as a create shows what it makes: the live resource field by
    field (its comparison form when the planner made one), nested values as YAML blocks."""
    if c.live is None:
        return []
    doc = c.live.normal if c.live.normal is not None else c.live.spec
    return [line for k, v in sorted(doc.items()) if v not in (None, "", [], {})
            for line in _block("-", "red", str(k), mask(v, (k,)))]


def where(c: Change) -> str:
    """Where a change comes from and goes to: the manifest's file:line, the live ARN."""
    parts = []
    if c.manifest is not None:
        origin = f" ({c.manifest.origin})" if c.manifest.origin else ""
        parts.append(f"{c.manifest.file}:{c.manifest.line}{origin}")
    if c.live is not None and c.live.arn:
        parts.append(c.live.arn)
    return "  →  ".join(parts)


def _head(c: Change, verdicts: Verdicts | None) -> str:
    note = " (adopting: not yet owned by this controller)" if c.adopt else ""
    if c.note:
        note = f" ({c.note})"
    held = _held(c, verdicts)
    if hook_note(c, held is not None):
        note += f" ({hook_note(c, held is not None)})"
    if c.drift and (held is None or held.hold is not Hold.SELF_HEAL_OFF):
        note += " (drift: AWS changed behind git's back)"
    if held is not None:
        note += f" ({held.reason})"
    return f"{SYMBOL[c.action]} {c.key} ({c.action}){note}"


def _summary(plan: Plan) -> str:
    counts = plan.counts()
    if not plan.pending and not plan.refused:
        text = "No changes: AWS matches git."
    else:
        text = (f"Plan: {counts['create']} to create, {counts['update']} to update, "
                f"{counts['replace']} to replace, {counts['delete']} to delete{_runs(plan)}.")
    if plan.refused:
        text += (f" Prune refused: {len(plan.refused_deletes)} deletion(s) held back; apply "
                 "applies nothing until --allow-mass-prune.")
    if plan.orphaned:
        text += f" {len(plan.orphaned)} orphaned (owned, no longer in git)."
    return text


def plan_text(plan: Plan, colour: bool = False, verdicts: Verdicts | None = None,
              why: Why | None = None) -> str:
    lines: list[str] = []
    for c in plan.pending:
        lines.append(_style(_head(c, verdicts), COLOUR[c.action], colour, bold=True))
        if why is not None and c.key in why:
            lines.append(_style(f"{INDENT}changed by {why[c.key].line(slack=False)}", "cyan",
                                colour))
        place = where(c)
        if place:
            lines.append(_style(f"{INDENT}# {place}", None, colour))
        if c.action is Action.DELETE:
            lines.extend(_style(INDENT + text, hue, colour) for hue, text in deleted_lines(c))
            continue
        if c.action is Action.RUN:
            continue
        for f in c.fields:
            lines.extend(_style(INDENT + text, hue, colour) for hue, text in field_lines(c, f))
        for i in c.ignored:
            lines.append(_style(f"{INDENT}ignored: {show(i.path)[len('spec.'):]} ({i.reason})",
                                None, colour))
    for c in plan.refused_deletes:
        lines.append(_style(f"- {c.key} (delete, held back: prune refused)", "red", colour))
    for c in plan.adoptions:
        if c.action is Action.NOOP:
            lines.append(_style(f"= {c.key} (in sync; adopting: apply tags it as owned)", "cyan",
                                colour))
    for c in plan.ignored:
        if c.action is not Action.NOOP:
            continue
        lines.append(_style(f"= {c.key} (in sync)", None, colour))
        for i in c.ignored:
            lines.append(_style(f"{INDENT}ignored: {show(i.path)[len('spec.'):]} ({i.reason})",
                                None, colour))
    for lv in plan.orphaned:
        lines.append(_style(f"? {lv.key} (orphaned: owned by this controller, no longer in git; "
                            "--prune deletes it)", "magenta", colour))
    for r in plan.refused:
        lines.append(_style(f"refused: {r}", "red", colour, bold=True))
    lines.append(_summary(plan))
    return "\n".join(lines)


def _runs(plan: Plan, bold: bool = False) -> str:
    n = len(plan.runs)
    shown = f"**{n}**" if bold else str(n)
    return f", {shown} hook{'s' if n != 1 else ''} to run" if n else ""


def plan_markdown(plan: Plan, verdicts: Verdicts | None = None, why: Why | None = None
                  ) -> str:
    """A pull-request comment: the summary first, then one collapsible block per resource,
    the same lines as the text, secrets masked."""
    counts = plan.counts()
    out = ["### reconciler diff", "",
           (f"**{counts['create']}** to create, **{counts['update']}** to update, "
            f"**{counts['replace']}** to replace, **{counts['delete']}** to delete"
            f"{_runs(plan, bold=True)}."
            if plan.pending or plan.refused else "No changes: AWS matches git.")]
    if plan.refused:
        out += ["", "> :no_entry: **Prune refused: nothing will be applied.**"]
        out += [f"> - {r}" for r in plan.refused]
    if plan.orphaned:
        out += ["", f"**{len(plan.orphaned)}** orphaned (owned, no longer in git): "
                + ", ".join(f"`{lv.key}`" for lv in plan.orphaned)]
    for c in [*plan.pending, *plan.refused_deletes]:
        held = _held(c, verdicts)
        note = f" — {held.reason}" if held is not None else ""
        if c in plan.refused_deletes:
            note = " — held back: prune refused"
        elif hook_note(c, held is not None):
            note = f" — {hook_note(c, held is not None)}{note}"
        if c.action is Action.RUN:
            out += ["", f"<code>{SYMBOL[c.action]} {c.key}</code> ({c.action}){note}"]
            continue
        out += ["", f"<details><summary><code>{SYMBOL[c.action]} {c.key}</code> ({c.action})"
                    f"{note}</summary>", ""]
        place = where(c)
        if place:
            out += [f"`{place}`", ""]
        if why is not None and c.key in why:
            who = why[c.key]
            link = f" ([CloudTrail event]({who.link}))" if who.link else ""
            out += [f"Changed by {who.summary()}{link}", ""]
        out.append("```diff")
        for f in c.fields if c.action is not Action.DELETE else ():
            # GitHub colours '!' lines as changed; '~' is plain text there
            out.extend("!" + text[1:] if text.startswith("~") else text
                       for _hue, text in field_lines(c, f))
        if c.action is Action.DELETE:
            out.extend(text for _hue, text in deleted_lines(c) or [(None, f"- {c.key}")])
        out += ["```", "</details>"]
    return "\n".join(out) + "\n"
