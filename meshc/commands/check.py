"""`meshc check PATH...`: diagnostics for every policy the paths name."""

from __future__ import annotations

import sys

import click

from meshc.commands.options import color, istio_version, output_format, use_color
from meshc.diagnostics import report, sanitize
from meshc.pipeline import InputError, compile_paths, discover


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@istio_version
@output_format
@color
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def command(paths: tuple[str, ...], istio_version: str, output_format: str, color: str, strict: bool) -> None:
    """Check the policies in PATHS (directories, or files checked together
    with the rest of their directory) and print diagnostics.

    A policy that checks cleanly is also rendered (and nothing written), so
    that check reports whatever render would refuse.

    Exits 0 when there are no errors (warnings allowed unless --strict),
    1 when there are, 2 on a usage or I/O error.
    """
    from meshc.backends.istio import render

    try:
        policies = discover(paths)
        results = [compile_paths(files) for files in policies]
    except InputError as err:
        raise click.UsageError(str(err)) from None
    for r in results:
        if r.ok:
            r.diagnostics = sanitize(r.diagnostics + render(r.policy, istio_version).diagnostics)
    diagnostics = [d for r in results for d in r.diagnostics]
    sources = {path: src for r in results for path, src in r.sources.items()}
    text = report.render(diagnostics, sources, output_format, use_color(color))
    if output_format == "json" or text:
        sys.stdout.write(text)
        sys.stdout.flush()
    if output_format in ("full", "concise"):
        click.echo(report.summary(diagnostics, len(sources)), err=True)
    failing = any(d.is_error or strict for d in diagnostics)
    sys.exit(1 if failing else 0)
