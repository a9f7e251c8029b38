"""The GitHub Action's step: validate, plan, and keep one pull-request comment with the plan.

Standard library only (it runs next to the installed `reconciler`). Reads the Actions
environment (GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_OUTPUT) and the
inputs (INPUT_PATH, INPUT_COMMENT, GITHUB_TOKEN). Run it locally with those set to try it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any

MARKER = "<!-- ecs-reconciler diff -->"


def _output(name: str, value: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{name}={value}\n")


def _api(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
        "Content-Type": "application/json", "User-Agent": "ecs-reconciler-action"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode() or "null"
    return json.loads(text)


def _pull_request() -> int | None:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        event = json.load(fh)
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def comment(markdown: str) -> None:
    """Post the plan, or update the comment this action posted before (one per PR)."""
    number, token = _pull_request(), os.environ.get("GITHUB_TOKEN", "")
    repo, api = os.environ.get("GITHUB_REPOSITORY"), os.environ.get(
        "GITHUB_API_URL", "https://api.github.com").rstrip("/")
    if not number or not token or not repo:
        print("not a pull request (or no token): the plan is not commented", file=sys.stderr)
        return
    body = {"body": f"{MARKER}\n{markdown}"}
    existing = _api("GET", f"{api}/repos/{repo}/issues/{number}/comments?per_page=100", token)
    mine = next((c for c in existing or [] if MARKER in str(c.get("body", ""))), None)
    if mine:
        _api("PATCH", f"{api}/repos/{repo}/issues/comments/{mine['id']}", token, body)
    else:
        _api("POST", f"{api}/repos/{repo}/issues/{number}/comments", token, body)


def main() -> int:
    path = os.environ.get("INPUT_PATH") or "manifests"
    valid = subprocess.run(["reconciler", "validate", path], check=False)
    if valid.returncode != 0:
        _output("exit-code", "1")
        _output("changes", "false")
        return 1
    plan = subprocess.run(["reconciler", "diff", path, "--output", "markdown", "--no-color"],
                          capture_output=True, text=True, check=False)
    sys.stderr.write(plan.stderr)
    print(plan.stdout)
    _output("exit-code", str(plan.returncode))
    _output("changes", "true" if plan.returncode == 2 else "false")
    if plan.stdout.strip() and os.environ.get("INPUT_COMMENT", "true") == "true":
        comment(plan.stdout)
    return 1 if plan.returncode not in (0, 2) else 0


if __name__ == "__main__":
    sys.exit(main())
