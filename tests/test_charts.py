"""Charts and releases: expansion, values validation with file:line, safe templates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.embedded import EmbeddedAws
from reconciler.kinds import load_tree
from tests.conftest import MANIFESTS, REGION, REPO, cli, cli_json, seed_for, write
from tests.support_hooks import fast_clock


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the example repository: manifests/ beside charts/."""
    shutil.copytree(MANIFESTS, tmp_path / "manifests")
    shutil.copytree(REPO / "charts", tmp_path / "charts")
    return tmp_path


def test_example_manifests_use_charts_and_render() -> None:
    """render expands every Release of the example manifests into plain, annotated manifests."""
    result = cli("render", str(MANIFESTS), "--region", REGION)
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.output))
    rendered = [d for d in docs if "reconciler/rendered-from" in d["metadata"].get(
        "annotations", {})]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert ("Service", "accounting-api") in kinds and ("ScalableTarget", "accounting-api") in kinds
    assert ("ScheduledTask", "accounting-nightly-heavy") in kinds
    assert ("Service", "accounting-api-stg") in kinds
    assert all(d["kind"] != "Release" for d in docs)


def test_environments_share_values_and_differ_in_size() -> None:
    """prd and stg share their values and differ only in size."""
    by_name = {m.name: m for m in load_tree(MANIFESTS, region=REGION).manifests if m.kind == "TaskDefinition"}
    prd, stg = by_name["accounting-api"], by_name["accounting-api-stg"]
    assert (prd.spec["cpu"], stg.spec["cpu"]) == ("1024", "256")
    assert prd.spec["containerDefinitions"][0]["image"] == stg.spec["containerDefinitions"][0][
        "image"]
    heavy, light = by_name["accounting-nightly-heavy"], by_name["accounting-nightly-light"]
    assert (heavy.spec["cpu"], light.spec["cpu"]) == ("4096", "512")


def _set_value(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_wrongly_typed_value_names_chart_value_and_line(repo: Path) -> None:
    """A wrongly typed value is reported with the chart, the value and its line."""
    prd = repo / "manifests/environments/prd.yaml"
    _set_value(prd, "    cpu: 1024\n", "    cpu: lots\n")
    result = cli("validate", str(repo / "manifests"))
    assert result.exit_code == 1
    line = prd.read_text().splitlines().index("    cpu: lots") + 1
    assert (f"environments/prd.yaml:{line}: Release/accounting-api: chart web-service: "
            "values.cpu: 'lots' is not one of") in result.output


def test_missing_value_names_chart_and_release(repo: Path) -> None:
    """A missing required value names the chart and the release."""
    values = repo / "manifests/apps/api.values.yaml"
    _set_value(values, "image: 123456789012", "#image: 123456789012")
    result = cli("validate", str(repo / "manifests"))
    assert result.exit_code == 1
    assert "Release/accounting-api: chart web-service: values: 'image' is a required property" in (
        result.output)
    assert "environments/prd.yaml:" in result.output


def test_value_from_a_values_file_points_at_that_file(repo: Path) -> None:
    """A bad value read from a values file is reported at that file's line."""
    values = repo / "manifests/apps/worker.values.yaml"
    _set_value(values, "execEnabled: true", "execEnabled: sometimes")
    result = cli("validate", str(repo / "manifests"))
    line = values.read_text().splitlines().index(
        "execEnabled: sometimes          # developers run management commands from a shell") + 1
    assert f"apps/worker.values.yaml:{line}: Release/accounting-worker: chart worker: " \
           "values.execEnabled: 'sometimes' is not of type 'boolean'" in result.output


def test_undefined_value_in_a_template_is_an_error(repo: Path) -> None:
    """A template naming an undefined value is an error at the template."""
    template = repo / "charts/worker/templates/service.yaml"
    _set_value(template, "  desiredCount: {{ values.desiredCount }}",
               "  desiredCount: {{ values.desiredCuont }}")
    result = cli("validate", str(repo / "manifests"))
    assert result.exit_code == 1
    assert "charts/worker/templates/service.yaml:" in result.output
    assert "desiredCuont" in result.output


def test_templates_cannot_reach_python(repo: Path) -> None:
    """Templates are sandboxed: Python internals are refused."""
    template = repo / "charts/worker/templates/service.yaml"
    _set_value(template, "  desiredCount: {{ values.desiredCount }}",
               "  desiredCount: {{ ''.__class__.__mro__[1].__subclasses__() }}")
    result = cli("validate", str(repo / "manifests"))
    assert result.exit_code == 1
    assert "unsafe" in result.output or "__class__" in result.output


def test_chart_by_path_and_unknown_chart(repo: Path) -> None:
    """An unknown chart is an error at its line; a chart given by path is found."""
    write(repo, "manifests/extra.yaml", """apiVersion: reconciler/v1
kind: Release
metadata: {name: x, cluster: accounting-prd}
spec:
  chart: nope
""")
    result = cli("validate", str(repo / "manifests"))
    assert "extra.yaml:5: Release/x: chart 'nope' not found" in result.output
    write(repo, "manifests/extra.yaml", """apiVersion: reconciler/v1
kind: Release
metadata: {name: accounting-worker-dev, cluster: accounting-stg}
spec:
  chart: ../charts/worker
  valuesFrom: [apps/worker.values.yaml]
  values:
    subnets: [subnet-1]
    securityGroups: [sg-1]
""")
    assert cli("validate", str(repo / "manifests")).exit_code == 0


def test_a_chart_whose_schema_is_not_a_schema_is_an_error_at_each_release(repo: Path) -> None:
    """The metaschema check is remembered per schema text: a broken schema is still reported
    for every Release of the chart, and mended, it is read anew."""
    schema = repo / "charts" / "web-service" / "values.schema.json"
    good = schema.read_text()
    schema.write_text(json.dumps({"type": "no-such-type"}))
    first = cli("validate", str(repo / "manifests"))
    assert first.exit_code == 1
    assert "chart web-service: values.schema.json is not a valid schema: 'no-such-type' is not" \
        in first.output
    again = cli("validate", str(repo / "manifests"))
    assert again.exit_code == 1 and again.output == first.output
    schema.write_text(good)
    assert cli("validate", str(repo / "manifests")).exit_code == 0


def test_examples_apply_then_a_new_environment_is_one_file(aws: EmbeddedAws, repo: Path) -> None:
    """The example repository applies and then diffs empty; a new environment is one more
    file: diff lists its cluster and services, and apply converges."""
    root = repo / "manifests"
    seed_for(aws, root)
    with fast_clock():  # the API's migration (a PreSync hook) runs first
        assert cli("apply", str(root)).exit_code == 0
    code, out = cli_json("diff", str(root))
    assert code == 0, out
    dev = (root / "environments/stg.yaml").read_text().replace("-stg", "-dev").replace(
        "stg", "dev").replace("subnet-0a1b2c3d4e5f60101", "subnet-0a1b2c3d4e5f60201").replace(
        "sg-0a1b2c3d4e5f60101", "sg-0a1b2c3d4e5f60201").replace("abcdee", "abcded")
    (root / "environments/dev.yaml").write_text(dev)
    seed_for(aws, root)
    _code, out = cli_json("diff", str(root))
    names = {(c["kind"], c["name"]) for c in out["changes"]}
    assert ("Cluster", "accounting-dev") in names and ("Service", "accounting-api-dev") in names
    assert all(c["action"] in ("create", "run") for c in out["changes"]), out["changes"]
    with fast_clock():  # the dev API's migration (a PreSync hook) runs first
        assert cli("apply", str(root)).exit_code == 0
    assert cli("diff", str(root)).exit_code == 0


def test_render_json(repo: Path) -> None:
    """render -o json prints one document per manifest."""
    result = cli("render", str(repo / "manifests"), "-o", "json", "--region", REGION)
    docs: list[dict[str, Any]] = json.loads(result.output)
    assert len(docs) == len(load_tree(repo / "manifests", region=REGION).manifests)
