"""Where the desired state comes from: a git remote (HTTPS or SSH) or a local directory.

Each pass works on one exact revision: a git commit exported to its own directory, or a
snapshot of the local directory. Credentials come from the environment or a mounted file and
never appear in a log line (URLs are masked).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import shlex
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import structlog

from reconciler.core.mask import mask_text

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds a git command may take before it is a source error
ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s' "${RECONCILER_GIT_USERNAME:-x-access-token}" ;;
  *) if [ -n "$RECONCILER_GIT_PASSWORD_FILE" ]; then cat "$RECONCILER_GIT_PASSWORD_FILE";
     else printf '%s' "$RECONCILER_GIT_PASSWORD"; fi ;;
esac
"""


@dataclass(frozen=True)
class Revision:
    """One exact version of the manifests: its id (a commit SHA) and where it lies on disk."""

    sha: str
    root: Path
    top: Path | None = None  # the repository's top: nothing is read from outside it


class Source(Protocol):
    async def fetch(self) -> Revision: ...

    def changes(self) -> AsyncIterator[None]: ...


class SourceError(StrEnum):
    """Why the source could not be read, for metrics and alerts."""

    TIMEOUT = "timeout"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    NETWORK = "network"
    OTHER = "other"


_KINDS = (
    (SourceError.AUTH, ("authentication failed", "could not read username", "permission denied",
                        "host key verification failed", "invalid username or password",
                        "403")),
    (SourceError.NOT_FOUND, ("not found", "does not appear to be a git repository",
                             "couldn't find remote ref", "does not exist")),
    (SourceError.NETWORK, ("could not resolve host", "connection refused", "timed out",
                           "unable to access", "connection reset", "network is unreachable",
                           "early eof", "could not read from remote repository")),
)
_USERINFO = re.compile(r"(\w+://)[^/\s@]+@")


def _classify(stderr: str) -> SourceError:
    low = stderr.lower()
    for kind, needles in _KINDS:
        if any(n in low for n in needles):
            return kind
    return SourceError.OTHER


class GitError(Exception):
    """A git command failed; `kind` says why, the message names the subcommand and never
    carries credentials."""

    def __init__(self, subcommand: str, kind: SourceError, detail: str) -> None:
        detail = _USERINFO.sub(r"\1(credentials)@", mask_text(detail.strip()))
        super().__init__(f"git {subcommand} failed ({kind}): {detail or 'no output'}")
        self.subcommand = subcommand
        self.kind = kind


class GitSource:
    """A remote repository's branch, mirrored in `workdir`; revisions exported by commit."""

    def __init__(self, url: str, branch: str = "main", path: str = "manifests",
                 workdir: Path | None = None, keep: int = 3,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.branch = branch
        self.path = path.strip("/") or "."
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="reconciler-git-"))
        self.mirror = self.workdir / "mirror.git"
        self.keep = keep
        self.timeout = timeout
        self._lock = asyncio.Lock()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["GIT_TERMINAL_PROMPT"] = "0"
        # a stalled transfer is an error long before the command's own timeout
        env.setdefault("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
        env.setdefault("GIT_HTTP_LOW_SPEED_TIME", str(max(int(self.timeout / 2), 5)))
        if env.get("RECONCILER_GIT_PASSWORD") or env.get("RECONCILER_GIT_PASSWORD_FILE"):
            helper = self.workdir / "askpass.sh"
            if not helper.exists():
                helper.write_text(ASKPASS)
                helper.chmod(stat.S_IRWXU)
            env["GIT_ASKPASS"] = str(helper)
        key = env.get("RECONCILER_GIT_SSH_KEY_FILE")
        known = env.get("RECONCILER_GIT_KNOWN_HOSTS_FILE")
        if key or known:
            parts = ["ssh", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                     "-o", f"ConnectTimeout={max(int(self.timeout / 2), 5)}"]
            if key:
                parts += ["-i", shlex.quote(key), "-o", "IdentitiesOnly=yes"]
            if known:
                parts += ["-o", f"UserKnownHostsFile={shlex.quote(known)}"]
            env["GIT_SSH_COMMAND"] = " ".join(parts)
        return env

    def _git(self, *args: str, cwd: Path | None = None) -> bytes:
        subcommand = next((a for i, a in enumerate(args) if not a.startswith("-")
                           and (i == 0 or args[i - 1] != "--git-dir")), "?")
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, env=self._env(), capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise GitError(subcommand, SourceError.TIMEOUT,
                           f"no answer within {self.timeout:g} s") from exc
        if proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace")
            raise GitError(subcommand, _classify(stderr), stderr)
        return proc.stdout

    def _fetch_sync(self) -> Revision:
        if not self.mirror.exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", "--bare", str(self.mirror))
            self._git("--git-dir", str(self.mirror), "remote", "add", "origin", self.url)
        ref = f"refs/remotes/origin/{self.branch}"
        self._git("--git-dir", str(self.mirror), "fetch", "--quiet", "--prune", "--depth", "50",
                  "origin", f"+refs/heads/{self.branch}:{ref}")
        sha = self._git("--git-dir", str(self.mirror), "rev-parse", ref).decode().strip()
        return self._export(sha)

    def _export(self, sha: str) -> Revision:
        dest = self.workdir / "revisions" / sha
        root = dest / self.path
        if not dest.exists():
            tmp = Path(tempfile.mkdtemp(dir=self.workdir))
            data = self._git("--git-dir", str(self.mirror), "archive", "--format=tar", sha)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(tmp, filter="data")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(dest)
            self._prune_old(sha)
        return Revision(sha, root, dest)

    def _prune_old(self, current: str) -> None:
        revs = sorted((self.workdir / "revisions").iterdir(), key=lambda p: p.stat().st_mtime)
        for old in revs[: max(len(revs) - self.keep, 0)]:
            if old.name != current:
                shutil.rmtree(old, ignore_errors=True)

    async def fetch(self) -> Revision:
        async with self._lock:
            return await asyncio.to_thread(self._fetch_sync)

    async def changes(self) -> AsyncIterator[None]:
        """A remote is polled by the controller and woken by webhooks: nothing to watch."""
        await asyncio.Event().wait()
        yield


class LocalSource:
    """A directory on disk, watched with watchfiles. Its revision is the HEAD commit when the
    directory is a clean git work tree, else a hash of its files' contents."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _snapshot(self) -> Revision:
        digest = hashlib.sha256()
        for p in sorted(self.root.rglob("*")):
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(
                    self.root).parts):
                digest.update(p.relative_to(self.root).as_posix().encode())
                digest.update(p.read_bytes())
        return Revision(f"local-{digest.hexdigest()[:12]}", self.root)

    async def fetch(self) -> Revision:
        return await asyncio.to_thread(self._snapshot)

    async def changes(self) -> AsyncIterator[None]:
        from watchfiles import awatch

        async for _ in awatch(self.root, debounce=100, step=20):
            yield None


def revision_of(path: Path) -> str | None:
    """HEAD's SHA of the repository holding `path`, or None outside git or with git missing."""
    where = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def has_local_changes(path: Path) -> bool:
    """Whether `path` has uncommitted changes in its work tree (its manifests are not what
    HEAD's revision says)."""
    where = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", "."],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())
