"""Immutable describe answers kept on disk across processes: a task definition revision never
changes once registered, and AWS never reuses a revision's ARN, so a restart, a CI job or the
next `reconciler diff` need not pay again for what was read once.

One JSON line per ARN, appended (single appends are atomic on local file systems, so
processes can share the file); the last line for an ARN wins; the file is rewritten once it
holds many more lines than entries. Only answers from real AWS endpoints are kept by default:
a stand-in (moto, LocalStack) may reuse an ARN after a reset.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

ENV = "RECONCILER_CACHE_DIR"
FILE = "describe-cache.jsonl"
MAX_ENTRIES = 50_000


def default_dir(endpoint_url: str | None = None) -> Path | None:
    """`RECONCILER_CACHE_DIR` if set (also against a custom endpoint); else the user's
    cache folder, unless the endpoint is not AWS's own (`endpoint_url`, as `--endpoint-url`
    gives it, or AWS_ENDPOINT_URL); `off` disables it."""
    explicit = os.environ.get(ENV)
    if explicit:
        return None if explicit.strip().lower() in ("off", "none", "0") else Path(explicit)
    if endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ecs-reconciler"


class DiskStore:
    """ARN -> answer, loaded on first use, appended on every new answer."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE
        self._data: dict[str, Any] | None = None
        self._lines = 0
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            try:
                with self.path.open(encoding="utf-8") as fh:
                    for line in fh:
                        self._lines += 1
                        try:
                            entry = json.loads(line)
                            self._data[str(entry["key"])] = entry["value"]
                        except (ValueError, KeyError, TypeError):
                            continue  # a torn or foreign line: ignored
            except OSError:
                pass
        return self._data

    def get(self, key: str) -> Any:
        with self._lock:
            return self._load().get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            data = self._load()
            if data.get(key) == value:
                return
            data[key] = value
            line = json.dumps({"key": key, "value": value}, separators=(",", ":"),
                              default=str) + "\n"
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
                self._lines += 1
                if self._lines > 2 * max(len(data), 1000):
                    self._compact(data)
            except OSError as exc:  # a read-only home, a full disk: the cache is optional
                log.warning("cache.unwritable", path=str(self.path), error=str(exc))

    def _compact(self, data: dict[str, Any]) -> None:
        keep = dict(list(data.items())[-MAX_ENTRIES:])
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for k, v in keep.items():
                fh.write(json.dumps({"key": k, "value": v}, separators=(",", ":"),
                                    default=str) + "\n")
        tmp.replace(self.path)
        self._data, self._lines = keep, len(keep)


__all__ = ["DiskStore", "default_dir"]
