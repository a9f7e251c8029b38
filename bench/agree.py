"""The two read paths agree: `reconciler diff` with the new read path (the tagging inventory;
a revision carrying this controller's desired-hash tag for what git asks is not described;
the persistent cache) prints byte for byte what `reconciler diff --verify` prints, which
describes every revision (the old read path). Compared in text and in JSON, with the cache
empty and again with it kept.

`agree` runs the CLI's own command in this process (what a terminal would print, exit code
included), one pass after another: run it in a process of its own (`bench.scenario agree`)."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.aws.store import ENV as CACHE_ENV

OUTPUTS = ("text", "json")


@dataclass
class Agreement:
    """One estate compared: `equal` when every output of the new read path is the verified
    one, byte for byte, with the same exit code."""

    label: str
    equal: bool
    compared: int  # outputs compared with the verified one
    lines: dict[str, int] = field(default_factory=dict)  # lines of each verified output
    exit_code: int = 0
    difference: str = ""  # where they first differ

    def line(self) -> str:
        size = ", ".join(f"{k} {v} lines" for k, v in self.lines.items())
        verdict = "identical" if self.equal else "DIFFER"
        text = (f"{self.label}: {verdict} ({self.compared} outputs against --verify's; {size}; "
                f"exit {self.exit_code})")
        return f"{text}\n{self.difference}" if self.difference else text


def diff(root: Path, cache: str, *flags: str) -> tuple[int, str]:
    """`reconciler diff ROOT` as typed at a terminal: exit code and standard output."""
    from click.testing import CliRunner

    from reconciler.cli import main

    os.environ[CACHE_ENV] = cache
    result = CliRunner().invoke(main, ["diff", str(root), "--no-color", *flags])
    if result.exit_code not in (0, 2):
        raise RuntimeError(f"reconciler diff {' '.join(flags)} failed ({result.exit_code}): "
                           f"{result.output[-2000:]}")
    return result.exit_code, result.output


def agree(label: str, root: Path, cache: Path) -> Agreement:
    """Each output of the new read path, cold (a fresh cache folder) and warm (kept), against
    `--verify`'s."""
    result = Agreement(label, True, 0)
    for output in OUTPUTS:
        folder = cache / output
        folder.mkdir(parents=True, exist_ok=True)
        verified = diff(root, "off", "--output", output, "--verify")
        result.lines[output] = verified[1].count("\n")
        result.exit_code = verified[0]
        for run in ("cold", "warm"):
            got = diff(root, str(folder), "--output", output)
            result.compared += 1
            if got != verified and result.equal:
                result.equal = False
                lines = difflib.unified_diff(
                    verified[1].splitlines(), got[1].splitlines(), "--verify",
                    f"new read path ({run} cache)", lineterm="", n=1)
                result.difference = "\n".join(
                    [f"exit {verified[0]} against {got[0]}", *list(lines)[:40]])
    return result


def from_json(data: dict[str, Any]) -> Agreement:
    return Agreement(**{k: v for k, v in data.items() if k in Agreement.__dataclass_fields__})


__all__ = ["Agreement", "agree", "diff", "from_json"]
