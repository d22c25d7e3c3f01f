"""`meshc render PATH -o OUT`: Istio manifests, one directory per cluster."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from meshc.commands import options
from meshc.commands.check import rendering_diagnostics, rendering_version, reported
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
    from meshc.output import writer as output

    if to_stdout == bool(out):
        raise click.UsageError("give either -o OUT or --stdout")
    if check and to_stdout:
        raise click.UsageError("--check compares with OUT; it does not combine with --stdout")
    result = rendered(paths, overrides, cluster, to_stdout, color, verbosity, _stream if to_stdout else _files)
    if to_stdout:
        sys.stdout.write(result.made)
        return
    files = result.made
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
        count = len(result.clusters) if cluster is None else 1
        click.echo(f"rendered {count} cluster{'s' if count != 1 else ''} into {target}: {_counts(written)}", err=True)


@dataclass
class Output:
    """What rendering a policy gives a command."""

    clusters: list[str]
    """The fleet's clusters, rendered or not."""
    diagnostics: list
    """check.rendering_diagnostics: what rendering found."""
    made: Any = None
    """What the command's `make` made of the chosen clusters' documents."""


def rendered(paths, overrides, cluster, one_cluster: bool, color: str, verbosity: int,
             make: Callable[[dict, Any], Any]) -> Output:
    """The one policy of PATHS compiled and rendered, its diagnostics
    printed, and `make(chosen, policy)` of the documents of the chosen
    clusters (`{cluster: documents}`, without the kinds the configuration
    excludes). Exits 1 when the policy has errors, 2 on a usage,
    configuration or I/O error."""
    if cluster is not None and not cluster.strip():
        raise click.UsageError("--cluster is empty (with an Argo CD plugin: is the CLUSTER variable set?)")
    policy = options.one_policy(paths, overrides)
    compiled, settings = policy.compiled, policy.settings
    result = _output(cluster, one_cluster, make, settings, compiled.policy) if compiled.ok else None
    diagnostics = reported(compiled, settings, result and result.diagnostics)
    _print(diagnostics, compiled.sources, settings.output_format, color, verbosity)
    if result is None or any(d.is_error for d in diagnostics):
        sys.exit(1)
    _check_selection(result.clusters, settings.exclude_kinds, cluster, one_cluster)
    return result


def source_names(policy) -> list[str]:
    """The file names the headers of rendered files name: those that
    declare something rendered (not the files of `test` blocks only)."""
    from meshc.model.resolve import rendered_files

    return sorted({path.rsplit("/", 1)[-1] for path in rendered_files(policy)})


def files_for(compiled, settings) -> tuple[dict[str, str], list]:
    """What `meshc render -o OUT` writes for a policy that compiles, with
    the configuration's settings ({path in OUT: text}), and the errors the
    backend reports (render writes nothing when there are any). Raises
    options.ConfigProblem as `render` would (excluded kinds of a cluster
    the fleet lacks)."""
    from meshc.backends.istio import render

    rendering = render(compiled.policy, rendering_version(settings))
    _check_selection(list(rendering.clusters), settings.exclude_kinds, None, False)
    chosen = _chosen(rendering.clusters, settings.exclude_kinds, None)
    return _files(chosen, compiled.policy), [d for d in rendering.diagnostics if d.is_error]


def _output(cluster, one_cluster: bool, make, settings, policy) -> Output:
    """Render the policy, and make what the command needs of it."""
    from meshc.backends.istio import render

    rendering = render(policy, rendering_version(settings))
    result = Output(list(rendering.clusters), rendering_diagnostics(rendering))
    try:
        _check_selection(result.clusters, settings.exclude_kinds, cluster, one_cluster)
    except click.ClickException:
        return result  # rendered's own call reports it, after the diagnostics
    result.made = make(_chosen(rendering.clusters, settings.exclude_kinds, cluster), policy)
    return result


def _files(chosen: dict, policy) -> dict[str, str]:
    """`{relative path: text}` of every file of the chosen clusters."""
    from meshc.backends.istio import Rendering
    from meshc.output import manifests

    return manifests.files(Rendering(chosen), source_names(policy))


def _stream(chosen: dict, policy) -> str:
    """The one chosen cluster's documents as one stream."""
    from meshc.output import manifests

    (docs,) = chosen.values()
    return manifests.stream(docs)


def _check_selection(names: list[str], exclude_kinds: dict, chosen, to_stdout: bool) -> None:
    """A usage or configuration error for an unknown or missing --cluster,
    or a configuration excluding kinds for a cluster the fleet lacks."""
    from meshc.suggest import did_you_mean

    for name in exclude_kinds:
        if name not in names:
            hint = did_you_mean(name, names)
            raise options.ConfigProblem(f"the configuration excludes kinds for cluster `{name}`, which the fleet "
                                       f"does not have ({hint or 'clusters: ' + ', '.join(names)})")
    if chosen is None and to_stdout and len(names) > 1:
        raise click.UsageError("the fleet has several clusters; choose one with --cluster (" + ", ".join(names) + ")")
    if chosen is not None and chosen not in names:
        hint = did_you_mean(chosen, names)
        raise click.UsageError(f"no cluster `{chosen}` in the fleet; {hint or 'clusters: ' + ', '.join(names)}")


def _chosen(rendered: dict, exclude_kinds: dict, chosen) -> dict:
    """The clusters to write, each without the kinds the configuration excludes for it."""
    picked = list(rendered) if chosen is None else [chosen]
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
