"""The controller's status page, as a browser sees it: `reconciler serve --local` as a real
process, the page loaded in a real headless Chromium, its DOM checked, a screenshot kept
(tests/.artifacts/status-page.png)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reconciler.edges.page import console_link, render
from reconciler.kinds import load_tree
from tests import support_browser
from tests.conftest import MANIFESTS, REPO

ARTIFACTS = REPO / "tests" / ".artifacts"


class Rows(HTMLParser):
    """The resource rows of the page: (kind, cluster, name) from their data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: set[tuple[str, str | None, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "resource":
            self.rows.add((str(a.get("data-kind")), a.get("data-cluster"),
                           str(a.get("data-name"))))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`serve --local` on a copy of the example estate, once it has synced."""
    top = tmp_path_factory.mktemp("page")
    root = top / "manifests"
    shutil.copytree(MANIFESTS, root)
    shutil.copytree(REPO / "charts", top / "charts")  # the Releases' charts, beside it
    env = {**os.environ, "RECONCILER_STATUS_TOKEN": "", "RECONCILER_LOG_FORMAT": "json"}
    for k in ("AWS_ENDPOINT_URL", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN"):
        env.pop(k, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--local", "--dir", str(root),
         "--listen", "127.0.0.1:0"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True)
    try:
        assert proc.stderr is not None
        port = None
        deadline = time.monotonic() + 90
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if '"serve.listening"' in line:
                port = json.loads(line)["port"]
        assert port, "the controller did not start"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_page_lists_every_example_resource_in_a_real_browser(served: int) -> None:
    """Chromium renders the page with one row per example resource, each with its state,
    and the screenshot is kept for people to look at."""
    url = f"http://127.0.0.1:{served}/"
    html = support_browser.dom(url)
    rows = Rows()
    rows.feed(html)
    expected = {(m.kind, m.cluster, m.name) for m in load_tree(MANIFESTS).manifests}
    assert rows.rows == expected
    assert 'id="revision"' in html and 'class="badge Synced"' in html
    assert 'http-equiv="refresh"' in html
    shot = support_browser.screenshot(url, ARTIFACTS / "status-page.png")
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty image


def test_the_page_and_status_can_require_a_token(tmp_path: Path) -> None:
    """With RECONCILER_STATUS_TOKEN set, / and /status answer 401 without it and the page
    with it (checked through the aiohttp app, no browser needed)."""
    import asyncio

    from reconciler.controller.loop import Controller
    from reconciler.edges.git import LocalSource
    from reconciler.edges.http import make_app, start
    from reconciler.edges.slack import Notifier, TerminalSink

    async def go() -> tuple[int, int, int]:
        from reconciler.aws import Aws

        controller = Controller(LocalSource(tmp_path), Aws(pacer=None), Notifier(TerminalSink()))
        runner, port = await start(make_app(controller, "", "main", page_token="t0k"),
                                   "127.0.0.1", 0)
        try:
            def get(path: str, token: str | None = None) -> int:
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={
                    "Authorization": f"Bearer {token}"} if token else {})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        return int(r.status)
                except urllib.error.HTTPError as exc:
                    return exc.code
            return await asyncio.gather(asyncio.to_thread(get, "/"),
                                        asyncio.to_thread(get, "/status"),
                                        asyncio.to_thread(get, "/", "t0k"))
        finally:
            await runner.cleanup()

    os.environ.setdefault("AWS_REGION", "eu-west-1")
    assert tuple(asyncio.run(go())) == (401, 401, 200)


def test_page_escapes_what_it_shows() -> None:
    """Names and values reach the page as text, never as markup."""
    html = render({"resources": [{"kind": "Service", "name": "<script>x</script>",
                                  "cluster": "c", "state": "OutOfSync", "health": "Healthy",
                                  "drift": [{"path": "spec.a", "live": "<b>", "git": "x"}]}],
                   "region": "eu-west-1"})
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert "&#34;&lt;b&gt;&#34;" in html or "&lt;b&gt;" in html


@pytest.mark.parametrize("kind, cluster, link", [
    ("Service", "prd", "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prd/services/"
                       "api/health?region=eu-west-1"),
    ("TaskDefinition", None, "https://eu-west-1.console.aws.amazon.com/ecs/v2/"
                             "task-definitions/api?region=eu-west-1"),
    ("ScheduledTask", "prd", "https://eu-west-1.console.aws.amazon.com/events/home?"
                             "region=eu-west-1#/eventbus/default/rules/api"),
    ("ScalableTarget", "prd", None),
])
def test_console_links(kind: str, cluster: str | None, link: str | None) -> None:
    """Each resource links to where the AWS console shows it, when it has a page."""
    assert console_link(kind, "api", cluster, "eu-west-1") == link
