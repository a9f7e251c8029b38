"""Real parts for the hardening tests (issue 12): a loopback proxy in front of moto that
tells which replica sent which AWS call and can make writes slow, controller replicas as
real `reconciler serve` processes, a git remote that hangs, and the hostile inputs."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

READS = ("Describe", "List", "Get")
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


@dataclass
class Call:
    """One AWS request as it reached the proxy (and at once moto): when, which API, and the
    status AWS answered (0 until it has)."""

    at: float  # time.monotonic() of this (test) process
    service: str
    operation: str
    status: int = 0

    @property
    def write(self) -> bool:
        """A write to the estate (the lease's own DynamoDB calls are the fence, not writes)."""
        return self.service != "dynamodb" and not self.operation.startswith(READS)


def operation_of(headers: Any, body: bytes) -> tuple[str, str]:
    """(service, operation) of a signed AWS request: JSON protocols name the operation in
    X-Amz-Target, query protocols (EC2, STS) in the form body's Action."""
    scope = _SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(1) if scope else "?"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    return service, (form.get("Action") or ["?"])[0]


class AwsProxy:
    """A loopback HTTP proxy in front of moto for one replica (its AWS_ENDPOINT_URL). Every
    request is forwarded to moto as soon as it has arrived and recorded with its arrival
    time; the *answer* to a write is held for `write_delay` seconds. A write thus lands when
    it is sent, as on AWS, and the replica spends a while waiting for it: an apply long
    enough to be interrupted, without any test hook in the code under test."""

    def __init__(self, upstream: str, write_delay: float = 0.0) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.write_delay = write_delay
        self.calls: list[Call] = []
        # called with each call as it arrives, before it is forwarded (a Trap's hook)
        self.on_call: Any = None
        # cleared, the answers to writes wait until it is set again: a pass held mid-apply
        self.release = threading.Event()
        self.release.set()
        self._seen = threading.Condition()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service, operation = operation_of(self.headers, body)
                call = Call(time.monotonic(), service, operation)
                with proxy._seen:
                    proxy.calls.append(call)
                    proxy._seen.notify_all()
                if proxy.on_call is not None:
                    proxy.on_call(call)
                conn = http.client.HTTPConnection(proxy.upstream.hostname or "127.0.0.1",
                                                  proxy.upstream.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("connection", "keep-alive")}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, reply = resp.status, resp.getheaders()
                    call.status = status
                finally:
                    conn.close()
                if call.write and proxy.write_delay:
                    time.sleep(proxy.write_delay)
                if call.write:
                    proxy.release.wait(120)
                self.send_response(status)
                for k, v in reply:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                         "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = _relay

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def writes(self, after: float = float("-inf")) -> list[Call]:
        with self._seen:
            return [c for c in self.calls if c.write and c.at > after]

    def wait_for(self, operation: str, timeout: float = 60.0) -> Call:
        """The first call of `operation` (waiting for it to arrive)."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                found = next((c for c in self.calls if c.operation == operation), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {operation} reached the proxy")
                self._seen.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Trap:
    """Signal whichever replica first sends `operation`, the moment the request arrives
    (before AWS has it, long before its answer): the replica is interrupted with that call
    in flight, every time, with no race against a polling test."""

    def __init__(self, replicas: list[Replica], operation: str, sig: signal.Signals) -> None:
        self.operation, self.sig = operation, sig
        self.fired = threading.Event()
        self.replica: Replica | None = None
        self.call: Call | None = None
        self.at = 0.0
        self._lock = threading.Lock()
        for r in replicas:
            r.proxy.on_call = self._hook(r)

    def _hook(self, replica: Replica) -> Any:
        def hook(call: Call) -> None:
            if call.operation != self.operation:
                return
            with self._lock:
                if self.fired.is_set():
                    return
                self.replica, self.call = replica, call
                self.at = replica.send(self.sig)
                self.fired.set()
        return hook

    def wait(self, timeout: float = 60.0) -> tuple[Replica, Call]:
        if not self.fired.wait(timeout):
            raise AssertionError(f"no {self.operation} was sent within {timeout:g} s")
        assert self.replica is not None and self.call is not None
        return self.replica, self.call


class HangingRemote:
    """A git remote that accepts connections and never answers: `url` carries credentials
    (user:password@), as a misconfigured HTTPS remote would."""

    def __init__(self, password: str) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._open: list[socket.socket] = []
        self.url = f"http://deploy:{password}@127.0.0.1:{self._server.getsockname()[1]}/x.git"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._open.append(conn)

    def close(self) -> None:
        self._server.close()
        for conn in self._open:
            conn.close()


def create_lease_table(table: str) -> None:
    """The DynamoDB lease table, as the CloudFormation bootstrap creates it on AWS."""
    boto3.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "lease", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lease", "KeyType": "HASH"}])


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(condition: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Wait for something the system under test will make true (a hang guard, not a timing
    assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.02)


@dataclass
class Replica:
    """One `reconciler serve` process with its own AWS proxy and its log in a file."""

    name: str
    proc: subprocess.Popen[bytes]
    proxy: AwsProxy
    log_path: Path
    signals: list[tuple[float, str]] = field(default_factory=list)

    @classmethod
    def start(cls, name: str, args: list[str], proxy: AwsProxy, folder: Path,
              env: dict[str, str] | None = None) -> Replica:
        log_path = folder / f"{name}.log"
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN")}
        environment.update({"AWS_ENDPOINT_URL": proxy.url, "RECONCILER_LOG_LEVEL": "info",
                            "RECONCILER_LOG_FORMAT": "json", **(env or {})})
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reconciler", "serve", "--listen", "127.0.0.1:0", *args],
                env=environment, stdout=out, stderr=subprocess.STDOUT)
        return cls(name, proc, proxy, log_path)

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"event": raw})
        return out

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]

    @property
    def port(self) -> int:
        wait_until(lambda: self.events("serve.listening") or self.proc.poll() is not None,
                   60, f"{self.name} listening")
        found = self.events("serve.listening")
        assert found, f"{self.name} did not start:\n{self.log_path.read_text()[-3000:]}"
        return int(found[0]["port"])

    def get(self, path: str) -> tuple[int, bytes]:
        return http_get(f"http://127.0.0.1:{self.port}{path}")

    def send(self, sig: signal.Signals) -> float:
        at = time.monotonic()
        self.signals.append((at, sig.name))
        self.proc.send_signal(sig)
        return at

    def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL as a hang guard), resumed first if paused."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proxy.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- hostile input -------------------------------------------------------------------------

GOOD_CLUSTER = "apiVersion: reconciler/v1\nkind: Cluster\nmetadata: {name: innocent}\nspec: {}\n"
TASK = """apiVersion: reconciler/v1
kind: TaskDefinition
metadata: {name: job}
spec:
  requiresCompatibilities: [FARGATE]
  networkMode: awsvpc
  cpu: "256"
  memory: "512"
  containerDefinitions:
    - name: app
      image: nginx:1.25
"""
RELEASE = "apiVersion: reconciler/v1\nkind: Release\nmetadata: {name: tiny}\nspec: {chart: tiny}\n"
TEMPLATE = "apiVersion: reconciler/v1\nkind: Cluster\nmetadata: {name: '{{ release.name }}'}\n"
SPEC_FILE = "apiVersion: reconciler/v1\nkind: TaskDefinition\nmetadata: {name: job}\nspecFile: %s\n"
OUTSIDE = "outside.json"  # beside the case repositories, outside each of them


def _bomb(levels: int = 9, width: int = 9) -> str:
    """A billion laughs: 9 anchors of 9 aliases each, 9**9 leaves once expanded."""
    lines = ["apiVersion: reconciler/v1", "kind: Cluster", "metadata: {name: lol}", "spec:",
             f"  a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _task(old: str, new: str) -> str:
    return TASK.replace(old, new)


@dataclass(frozen=True)
class Hostile:
    """One hostile repository: its files (text, bytes, or a Path to link to) and the error it
    must end in: the file (as shown), its line, and words of the message."""

    files: dict[str, str | bytes | Path]
    file: str
    line: int
    words: str


def hostile_cases(outside: Path) -> dict[str, Hostile]:
    """Every hostile input of issue 12, and others in its spirit. Each repository also holds a
    valid Cluster of its own, which an apply that let anything through would create."""
    m = "manifests/"
    chart = "charts/tiny/"
    td = "manifests/td.yaml"
    return {
        "alias bomb (9 levels)": Hostile({m + "b.yaml": _bomb()}, "b.yaml", 10,
                                         "aliases expand this file"),
        "duplicate key": Hostile(
            {m + "b.yaml": GOOD_CLUSTER.replace("spec: {}", "metadata: {name: other}\nspec: {}")},
            "b.yaml", 4, "duplicate key 'metadata' (first at line 3)"),
        "5,000-digit integer": Hostile({td: _task('cpu: "256"', "cpu: " + "9" * 5000)},
                                       "td.yaml", 7, "integer of 5000 characters"),
        "binary reconciler.yaml": Hostile({m + "reconciler.yaml": bytes(range(256)) * 4},
                                          "reconciler.yaml", 1, "not UTF-8 text"),
        "non-UTF-8 manifest": Hostile(
            {td: _task("nginx:1.25", "caf\xe9:1").encode("latin-1")},
            "td.yaml", 11, "not UTF-8 text: byte 0xe9"),
        "binary manifest": Hostile({m + "b.yaml": b"kind: Cluster\n\x00\x01\x02" * 100},
                                   "b.yaml", 2, "not UTF-8 text: a binary file"),
        "UTF-16 manifest": Hostile({m + "b.yaml": GOOD_CLUSTER.encode("utf-16")}, "b.yaml", 1,
                                   "not UTF-8 text"),
        "deep nesting": Hostile(
            {m + "b.yaml": GOOD_CLUSTER.replace("spec: {}", "spec: {x: " + "[" * 600
                                                + "]" * 600 + "}")},
            "b.yaml", 4, "nested deeper than 100 levels"),
        "a file over 4 MB": Hostile({m + "big.yaml": "# " + "x" * (5 << 20) + "\n"},
                                    "big.yaml", 1, "the limit is 4194304"),
        "template: nested range loops": Hostile(
            {m + "r.yaml": RELEASE, chart + "templates/c.yaml": TEMPLATE
             + "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
               "{% endfor %}\n"},
            "../charts/tiny/templates/c.yaml", 4, "steps (nested loops?)"),
        "template: 'a' * 3000000000": Hostile(
            {m + "r.yaml": RELEASE,
             chart + "templates/c.yaml": TEMPLATE + "spec: {x: '{{ 'a' * 3000000000 }}'}\n"},
            "../charts/tiny/templates/c.yaml", 4, "3,000,000,000 long"),
        "template: {% include %}": Hostile(
            {m + "r.yaml": RELEASE,
             chart + "templates/c.yaml": TEMPLATE + "{% include 'secrets.yaml' %}\n"},
            "../charts/tiny/templates/c.yaml", 4, "{% include %} is not supported"),
        "template: doubling a string": Hostile(
            {m + "r.yaml": RELEASE, chart + "templates/c.yaml": TEMPLATE
             + "{% set a = 'x' * 1000 %}" + "{% set a = a ~ a %}" * 40 + "\n"},
            "../charts/tiny/templates/c.yaml", 4, "the result of ~"),
        "specFile ../": Hostile({td: SPEC_FILE % f"../../{OUTSIDE}"}, "td.yaml", 4,
                                "is outside the repository"),
        "specFile absolute": Hostile({td: SPEC_FILE % outside}, "td.yaml", 4,
                                     "is outside the repository"),
        "specFile symlink out": Hostile({td: SPEC_FILE % "link.json", m + "link.json": outside},
                                        "td.yaml", 4, "is outside the repository"),
        "manifest symlinked out": Hostile({m + "evil.yaml": outside.with_suffix(".yaml")},
                                          "evil.yaml", 1, "a link to outside the repository"),
        "valuesFrom outside": Hostile(
            {m + "r.yaml": RELEASE.replace("{chart: tiny}",
                                           f"{{chart: tiny, valuesFrom: [{outside}]}}"),
             chart + "templates/c.yaml": TEMPLATE + "spec: {}\n"},
            "r.yaml", 4, "is outside the repository"),
        "cpu: -256": Hostile({td: _task('cpu: "256"', "cpu: -256")}, "td.yaml", 7,
                             "not a positive size"),
        "name with spaces": Hostile({td: _task("name: job", "name: 'my job'")}, "td.yaml", 3,
                                    "is not a valid ECS name"),
        "name of 300 characters": Hostile({td: _task("name: job", "name: " + "j" * 300)},
                                          "td.yaml", 3, "is not a valid ECS name"),
        "name with /": Hostile({m + "b.yaml": GOOD_CLUSTER.replace("innocent", "a/b")},
                               "b.yaml", 3, "is not a valid ECS name"),
        "NUL byte in an image": Hostile({td: _task("nginx:1.25", '"nginx\\0:1"')}, "td.yaml",
                                        11, "contains a NUL character"),
        "spec: hello on a Cluster": Hostile(
            {m + "b.yaml": GOOD_CLUSTER.replace("innocent", "c2").replace("spec: {}",
                                                                          "spec: hello")},
            "b.yaml", 4, "spec must be a mapping, not str"),
    }


def build_case(root: Path, case: Hostile) -> Path:
    """The case's repository (a `.git` folder marks its top) with a valid Cluster named
    after `root`; returns its manifests path."""
    (root / ".git").mkdir(parents=True)
    manifests = root / "manifests"
    manifests.mkdir()
    (manifests / "reconciler.yaml").write_text("controller: hostile\n")
    (manifests / "innocent.yaml").write_text(GOOD_CLUSTER.replace("innocent", root.name))
    if any(rel.startswith("charts/") for rel in case.files):
        (root / "charts/tiny/templates").mkdir(parents=True)
        (root / "charts/tiny/values.yaml").write_text("{}\n")
    for rel, content in case.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            path.unlink(missing_ok=True)
            path.symlink_to(content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return manifests


COMMANDS = ("validate", "diff", "apply")


def drive(paths: list[str]) -> None:
    """`python -m tests.support_hardening PATH...`: `reconciler validate`, `diff` and `apply`
    on each path, in this one process (one interpreter start for every case), each command
    through the CLI's own entry point with its output captured; one JSON line per command."""
    import contextlib
    import io
    import resource
    import traceback

    from reconciler.cli import main

    real = sys.stdout
    for path in paths:
        for command in COMMANDS:
            out, err = io.StringIO(), io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main.main([command, path], prog_name="reconciler", standalone_mode=True)
                    code: int | str = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
                except BaseException:  # what a user would see: a traceback
                    traceback.print_exc()
                    code = "crash"
            real.write(json.dumps({
                "path": path, "command": command, "code": code, "stdout": out.getvalue(),
                "stderr": err.getvalue(), "seconds": round(time.perf_counter() - started, 3),
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }) + "\n")
            real.flush()


if __name__ == "__main__":
    drive(sys.argv[1:])
