"""Charts: reusable, parameterised manifest sets, expanded by `kind: Release`.

A chart is a folder: `values.yaml` (defaults), `values.schema.json` (a JSON Schema for the
values) and `templates/*.yaml`. Templates are Jinja in a sandbox: no access to Python
internals, no file or network access, and an undefined value is an error. A Release's values
are its chart's defaults, then each `valuesFrom` file, then inline `values` (deep-merged), and
they are validated against the chart's schema with file:line errors like any manifest.

Pure apart from reading the chart's files.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from reconciler.core.files import inside, read_text
from reconciler.core.manifest import (
    LoadError,
    Manifest,
    Path_,
    manifests_in,
    parse_documents,
)
from reconciler.core.sandbox import chart_env, render_chart

RELEASE = "Release"
CHARTS_DIR = "charts"


@dataclass
class Chart:
    name: str
    root: Path
    defaults: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] = field(default_factory=dict)


def deep_merge(base: Any, over: Any) -> Any:
    """Maps merge key by key; anything else (lists included) is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def find_chart(ref: str, release_dir: Path, boundary: Path) -> Path | None:
    """A path (relative to the Release file), or a name looked up in `charts/` folders from
    the Release's folder up to the repository's top (charts may sit beside `manifests/`);
    never outside the repository."""
    if "/" in ref or ref.startswith("."):
        candidate = (release_dir / ref).resolve()
        return candidate if candidate.is_dir() and inside(candidate, boundary) else None
    for folder in [release_dir, *release_dir.parents]:
        if not inside(folder, boundary):
            break
        candidate = folder / CHARTS_DIR / ref
        if candidate.is_dir() and inside(candidate, boundary):
            return candidate.resolve()
    return None


@functools.lru_cache(maxsize=64)
def _schema_problem(text: str) -> str | None:
    """Why a values schema is not one (its first line), or None. Checked once per distinct
    text: checking a schema against the metaschema cost more than validating each Release's
    values, and every Release of a chart, in every pass, reads the same file."""
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(text))
    except (ValueError, jsonschema.SchemaError) as exc:
        return str(exc).splitlines()[0]
    return None


def load_chart(path: Path, boundary: Path, display: Any
               ) -> tuple[Chart | None, list[LoadError | str]]:
    """A chart's defaults, schema and templates folder; problems as located errors (a file's
    own line) or as text to place at the Release."""
    chart = Chart(path.name, path)
    problems: list[LoadError | str] = []
    defaults = path / "values.yaml"
    if defaults.is_file():
        text = read_text(defaults, display(defaults)) if inside(defaults, boundary) else \
            LoadError(display(defaults), 1, "a link to outside the repository")
        if isinstance(text, LoadError):
            problems.append(text)
        else:
            for doc in parse_documents(text, display(defaults)):
                if isinstance(doc, LoadError):
                    problems.append(doc)
                elif isinstance(doc[0], dict):
                    chart.defaults = doc[0]
    schema = path / "values.schema.json"
    if schema.is_file():
        text = read_text(schema, display(schema)) if inside(schema, boundary) else \
            LoadError(display(schema), 1, "a link to outside the repository")
        if isinstance(text, LoadError):
            problems.append(text)
        else:
            problem = _schema_problem(text)
            if problem is not None:
                problems.append(f"chart {chart.name}: values.schema.json is not a valid "
                                f"schema: {problem}")
            else:
                chart.schema = json.loads(text)
    if not (path / "templates").is_dir():
        problems.append(f"chart {chart.name}: has no templates/ folder")
    return (None if problems else chart), problems


def _values_line(release: Manifest, path: Path_, sources: list[tuple[str, dict[Path_, int]]]
                 ) -> tuple[str, int]:
    """Where a value came from: inline values first (they win), then the valuesFrom files."""
    inline = ("spec", "values", *path)
    for n in range(len(inline), 2, -1):
        if inline[:n] in release.lines:
            return release.file, release.lines[inline[:n]]
    for file, lines in reversed(sources):
        for n in range(len(path), 0, -1):
            if path[:n] in lines:
                return file, lines[path[:n]]
    return release.file, release.line_of(("spec", "values"))


def aws_facts(env: Any, facts: Mapping[str, str]) -> dict[str, Any]:
    """`aws.region` for templates; unknown, it fails where it is used and says how to set it."""
    return {"region": facts.get("region") or env.undefined(
        hint="aws.region is not known here: pass --region or set AWS_REGION", name="region")}


def expand(release: Manifest, release_path: Path, boundary: Path, display: Any,
           facts: Mapping[str, str] | None = None) -> tuple[list[Manifest], list[LoadError]]:
    """The plain manifests one Release stands for, or every error that prevents it. `facts`
    is what the caller knows of the target AWS (`region`), offered to templates as `aws`."""
    spec = release.spec
    errors: list[LoadError] = []
    ref = spec.get("chart")
    if not isinstance(ref, str) or not ref:
        return [], [release.error("spec.chart (a chart name or path) is required", ("spec",))]
    unknown = sorted(set(spec) - {"chart", "values", "valuesFrom"})
    for key in unknown:
        errors.append(release.error(f"spec.{key}: unknown field (known: chart, values, valuesFrom)",
                                    ("spec", key)))
    where = find_chart(ref, release_path.parent, boundary)
    if where is None:
        return [], [*errors, release.error(f"chart {ref!r} not found", ("spec", "chart"))]
    chart, problems = load_chart(where, boundary, display)
    if chart is None:
        return [], [*errors, *(p if isinstance(p, LoadError) else
                               release.error(p, ("spec", "chart")) for p in problems)]
    values: Any = chart.defaults
    sources: list[tuple[str, dict[Path_, int]]] = []
    for i, vf in enumerate(spec.get("valuesFrom") or []):
        vpath = (release_path.parent / str(vf)).resolve()
        if not inside(vpath, boundary):
            errors.append(release.error(f"valuesFrom {vf!r} is outside the repository",
                                        ("spec", "valuesFrom", i)))
            continue
        if not vpath.is_file():
            errors.append(release.error(f"valuesFrom {vf!r} not found", ("spec", "valuesFrom", i)))
            continue
        text = read_text(vpath, display(vpath))
        if isinstance(text, LoadError):
            errors.append(text)
            continue
        for d in parse_documents(text, display(vpath)):
            if isinstance(d, LoadError):
                errors.append(d)
            elif isinstance(d[0], dict):
                values = deep_merge(values, d[0])
                sources.append((display(vpath), d[2]))
    inline = spec.get("values") or {}
    if not isinstance(inline, dict):
        errors.append(release.error("spec.values must be a mapping", ("spec", "values")))
        inline = {}
    values = deep_merge(values, inline)
    if errors:
        return [], errors
    if chart.schema:
        validator = jsonschema.Draft202012Validator(chart.schema)
        for err in sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.path))):
            path = tuple(err.absolute_path)
            file, line = _values_line(release, path, sources)
            shown = "values" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            errors.append(LoadError(file, line, f"chart {chart.name}: {shown}: {err.message}",
                                    f"{release.kind}/{release.name}"))
    if errors:
        return [], errors
    env = chart_env()
    context = {"values": values, "release": {"name": release.name, "cluster": release.cluster,
                                              "labels": release.labels},
               "aws": aws_facts(env, facts or {})}
    out: list[Manifest] = []
    for template in sorted((chart.root / "templates").glob("*.y*ml")):
        shown = display(template)
        source = read_text(template, shown) if inside(template, boundary) else \
            LoadError(shown, 1, "a link to outside the repository")
        if isinstance(source, LoadError):
            errors.append(source)
            continue
        try:
            text = render_chart(env, source, context, shown)
        except TemplateSyntaxError as exc:
            errors.append(LoadError(shown, exc.lineno, f"template error: {exc.message}",
                                    f"{release.kind}/{release.name}"))
            continue
        except (UndefinedError, SecurityError, TemplateError) as exc:
            errors.append(LoadError(shown, _template_line(exc), f"chart {chart.name}: {exc}",
                                    f"{release.kind}/{release.name}"))
            continue
        except RecursionError as exc:
            errors.append(LoadError(shown, _template_line(exc), f"chart {chart.name}: "
                                    "recursion too deep", f"{release.kind}/{release.name}"))
            continue
        except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
            errors.append(LoadError(shown, _template_line(exc), f"chart {chart.name}: "
                                    f"{type(exc).__name__}: {exc}",
                                    f"{release.kind}/{release.name}"))
            continue
        for m in manifests_in(text, shown):
            if isinstance(m, LoadError):
                errors.append(m)
                continue
            m.origin = f"Release/{release.name} ({release.file}:{release.line})"
            m.labels = {**release.labels, **m.labels}
            out.append(m)
    return out, errors


def _template_line(exc: Exception) -> int:
    tb = exc.__traceback__
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
