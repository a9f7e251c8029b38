"""Secrets never appear in output."""

from __future__ import annotations

from reconciler.core.mask import MASK, mask, mask_text


def test_secrets_map_is_masked() -> None:
    out = mask({"app": {"secrets": {"DB": "arn:aws:secretsmanager:x"}, "image": "nginx"}},
               ("containerDefinitions",))
    assert out == {"app": {"secrets": {"DB": MASK}, "image": "nginx"}}


def test_credential_like_environment_names_are_masked() -> None:
    env = {"DATABASE_PASSWORD": "hunter2", "API_TOKEN": "t", "LOG_LEVEL": "info",
           "AWS_SECRET_ACCESS_KEY": "k"}
    out = mask(env, ("containerDefinitions", "app", "environment"))
    assert out == {"DATABASE_PASSWORD": MASK, "API_TOKEN": MASK, "LOG_LEVEL": "info",
                   "AWS_SECRET_ACCESS_KEY": MASK}


def test_leaf_paths_are_masked() -> None:
    assert mask("hunter2", ("containerDefinitions", "app", "environment", "DB_PASSWORD")) == MASK
    assert mask("arn:x", ("containerDefinitions", "app", "secrets", "DB")) == MASK
    assert mask("info", ("containerDefinitions", "app", "environment", "LOG_LEVEL")) == "info"


def test_request_shaped_lists_are_masked() -> None:
    out = mask([{"name": "TOKEN", "value": "abc"}, {"name": "MODE", "value": "x"}],
               ("environment",))
    assert out == [{"name": "TOKEN", "value": MASK}, {"name": "MODE", "value": "x"}]


def test_credential_looking_values_are_masked_anywhere() -> None:
    assert mask({"url": "postgres://user:pw@db/x"}) == {"url": MASK}
    assert "AKIA" not in mask_text("key AKIAABCDEFGHIJKLMNOP leaked")
