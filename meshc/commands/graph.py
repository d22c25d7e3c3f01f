"""`meshc graph PATH`: each service's routing as a picture.

Per service: the gateways and hosts that expose it, its routes in the order
they are tried with their conditions and options, and where each sends
traffic: weights (a canary at its live step), blue-green, mirrors; for a
service that runs in some clusters only, those clusters. Mermaid (pull requests, docs),
Graphviz dot, or SVG drawn by `dot`.
"""

from __future__ import annotations

import sys

import click

from meshc.commands import options
from meshc.commands.check import checked
from meshc.commands.options import color, file_selection, output_format, use_color
from meshc.diagnostics import report

FORMATS = ("mermaid", "dot", "svg")


@click.command("graph")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--service", "services", multiple=True, metavar="NS/NAME",
              help="Only this service (NAME alone when it is unique); repeatable.")
@click.option("--cluster", help="Show route options and canary steps as in this cluster "
                                "(default: every cluster's, where they differ).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mermaid", show_default=True,
              help="mermaid (renders on GitHub), dot, or svg (drawn by Graphviz's `dot`).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@output_format
@color
@file_selection
def command(paths, services, cluster, fmt, out, overrides, output_format, color) -> None:
    """Draw the services of the policy in PATHS (a directory, or files of one
    directory).

    Exits 0 when drawn, 1 when the policy has errors (they are printed and
    nothing is drawn), 2 on a usage, configuration or I/O error or when
    Graphviz fails.
    """
    from meshc.graph.model import build
    from meshc.model.resolve import clusters

    policy = options.one_policy(paths, overrides)
    compiled = policy.compiled
    if not compiled.ok:  # a picture of a policy with errors would mislead: say what is wrong instead
        sys.stderr.write(report.render(checked(compiled, policy.settings), compiled.sources,
                                       policy.settings.output_format, use_color(color, sys.stderr)))
        sys.exit(1)
    known = clusters(compiled.policy)
    if cluster is not None and cluster not in known:
        raise click.UsageError(f"no cluster `{cluster}` in the fleet; clusters: {', '.join(known)}")
    graphs = build(compiled.policy, cluster)
    if services:
        graphs = [_pick(graphs, wanted) for wanted in dict.fromkeys(services)]
    text = _draw(graphs, fmt)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        click.echo(f"error: cannot write {out}: {err.strerror or err}", err=True)
        sys.exit(2)


def _pick(graphs, wanted: str):
    found = [g for g in graphs if g.key == wanted or ("/" not in wanted and g.name == wanted)]
    if len(found) == 1:
        return found[0]
    if found:
        raise click.UsageError(f"`{wanted}` is ambiguous: " + ", ".join(g.key for g in found) + "; give NS/NAME")
    raise click.UsageError(f"no service `{wanted}` in the policy; services: " + ", ".join(g.key for g in graphs))


def _draw(graphs, fmt: str) -> str:
    if fmt == "mermaid":
        from meshc.graph.mermaid import mermaid
        return mermaid(graphs)
    if fmt == "dot":
        from meshc.graph.dot import dot
        return dot(graphs)
    from meshc.graph.svg import GraphvizError, svg
    try:
        return svg(graphs)
    except GraphvizError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
