"""`meshc import PATH... -o DIR`: existing Istio YAML to .mesh, with a loss
report and a proof that the written policy routes like the input.

Exit codes: 0 nothing was lost (and the proof found no difference); 1
something was lost or routes differently (the policy is still written,
unless --strict); 2 a usage error, input that cannot be read (nothing is
written) or a directory that cannot be written.
"""

from __future__ import annotations

import os
import sys

import click

from meshc.commands.options import color, format_for, istio_version, output_format, use_color, verbosity
from meshc.diagnostics import report


def _cluster_option(ctx, param, values):
    out = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"`{value}` is not NAME=PATH")
        from meshc.importer.values import is_name

        if not is_name(name):
            raise click.BadParameter(f"`{name}` is not a cluster name (a DNS-1123 label)")
        out.append((name, path))
    return out


@click.command("import")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False),
              help="Directory to write the .mesh files into (one per namespace, and the fleet).")
@click.option("--cluster", "clusters", multiple=True, callback=_cluster_option, metavar="NAME=PATH",
              help="A cluster's YAML (a file or directory); repeat for each cluster, and for several paths of one.")
@click.option("--fleet", "fleet_file", type=click.Path(dir_okay=False),
              help="A .mesh file holding the fleet (regions, networks, remotes, Istio releases), used as it is.")
@click.option("--namespace", default="default", show_default=True,
              help="The namespace of resources that name none (as `kubectl apply -n`).")
@click.option("--strict", is_flag=True, help="Write nothing when anything would be lost.")
@click.option("--force", is_flag=True, help="Replace files of an earlier import even when they were edited since.")
@istio_version
@output_format
@color
@verbosity
def command(paths, out, clusters, fleet_file, namespace, strict, force, istio_version, output_format, color,
            verbosity) -> None:
    """Import the Istio resources in PATHS (files or directories of YAML:
    multi-document streams, `kubectl get -o yaml` lists, `kustomize build`
    output) as a .mesh policy in OUT, report what the language cannot
    express, and check that the written policy routes like the input."""
    from meshc.importer import output
    from meshc.importer.proof import prove
    from meshc.importer.run import DEFAULT_CLUSTER, ImportInputError, import_policy, read_inputs
    from meshc.importer.values import is_name
    from meshc.language.source import display_path
    from meshc.language.values import ISTIO_VERSIONS
    from meshc.output.writer import OutputError

    if paths and clusters:
        raise click.UsageError("give PATHs for one cluster, or --cluster NAME=PATH for each cluster, not both")
    if not paths and not clusters:
        raise click.UsageError("give the YAML to import: PATH... or --cluster NAME=PATH")
    if not is_name(namespace):
        raise click.BadParameter(f"`{namespace}` is not a namespace name", param_hint="--namespace")
    fmt = format_for(output_format, out)
    fleet = _fleet(fleet_file, fmt, color) if fleet_file else None
    grouped: dict[str, list[str]] = {}
    for name, path in clusters:
        grouped.setdefault(name, []).append(path)
    if paths:
        if fleet is not None and len([c for c in fleet.names if fleet.primary_of(c) == c]) > 1:
            raise click.UsageError("the fleet has several primaries: give each cluster's YAML with --cluster")
        grouped = {fleet.names[0] if fleet is not None else DEFAULT_CLUSTER: list(paths)}
    names = list(grouped)
    if fleet is not None:
        unknown = [n for n in names if n not in fleet.names]
        if unknown:
            raise click.UsageError(f"the fleet has no cluster `{unknown[0]}` (it has {', '.join(fleet.names)})")
        missing = [c for c in fleet.names if fleet.primary_of(c) == c and c not in grouped]
        if missing:
            raise click.UsageError(f"the fleet's primary `{missing[0]}` has no YAML: give it with --cluster")
        names = [c for c in fleet.names if c in grouped]
    try:
        inputs = read_inputs([(n, grouped[n]) for n in names], namespace)
    except ImportInputError as err:
        raise click.UsageError(str(err)) from None
    if inputs.unreadable:
        _print(inputs.unreadable, inputs.sources, fmt, color)
        if verbosity >= 0 and fmt in ("full", "concise"):
            click.echo(f"nothing imported: {len(inputs.unreadable)} file(s) cannot be read", err=True)
        sys.exit(2)
    result = import_policy(inputs, fleet, names)
    default = istio_version or ISTIO_VERSIONS[-1]
    versions = {c.name.value: c.istio for c in fleet.ir.clusters} if fleet is not None else {}
    primaries = {n: fleet.primary_of(n) if fleet is not None else n for n in names}
    istio = {n: versions.get(primaries[n]) or default for n in names}
    files = {name: output.with_header(text) for name, text in result.files.items()}
    proof = prove(files, result.trees, display_path(os.path.abspath(out)), inputs.clusters, primaries, istio,
                  result.ledger, namespace)
    diagnostics = sorted(result.losses + proof.diagnostics, key=lambda d: d.sort_key())
    sources = {**inputs.sources, **proof.sources}
    _print(diagnostics, sources, fmt, color)
    lost = bool(diagnostics)
    talk = verbosity >= 0 and fmt in ("full", "concise")
    if strict and lost:
        if talk:
            click.echo(f"nothing written (--strict): {_count(diagnostics)}", err=True)
        sys.exit(1)
    try:
        written = output.write(out, files, force)
    except OutputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    if talk:
        _summary(result, proof, written, out, diagnostics)
    sys.exit(1 if lost else 0)


def _fleet(path: str, fmt: str, color_: str):
    from meshc.importer.run import Fleet
    from meshc.language import syntax as s
    from meshc.language.fmt import format_text
    from meshc.language.lower import lower
    from meshc.language.parse import parse
    from meshc.language.source import SourceFile
    from meshc.pipeline import InputError, read_source

    try:
        source, problems = read_source(path)
    except InputError as err:
        raise click.UsageError(str(err)) from None
    tree, diagnostics = parse(source) if not problems else (None, problems)
    fleets = [item for item in tree.items if isinstance(item, s.Fleet)] if tree is not None else []
    if tree is not None and fleets:
        policy, diagnostics = lower([s.File(tree.span, tree.path, tuple(fleets))])
        if policy is not None and policy.fleet is not None:
            if len(tree.items) > 1:
                return Fleet(fleets[0], policy.fleet)
            text = format_text(source.text, source.path)
            return Fleet(fleets[0], policy.fleet, text, parse(SourceFile(source.path, text))[0])
    if diagnostics:
        _print(diagnostics, {source.path: source}, fmt, color_)
    raise click.UsageError(f"{path} holds no fleet meshc can use" + (" (see above)" if diagnostics else ""))


def _print(diagnostics, sources, fmt: str, color_: str) -> None:
    if diagnostics:
        sys.stderr.write(report.render(diagnostics, sources, fmt, use_color(color_, sys.stderr)))


def _count(diagnostics) -> str:
    codes = {d.code for d in diagnostics}
    lost = [d for d in diagnostics if d.code < "MESH840"]
    differ = [d for d in diagnostics if d.code >= "MESH850"]
    parts = []
    if lost:
        parts.append(f"{len(lost)} loss{'es' if len(lost) != 1 else ''}")
    if differ:
        parts.append(f"{len(differ)} difference{'s' if len(differ) != 1 else ''} found by the proof")
    return ", ".join(parts) or f"{len(codes)} problems"


def _summary(result, proof, written, out: str, diagnostics) -> None:
    resources = sum(len(found) for found in result.inputs.clusters.values())
    clusters = len(result.inputs.clusters)
    counts = [f"{len(getattr(written.report, k))} {k}" for k in ("written", "unchanged", "removed")
              if getattr(written.report, k)]
    click.echo(f"imported {resources} resource{'s' if resources != 1 else ''} from {len(result.inputs.sources)} "
               f"file{'s' if len(result.inputs.sources) != 1 else ''}"
               + (f" ({clusters} clusters)" if clusters > 1 else "") + f" into {out}: "
               + (", ".join(counts) or "nothing to do"), err=True)
    if written.replaced_edited:
        click.echo(f"replaced {len(written.replaced_edited)} edited file(s) (--force): "
                   + ", ".join(written.replaced_edited), err=True)
    if result.skipped:
        kinds = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in sorted(result.skipped.items()))
        click.echo(f"not traffic policy, skipped: {kinds}", err=True)
    if proof.complete:
        click.echo(f"proof: {proof.requests} request{'s' if proof.requests != 1 else ''} in {proof.clusters} cluster{'s' if proof.clusters != 1 else ''}"
                   f", {proof.differing} routed differently; {proof.alike} of {proof.documents} documents alike "
                   "after normalisation", err=True)
    click.echo("nothing lost" if not diagnostics else _count(diagnostics) + " (see above)", err=True)
