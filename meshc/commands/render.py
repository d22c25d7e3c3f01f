"""`meshc render PATH -o OUT`: Istio manifests, one directory per cluster."""

from __future__ import annotations

import sys

import click

from meshc.commands.options import color, istio_version, output_format, use_color
from meshc.diagnostics import report
from meshc.pipeline import InputError, compile_paths, discover


@click.command("render")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), help="Directory to write, one subdirectory per cluster.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when OUT differs from what the sources render.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Write one multi-document stream to stdout instead of files.")
@click.option("--cluster", help="With --stdout: the cluster to render.")
@istio_version
@output_format
@color
def command(paths, out, check, to_stdout, cluster, istio_version, output_format, color) -> None:
    """Render the policy in PATHS (a directory, or files of one directory).

    On any error nothing is written and an existing OUT is left as it was.
    """
    from meshc.backends.istio import render
    from meshc.output import manifests
    from meshc.output import writer as output

    if to_stdout == bool(out):
        raise click.UsageError("give either -o OUT or --stdout")
    if check and to_stdout:
        raise click.UsageError("--check compares with OUT; it does not combine with --stdout")
    try:
        policies = discover(paths)
    except InputError as err:
        raise click.UsageError(str(err)) from None
    if len(policies) != 1:
        raise click.UsageError(f"render takes one policy (one directory of .mesh files); these paths hold {len(policies)}")
    compiled = compile_paths(policies[0])
    diagnostics = list(compiled.diagnostics)
    rendering = None
    if compiled.ok:
        rendering = render(compiled.policy, istio_version)
        diagnostics += rendering.diagnostics
    _print(diagnostics, compiled.sources, output_format, color)
    if rendering is None or any(d.is_error for d in diagnostics):
        sys.exit(1)
    if to_stdout:
        names = list(rendering.clusters)
        if cluster is None and len(names) > 1:
            raise click.UsageError("the fleet has several clusters; choose one with --cluster (" + ", ".join(names) + ")")
        chosen = cluster or names[0]
        if chosen not in rendering.clusters:
            raise click.UsageError(f"no cluster `{chosen}` in the fleet; clusters: " + ", ".join(names))
        sys.stdout.write(manifests.stream(rendering.clusters[chosen]))
        return
    sources = sorted({path.rsplit("/", 1)[-1] for path in compiled.sources})
    files = manifests.files(rendering, sources)
    try:
        if check:
            diff = output.diff_tree(out, files)
            if diff:
                sys.stdout.write(diff)
                click.echo(f"{out} differs from what the sources render", err=True)
                sys.exit(1)
            click.echo(f"{out} is up to date ({len(files)} files)", err=True)
            return
        written = output.write_tree(out, files)
    except output.OutputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    click.echo(f"rendered {len(rendering.clusters)} cluster{'s' if len(rendering.clusters) != 1 else ''} "
               f"into {out}: {_counts(written)}", err=True)


def _print(diagnostics, sources, fmt: str, color: str) -> None:
    """Diagnostics go to stderr: stdout may be carrying the manifests."""
    if not diagnostics:
        return
    sys.stderr.write(report.render(diagnostics, sources, fmt, use_color(color) and sys.stderr.isatty()))
    if fmt in ("full", "concise"):
        click.echo(report.summary(diagnostics, len(sources)), err=True)


def _counts(report_) -> str:
    parts = []
    for label in ("written", "unchanged", "removed"):
        items = getattr(report_, label, None)
        if items:
            parts.append(f"{len(items)} {label}")
    return ", ".join(parts) or "nothing to do"
