"""The IAM actions the reconciler's code calls, found by reading its source: the
least-privilege policy in deploy/iam-policy.json is checked against this list (and against
what the test suite actually called), so the two cannot drift apart."""

from __future__ import annotations

import inspect
import re
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
_LITERAL = re.compile(r'(?:aws\.call|self\.call|aws\.pages|collect_pages)\(\s*'
                      r'(?:aws,\s*)?"([a-z0-9-]+)",\s*"([a-z_]+)"')
_CLIENT = re.compile(r'client\(\s*"([a-z0-9-]+)"\s*\)\.([a-z_]+)\(')
# Not an API call but required: handing task, execution, events and fleet roles to AWS.
PASS_ROLE = "iam:PassRole"


@cache
def _operation_names(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


# botocore's service name -> IAM's action prefix, where they differ.
IAM_PREFIX = {"resourcegroupstaggingapi": "tag"}


def iam_action(call: str) -> str:
    """'ecs:describe_services' -> 'ecs:DescribeServices'."""
    service, op = call.split(":", 1)
    return f"{IAM_PREFIX.get(service, service)}:{_operation_names(service)[op]}"


def operations_in_code() -> set[str]:
    """Every 'service:operation' the package calls, literal or through a kind's tagging."""
    from reconciler.kinds import REGISTRY
    from reconciler.kinds._base import KindBase

    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "embedded" in path.parts or path.name == "demo.py":  # the local default only
            continue
        text = path.read_text()
        found.update(f"{s}:{o}" for s, o in _LITERAL.findall(text))
        found.update(f"{s}:{o}" for s, o in _CLIENT.findall(text))
    for kind in REGISTRY.values():
        assert isinstance(kind, KindBase)
        module = inspect.getsource(inspect.getmodule(type(kind)))  # type: ignore[arg-type]
        if getattr(type(kind), "add_tags") is KindBase.add_tags:  # noqa: B009
            found.add(f"{kind.service}:tag_resource")
        if "self.sync_tags(" in module:
            found.update({f"{kind.service}:tag_resource", f"{kind.service}:untag_resource"})
    return found


def actions_in_code() -> set[str]:
    return {iam_action(c) for c in operations_in_code()} | {PASS_ROLE}
