"""The rendered tree next to a policy, for `promote` and `rollback --output
OUT`: refuse to move a canary while OUT is stale (what `meshc render
--check` reports), so that a commit never mixes the move with an older
change nobody rendered, and render the move into OUT as `meshc render`
would (the configuration's settings, excluded kinds)."""

from __future__ import annotations

import os
import sys
from typing import Mapping

import click

from meshc.commands import options
from meshc.commands.options import use_color
from meshc.commands.render import diff_prefix, files_for
from meshc.config import Overrides
from meshc.diagnostics import report
from meshc.output import writer
from meshc.pipeline import Compiled


def files_or_exit(file: str, compiled: Compiled, fmt: str, color_: str) -> dict[str, str]:
    """What render writes for the policy FILE belongs to; exit 1 with the
    backend's errors when it would refuse, 2 on a configuration error."""
    settings = options.settings_or_exit(lambda: Overrides().settings_for(os.path.dirname(file) or "."))
    files, errors = files_for(compiled, settings)
    if errors:
        sys.stderr.write(report.render(errors, compiled.sources, fmt, use_color(color_, sys.stderr)))
        click.echo("error: the policy does not render; `meshc check` says why", err=True)
        sys.exit(1)
    return files


def fresh_or_exit(file: str, compiled: Compiled, out: str, fmt: str, color_: str) -> None:
    """Exit 1, naming the files, unless OUT holds what the policy renders."""
    if not os.path.isdir(out):
        click.echo(f"error: {out} does not exist: render it (`meshc render -o {out}`), and commit it, before "
                   "moving the canary", err=True)
        sys.exit(1)
    changed = stale(out, files_or_exit(file, compiled, fmt, color_))
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        click.echo(f"error: {out} is stale: {shown} {'differs' if len(changed) == 1 else 'differ'} from what the "
                   f"policy renders (`meshc render --check`); render it, and commit it, before moving the canary",
                   err=True)
        sys.exit(1)


def stale(out: str, files: Mapping[str, str]) -> list[str]:
    """The paths in OUT that differ from `files`."""
    try:
        return writer.changed_paths(out, files)
    except writer.OutputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


def output_diff(out: str, files: Mapping[str, str]) -> str:
    """The diff `meshc render --check` would print for OUT against `files`."""
    try:
        return writer.diff_tree(out, files, prefix=diff_prefix(out))
    except writer.OutputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


def write_or_exit(out: str, files: Mapping[str, str], moved: str) -> None:
    """Write OUT; exit 2 when it cannot be, saying the policy moved already."""
    try:
        written = writer.write_tree(out, files)
    except writer.OutputError as err:
        click.echo(f"error: {err}; {moved} is moved, {out} is not: run `meshc render -o {out}`", err=True)
        sys.exit(2)
    for warning in written.warnings:
        click.echo(f"warning: {warning}", err=True)
