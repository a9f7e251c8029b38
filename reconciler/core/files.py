"""Reading the repository's files safely: only inside the repository (symlinks followed),
only UTF-8 text, only up to a size. Every file the loader reads (manifests, `reconciler.yaml`,
chart values and templates, spec files) goes through here, so hostile input is an error with
its file and line, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.core.manifest import LoadError

MAX_FILE_BYTES = 4 * 1024 * 1024  # a manifest, values or specFile larger than this is refused


def inside(path: Path, boundary: Path) -> bool:
    """Whether `path`, symlinks followed, lies within `boundary` (the repository)."""
    return path.resolve().is_relative_to(boundary.resolve())


def read_text(path: Path, shown: str) -> str | LoadError:
    """A file's text: UTF-8, bounded in size, or the error saying why not."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return LoadError(shown, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        return LoadError(shown, 1, f"cannot read: {exc.strerror or exc}")
    nul = data.find(b"\x00")
    if nul >= 0:
        return LoadError(shown, data.count(b"\n", 0, nul) + 1,
                         f"not UTF-8 text: a binary file (NUL byte at offset {nul})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return LoadError(shown, line, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                                      f"{exc.start} ({exc.reason})")


__all__ = ["MAX_FILE_BYTES", "inside", "read_text"]
