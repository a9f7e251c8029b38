"""GitHub webhook signature and push filtering."""

from __future__ import annotations

import json

from reconciler.edges.http import MAX_BODY, judge, sign, valid_signature

BODY = json.dumps({"ref": "refs/heads/main"}).encode()


def test_signature() -> None:
    assert valid_signature("k", BODY, sign("k", BODY))
    assert not valid_signature("k", BODY, sign("other", BODY))
    assert not valid_signature("k", BODY, None)
    assert not valid_signature("", BODY, sign("", BODY))  # no secret configured: refuse all
    assert not valid_signature("k", BODY + b" ", sign("k", BODY))


def test_judge() -> None:
    assert judge("k", "push", BODY, sign("k", BODY), "main").trigger
    assert judge("k", "push", BODY, "sha256=00", "main").status == 401
    assert not judge("k", "push", BODY, sign("k", BODY), "prod").trigger
    assert judge("k", "ping", BODY, sign("k", BODY), "main").status == 200
    big = b"{" + b" " * MAX_BODY + b"}"
    assert judge("k", "push", big, sign("k", big), "main").status == 413
