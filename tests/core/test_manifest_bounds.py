"""The loader's and the chart sandbox's bounds, pure (issue 12): what any pushed revision can
make the controller do is bounded, fails at its file and line, and leaves every legitimate
input exactly as it was. Ported from the staging tests that measured the bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reconciler.core import charts, manifest
from reconciler.core.charts import _template_line
from reconciler.core.files import read_text
from reconciler.core.manifest import (
    MAX_DEPTH,
    MAX_INT_CHARS,
    LoadError,
    parse_documents,
)
from reconciler.core.sandbox import chart_env, render_chart
from tests.conftest import MANIFESTS


def errors(text: str) -> list[str]:
    return [str(x) for x in parse_documents(text, "f.yaml") if isinstance(x, LoadError)]


def bomb(levels: int, width: int = 9) -> str:
    out = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    out += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]"
            for i in range(1, levels)]
    return "\n".join(out) + "\n"


# --- YAML ------------------------------------------------------------------------------------

FLOOR = 2_000  # the bounds' logic at a size a unit test walks in milliseconds (the real
# floor's bomb runs in tests/test_hostile_cli.py)


@pytest.fixture
def small_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest, "ALIAS_FLOOR", FLOOR)


def test_an_alias_bomb_fails_at_the_line_of_the_alias_that_overflows(small_floor: None) -> None:
    """9**9 leaves are never built: the alias past the limit is charged before it is walked
    (line 4: a3 would expand to 9**4 = 6,561 nodes)."""
    [err] = errors(bomb(9))
    assert err == f"f.yaml:4: aliases expand this file to more than {FLOOR} nodes " \
                  "(a YAML alias bomb?)"


def test_small_expansions_and_their_data_are_unchanged(small_floor: None) -> None:
    text = bomb(3)  # 9**2 = 81 leaves: fine
    [(data, _, _)] = [x for x in parse_documents(text, "f") if not isinstance(x, LoadError)]
    assert data == yaml.safe_load(text)
    [err] = errors("a: &a [*a]\n")
    assert "anchor used inside itself" in err


def test_a_big_file_may_expand_by_a_bounded_ratio_past_the_floor(small_floor: None) -> None:
    """About 400 distinct nodes and an anchor of 30 used 80 times: 2,400 > the floor but
    under ten times the file; 200 uses is past ten times the file (then about 530 nodes)."""
    head = "base: &b [" + ", ".join(f"v{i}" for i in range(30)) + "]\n"
    body = "".join(f"k{i}: [" + ", ".join(f"w{i}_{j}" for j in range(10)) + "]\n"
                   for i in range(27))
    assert errors(head + body + "uses: [" + ", ".join(["*b"] * 80) + "]\n") == []
    [err] = errors(head + body + "uses: [" + ", ".join(["*b"] * 200) + "]\n")
    assert "aliases expand this file to more than" in err and str(FLOOR) not in err


def test_alias_accounting_does_not_leak_across_documents() -> None:
    """Node ids of a finished document are reused by the next one: 2,000 documents, each
    with a small alias, are 2,000 small documents, not one big bomb."""
    text = "---\n".join(["a: &a [x, {k: v}]\nb: *a\nc: [1, 2]\n"] * 2000)
    docs = list(parse_documents(text, "f"))
    assert len(docs) == 2000 and not any(isinstance(d, LoadError) for d in docs)


def test_duplicate_keys_are_errors_where_the_second_one_is() -> None:
    assert errors("a: 1\nb: 2\na: 3\n") == ["f.yaml:3: duplicate key 'a' (first at line 1)"]
    assert errors("x:\n  a: x\n  a: y\n") == ["f.yaml:3: duplicate key 'a' (first at line 2)"]
    assert errors("m: {1: a, 1: b}\n") == ["f.yaml:1: duplicate key '1' (first at line 1)"]
    assert errors("b: &b {x: 1}\nm: {<<: *b, x: 2}\n") == []  # a merge is overridden, not doubled
    assert errors("m: {1: a, '1': b}\n") == []  # the int 1 and the string '1' differ


def test_integers_are_bounded_before_python_converts_them() -> None:
    assert errors("n: " + "9" * MAX_INT_CHARS + "\n") == []
    assert errors("n: " + "9" * (MAX_INT_CHARS + 1) + "\n") == [
        f"f.yaml:1: integer of {MAX_INT_CHARS + 1} characters (at most {MAX_INT_CHARS})"]
    assert errors("n: " + "9" * 5000 + "\n") == [
        f"f.yaml:1: integer of 5000 characters (at most {MAX_INT_CHARS})"]
    assert errors("n: '" + "9" * 5000 + "'\n") == []  # a quoted string is not an integer


def test_nesting_is_bounded() -> None:
    n = MAX_DEPTH
    assert errors("a: " + "[" * n + "]" * n + "\n") == []
    assert errors("a: " + "[" * (n + 1) + "]" * (n + 1) + "\n") == [
        f"f.yaml:1: nested deeper than {MAX_DEPTH} levels"]
    assert errors("a: " + "[" * 600 + "]" * 600 + "\n") == [
        f"f.yaml:1: nested deeper than {MAX_DEPTH} levels"]  # no RecursionError


@pytest.mark.parametrize("raw, expect", [
    (b"a: caf\xc3\xa9\n", None),
    (b"\xef\xbb\xbfa: b\n", None),  # a byte-order mark is allowed
    (b"a: b\nc: caf\xe9\n", "x.yaml:2: not UTF-8 text: byte 0xe9 at offset 11 "
                            "(invalid continuation byte)"),
    (b"a: b\n\nc: \x00\n", "x.yaml:3: not UTF-8 text: a binary file (NUL byte at offset 9)"),
    ("a: b\n".encode("utf-16"), "x.yaml:1: not UTF-8 text: a binary file (NUL byte at offset 3)"),
])
def test_files_are_utf8_text(tmp_path: Path, raw: bytes, expect: str | None) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(raw)
    text = read_text(path, "x.yaml")
    if expect is None:
        assert isinstance(text, str) and text.startswith("a: ")
    else:
        assert str(text) == expect


def test_a_link_is_named_where_it_lies(tmp_path: Path) -> None:
    root = tmp_path / "repo" / "manifests"
    root.mkdir(parents=True)
    (root / "evil.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    assert manifest.display_path(root / "evil.yaml", root) == "evil.yaml"


# --- chart templates -------------------------------------------------------------------------

TOO_SLOW = ("steps (nested loops?)", "longer than")  # whichever bound a loaded machine hits
HOSTILE: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "str * n": ("a: 1\nb: {{ 'a' * 3000000000 }}\n", 2, ("3,000,000,000 long",)),
    "str * variable": ("{% set n = 3000000000 %}\nb: {{ 'a' * n }}\n", 2,
                       ("3,000,000,000 long",)),
    "list * n": ("b: {{ [1] * 300000000 }}\n", 1, ("300,000,000 long",)),
    "nested range": ("x\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                     "{% endfor %}\n", 2, TOO_SLOW),
    "nested range with output": ("x\n{% for i in range(100000) %}{% for j in range(100000) %}"
                                 "{{ j }}{% endfor %}{% endfor %}\n", 2, TOO_SLOW),
    "nested loops over a string": ("{% set s = 'a' * 100000 %}\n{% for c in s %}"
                                   "{% for d in s %}{% endfor %}{% endfor %}\n", 2, TOO_SLOW),
    "doubling with ~": ("{% set a = 'x' * 1000 %}\n" + "{% set a = a ~ a %}\n" * 40
                        + "{{ a|length }}\n", 11, ("the result of ~",)),
    "ljust": ("a: {{ 'a'.ljust(3000000000) }}\n", 1, ("argument 3000000000",)),
    "center filter": ("a: {{ 'a'|center(3000000000) }}\n", 1, ("argument 3000000000",)),
    "format width": ("a: {{ '{:>3000000000}'.format(1) }}\n", 1, ("format field width",)),
    "% width": ("a: {{ '%3000000000d' % 1 }}\n", 1, ("format field width",)),
    "power": ("a: {{ 10 ** 100000000 }}\n", 1, ("bits",)),
    "squaring in a loop": ("{% set ns = namespace(x=3) %}\n{% for i in range(40) %}"
                           "{% set ns.x = ns.x * ns.x %}{% endfor %}\n", 2, ("bits",)),
    "replace ''": ("{% set s = 'a' * 100000 %}\na: {{ s.replace('', s)|length }}\n", 2,
                   ("the result of replace",)),
    "exponential macro": ("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}"
                          "{% endmacro %}\n{{ m(40) }}\n", 1, TOO_SLOW),
    "set block": ("{% set big %}{% for i in range(100000) %}{{ 'a' * 100000 }}{% endfor %}"
                  "{% endset %}\n{{ big|length }}\n", 1, ("characters or items in all",)),
    "include": ("a: 1\n{% include 'secrets.yaml' %}\n", 2, ("{% include %} is not supported",)),
    "import": ("\n\n{% import 'lib.j2' as lib %}\n", 3, ("{% import %} is not supported",)),
    "extends": ("{% extends 'base.yaml' %}\n", 1, ("{% extends %} is not supported",)),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_template_fails_at_its_line(name: str) -> None:
    source, line, words = HOSTILE[name]
    with pytest.raises(TemplateError) as caught:  # a fifth of the time budget: same bounds
        render_chart(chart_env(), source, {}, "t.yaml", budget=0.2)
    exc = caught.value
    where = exc.lineno if isinstance(exc, TemplateSyntaxError) else _template_line(exc)
    assert where == line, str(exc)
    assert any(w in str(exc) for w in words), str(exc)


def test_unbounded_recursion_is_a_recursion_error_at_its_line() -> None:
    with pytest.raises(RecursionError) as caught:
        render_chart(chart_env(), "{% macro m() %}{{ m() }}{% endmacro %}\n{{ m() }}\n", {},
                     "t.yaml")
    assert _template_line(caught.value) == 1


def test_the_repository_charts_render_exactly_as_unbounded_jinja(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every template of every Release in manifests/ renders, with the bounds, to the very
    text the plain sandbox gives."""
    seen: list[tuple[str, dict[str, Any], str]] = []

    def spy(env: Any, source: str, context: dict[str, Any], name: str | None = None,
            budget: float = 1.0) -> str:
        out = render_chart(env, source, context, name, budget)
        seen.append((source, context, out))
        return out

    monkeypatch.setattr(charts, "render_chart", spy)
    from reconciler.kinds import load_tree

    assert load_tree(MANIFESTS, region="eu-west-1").ok
    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                          keep_trailing_newline=True)
    plain.filters["tojson"] = plain.filters["toyaml"] = _json
    assert len(seen) > 10
    for source, context, bounded in seen:
        assert plain.from_string(source).render(context) == bounded


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)
