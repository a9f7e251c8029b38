"""botocore's own service model as the schema of every `spec`.

Pure: botocore ships the model files, so nothing here talks to AWS. Validation walks the
operation's input shape so that each error carries the path it belongs to (for file:line).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.loaders import Loader, create_loader
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)

Path_ = tuple[str | int, ...]


@cache
def _loader() -> Loader:
    """botocore's model files, read without a session: validation works offline and never
    looks at AWS profiles or credentials (a mistyped AWS_PROFILE must not break it)."""
    return create_loader()


@cache
def service_model(service: str) -> ServiceModel:
    return ServiceModel(_loader().load_service_model(service, "service-2"), service)


@cache
def operation(service: str, name: str) -> OperationModel:
    """The botocore operation model, e.g. ("ecs", "CreateService")."""
    return service_model(service).operation_model(name)


def input_shape(service: str, name: str) -> StructureShape:
    shape = operation(service, name).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def input_members(service: str, name: str) -> frozenset[str]:
    return frozenset(input_shape(service, name).members)


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    """A model pattern Python can run (the model's Java classes like \\p{L} cannot)."""
    try:
        return re.compile(text)
    except re.error:
        return None


def _bounds(value: Any, shape: Shape, path: Path_) -> list[tuple[Path_, str]]:
    """The model's own min / max / pattern for this member, where it states them."""
    md = shape.metadata
    low, high = md.get("min"), md.get("max")
    what, size = (("value", value) if isinstance(value, int | float) else
                  ("length", len(value)) if isinstance(value, str | list | dict) else ("", 0))
    if not what:
        return []
    if shape.type_name == "string" and not isinstance(value, str):
        return []  # a number written for a string (cpu: 256) has no length to bound
    if low is not None and size < low:
        return [(path, f"{_show(path)}: {what} {size} is below the minimum {low}")]
    if high is not None and size > high:
        return [(path, f"{_show(path)}: {what} {size} is above the maximum {high}")]
    pattern = _pattern(md["pattern"]) if isinstance(value, str) and "pattern" in md else None
    if pattern is not None and not pattern.fullmatch(value):
        return [(path, f"{_show(path)}: {value!r} does not match {md['pattern']}")]
    return []


def validate(value: Any, shape: Shape, path: Path_ = ()) -> list[tuple[Path_, str]]:
    """Every mismatch between `value` and `shape`: unknown keys, wrong types, bad enum values,
    missing required members, the model's bounds and patterns, NUL characters. Numbers are
    accepted where the model wants a string (task cpu and memory are strings in the model but
    commonly written as numbers)."""
    errors: list[tuple[Path_, str]] = []
    t = shape.type_name
    if value is None:
        return [(path, f"{_show(path)}: must not be null")]
    if isinstance(value, str) and "\x00" in value:
        return [(path, f"{_show(path)}: contains a NUL character")]
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [(path, f"{_show(path)}: expected a mapping, got {_type_name(value)}")]
        for key, item in value.items():
            if key not in shape.members:
                known = ", ".join(sorted(shape.members))
                errors.append(((*path, key), f"{_show((*path, key))}: unknown field (known: {known})"))
                continue
            errors.extend(validate(item, shape.members[key], (*path, key)))
        for req in shape.required_members:
            if req not in value:
                errors.append((path, f"{_show(path)}: missing required field {req!r}"))
        return errors
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [(path, f"{_show(path)}: expected a list, got {_type_name(value)}")]
        errors.extend(_bounds(value, shape, path))
        for i, item in enumerate(value):
            errors.extend(validate(item, shape.member, (*path, i)))
        return errors
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [(path, f"{_show(path)}: expected a mapping, got {_type_name(value)}")]
        errors.extend(_bounds(value, shape, path))
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append(((*path, key), f"{_show(path)}: keys must be strings"))
            errors.extend(validate(item, shape.value, (*path, key)))
        return errors
    if t == "string":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return [(path, f"{_show(path)}: expected a string, got {_type_name(value)}")]
        enum = getattr(shape, "enum", None) or []
        if enum and str(value) not in enum:
            return [(path, f"{_show(path)}: {value!r} is not one of {', '.join(enum)}")]
        return _bounds(value, shape, path)
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [(path, f"{_show(path)}: expected an integer, got {_type_name(value)} {value!r}")]
        return _bounds(value, shape, path)
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [(path, f"{_show(path)}: expected a number, got {_type_name(value)} {value!r}")]
        return _bounds(value, shape, path)
    if t == "boolean":
        if not isinstance(value, bool):
            return [(path, f"{_show(path)}: expected true or false, got {_type_name(value)} {value!r}")]
        return []
    return []


def project(value: Any, shape: Shape) -> Any:
    """Keep only what `shape` knows: turns a describe response into the request's shape.
    Scalars are taken as they are, without a call each (thousands of responses a pass)."""
    if isinstance(value, dict):
        if isinstance(shape, StructureShape):
            members = shape.members
            return {k: project(v, members[k]) if isinstance(v, (dict, list)) else v
                    for k, v in value.items() if k in members}
        if isinstance(shape, MapShape):
            inner = shape.value
            return {k: project(v, inner) if isinstance(v, (dict, list)) else v
                    for k, v in value.items()}
        return value
    if isinstance(value, list) and isinstance(shape, ListShape):
        inner = shape.member
        return [project(v, inner) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _show(path: Path_) -> str:
    out = "spec"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def member_name(shape: StructureShape, key: str) -> str | None:
    """The model's name for `key`, accepting camelCase for PascalCase models and vice versa."""
    if key in shape.members:
        return key
    for name in shape.members:
        if str(name).lower() == key.lower():
            return str(name)
    return None


def to_model_case(value: Any, shape: Shape) -> Any:
    """Rename keys to the model's spelling (`scheduleExpression` -> `ScheduleExpression` for
    EventBridge), guided by the shape so user data (tags, map keys) is never touched."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = member_name(shape, str(k))
            out[name or k] = to_model_case(v, shape.members[name]) if name else v
        return out
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_model_case(v, shape.member) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: to_model_case(v, shape.value) for k, v in value.items()}
    return value


def member_shape(service: str, operation_name: str, *path: str) -> Shape:
    """The shape at a member path of an operation's input, e.g. ("events", "PutTargets",
    "Targets") gives the list's member structure."""
    shape: Shape = input_shape(service, operation_name)
    for p in path:
        if isinstance(shape, StructureShape):
            shape = shape.members[p]
        if isinstance(shape, ListShape):
            shape = shape.member
    return shape


def user_path(doc: Any, path: Path_) -> Path_:
    """The path as the user spelled it in `doc` (keys matched case-insensitively), for lines."""
    out: list[str | int] = []
    cur = doc
    for p in path:
        if isinstance(cur, dict):
            key = next((k for k in cur if str(k).lower() == str(p).lower()), p)
            out.append(key)
            cur = cur.get(key)
        else:
            out.append(p)
            cur = cur[p] if isinstance(cur, list) and isinstance(p, int) and p < len(cur) else None
    return tuple(out)
