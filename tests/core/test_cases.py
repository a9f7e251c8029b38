"""Every paired desired/live case in `tests/core/cases/` through `plan_resource`: no AWS."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.plan import desired_hash, plan_resource
from tests.core.cases import LIVE_FORMS, Case, all_cases, change_json, expected, load, regenerate


def _params() -> list[Any]:
    out = []
    for case in all_cases():
        why = expected(case).get("xfail") if case.path("expected.json").is_file() else None
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        out.append(pytest.param(case, id=str(case), marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_case(case: Case) -> None:
    """The case's manifest planned against its live twin gives exactly the expected change."""
    c = load(case)
    change = plan_resource(c.kind, c.manifest, c.live, c.ctx, c.rules)
    actual = change_json(change)
    if regenerate(case, actual):
        return
    want = {k: v for k, v in expected(case).items() if k != "xfail"}
    assert actual == want
    assert change.key == c.manifest.key
    assert change.manifest is c.manifest
    assert change.live is c.live
    assert change.desired_hash == desired_hash(c.kind, c.kind.desired(c.manifest, c.ctx), c.rules)


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c)) for c in all_cases()])
def test_case_manifest_is_valid(case: Case) -> None:
    """Each case's manifest is one a user could commit: its kind's validation finds nothing."""
    c = load(case)
    assert c.kind.validate(c.manifest) == []


def test_every_kind_has_cases() -> None:
    """Each registered kind has paired fixtures, and each case folder is a registered kind."""
    kinds = {c.kind for c in all_cases()}
    assert kinds == set(LIVE_FORMS)
    assert len(all_cases()) >= 40
