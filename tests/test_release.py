"""What others install: the wheel, the GitHub Action (its script run locally against a
receiver answering like GitHub's API), the pre-commit hook, the image's pins. The full
`pip install` of the wheel into a fresh venv is .ci/check-wheel, run by .ci/run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import __version__
from reconciler.embedded import EmbeddedAws
from tests.conftest import EXAMPLES, REPO, seed_for

BIN = Path(sys.executable).parent


class GitHub:
    """A local stand-in for the GitHub REST API's issue comments."""

    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        github = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                n = int(self.headers.get("Content-Length", 0))
                return dict(json.loads(self.rfile.read(n) or b"{}"))

            def do_GET(self) -> None:
                github.calls.append(("GET", self.path))
                self._reply(200, github.comments)

            def do_POST(self) -> None:
                github.calls.append(("POST", self.path))
                github.comments.append({"id": len(github.comments) + 1, **self._body()})
                self._reply(201, github.comments[-1])

            def do_PATCH(self) -> None:
                github.calls.append(("PATCH", self.path))
                cid = int(self.path.rsplit("/", 1)[-1])
                github.comments[cid - 1].update(self._body())
                self._reply(200, github.comments[cid - 1])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def github() -> Iterator[GitHub]:
    api = GitHub()
    yield api
    api.server.shutdown()


def _run_action(workdir: Path, api: GitHub, event: Path, output: Path) -> int:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "INPUT_PATH": "manifests", "INPUT_COMMENT": "true", "GITHUB_TOKEN": "gh-test-token",
           "GITHUB_REPOSITORY": "acme/desired-state", "GITHUB_API_URL": api.url,
           "GITHUB_EVENT_PATH": str(event), "GITHUB_OUTPUT": str(output), "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "action/reconciler_action.py")],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
    return proc.returncode


def test_the_action_comments_the_plan_once_and_updates_it(
        tmp_path: Path, aws: EmbeddedAws, github: GitHub) -> None:
    """The action's script validates, plans against AWS (moto), posts one comment with the
    Markdown plan, sets its outputs, and on the next run edits that comment instead."""
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    seed_for(aws, tmp_path / "manifests")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    output = tmp_path / "output"
    assert _run_action(tmp_path, github, event, output) == 0
    assert [m for m, _ in github.calls] == ["GET", "POST"]
    [posted] = github.comments
    assert "### reconciler diff" in posted["body"] and "to create" in posted["body"]
    assert "exit-code=2" in output.read_text() and "changes=true" in output.read_text()
    assert _run_action(tmp_path, github, event, output) == 0
    assert [m for m, _ in github.calls][-2:] == ["GET", "PATCH"] and len(github.comments) == 1


def test_the_action_fails_on_invalid_manifests(tmp_path: Path, github: GitHub) -> None:
    """Invalid manifests fail the step and post nothing."""
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests/bad.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Service\nmetadata: {name: x, cluster: c}\n"
        "spec: {desiredCount: lots}\n")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    assert _run_action(tmp_path, github, event, tmp_path / "output") == 1
    assert github.calls == []


def test_action_yml_pins_this_release() -> None:
    """action.yml installs the release its tag names, and runs the script tested above."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["inputs"]["version"]["default"] == __version__
    steps = " ".join(str(s.get("run", "")) for s in action["runs"]["steps"])
    assert 'ecs-reconciler==${{ inputs.version }}' in steps
    assert "action/reconciler_action.py" in steps
    workflow = (REPO / "deploy/.github/workflows/reconciler-diff.yml").read_text()
    assert f"ecs-reconciler/ecs-reconciler@v{__version__}" in workflow


def test_the_pre_commit_hook_runs_validate(tmp_path: Path) -> None:
    """The hook's entry and args, run as pre-commit runs them: 0 on valid manifests, 1 with
    the file:line error on a broken one."""
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "reconciler-validate" and hook["pass_filenames"] is False
    command = [*hook["entry"].split(), *hook["args"]]
    command[0] = str(BIN / command[0])
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "manifests/broken.yaml").write_text("apiVersion: reconciler/v1\nkind: Nope\n"
                                                    "metadata: {name: x}\n")
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "broken.yaml:2" in proc.stderr
    assert re.search(hook["files"], "manifests/apps/api/service.yaml")


def test_the_wheel_carries_everything(tmp_path: Path) -> None:
    """A built wheel holds the package data the code reads (the status page's template,
    py.typed), the licence, and the `reconciler` entry point."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(REPO)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"reconciler/edges/status.html.j2", "reconciler/py.typed"} <= names
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert f"Version: {__version__}" in text and "License-Expression: Apache-2.0" in text
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "reconciler = reconciler.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_the_image_runs_any_command_and_pins_its_dependencies() -> None:
    """ENTRYPOINT is the CLI and CMD is serve; every runtime dependency is pinned."""
    text = (REPO / "deploy/Dockerfile").read_text()
    assert 'ENTRYPOINT ["reconciler"]' in text and 'CMD ["serve"]' in text
    pins = dict(line.split("==") for line in (REPO / "deploy/requirements.txt").read_text()
                .splitlines() if line and not line.startswith("#"))
    project = (REPO / "pyproject.toml").read_text()
    deps = re.findall(r'^\s+"([A-Za-z0-9_.-]+)[><=]', project.split("[project.optional", 1)[0],
                      re.M)
    assert deps and all(d.lower().replace("_", "-") in pins for d in deps)
    controller = (REPO / "deploy/controller.yaml").read_text()
    assert "command: [serve," in controller  # the task's command replaces CMD


def test_release_files_exist() -> None:
    """The licence, the changelog (with this release) and the contributing guide."""
    assert "Apache License" in (REPO / "LICENSE").read_text()
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()
    assert "## Unreleased" in (REPO / "CHANGELOG.md").read_text()
    assert (REPO / "CONTRIBUTING.md").is_file()
