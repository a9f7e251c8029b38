"""`reconciler serve --local` as a real process: it starts, gets ready, and stops cleanly on
SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import EXAMPLES


def test_serve_local_ready_then_sigterm(tmp_path: Path) -> None:
    """serve --local starts, gets ready, reports its applied revision and stops cleanly on SIGTERM."""
    root = tmp_path / "manifests"
    shutil.copytree(EXAMPLES, root)
    env = {**os.environ, "RECONCILER_LOG_LEVEL": "info"}
    for k in ("AWS_ENDPOINT_URL", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN"):
        env.pop(k, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--local", "--dir", str(root),
         "--listen", "127.0.0.1:0"], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    port = None
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if '"serve.listening"' in line:
                port = json.loads(line)["port"]
        assert port, "the server did not start"
        ready = False
        while not ready and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    ready = r.status == 200
            except OSError:
                time.sleep(0.1)
        assert ready
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
            status = json.loads(r.read())
        assert status["appliedRevision"] and status["resources"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        rest = proc.stderr.read()
        assert "controller.stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
