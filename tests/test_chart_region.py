"""Charts see the Region the reconciler deploys to as `aws.region`: a chart needs not ask for
it, and a Region nobody gave fails where it is used, saying how to give it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "manifests"


def reconciler(*args: str, region: str | None) -> Result:
    """The CLI as typed in a shell where AWS_REGION is `region` (or unset) and no profile."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env={
        "AWS_REGION": region, "AWS_DEFAULT_REGION": None, "RECONCILER_REGION": None,
        "AWS_CONFIG_FILE": "/nonexistent"})


def log_regions(text: str) -> set[str]:
    return {line.split(":", 1)[1].strip() for line in text.splitlines()
            if "awslogs-region:" in line}


def test_render_fills_the_region_from_the_environment_or_the_flag() -> None:
    assert log_regions(reconciler("render", str(EXAMPLES), region="ap-south-1").output) == {
        "ap-south-1"}
    flagged = reconciler("render", str(EXAMPLES), "--region", "us-east-2", region="ap-south-1")
    assert log_regions(flagged.output) == {"us-east-2"}


def test_an_unknown_region_renders_a_stand_in_and_says_so() -> None:
    out = reconciler("render", str(EXAMPLES), region=None)
    assert out.exit_code == 0 and log_regions(out.stdout) == {"us-east-1"}
    assert out.stderr.splitlines() == [
        "warning: no Region known (--region, AWS_REGION or the profile): charts render "
        "aws.region as us-east-1"]


def test_a_template_using_an_unknown_region_fails_at_its_line_saying_how() -> None:
    from reconciler.kinds import load_tree

    tree = load_tree(EXAMPLES)
    assert ("../charts/web-service/templates/task-definition.yaml:25: Release/accounting-api: "
            "chart web-service: aws.region is not known here: pass --region or set AWS_REGION"
            in [str(e) for e in tree.errors])


def test_validate_stays_offline_and_needs_no_region() -> None:
    out = reconciler("validate", str(EXAMPLES), region=None)
    assert out.exit_code == 0, out.stderr
    assert out.output.strip().endswith("manifest(s) valid.")


def test_a_values_region_still_wins(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(EXAMPLES.parent / "charts", tmp_path / "charts")
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    values = tmp_path / "manifests" / "apps" / "api.values.yaml"
    values.write_text(values.read_text() + "region: us-west-2\n")
    rendered = reconciler("render", str(tmp_path / "manifests"), region="eu-west-1").output
    assert log_regions(rendered) == {"us-west-2", "eu-west-1"}
