"""Shared fixtures: one real moto server on 127.0.0.1 for the session (reset between tests),
real git repositories, and helpers to run the CLI.

Two session-wide pieces besides:

- botocore's data loader (the parsed service models and endpoint rules, read-only JSON) and
  the client classes it builds from them are shared by every boto3 session the tests create,
  as they are by every client of one session in production; without them each in-process
  `reconciler` command re-parses the models and rebuilds each client's methods (an EC2
  client took 280 ms to make, the calls of a whole diff less).
- The IAM check: every AWS operation the reconciler called in this run, in any test and any
  xdist worker, must be allowed by deploy/iam-policy.json. `pytest_sessionfinish` compares
  `reconciler.aws.client.CALLED` (collected from the workers) with the policy and fails the
  run, naming what is missing, whatever order or subset of tests ran.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.embedded import EmbeddedAws, network_ids, seed_network

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "tests" / "fixtures" / "manifests"
MANIFESTS = REPO / "manifests"
REGION = "eu-west-1"
POLICY = REPO / "deploy" / "iam-policy.json"
# Operations the tests make through the reconciler's AWS adapter that the controller never
# makes itself (they set up what the CloudFormation bootstrap creates on AWS).
NOT_THE_CONTROLLERS = frozenset({"dynamodb:create_table", "dynamodb:describe_table"})


def not_in_policy(called: Iterable[str]) -> list[str]:
    """The IAM actions of these 'service:operation' calls that deploy/iam-policy.json lacks."""
    from tests.support_iam import iam_action
    from tests.test_deploy import policy_actions

    allowed = policy_actions(json.loads(POLICY.read_text()))
    return sorted({iam_action(op) for op in called if op not in NOT_THE_CONTROLLERS} - allowed)


# --- the IAM check over the whole run -------------------------------------------------------

_WORKERS_CALLED: set[str] = set()
_IAM_REPORT = pytest.StashKey[tuple[int, list[str]]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: what a worker's tests called (sent from its `pytest_sessionfinish`)."""
    _WORKERS_CALLED.update(getattr(node, "workeroutput", {}).get("aws_called", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when an operation the reconciler called is not in the IAM policy."""
    from reconciler.aws.client import CALLED

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller checks the union
        workeroutput["aws_called"] = sorted(CALLED)
        return
    called = set(CALLED) | _WORKERS_CALLED
    if not called:  # nothing reached AWS (pure tests only): nothing to check
        return
    missing = not_in_policy(called)
    session.config.stash[_IAM_REPORT] = (len(called), missing)
    if missing and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    """Say what the IAM check found (missing actions in red)."""
    report = config.stash.get(_IAM_REPORT, None)
    if report is None:
        return
    count, missing = report
    if missing:
        terminalreporter.section("IAM policy", sep="=", red=True, bold=True)
        terminalreporter.line(f"called by the reconciler in this run but not allowed by "
                              f"deploy/iam-policy.json: {', '.join(missing)}", red=True)
    else:
        terminalreporter.line(f"IAM policy: all {count} AWS operations called in this run are "
                              "allowed by deploy/iam-policy.json")


@pytest.fixture(scope="session", autouse=True)
def _shared_botocore_loader() -> Iterator[None]:
    """One botocore data loader (parsed models, endpoint rules) and one class per client
    (its methods made from the model) for every boto3 session."""
    import botocore.client
    import botocore.session

    original = botocore.session.create_loader
    botocore.session.create_loader = functools.cache(original)
    make_class = botocore.client.ClientCreator._create_client_class
    classes: dict[tuple[str, str], Any] = {}

    def client_class(creator: Any, service_name: str, service_model: Any) -> Any:
        if service_name == "s3":  # boto3 adds its transfer methods to S3's, per session
            return make_class(creator, service_name, service_model)
        key = (service_name, service_model.api_version)
        if key not in classes:
            classes[key] = make_class(creator, service_name, service_model)
        return classes[key]

    botocore.client.ClientCreator._create_client_class = client_class
    try:
        yield
    finally:
        botocore.session.create_loader = original
        botocore.client.ClientCreator._create_client_class = make_class


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedAws]:
    """The embedded default's moto server, started once; tests reach it via AWS_ENDPOINT_URL."""
    server = EmbeddedAws().start()
    saved = dict(os.environ)
    os.environ.update(server.environment())
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.pop("AWS_PROFILE", None)
    os.environ["NO_COLOR"] = "1"
    try:
        yield server
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


@pytest.fixture
def aws(moto_server: EmbeddedAws) -> EmbeddedAws:
    """A clean moto server for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def ecs(aws: EmbeddedAws) -> Any:
    """A boto3 ECS client on the clean moto server, to act as a person would."""
    return boto3.client("ecs", region_name=REGION)


def seed_for(server: EmbeddedAws, root: Path) -> None:
    """Create the subnets and security groups a manifests tree names (they exist on AWS)."""
    from reconciler.kinds import load_tree

    specs = [m.spec for m in load_tree(root, region=REGION).manifests]
    subnets, groups = network_ids(specs)
    seed_network(server.url, REGION, subnets, groups)


@pytest.fixture
def examples(tmp_path: Path, aws: EmbeddedAws) -> Path:
    """A copy of the example manifests, with their network seeded in moto."""
    root = tmp_path / "manifests"
    shutil.copytree(EXAMPLES, root)
    seed_for(aws, root)
    return root


async def wait_for(condition: Callable[..., Any], timeout: float = 60.0) -> None:
    """Until the system under test makes `condition` true (the timeout only stops a hung
    test; it is not what is tested)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


async def deliver(controller: Controller) -> None:
    """Every alert the controller queued, delivered to the Slack receiver."""
    worker = asyncio.create_task(controller.notifier.run())
    await asyncio.wait_for(controller.notifier.flush(), 30)
    worker.cancel()


def cli(*args: str) -> Result:
    """Run the reconciler CLI in-process, as a user would type it."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def cli_json(*args: str) -> tuple[int, Any]:
    """Run the CLI with `--output json`: its exit code and the parsed output."""
    result = cli(*args, "--output", "json")
    return result.exit_code, json.loads(result.output) if result.output.strip() else None


def write(root: Path, rel: str, text: str) -> Path:
    """Write a file under `root`, making its folders."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed author; its stripped output."""
    out = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"},
    )
    return out.stdout.strip()


@pytest.fixture
def git_remote(tmp_path: Path) -> tuple[Path, Path]:
    """A bare repository as the remote and a clone to commit and push from."""
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "checkout", "-q", "-b", "main")
    return remote, work


class SlackReceiver:
    """A local HTTP server that answers like Slack: an incoming webhook at /webhook and the
    Web API's chat.postMessage / chat.update at /api/. `script` holds the statuses to answer
    next (429 comes with Retry-After); once it is empty every request gets 200."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.script: list[int] = []
        self.retry_after = "1"
        self.accepted: list[dict[str, Any]] = []
        self.attempts: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._ts = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    body = json.loads(raw or "{}")
                else:
                    from urllib.parse import parse_qsl

                    body = dict(parse_qsl(raw))
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.attempts.append((status, self.path))
                    reply: dict[str, Any] = {"ok": status == 200}
                    if status == 200:
                        entry = {"path": self.path, **body}
                        if self.path.endswith("chat.postMessage"):
                            receiver._ts += 1
                            reply["ts"] = entry["ts_assigned"] = f"1700000000.{receiver._ts:06d}"
                        receiver.accepted.append(entry)
                    else:
                        reply["error"] = "ratelimited" if status == 429 else "internal_error"
                data = (json.dumps(reply) if "/api/" in self.path else
                        ("ok" if status == 200 else reply["error"])).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Type", "application/json" if "/api/" in self.path
                                 else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        # a short poll: shutdown() waits up to one poll interval (0.5 s by default)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def texts(self) -> list[str]:
        return [str(m.get("text", "")) for m in self.accepted]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    """A Slack stand-in on 127.0.0.1 for this test."""
    receiver = SlackReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


def push(work: Path, message: str) -> str:
    """Commit everything in the work clone and push it to the remote; returns the SHA."""
    git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", message)
    git(work, "push", "-q", "origin", "main")
    return git(work, "rev-parse", "HEAD")


async def ensure_lease_table(aws: Any, table: str) -> None:
    """The lease table (the CloudFormation bootstrap creates it on AWS)."""
    from reconciler.aws import AwsError

    try:
        await aws.call("dynamodb", "describe_table", TableName=table)
        return
    except AwsError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
    await aws.call(
        "dynamodb", "create_table", TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "lease", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lease", "KeyType": "HASH"}],
    )
