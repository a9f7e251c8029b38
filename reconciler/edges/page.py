"""The controller's status page at `/`: what `/status` says, for people. Every resource with
its sync state, health and revision, drift and what a held change would do (masked, as in
`/status`), the git source and leadership, and whatever the controller's extensions report
(rollouts, scheduled runs, events), with links to the AWS console. Read-only, one HTML page
that refreshes itself; no JavaScript framework, no assets, no external requests.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, select_autoescape

REFRESH_SECONDS = 10
_CORE_KEYS = {"revision", "invalidRevision", "appliedRevision", "appliedAt", "leader", "ready",
              "role", "source", "time", "resources", "controller", "region"}


_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                   keep_trailing_newline=True)
_env.globals["show"] = lambda v: "(absent)" if v is None else (
    v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str))
_template = _env.from_string(
    (resources.files("reconciler.edges") / "status.html.j2").read_text(encoding="utf-8"))


def console_link(kind: str, name: str, cluster: str | None, region: str | None) -> str | None:
    """Where the AWS console shows a resource (None: no page of its own)."""
    if not region:
        return None
    base = f"https://{region}.console.aws.amazon.com"
    q = f"?region={region}"
    if kind == "Cluster":
        return f"{base}/ecs/v2/clusters/{quote(name)}/services{q}"
    if kind == "Service" and cluster:
        return f"{base}/ecs/v2/clusters/{quote(cluster)}/services/{quote(name)}/health{q}"
    if kind == "TaskDefinition":
        return f"{base}/ecs/v2/task-definitions/{quote(name)}{q}"
    if kind == "ScheduledTask":
        return f"{base}/events/home{q}#/eventbus/default/rules/{quote(name)}"
    if kind == "SpotFleet":
        return f"{base}/ec2/home{q}#SpotInstances:"
    return None


def _section(value: Any) -> dict[str, Any]:
    """An extension's status as a table when it is a list of flat records, else as text."""
    rows = value.get("items", value) if isinstance(value, dict) and "items" in value else value
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        columns: list[str] = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
        return {"rows": rows, "columns": columns}
    return {"rows": [], "text": json.dumps(value, indent=2, sort_keys=True, default=str)}


def render(doc: dict[str, Any], refresh: int = REFRESH_SECONDS) -> str:
    """The page for a `/status` document (already masked)."""
    resources = [{**r, "link": console_link(r["kind"], r["name"], r.get("cluster"),
                                            doc.get("region"))}
                 for r in doc.get("resources", [])]
    counts: dict[str, int] = {}
    for r in resources:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    extra = [(k, _section(v)) for k, v in sorted(doc.items()) if k not in _CORE_KEYS]
    view = {**doc, "resources": resources,
            "source": doc.get("source") or {"ok": True, "lastError": ""}}
    return _template.render(doc=view, counts=sorted(counts.items()), extra=extra,
                            refresh=refresh)


__all__ = ["console_link", "render"]
