"""Reading manifests: multi-document YAML, line numbers, specFile."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.manifest import Path_
from reconciler.kinds import load_tree as load_path
from tests.conftest import write

TD = """apiVersion: reconciler/v1
kind: TaskDefinition
metadata:
  name: web
spec:
  containerDefinitions:
    - name: app
      image: nginx
"""


def test_multi_document_and_lines(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", TD + "---\n" + TD.replace("name: web", "name: api"))
    write(tmp_path, "sub/b.yml", TD.replace("name: web", "name: other"))
    result = load_path(tmp_path)
    assert not result.errors
    assert [m.name for m in result.manifests] == ["web", "api", "other"]
    api = result.manifests[1]
    assert api.file == "a.yaml" and api.line == 10
    assert api.line_of(("spec", "containerDefinitions", 0, "image")) == 17


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "apiVersion: reconciler/v1\nkind: Service\nmetadata: {name: [\n")
    result = load_path(tmp_path)
    [err] = result.errors
    assert err.file == "bad.yaml" and err.line >= 3 and "invalid YAML" in err.message


def test_spec_file_in_describe_form(tmp_path: Path) -> None:
    described = {"taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/web:3", "family": "web",
        "revision": 3, "status": "ACTIVE", "compatibilities": ["EC2"],
        "requiresAttributes": [], "registeredAt": "2026-01-01T00:00:00Z",
        "containerDefinitions": [{"name": "app", "image": "nginx"}]}}
    write(tmp_path, "web.json", json.dumps(described))
    write(tmp_path, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
          "metadata: {name: web}\nspecFile: web.json\n")
    [m] = load_path(tmp_path).manifests
    assert m.spec == {"containerDefinitions": [{"name": "app", "image": "nginx"}]}


def test_spec_file_family_must_match(tmp_path: Path) -> None:
    write(tmp_path, "web.json", json.dumps({"family": "other", "containerDefinitions": []}))
    write(tmp_path, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
          "metadata: {name: web}\nspecFile: web.json\n")
    [err] = load_path(tmp_path).errors
    assert "family 'other'" in err.message and err.line == 4


def test_spec_file_missing(tmp_path: Path) -> None:
    write(tmp_path, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
          "metadata: {name: web}\nspecFile: nope.json\n")
    [err] = load_path(tmp_path).errors
    assert err.file == "web.yaml" and "not found" in err.message


TRICKY = """\
base: &base {cpu: '256', memory: 512, essential: yes, on: off, ratio: 1.5, none: ~}
merged:
  <<: *base
  memory: 1024
list: &items [a, 1, "2", true, null, 2026-11-22, 0x1F, 1_000]
again: *items
80: numeric key
nested: {deep: [{name: x, values: [1, {y: z}]}]}
empty: {}
none_list: []
quoted: "yes"
same_text: [true, 'true', "true", 1.5, '1.5', ~, '~', 2026-11-22, '2026-11-22']
---
- top
- level: list
"""


def _reference(text: str) -> list[tuple[object, dict[Path_, int]]]:
    """PyYAML's own loader (without the tag memo) and constructor, and a separate walk for
    the lines: what _build must equal."""
    from reconciler.core.manifest import _BaseLoader, _walk_lines

    loader = _BaseLoader(text)
    out = []
    try:
        while loader.check_node():
            node = loader.get_node()
            lines: dict[Path_, int] = {}
            _walk_lines(node, (), lines)
            out.append((loader.construct_document(node), lines))
    finally:
        loader.dispose()
    return out


def _fast(text: str) -> list[tuple[object, dict[Path_, int]]]:
    from reconciler.core.manifest import LoadError, parse_documents

    docs = []
    for item in parse_documents(text, "t.yaml"):
        assert not isinstance(item, LoadError), item
        docs.append((item[0], item[2]))
    return docs


def _same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (1 is not True, "2" is not 2)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b)


def test_fast_yaml_building_equals_pyyaml_on_tricky_input() -> None:
    ref, fast = _reference(TRICKY), _fast(TRICKY)
    assert len(ref) == len(fast) == 2
    for (rd, rl), (fd, fl) in zip(ref, fast, strict=True):
        assert rl == fl
        assert _same(rd, fd), (rd, fd)


def test_fast_yaml_building_equals_pyyaml_on_every_yaml_file_here() -> None:
    from tests.conftest import REPO

    files = [p for d in ("manifests", "charts", "deploy", "tests/fixtures")
             for p in (REPO / d).rglob("*.y*ml")]
    shared = REPO.parent / "shared" / "corpus"
    files += list(shared.rglob("*.y*ml")) if shared.exists() else []
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        if "{{" in text or "{%" in text:  # chart templates are not YAML until rendered
            continue
        ref, fast = _reference(text), _fast(text)
        assert [d for d, _ in ref] == [d for d, _ in fast], path
        assert [ln for _, ln in ref] == [ln for _, ln in fast], path


def test_an_unhashable_key_is_an_error_naming_its_line() -> None:
    from reconciler.core.manifest import LoadError, parse_documents

    [err] = list(parse_documents("a: 1\n? [complex, key]\n: value\n", "t.yaml"))
    assert isinstance(err, LoadError) and err.line == 2 and "unhashable" in err.message


def test_an_anchor_used_inside_itself_is_an_error_not_a_crash() -> None:
    from reconciler.core.manifest import LoadError, parse_documents

    [err] = list(parse_documents("kind: Service\nspec: &r\n  self: *r\n", "t.yaml"))
    assert isinstance(err, LoadError) and "inside itself" in err.message and err.line == 2
