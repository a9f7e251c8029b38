"""`reconciler schema`: a JSON Schema of the manifest format for editors
(yaml-language-server), derived from botocore's service model, never written by hand.

Pure: botocore's model files only.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from reconciler.core import model
from reconciler.core.charts import RELEASE
from reconciler.core.kind import Registry

JSON_SCHEMA = "http://json-schema.org/draft-07/schema#"


def _describe(shape: Shape) -> str:
    text = re.sub(r"<[^>]+>", "", getattr(shape, "documentation", "") or "")
    text = " ".join(text.split())
    return text[:300] + ("…" if len(text) > 300 else "")


class Builder:
    """Turns botocore shapes into JSON Schema, sharing structures through definitions."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}

    def shape(self, shape: Shape, service: str, camel: bool = False,
              drop: tuple[str, ...] = ()) -> dict[str, Any]:
        if isinstance(shape, StructureShape):
            name = f"{service}.{shape.name}" + (".camel" if camel else "")
            if drop:
                return self._structure(shape, service, camel, drop)
            if name not in self.definitions:
                self.definitions[name] = {}
                self.definitions[name] = self._structure(shape, service, camel, ())
            return {"$ref": f"#/definitions/{name}"}
        if isinstance(shape, ListShape):
            return {"type": "array", "items": self.shape(shape.member, service, camel)}
        if isinstance(shape, MapShape):
            return {"type": "object", "additionalProperties": self.shape(shape.value, service, camel)}
        t = shape.type_name
        if t == "string":
            enum = getattr(shape, "enum", None)
            return {"type": "string", "enum": list(enum)} if enum else {"type": ["string", "number"]}
        if t in ("integer", "long"):
            return {"type": "integer"}
        if t in ("double", "float"):
            return {"type": "number"}
        if t == "boolean":
            return {"type": "boolean"}
        return {"type": "string"}

    def _structure(self, shape: StructureShape, service: str, camel: bool,
                   drop: tuple[str, ...]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for member, member_shape in shape.members.items():
            if member in drop:
                continue
            sub = self.shape(member_shape, service, camel)
            doc = _describe(member_shape)
            entry = {**sub, "description": doc} if doc and "$ref" not in sub else sub
            props[member] = entry
            alias = member[:1].lower() + member[1:]
            if camel and alias != member:
                props[alias] = entry
        out: dict[str, Any] = {"type": "object", "properties": props,
                               "additionalProperties": False}
        doc = _describe(shape)
        if doc:
            out["description"] = doc
        return out

    def operation(self, service: str, op: str, drop: tuple[str, ...] = (), camel: bool = False
                  ) -> dict[str, Any]:
        return self.shape(model.input_shape(service, op), service, camel, drop)


def manifest_schema(registry: Registry) -> dict[str, Any]:
    """The whole manifest format: every kind's metadata and spec, and Release."""
    b = Builder()
    metadata = {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "cluster": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object"},
            "ignore": {"type": "array", "items": {"type": "string", "pattern": "^spec(\\.|$)"}},
            "selfHeal": {"type": "boolean"},
            "hook": {"enum": ["PreSync", "PostSync"],
                     "description": "A Job that runs before (PreSync) or after (PostSync) "
                                    "what its spec.gates names is applied"},
        },
    }
    branches = []
    kinds = sorted([*registry, RELEASE])
    for name in kinds:
        if name == RELEASE:
            spec = {"type": "object", "required": ["chart"], "additionalProperties": False,
                    "properties": {"chart": {"type": "string"}, "values": {"type": "object"},
                                   "valuesFrom": {"type": "array", "items": {"type": "string"}}}}
        else:
            spec = registry[name].json_schema(b)
        then: dict[str, Any] = {"properties": {"spec": spec}}
        branches.append({"if": {"properties": {"kind": {"const": name}}}, "then": then})
    return {
        "$schema": JSON_SCHEMA,
        "title": "ecs-reconciler manifest",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"const": "reconciler/v1"},
            "kind": {"enum": kinds},
            "metadata": metadata,
            "spec": {"type": "object"},
            "specFile": {"type": "string"},
        },
        "additionalProperties": False,
        "allOf": branches,
        "definitions": b.definitions,
    }
