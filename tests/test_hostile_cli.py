"""Hostile input through the real CLI against moto: every input issue 12 lists (and others in
its spirit) makes `reconciler validate`, `diff` and `apply` exit 1 with a `file:line`
message, never a traceback, within bounded memory, and applies nothing. Then the spellings
the README promises, applied for real.

The hostile commands run in one child process (one interpreter start for ~70 commands, each
through the CLI's own entry point, `tests/support_hardening.py drive`) under RLIMIT_AS of
1.5 GB and a CPU-time limit, so a regression fails the test instead of eating the machine;
the alias bomb also runs as a `reconciler` process of its own."""

from __future__ import annotations

import fcntl
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.embedded import EmbeddedAws
from tests.conftest import REGION, REPO, cli, write
from tests.support_hardening import COMMANDS, OUTSIDE, build_case, hostile_cases

MEMORY_LIMIT = 1536 << 20
CPU_SECONDS = 120  # a hang guard: the whole child, every case and command


def bounded() -> None:
    """In the child, before exec: address space and CPU time limited."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def child_env() -> dict[str, str]:
    # glibc reserves 64 MB of address space per thread arena: without a cap the AWS adapter's
    # threads alone would count towards RLIMIT_AS
    return {**os.environ, "MALLOC_ARENA_MAX": "2", "NO_COLOR": "1"}


def live_inventory() -> dict[str, list[str]]:
    """Everything an apply could have made, as moto has it."""
    ecs = boto3.client("ecs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    return {"clusters": [a.rsplit("/", 1)[-1] for a in ecs.list_clusters()["clusterArns"]],
            "families": ecs.list_task_definition_families()["families"],
            "rules": [r["Name"] for r in events.list_rules()["Rules"]]}


def run_every_case(top: Path) -> dict[str, Any]:
    """Build every case under `top`, run the child once, and read moto afterwards."""
    outside = top / OUTSIDE
    outside.write_text(json.dumps({"family": "job", "containerDefinitions": [
        {"name": "app", "image": "attacker/exfiltrate:1"}]}))
    outside.with_suffix(".yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Cluster\nmetadata: {name: evil}\nspec: {}\n")
    paths = {name: str(build_case(top / f"case{i}", case))
             for i, (name, case) in enumerate(hostile_cases(outside).items())}
    proc = subprocess.run([sys.executable, "-m", "tests.support_hardening", *paths.values()],
                          cwd=REPO, env=child_env(), preexec_fn=bounded, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"the child died ({proc.returncode}):\n{proc.stderr[-3000:]}"
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for line in proc.stdout.splitlines():
        run = json.loads(line)
        runs.setdefault(run["path"], {})[run["command"]] = run
    return {"outside": str(outside), "paths": paths, "runs": runs, "live": live_inventory()}


@pytest.fixture(scope="module")
def outcomes(moto_server: EmbeddedAws, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Any]:
    """Every case's three commands, run once per test run: under xdist the first worker to
    get here runs them (on its moto, reset first) and the others read its results."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:
        moto_server.reset()
        found = run_every_case(tmp_path_factory.mktemp("hostile"))
    else:
        shared = tmp_path_factory.getbasetemp().parent / f"hostile-{run_id}"
        shared.mkdir(exist_ok=True)
        with (shared / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = shared / "outcomes.json"
            if not done.exists():
                moto_server.reset()
                done.write_text(json.dumps(run_every_case(shared)))
            found = json.loads(done.read_text())
    found["cases"] = hostile_cases(Path(found["outside"]))
    return found


@pytest.mark.parametrize("name", list(hostile_cases(Path("/") / OUTSIDE)))
def test_hostile_input_is_refused_by_every_command(
    name: str, outcomes: dict[str, Any], record_property: Callable[[str, object], None]
) -> None:
    case, path = outcomes["cases"][name], outcomes["paths"][name]
    runs = outcomes["runs"].get(path, {})
    assert set(runs) == set(COMMANDS)
    for command in COMMANDS:
        run = runs[command]
        text = run["stdout"] + run["stderr"]
        assert run["code"] == 1, (command, text[-2000:])
        assert "Traceback" not in text, (command, text[-2000:])
        located = [ln for ln in run["stderr"].splitlines()
                   if ln.startswith(f"{case.file}:{case.line}: ") and case.words in ln]
        assert located, (command, case.file, case.line, case.words, run["stderr"][-2000:])
        assert "nothing was applied" in run["stderr"]
        record_property(f"{command}_seconds", run["seconds"])
    record_property("child_max_rss_mb", runs["apply"]["max_rss_mb"])
    # nothing at all was applied: not this case's own valid Cluster, nor anything else
    assert Path(path).parent.name not in outcomes["live"]["clusters"]
    assert outcomes["live"] == {"clusters": [], "families": [], "rules": []}


def test_the_reconciler_command_itself_is_bounded(outcomes: dict[str, Any]) -> None:
    """The same, through `python -m reconciler` in a process of its own."""
    name = "alias bomb (9 levels)"
    case, path = outcomes["cases"][name], outcomes["paths"][name]
    proc = subprocess.run([sys.executable, "-m", "reconciler", "validate", path],
                          env=child_env(), preexec_fn=bounded, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"{case.file}:{case.line}: ")


SPELLINGS = {"ints": (512, 1024), "strings": ('"512"', '"1024"'),
             "units": ('"0.5 vCPU"', '"1 GB"'), "aws-doc-units": ('"0.5 vcpu"', '"1GB"')}


def test_every_documented_cpu_and_memory_spelling_is_applied_as_aws_wants(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    """README: task-level cpu/memory may be 256, "256", "0.25 vCPU" or "1 GB". Each reaches
    AWS as the string it takes, and the next diff is empty."""
    root = tmp_path / "manifests"
    write(root, "reconciler.yaml", "controller: spellings\n")
    for name, (cpu, memory) in SPELLINGS.items():
        write(root, f"{name}.yaml", f"""apiVersion: reconciler/v1
kind: TaskDefinition
metadata: {{name: spell-{name}}}
spec:
  requiresCompatibilities: [FARGATE]
  networkMode: awsvpc
  cpu: {cpu}
  memory: {memory}
  containerDefinitions: [{{name: app, image: "nginx:1.25"}}]
""")
    result = cli("apply", str(root))
    assert result.exit_code == 0, result.output
    ecs = boto3.client("ecs", region_name=REGION)
    for name in SPELLINGS:
        td = ecs.describe_task_definition(taskDefinition=f"spell-{name}")["taskDefinition"]
        assert (td["cpu"], td["memory"]) == ("512", "1024"), name
    assert cli("diff", str(root)).exit_code == 0


def test_an_old_console_export_full_of_nulls_loads_with_one_warning(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    """The old ECS console exported every absent member as null: one warning for the file,
    not an error per null, and it applies."""
    export = {
        "family": "web", "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:"
        "task-definition/web:3", "revision": 3, "status": "ACTIVE", "ipcMode": None,
        "pidMode": None, "taskRoleArn": None, "runtimePlatform": None,
        "proxyConfiguration": None, "inferenceAccelerators": None, "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"], "compatibilities": ["EC2", "FARGATE"],
        "cpu": "256", "memory": "512", "volumes": [], "placementConstraints": [],
        "requiresAttributes": [{"targetId": None, "targetType": None, "value": None,
                                "name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        "containerDefinitions": [{
            "name": "web", "image": "nginx:1.25", "essential": True, "cpu": 0,
            "portMappings": [{"hostPort": 80, "protocol": "tcp", "containerPort": 80}],
            "environment": [{"name": "MODE", "value": "prod"}], "mountPoints": [],
            "volumesFrom": [], **dict.fromkeys((
                "command", "entryPoint", "dnsSearchDomains", "environmentFiles",
                "linuxParameters", "resourceRequirements", "ulimits", "dnsServers",
                "workingDirectory", "secrets", "dockerSecurityOptions", "memory",
                "memoryReservation", "stopTimeout", "startTimeout", "firelensConfiguration",
                "dependsOn", "disableNetworking", "interactive", "healthCheck", "links",
                "hostname", "extraHosts", "pseudoTerminal", "user", "readonlyRootFilesystem",
                "dockerLabels", "systemControls", "privileged", "logConfiguration"))}],
    }
    root = tmp_path / "manifests"
    write(root, "reconciler.yaml", "controller: console\n")
    write(root, "web.json", json.dumps(export, indent=2))
    write(root, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
                            "metadata: {name: web}\nspecFile: web.json\n")
    result = cli("validate", str(root))
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.output.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and warnings[0].startswith("web.yaml:4: warning: ")
    assert "null" in warnings[0]
    assert cli("apply", str(root)).exit_code == 0
    assert cli("diff", str(root)).exit_code == 0
