"""`reconciler rollout status|wait` and `apply --wait` against the embedded default (moto
and its service-deployment simulation), the embedded clock run fast: a canary, a blue/green
and a linear service apply, diff clean, roll out and succeed; a revision whose tasks fail is
rolled back, and the commands exit 1 saying why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.embedded import EmbeddedAws
from tests.conftest import cli, cli_json
from tests.support_rollouts import CANARY, estate, release


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The embedded clock stands still but for the commands' own waits, each of which moves
    it 30 seconds: every look at a rollout is at a known moment, none waits for real."""
    from reconciler.cli import rollout
    from reconciler.embedded.clock import CLOCK
    from tests.support_rollouts import clock_speed

    async def tick(_seconds: float) -> None:
        CLOCK.advance(30)

    monkeypatch.setattr(rollout, "pause", tick)
    with clock_speed(0):
        yield


@pytest.mark.usefixtures("fast")
def test_every_strategy_applies_diffs_clean_and_rolls_out(aws: EmbeddedAws, tmp_path: Path
                                                          ) -> None:
    root = estate(tmp_path / "repo")
    assert cli("apply", str(root), "--wait", "--timeout", "10m").exit_code == 0
    code, out = cli_json("diff", str(root))
    assert code == 0, out

    release(root, "web", "nginx:1.28")
    result = cli("apply", str(root), "--wait", "--timeout", "1h")
    assert result.exit_code == 0, result.output
    assert f"{CANARY}: canary at 10 % of traffic on web:2" in result.output
    assert f"{CANARY}: succeeded: web:2 serves all traffic" in result.output
    assert "1 rollout(s) succeeded." in result.output
    for name in ("green", "steps"):
        release(root, name, "nginx:1.28")
    assert cli("apply", str(root)).exit_code == 0  # the clock stands still: both just started
    status = cli("rollout", "status", str(root))
    assert status.exit_code == 2 and "2 rollout(s) still moving." in status.output
    # later, from anywhere: the services the last apply changed are found by their tag
    result = cli("rollout", "wait", str(root), "--interval", "0.02", "--timeout", "1h")
    assert result.exit_code == 0, result.output
    assert "Service/rollouts/steps: linear: 50 % of traffic on steps:2" in result.output
    lines = result.output.splitlines()
    assert "Service/rollouts/green: succeeded: green:2 serves all traffic" in lines
    assert lines[-2:] == ["Service/rollouts/steps: succeeded: steps:2 serves all traffic",
                          "2 rollout(s) succeeded."]
    assert "web" not in result.output  # not changed by this revision
    assert cli_json("diff", str(root))[0] == 0


@pytest.mark.usefixtures("fast")
def test_a_rolled_back_revision_exits_1_with_why_and_is_held(aws: EmbeddedAws, tmp_path: Path
                                                             ) -> None:
    root = estate(tmp_path / "repo")
    assert cli("apply", str(root), "--wait").exit_code == 0
    sha = release(root, "web", "nginx:broken", fail=True)
    result = cli("apply", str(root), "--wait")
    assert result.exit_code == 1
    assert (f"error: {CANARY} rolled back: circuit breaker: 3 tasks failed (threshold 3)"
            in result.output)
    status = cli("rollout", "status", str(root), "-o", "json")
    assert status.exit_code == 1
    [rolled] = json.loads(status.output[:status.output.rindex("}") + 1])["rollouts"]
    assert (rolled["phase"], rolled["source"], rolled["target"]) == ("rolled back", "web:1",
                                                                    "web:2")
    assert rolled["gitRevision"] == sha
    diff = cli("diff", str(root))  # git says web:2, ECS runs web:1: held, and said plainly
    assert diff.exit_code == 2
    assert "rolled back by AWS: held until git changes it" in diff.output
    assert f"{CANARY}: rolled back to web:1: circuit breaker" in diff.output
    named = cli("rollout", "status", str(root), "--service", "green")
    assert named.exit_code == 0 and "green: succeeded" in named.output
