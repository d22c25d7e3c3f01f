"""`meshc check [PATH...]`: diagnostics for every policy the paths name."""

from __future__ import annotations

import os
import sys

import click

from meshc.commands import options
from meshc.commands.options import color, file_selection, istio_version, output_format, use_color, verbosity
from meshc.diagnostics import report
from meshc.inputs import read
from meshc.selection import InputError

NO_FILES = "warning: no .mesh files found under the given paths; nothing to check"
NO_STAGED = "no staged change touches a policy; nothing to check"


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@istio_version
@output_format
@color
@options.strict
@options.ignore
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are errors (usage and I/O errors still exit 2).")
@click.option("--statistics", is_flag=True, help="Print how often each code occurs instead of the diagnostics.")
@click.option("--stdin-filename", metavar="PATH",
              help="With `-`: the file stdin stands for; the other files of its directory complete the policy.")
@click.option("--staged", is_flag=True,
              help="Check the policies as staged in git's index, with every policy a staged change touches "
                   "(deleted and renamed files included); for pre-commit.")
@click.option("--show-settings", is_flag=True, help="Print the settings in force for the first path, and exit.")
@click.option("--show-files", is_flag=True, help="Print the files that would be checked, and exit.")
@verbosity
@file_selection
def command(paths, overrides, istio_version, output_format, color, strict, ignore, exit_zero, statistics,
            stdin_filename, staged, show_settings, show_files, verbosity) -> None:
    """Check the policies in PATHS (directories, searched recursively, or
    files, checked with the rest of their directory; `-` reads stdin; the
    current directory by default) and print diagnostics.

    A policy that checks cleanly is also rendered (and nothing written), so
    that check reports whatever render would refuse.

    Exits 0 when there are no errors (warnings allowed unless --strict),
    1 when there are, 2 on a usage, configuration or I/O error.
    """
    paths = paths or (() if staged else (".",))
    if show_settings or show_files:
        try:
            text = options.settings_or_exit(lambda: _show(paths, overrides, show_settings))
        except InputError as err:
            raise click.UsageError(str(err)) from None
        sys.stdout.write(text)
        return
    try:
        inputs = options.settings_or_exit(lambda: read(paths, overrides, stdin_filename, staged))
    except InputError as err:
        raise click.UsageError(str(err)) from None
    run = inputs.settings
    fmt = run.output_format
    for skipped in inputs.skipped:
        if verbosity > 0:
            click.echo(f"skipped {skipped}: excluded (--force-exclude)", err=True)
    diagnostics, sources = [], {}
    for policy in inputs.policies:
        if verbosity > 0:
            where = report_path(policy.settings.path)
            click.echo(f"checking {', '.join(policy.compiled.sources)} (configuration: {where})", err=True)
        diagnostics += checked(policy.compiled, policy.settings)
        sources.update(policy.compiled.sources)
    if not sources and verbosity >= 0 and fmt in ("full", "concise"):
        click.echo(NO_STAGED if staged else NO_FILES, err=True)
    if statistics:
        sys.stdout.write(report.statistics(diagnostics, fmt))
    else:
        text = report.render(diagnostics, sources, fmt, use_color(color))
        sys.stdout.write(text)
        sys.stdout.flush()
        if fmt in ("full", "concise") and sources and verbosity >= 0:
            click.echo(report.summary(diagnostics, len(sources)), err=True)
    failing = any(d.is_error or run.strict for d in diagnostics)
    sys.exit(1 if failing and not exit_zero else 0)


def checked(compiled, settings) -> list:
    """A compiled policy's diagnostics as check reports them: render's
    added for a clean policy, then suppressions and ignores applied."""
    from meshc.backends.istio import render

    rendered = None
    if compiled.ok:
        rendered = rendering_diagnostics(render(compiled.policy, rendering_version(settings)))
    return reported(compiled, settings, rendered)


def rendering_version(settings) -> str:
    """The Istio release to render for where the fleet does not say."""
    from meshc.language.values import ISTIO_VERSIONS

    return settings.istio_version or ISTIO_VERSIONS[-1]


def rendering_diagnostics(rendering) -> list:
    """What rendering found: the backend's diagnostics and the dead entries
    of the rendered VirtualServices."""
    from meshc.semantics.emitted import check_emitted

    return rendering.diagnostics + check_emitted(rendering)


def reported(compiled, settings, rendered) -> list:
    """The compiled policy's diagnostics with `rendered`, render's (None
    when the policy was not rendered), then suppressions and ignores applied."""
    from meshc.diagnostics import sanitize, suppress

    diagnostics = list(compiled.diagnostics)
    if rendered is not None:
        diagnostics = sanitize(diagnostics + rendered)
    return suppress.apply(diagnostics, compiled.suppressions, settings, compiled.ok)


def report_path(path) -> str:
    from meshc.language.source import display_path

    return display_path(path) if path else "none, defaults"


def _show(paths, overrides, settings: bool) -> str:
    """--show-settings: the settings of the first path's policy, as TOML;
    --show-files: the files that would be checked, one a line."""
    from meshc.config import describe
    from meshc.language.source import display_path
    from meshc.selection import select

    if settings:
        directory = paths[0] if paths and paths[0] != "-" else "."
        directory = directory if os.path.isdir(directory) else os.path.dirname(directory) or "."
        return describe(overrides.settings_for(directory), display_path(directory))
    return "".join(display_path(f) + "\n" for p in select(paths, overrides).policies for f in p.files)
