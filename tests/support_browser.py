"""A real headless Chromium (Debian's package) for the tests that look at a page as a browser
does. When it is missing and the tests run as root, it is installed with apt-get, as the
README's test command and .ci/run promise; a browser downloaded by a pip package cannot be
used here (the machine reaches only package registries)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# Chromium's own network traffic (updates, sync, field trials) is refused on this machine.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium() -> str:
    """The browser's path, installing Debian's chromium package first if need be."""
    found = shutil.which("chromium")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
        found = shutil.which("chromium")
    if not found:
        raise RuntimeError("Debian's chromium package is needed: apt-get install chromium")
    return found


def run(url: str, *args: str, timeout: float = 60) -> str:
    """Chromium on one URL with these extra arguments; its standard output."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url],
                              capture_output=True, text=True, timeout=timeout, check=False)
    return proc.stdout


def dom(url: str) -> str:
    """The page's DOM after Chromium loaded and rendered it."""
    return run(url, "--dump-dom")


def screenshot(url: str, path: Path, size: str = "1400,1800") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run(url, f"--screenshot={path}", f"--window-size={size}")
    return path
