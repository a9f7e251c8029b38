"""Sources: exact git revisions from a bare remote, and a watched local directory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.edges.git import GitError, GitSource, LocalSource
from tests.conftest import git, push, write


async def test_git_source_exports_the_exact_commit(git_remote: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    bare, work = git_remote
    write(work, "manifests/a.yaml", "one\n")
    first = push(work, "one")
    source = GitSource(str(bare), "main", "manifests", workdir=tmp_path / "co")
    rev = await source.fetch()
    assert rev.sha == first and (rev.root / "a.yaml").read_text() == "one\n"
    write(work, "manifests/a.yaml", "two\n")
    second = push(work, "two")
    rev2 = await source.fetch()
    assert rev2.sha == second and (rev2.root / "a.yaml").read_text() == "two\n"
    assert (rev.root / "a.yaml").read_text() == "one\n"  # each revision stays as it was


async def test_git_source_other_branch_is_not_read(git_remote: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    bare, work = git_remote
    write(work, "manifests/a.yaml", "main\n")
    main_sha = push(work, "main")
    git(work, "checkout", "-q", "-b", "feature")
    write(work, "manifests/a.yaml", "feature\n")
    git(work, "commit", "-qam", "feature")
    git(work, "push", "-q", "origin", "feature")
    rev = await GitSource(str(bare), "main", "manifests", workdir=tmp_path / "co").fetch()
    assert rev.sha == main_sha


async def test_credentials_never_appear_in_errors(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_GIT_PASSWORD", "hunter2-token")
    source = GitSource("http://user:hunter2-token@127.0.0.1:9/repo.git", "main",
                       workdir=tmp_path / "co")
    with pytest.raises(GitError) as err:
        await source.fetch()
    assert "hunter2-token" not in str(err.value)


async def test_local_source_sees_a_saved_file(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    root = tmp_path / "m"
    write(root, "a.yaml", "one\n")
    source = LocalSource(root)
    before = await source.fetch()
    seen = asyncio.Event()

    async def watch() -> None:
        async for _ in source.changes():
            seen.set()
            return

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.2)  # let the watcher start before the save
    saved = time.monotonic()
    write(root, "a.yaml", "two\n")
    await asyncio.wait_for(seen.wait(), 10)
    picked = time.monotonic() - saved
    record_property("save_to_event_seconds", round(picked, 3))
    print(f"saved file picked up after {picked * 1000:.0f} ms")
    task.cancel()
    after = await source.fetch()
    assert after.sha != before.sha and after.sha.startswith("local-")
