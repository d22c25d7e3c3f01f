"""`meshc render PATH -o OUT`: Istio manifests, one directory per cluster."""

from __future__ import annotations

import os
import sys

import click

from meshc.commands import options
from meshc.commands.check import checked_and_rendered
from meshc.commands.options import color, file_selection, istio_version, output_format, use_color, verbosity
from meshc.diagnostics import report


@click.command("render")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), help="Directory to write, one subdirectory per cluster.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when OUT differs from what the sources render.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Write one multi-document stream to stdout instead of files.")
@click.option("--cluster", help="Render this cluster only (required with --stdout when the fleet has several).")
@istio_version
@output_format
@color
@options.ignore
@verbosity
@file_selection
def command(paths, out, check, to_stdout, cluster, overrides, istio_version, output_format, color, ignore,
            verbosity) -> None:
    """Render the policy in PATHS (a directory, or files of one directory).

    On any error nothing is written and an existing OUT is left as it was.
    With --cluster only OUT/CLUSTER is written, the other clusters'
    directories are left alone.
    """
    from meshc.output import manifests
    from meshc.output import writer as output

    if to_stdout == bool(out):
        raise click.UsageError("give either -o OUT or --stdout")
    if check and to_stdout:
        raise click.UsageError("--check compares with OUT; it does not combine with --stdout")
    compiled, rendering, clusters = rendered(paths, overrides, cluster, to_stdout, color, verbosity)
    if to_stdout:
        (docs,) = clusters.values()
        sys.stdout.write(manifests.stream(docs))
        return
    rendering.clusters = clusters
    files = manifests.files(rendering, source_names(compiled))
    target = out
    if cluster is not None:  # OUT/CLUSTER is the tree to write; the other clusters stay as they are
        target = os.path.join(out, cluster)
        files = {path.split("/", 1)[1]: text for path, text in files.items()}
    try:
        if check:
            diff = output.diff_tree(target, files, prefix=diff_prefix(target))
            if diff:
                sys.stdout.write(diff)
                click.echo(f"{target} differs from what the sources render", err=True)
                sys.exit(1)
            if verbosity >= 0:
                click.echo(f"{target} is up to date ({len(files)} files)", err=True)
            return
        written = output.write_tree(target, files)
    except output.OutputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    for warning in written.warnings:
        click.echo(f"warning: {warning}", err=True)
    if verbosity >= 0:
        click.echo(f"rendered {len(clusters)} cluster{'s' if len(clusters) != 1 else ''} "
                   f"into {target}: {_counts(written)}", err=True)


def rendered(paths, overrides, cluster, one_cluster: bool, color: str, verbosity: int):
    """The one policy of PATHS compiled and rendered, its diagnostics
    printed: (compiled, rendering, {cluster: documents} to use). Exits 1
    when the policy has errors, 2 on a usage, configuration or I/O error."""
    if cluster is not None and not cluster.strip():
        raise click.UsageError("--cluster is empty (with an Argo CD plugin: is the CLUSTER variable set?)")
    policy = options.one_policy(paths, overrides)
    compiled, settings = policy.compiled, policy.settings
    diagnostics, rendering = checked_and_rendered(compiled, settings)
    _print(diagnostics, compiled.sources, settings.output_format, color, verbosity)
    if rendering is None or any(d.is_error for d in diagnostics):
        sys.exit(1)
    return compiled, rendering, _clusters(rendering.clusters, settings.exclude_kinds, cluster, one_cluster)


def source_names(compiled) -> list[str]:
    """The file names the headers of rendered files name: those that
    declare something rendered (not the files of `test` blocks only)."""
    from meshc.model.resolve import rendered_files

    return sorted({path.rsplit("/", 1)[-1] for path in rendered_files(compiled.policy)})


def files_for(compiled, settings) -> tuple[dict[str, str], list]:
    """What `meshc render -o OUT` writes for a policy that compiles, with
    the configuration's settings ({path in OUT: text}), and the errors the
    backend reports (render writes nothing when there are any). Raises
    options.ConfigProblem as `render` would (excluded kinds of a cluster
    the fleet lacks)."""
    from meshc.backends.istio import render
    from meshc.language.values import ISTIO_VERSIONS
    from meshc.output import manifests

    rendering = render(compiled.policy, settings.istio_version or ISTIO_VERSIONS[-1])
    rendering.clusters = _clusters(rendering.clusters, settings.exclude_kinds, None, False)
    return manifests.files(rendering, source_names(compiled)), [d for d in rendering.diagnostics if d.is_error]


def _clusters(rendered: dict, exclude_kinds: dict, chosen, to_stdout: bool) -> dict:
    """The clusters to write, each without the kinds the configuration
    excludes for it; a usage error for an unknown or missing --cluster."""
    from meshc.suggest import did_you_mean

    names = list(rendered)
    for name in exclude_kinds:
        if name not in rendered:
            hint = did_you_mean(name, names)
            raise options.ConfigProblem(f"the configuration excludes kinds for cluster `{name}`, which the fleet "
                                       f"does not have ({hint or 'clusters: ' + ', '.join(names)})")
    if chosen is None and to_stdout and len(names) > 1:
        raise click.UsageError("the fleet has several clusters; choose one with --cluster (" + ", ".join(names) + ")")
    if chosen is not None and chosen not in rendered:
        hint = did_you_mean(chosen, names)
        raise click.UsageError(f"no cluster `{chosen}` in the fleet; {hint or 'clusters: ' + ', '.join(names)}")
    picked = names if chosen is None else [chosen]
    return {name: [d for d in rendered[name] if d.kind not in exclude_kinds.get(name, ())] for name in picked}


def diff_prefix(target: str) -> str:
    """OUT as seen from the working directory, so that the diff applies
    there with `git apply` (or `patch -p1`)."""
    from meshc.language.source import display_path

    shown = display_path(os.path.abspath(target))
    return "" if shown == "." or shown.startswith("/") else shown.rstrip("/") + "/"


def _print(diagnostics, sources, fmt: str, color: str, verbosity: int) -> None:
    """Diagnostics go to stderr: stdout may be carrying the manifests."""
    if not diagnostics:
        return
    sys.stderr.write(report.render(diagnostics, sources, fmt, use_color(color, sys.stderr)))
    if fmt in ("full", "concise") and verbosity >= 0:
        click.echo(report.summary(diagnostics, len(sources)), err=True)


def _counts(report_) -> str:
    parts = []
    for label in ("written", "unchanged", "removed"):
        items = getattr(report_, label, None)
        if items:
            parts.append(f"{len(items)} {label}")
    return ", ".join(parts) or "nothing to do"
