"""Every option of every command says what it does and can be set from the environment."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.embedded import EmbeddedAws
from tests.conftest import EXAMPLES, cli


def options() -> list[tuple[str, click.Option]]:
    assert isinstance(main, click.Group)
    found = [("", p) for p in main.params if isinstance(p, click.Option)]
    for name, command in main.commands.items():
        found += [(name, p) for p in command.params if isinstance(p, click.Option)]
    return [(n, p) for n, p in found if p.name not in ("help", "version")]


def test_every_option_has_help_text() -> None:
    missing = [f"{command} {p.opts[0]}" for command, p in options() if not p.help]
    assert missing == []


def test_every_option_has_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit RECONCILER_… name, or click's RECONCILER_<COMMAND>_<OPTION>."""
    for command, p in options():
        if p.envvar:
            assert all(str(v).startswith("RECONCILER_") for v in (
                [p.envvar] if isinstance(p.envvar, str) else p.envvar)), p.opts
            continue
        assert p.name is not None
        prefix = f"RECONCILER_{command.upper()}" if command else "RECONCILER"
        ctx = click.Context(main.commands[command] if command else main,
                            auto_envvar_prefix=prefix)
        monkeypatch.setenv(f"{prefix}_{p.name.upper()}", "from-the-environment")
        assert p.resolve_envvar_value(ctx) == "from-the-environment", (command, p.opts)


def test_an_auto_environment_variable_reaches_the_command() -> None:
    result = CliRunner().invoke(main, ["validate", "does-not-exist"],
                                env={"RECONCILER_VALIDATE_OUTPUT": "json"})
    assert result.exit_code == 1
    assert result.stdout.lstrip().startswith("{") or result.stderr.lstrip().startswith("{")


@pytest.mark.parametrize("args", [["diff", "--prnue"], ["diff", "--output", "yaml"], ["nope"],
                                  ["rollout"], ["rollout", "status", "--timeout"]])
def test_a_command_line_that_cannot_be_parsed_is_an_error_not_changes(args: list[str]) -> None:
    """2 is 'changes' to a pipeline running `diff` (and 'still moving' to `rollout status`):
    a typo must read as an error."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "Usage:" in result.output or "Error:" in result.output


def test_an_option_with_a_shared_variable_also_reads_the_commands_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """RECONCILER_TARGET and RECONCILER_DIFF_TARGET both reach `diff --target`; the
    command's own wins. Every option of every command (and of `rollout status|wait`)."""
    def every(command: click.Command, prefix: str) -> list[tuple[str, click.Command,
                                                               click.Option]]:
        found = [(prefix, command, p) for p in command.params
                 if isinstance(p, click.Option) and p.name not in ("help", "version")]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += every(sub, f"{prefix}_{name.upper()}")
        return found

    assert isinstance(main, click.Group)
    checked = 0
    for name, command in main.commands.items():
        for prefix, cmd, p in every(command, f"RECONCILER_{name.upper()}"):
            flag = next(o[2:] for o in p.opts if o.startswith("--"))
            variable = f"{prefix}_{flag.upper().replace('-', '_')}"
            ctx = click.Context(cmd, auto_envvar_prefix=prefix)
            monkeypatch.setenv(variable, "the-commands-own")
            assert p.resolve_envvar_value(ctx) == "the-commands-own", (variable, p.opts)
            monkeypatch.delenv(variable)
            checked += 1
    assert checked > 50


def test_the_commands_own_variable_reaches_the_command(aws: EmbeddedAws,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_DIFF_TARGET", "Service/accounting-prd/nope")
    result = cli("diff", str(EXAMPLES))
    assert result.exit_code == 1
    assert "Service/accounting-prd/nope" in result.output
