"""Keeping secrets out of every diff, log line, page and message.

Pure. Masked: every value of a task definition's `secrets`, environment values whose names
look like credentials, and values that look like credentials wherever they are: known shapes
(AWS access key ids, credentials in URLs, private keys, Slack/GitHub/JWT tokens) and random
tokens such as an AWS secret access key under an innocent name. What is not masked, on
purpose: hex digests and git SHAs (one case), UUIDs, ARNs, words.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re
from collections import Counter
from typing import Any

MASK = "(sensitive)"

SENSITIVE_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|auth|session[_-]?key|signing[_-]?key|client[_-]?key|dsn|"
    r"connection[_-]?string|webhook)",
    re.IGNORECASE,
)
SENSITIVE_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"          # AWS access key ids
    r"|://[^/\s:@]+:[^/\s@]+@"           # credentials inside a URL
    r"|-----BEGIN [A-Z ]*PRIVATE KEY"
    r"|xox[abposr]-[0-9A-Za-z-]+"        # Slack tokens
    r"|gh[pousr]_[0-9A-Za-z]{20,}"       # GitHub tokens
    r"|github_pat_[0-9A-Za-z_]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|hooks\.slack\.com/services/[A-Za-z0-9/]+"
    r"|AIza[0-9A-Za-z_-]{35}"            # Google API keys
    r"|(sk|rk)_(live|test)_[0-9A-Za-z]{16,}"  # Stripe
    r"|npm_[0-9A-Za-z]{30,}"
    r"|https?://[^/\s:@]{16,}@"          # a token as a URL's user name
)
# Runs of the alphabets random credentials are written in (base64 and base64url).
_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")  # '=' only as base64's padding
_CLASSES = (str.isupper, str.islower, str.isdigit)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _encoded_text(token: str) -> str | None:
    """What a base64 token says when it encodes plain text (EC2 user data, say)."""
    if len(token) % 4:
        return None
    try:
        text = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return text if all(ch.isprintable() or ch in "\n\r\t" for ch in text) else None


def looks_random(token: str) -> bool:
    """A token nobody typed: upper, lower case and digits, mixed throughout (case changes
    every few characters, unlike words and camelCase names), and little repetition. An AWS
    secret access key is 40 such characters. Base64 of plain text is judged by its text."""
    core = token.strip("=")
    if len(core) < 20 or not all(any(c(ch) for ch in core) for c in _CLASSES):
        return False
    text = _encoded_text(token)
    if text is not None:
        return mask_text(text) != text
    kinds = [next((i for i, c in enumerate(_CLASSES) if c(ch)), 3) for ch in core]
    changes = sum(a != b for a, b in itertools.pairwise(kinds)) / (len(core) - 1)
    return changes >= 0.3 and _entropy(core) >= 3.8


# An ARN names a resource; its ids (a service deployment's, a task's) are random by design.
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:[^\s\"',;)\]}]+")


def _random_tokens(text: str) -> str:
    def outside_arns(part: str) -> str:
        return _TOKEN.sub(lambda m: MASK if looks_random(m.group(0)) else m.group(0), part)

    out, at = [], 0
    for arn in _ARN.finditer(text):
        out += [outside_arns(text[at:arn.start()]), arn.group(0)]
        at = arn.end()
    return "".join([*out, outside_arns(text[at:])])


def sensitive_name(name: str) -> bool:
    return bool(SENSITIVE_NAME.search(name))


def _mask_scalar(value: Any) -> Any:
    if isinstance(value, str) and (SENSITIVE_VALUE.search(value)
                                   or _random_tokens(value) != value):
        return MASK
    return value


def mask(value: Any, path: tuple[Any, ...] = ()) -> Any:
    """A copy of `value` (found at `path` in a comparison-form document) with secrets masked."""
    parent = path[-1] if path else None
    grandparent = path[-2] if len(path) > 1 else None
    if grandparent == "secrets" or (grandparent == "environment" and sensitive_name(str(parent))):
        return MASK if value is not None else value
    if parent == "secrets":
        return _mask_map(value, lambda _k: True)
    if parent == "environment":
        return _mask_map(value, sensitive_name)
    if isinstance(value, dict):
        return {k: mask(v, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_list_item(v, path) for v in value]
    return _mask_scalar(value)


def _mask_list_item(item: Any, path: tuple[Any, ...]) -> Any:
    """Request-shaped lists: [{name, value}] environment and [{name, valueFrom}] secrets."""
    parent = path[-1] if path else None
    if isinstance(item, dict) and "name" in item:
        if parent == "secrets":
            return {**item, **{k: MASK for k in ("valueFrom", "value") if k in item}}
        if parent == "environment" and sensitive_name(str(item["name"])) and "value" in item:
            return {**item, "value": MASK}
    return mask(item, path)


def _mask_map(value: Any, hide: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if hide(str(k)) else _mask_scalar(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_list_item(v, ("secrets" if hide("x") else "environment",)) for v in value]
    return value


def credential_names(spec: Any, where: str = "spec") -> list[str]:
    """Where a spec holds a credential-looking value in the clear (a variable named like a
    credential, or a value shaped like one), as `spec.containerDefinitions[app]
    .environment[X]`: the places, never the values."""
    found: list[str] = []
    if isinstance(spec, dict):
        for k, v in spec.items():
            if k != "valueFrom":
                found.extend(credential_names(v, f"{where}.{k}"))
    elif isinstance(spec, list):
        for i, item in enumerate(spec):
            label = f"{where}[{item['name']}]" if isinstance(item, dict) and "name" in item \
                else f"{where}[{i}]"
            if isinstance(item, dict) and {"name", "value"} <= item.keys() and \
                    where.endswith("environment"):
                if sensitive_name(str(item["name"])) or _mask_scalar(item["value"]) == MASK:
                    found.append(label)
                continue
            found.extend(credential_names(item, label))
    elif isinstance(spec, str) and _mask_scalar(spec) == MASK:
        found.append(where)
    return found


def mask_text(text: str) -> str:
    """Mask credential-looking substrings in free text (log lines, error messages)."""
    return _random_tokens(SENSITIVE_VALUE.sub(MASK, text))
