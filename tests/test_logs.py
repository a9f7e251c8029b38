"""Logs (issue 17): JSON on every stderr line, the standard library's loggers included;
exceptions as a structured field without frame locals; secrets masked at any depth; `serve`
at info with one `pass.done` line per pass; alerts on stdout as they happen."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import structlog

from reconciler.cli import logs
from reconciler.embedded import EmbeddedAws
from tests.conftest import EXAMPLES, REGION, seed_for
from tests.support_operator import (
    SMALL_TREE,
    Running,
    clean_env,
    console_script,
    edit,
    write_tree,
)

SECRETS = ("AKIAABCDEFGHIJKLMNOP", "postgres://app:s3cr3t-pw@db.internal/ledger",
           "ghp_0123456789abcdefghijABCDEFGHIJ012345")
LEAKS = ("AKIAABCDEFGHIJKLMNOP", "s3cr3t-pw", "ghp_0123456789abcdefghijABCDEFGHIJ012345")
URL_MASKED = "postgres(sensitive)db.internal/ledger"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line as JSON: a line that is not fails the test."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return out


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """logs.configure in this process, writing to the captured stderr; the logging set-up of
    the process is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield lambda fmt: logs.configure("info", fmt)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


# --- every line ---------------------------------------------------------------------------------


def test_every_stderr_line_is_json_botocores_included(aws: EmbeddedAws) -> None:
    """botocore warns (an app id over its 50 characters) while the reconciler logs at
    debug: one pipeline, so every line parses, whoever wrote it."""
    env = clean_env(AWS_SDK_UA_APP_ID="x" * 60)
    args = [console_script(), "--log-level", "debug", "--log-format", "json", "diff",
            str(EXAMPLES), "--target", "Cluster/accounting-prd"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = json_lines(done.stderr)
    loggers = {line.get("logger") for line in lines}
    assert "botocore.args" in loggers
    assert "asyncio" in loggers  # the standard library's own, at debug
    warned = next(line for line in lines if line.get("logger") == "botocore.args")
    assert warned["level"] == "warning" and "user_agent_appid" in warned["event"]

    console = subprocess.run([*args[:4], "console", *args[5:]], env=env, capture_output=True,
                             text=True, timeout=120)
    assert console.returncode == 2
    shown = [line for line in console.stderr.splitlines() if "user_agent_appid" in line]
    assert shown and "botocore.args" in shown[0]
    assert "\x1b[" not in console.stderr  # a pipe is not a terminal: no colour codes
    for line in console.stderr.splitlines():
        with pytest.raises(ValueError):
            json.loads(line)


# --- exceptions and secrets ---------------------------------------------------------------------


def failing(password: str = SECRETS[0]) -> None:
    raise RuntimeError(f"describe failed for {SECRETS[1]}")


def test_an_exception_is_a_structured_traceback_without_locals(
        configured: Any, capsys: pytest.CaptureFixture[str]) -> None:
    configured("json")
    try:
        failing()
    except RuntimeError:
        structlog.get_logger("reconciler.controller.loop").exception("pass.failed")
        logging.getLogger("aiohttp.server").exception("Error handling request")
    own, foreign = json_lines(capsys.readouterr().err)
    for line in (own, foreign):
        assert "exc_info" not in line
        [exc] = line["exception"]
        assert exc["exc_type"] == "RuntimeError"
        assert exc["exc_value"] == f"describe failed for {URL_MASKED}"
        assert [f["name"] for f in exc["frames"]][-1] == "failing"
        assert all("locals" not in f for f in exc["frames"])
    assert (own["event"], foreign["logger"]) == ("pass.failed", "aiohttp.server")


def test_on_a_console_the_traceback_is_text_without_locals(
        configured: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """rich, when installed, would print each frame's variables (a password among them)."""
    configured("console")
    try:
        failing()
    except RuntimeError:
        structlog.get_logger("t").exception("pass.failed")
    err = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().err)
    assert "Traceback (most recent call last):" in err
    assert "in failing" in err
    assert f"RuntimeError: describe failed for {URL_MASKED}" in err
    for secret in LEAKS:
        assert secret not in err
    assert "password" not in err  # the frame's variable, by name or value


def test_a_secret_is_masked_at_any_depth(configured: Any,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    configured("json")
    structlog.get_logger("t").info(
        f"connecting with {SECRETS[0]}", url=SECRETS[1],
        deep={"a": [{"b": {"c": [SECRETS[2]]}}], "t": (SECRETS[0],)})
    logging.getLogger("botocore.credentials").warning("found key %s", SECRETS[0])
    err = capsys.readouterr().err
    for secret in LEAKS:
        assert secret not in err
    own, foreign = json_lines(err)
    assert own["deep"] == {"a": [{"b": {"c": ["(sensitive)"]}}], "t": ["(sensitive)"]}
    assert (own["event"], own["url"]) == ("connecting with (sensitive)", URL_MASKED)
    assert foreign["event"] == "found key (sensitive)"


# --- serve ----------------------------------------------------------------------------------------


def test_serve_logs_each_pass_at_info_and_alerts_reach_a_pipe_at_once(
        tmp_path: Path, aws: EmbeddedAws) -> None:
    """`reconciler serve` with no --log-level and no Slack, its output on pipes: a pass whose
    one service fails (a security group that does not exist, nothing written, so no recheck
    follows) logs one `pass.done` line with its counts, and the alert is on stdout while the
    process runs, not when it exits. stderr is JSON throughout."""
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="accounting-prd")
    arn = ecs.register_task_definition(family="ci-built", containerDefinitions=[
        {"name": "app", "image": "app:1", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    root = write_tree(tmp_path / "manifests", {
        "reconciler.yaml": SMALL_TREE["reconciler.yaml"],
        "service.yaml": SMALL_TREE["api/service.yaml"].replace(
            "taskDefinition: accounting-api", f"taskDefinition: {arn}")})
    seed_for(aws, root)
    edit(root / "service.yaml", "sg-0a1b2c3d4e5f60001", "sg-0000000000000dead")

    serve = Running([console_script(), "serve", "--dir", str(root), "--listen", "127.0.0.1:0",
                     "--resync", "3600", "--fetch-interval", "3600"], clean_env())
    try:
        listening = json.loads(serve.wait_for("stderr", lambda x: '"serve.listening"' in x))
        done = json.loads(serve.wait_for("stderr", lambda x: '"pass.done"' in x))
        alert = serve.wait_for("stdout", lambda x: x.startswith("[alert]"))
        assert serve.proc.poll() is None, "the alert only came out at exit"
        url = f"http://127.0.0.1:{listening['port']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            metrics = r.read().decode()
        assert serve.stop() == 0
    finally:
        serve.kill()

    assert alert == "[alert] :x: Apply failed for Service/accounting-prd/accounting-api"
    assert done["level"] == "info"
    assert {k: done[k] for k in ("resources", "pending", "failed", "held", "drifted")} == {
        "resources": 1, "pending": 1, "failed": 1, "held": 0, "drifted": 0}
    passes = sum(float(m) for m in re.findall(
        r'^reconciler_pass_duration_seconds_count\{[^}]*\} (\S+)$', metrics, re.M))
    lines = json_lines("\n".join(serve.lines["stderr"]))
    assert len([line for line in lines if line["event"] == "pass.done"]) == passes == 1
    assert not any(line["event"] == "apply.done" for line in lines)  # nothing was written
    assert "InvalidGroup.NotFound" in "\n".join(serve.lines["stdout"])
