"""Secrets never appear in output."""

from __future__ import annotations

import base64

import pytest

from reconciler.core.mask import MASK, credential_names, looks_random, mask, mask_text


def test_secrets_map_is_masked() -> None:
    """Every value of a container's secrets map is masked, the rest is shown."""
    out = mask({"app": {"secrets": {"DB": "arn:aws:secretsmanager:x"}, "image": "nginx"}},
               ("containerDefinitions",))
    assert out == {"app": {"secrets": {"DB": MASK}, "image": "nginx"}}


def test_credential_like_environment_names_are_masked() -> None:
    """Environment values whose names look like credentials are masked, others shown."""
    env = {"DATABASE_PASSWORD": "hunter2", "API_TOKEN": "t", "LOG_LEVEL": "info",
           "AWS_SECRET_ACCESS_KEY": "k"}
    out = mask(env, ("containerDefinitions", "app", "environment"))
    assert out == {"DATABASE_PASSWORD": MASK, "API_TOKEN": MASK, "LOG_LEVEL": "info",
                   "AWS_SECRET_ACCESS_KEY": MASK}


def test_leaf_paths_are_masked() -> None:
    """A single changed value under secrets, or under a credential-named variable, is masked."""
    assert mask("hunter2", ("containerDefinitions", "app", "environment", "DB_PASSWORD")) == MASK
    assert mask("arn:x", ("containerDefinitions", "app", "secrets", "DB")) == MASK
    assert mask("info", ("containerDefinitions", "app", "environment", "LOG_LEVEL")) == "info"


def test_request_shaped_lists_are_masked() -> None:
    """[{name, value}] environment lists mask the values of credential-named items."""
    out = mask([{"name": "TOKEN", "value": "abc"}, {"name": "MODE", "value": "x"}],
               ("environment",))
    assert out == [{"name": "TOKEN", "value": MASK}, {"name": "MODE", "value": "x"}]


def test_credential_looking_values_are_masked_anywhere() -> None:
    """Credential-shaped values are masked under any name, and in free text."""
    assert mask({"url": "postgres://user:pw@db/x"}) == {"url": MASK}
    assert "AKIA" not in mask_text("key AKIAABCDEFGHIJKLMNOP leaked")


# --- request-shaped lists (render masks the spec as written) -----------------------------------


def test_request_shaped_secrets_hide_value_from_and_keep_the_name() -> None:
    """[{name, valueFrom}] secrets keep their names visible and hide where the value comes from."""
    spec = {"containerDefinitions": [{"name": "app", "image": "nginx", "secrets": [
        {"name": "DB_URL", "valueFrom": "arn:aws:secretsmanager:eu-west-1:1:secret:db"},
        {"name": "PLAIN", "value": "inline"},
        {"name": "NOTHING"}]}]}
    assert mask(spec) == {"containerDefinitions": [{"name": "app", "image": "nginx", "secrets": [
        {"name": "DB_URL", "valueFrom": MASK},
        {"name": "PLAIN", "value": MASK},
        {"name": "NOTHING"}]}]}


def test_request_shaped_environment_masks_by_name_and_by_value() -> None:
    """[{name, value}] environment hides credential-named values and credential-looking ones."""
    env = [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "info"},
           {"name": "DATABASE_URL", "value": "postgres://u:pw@db/x"}, {"name": "API_KEY"}]
    assert mask({"environment": env}) == {"environment": [
        {"name": "DB_PASSWORD", "value": MASK}, {"name": "LOG_LEVEL", "value": "info"},
        {"name": "DATABASE_URL", "value": MASK}, {"name": "API_KEY"}]}


def test_a_secrets_item_without_a_name_is_still_masked() -> None:
    """Masking does not depend on the item being well formed: a nameless secret is hidden too."""
    assert mask([{"valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/db"}], ("app", "secrets")) == [
        {"valueFrom": MASK}]


def test_generic_lists_are_masked_item_by_item() -> None:
    """Outside environment/secrets, each list item is checked on its own, order kept."""
    doc = {"command": ["--db", "postgres://u:pw@db/x", "--port", 5432],
           "ports": [80, 443], "entryPoint": []}
    assert mask(doc) == {"command": ["--db", MASK, "--port", 5432], "ports": [80, 443],
                         "entryPoint": []}
    assert mask(["x", "postgres://u:pw@db/x"]) == ["x", MASK]


def test_maps_inside_generic_lists_keep_their_context() -> None:
    """A request-shaped container list still masks each container's environment and secrets."""
    spec = {"containerDefinitions": [{"name": "app", "environment": [
        {"name": "TOKEN", "value": "t"}], "secrets": [{"name": "S", "valueFrom": "arn"}]}]}
    assert mask(spec, ()) == {"containerDefinitions": [{"name": "app", "environment": [
        {"name": "TOKEN", "value": MASK}], "secrets": [{"name": "S", "valueFrom": MASK}]}]}


# --- paths from the diff (comparison form) -----------------------------------------------------


def test_short_paths_are_masked_too() -> None:
    """A changed leaf right under a top-level secrets or environment map is masked."""
    assert mask("arn:aws:ssm:x", ("secrets", "DB")) == MASK
    assert mask("hunter2", ("environment", "DB_PASSWORD")) == MASK
    assert mask("info", ("environment", "LOG_LEVEL")) == "info"


def test_a_null_secret_is_shown_as_null() -> None:
    """A secret without a value has nothing to hide: it shows as null, not as a masked value."""
    assert mask(None, ("containerDefinitions", "app", "secrets", "DB")) is None
    assert mask(None, ("containerDefinitions", "app", "environment", "DB_PASSWORD")) is None


def test_masking_returns_a_copy() -> None:
    """mask never edits what it is given: the diff keeps the real values for apply."""
    doc = {"app": {"secrets": {"DB": "arn"}, "environment": {"TOKEN": "t"}}}
    before = {"app": {"secrets": {"DB": "arn"}, "environment": {"TOKEN": "t"}}}
    mask(doc, ("containerDefinitions",))
    assert doc == before


def test_masked_map_values_still_get_the_value_check() -> None:
    """In an environment map, a harmless name with a credential-looking value is masked."""
    assert mask({"LOG_LEVEL": "info", "DATABASE_URL": "postgres://u:pw@db/x"},
                ("containerDefinitions", "app", "environment")) == {
        "LOG_LEVEL": "info", "DATABASE_URL": MASK}


# --- random tokens: credentials under innocent names -------------------------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    "token",
    [
        AWS_SECRET,
        "ABCdef123GHIjkl456MNO",  # 21 characters, 6 class changes in 20 pairs: exactly 0.3
        "ABCdef123GHIjkl456MN",  # 20 characters: the shortest judged
        "XABCdef123GHIjkl456M",  # 20 characters, whatever letter they start with
        "ABCdef123GHIjkl456MNpq==",
        "Zx9_Qw3-Er7+Ty1/Ui5Op2K",
    ],
)
def test_random_tokens_are_recognised(token: str) -> None:
    """Upper, lower and digits mixed throughout, with little repetition: nobody typed it."""
    assert looks_random(token)
    assert mask({"innocentName": token}) == {"innocentName": MASK}
    assert mask_text(f"value {token} leaked") == f"value {MASK} leaked"


@pytest.mark.parametrize(
    "token",
    [
        "ABCdef123GHIjkl456M",  # 19 characters
        "ABCdef123GHIjkl456MNOP",  # 6 class changes in 21 pairs: just under 0.3
        "==ABCdef123GHIjkl456M=",  # 19 once the padding is set aside
        "thisIsAVeryLongCamelCaseName",  # words: the case changes rarely
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",  # no lower case
        "abcdefghijklmnopqrstuvwxyz0123456789",  # no upper case
        "ABCDEFGHIJKLMabcdefghijklm",  # no digits
        SHA256,  # a hex digest: one case
        "550e8400-e29b-41d4-a716-446655440000",  # a UUID
        "Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1",  # mixed but repetitive
        "ABCDEFGhijklmn1234567OPQRSTUVwxyz",  # mixed in long runs
    ],
)
def test_typed_tokens_are_not_random(token: str) -> None:
    """Short tokens, words, camelCase, digests, UUIDs and repetitive text are left visible."""
    assert not looks_random(token)
    assert mask({"innocentName": token}) == {"innocentName": token}
    assert mask_text(f"value {token} ok") == f"value {token} ok"


def test_base64_of_plain_text_is_judged_by_its_text() -> None:
    """EC2 user data in base64 is not random; base64 of a credential still is."""
    script = base64.b64encode(b"#!/bin/bash\necho hello\tworld\r\n").decode()
    assert not looks_random(script)
    install = base64.b64encode(b"#!/bin/bash\nyum install -y nginx\n").decode()
    assert (len(install), looks_random(install)) == (44, False)
    hidden = base64.b64encode(b"password=postgres://u:pw@db/x").decode()
    assert looks_random(hidden)
    assert mask({"UserData": script, "Other": hidden}) == {"UserData": script, "Other": MASK}


def test_base64_of_binary_is_judged_as_a_token() -> None:
    """Base64 of bytes that are not text (a key, say) is judged by the token's own mix."""
    binary = base64.b64encode(bytes(range(200, 230))).decode()
    assert len(binary) % 4 == 0
    assert looks_random(binary)
    control = base64.b64encode(b"abc\x01defghijklmnopqrstuvw").decode()
    assert looks_random(control)


def test_entropy_threshold_keeps_low_variety_mixes_visible() -> None:
    """A token that mixes classes often but draws on few characters is not taken as random."""
    few = "Ab1Cd2Ab1Cd2Ab1Cd2Ab1Cd2"  # 6 distinct characters: entropy about 2.6
    assert not looks_random(few)


def test_mask_text_keeps_what_surrounds_a_credential() -> None:
    """Only the credential-looking part of a log line is replaced, the rest stays readable."""
    line = f"upload to s3://bucket/key failed with {AWS_SECRET}, sha {SHA256}"
    assert mask_text(line) == f"upload to s3://bucket/key failed with {MASK}, sha {SHA256}"
    assert mask_text("connect postgres://app:pw@db:5432/x") == f"connect postgres{MASK}db:5432/x"
    assert mask_text("nothing to hide") == "nothing to hide"


# --- credential_names: where import finds credentials written in the clear ---------------------


def test_credential_names_points_at_places_never_values() -> None:
    """Named like a credential or shaped like one, anywhere in the spec; valueFrom is fine."""
    spec = {"containerDefinitions": [{
        "name": "app",
        "environment": [{"name": "DB_PASSWORD", "value": "x"}, {"name": "MODE", "value": "y"},
                        {"name": "URL", "value": "postgres://u:p@h/x"},
                        {"name": "KEY_ID", "value": "AKIAABCDEFGHIJKLMNOP"}],
        "secrets": [{"name": "S", "valueFrom": "arn:aws:secretsmanager:eu-west-1:1:secret:db"},
                    {"name": "R", "valueFrom": AWS_SECRET}],
        "command": ["--key", AWS_SECRET],
    }], "tags": {"t": "ghp_" + "a" * 30, "team": "web"}}
    found = credential_names(spec)
    assert found == [
        "spec.containerDefinitions[app].environment[DB_PASSWORD]",
        "spec.containerDefinitions[app].environment[URL]",
        "spec.containerDefinitions[app].environment[KEY_ID]",
        "spec.containerDefinitions[app].command[1]",
        "spec.tags.t",
    ]
    assert not any(AWS_SECRET in f or "postgres" in f for f in found)


def test_credential_names_label_unnamed_items_by_position() -> None:
    """List items without a name are labelled by position, and the root label can be chosen."""
    assert credential_names([{"x": AWS_SECRET}, "fine", AWS_SECRET], "spec.overrides") == [
        "spec.overrides[0].x", "spec.overrides[2]"]
    assert credential_names(AWS_SECRET) == ["spec"]
    assert credential_names(42) == []


def test_credential_names_environment_items_are_judged_once() -> None:
    """A {name, value} environment item is judged by name and value, not again field by field."""
    env = [{"name": "MODE", "value": "fine", "note": AWS_SECRET},
           {"name": "LOG", "value": "info"}, {"name": "TOKEN", "value": "t"}]
    assert credential_names(env, "spec.environment") == ["spec.environment[TOKEN]"]
    other = [{"name": "MODE", "value": AWS_SECRET}]
    assert credential_names(other, "spec.labels") == ["spec.labels[MODE].value"]
    nameless = [{"value": "t", "name2": "TOKEN"}]
    assert credential_names(nameless, "spec.environment") == []


def test_arns_with_random_ids_stay_readable_and_a_key_beside_one_does_not() -> None:
    """A service deployment's or a task's ARN ends in a random id by design: it is a name,
    not a secret, in free text and as a value; a secret next to it is still masked."""
    arn = ("arn:aws:ecs:eu-west-1:123456789012:service-deployment/prd/api/"
           "Xk3pQ9zLm2Rt7Vb8Nw4Yc")
    assert mask_text(f"deployment {arn}") == f"deployment {arn}"
    assert mask({"deployment": arn}) == {"deployment": arn}
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert mask_text(f"{arn} {key}") == f"{arn} {MASK}"
    assert mask({"v": f"{key}"}) == {"v": MASK}
