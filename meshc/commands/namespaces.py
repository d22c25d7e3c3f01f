"""`meshc namespaces PATH`: the namespaces each cluster needs before its manifests apply.

meshc renders no Namespace objects on purpose (pruning one would delete
every workload in it; docs/gitops.md), so cluster bootstrap creates them:
`meshc namespaces policies --cluster hangzhou | xargs -n1 kubectl create namespace`.
"""

from __future__ import annotations

import json
import sys

import click

from meshc.commands.options import color, file_selection, istio_version, verbosity
from meshc.commands.render import rendered


@click.command("namespaces")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--cluster", help="List this cluster's namespaces only, one a line.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="`CLUSTER NAMESPACE` lines (bare names with --cluster), or a JSON object of lists.")
@istio_version
@color
@verbosity
@file_selection
def command(paths, cluster, output_format, overrides, istio_version, color, verbosity) -> None:
    """List the namespaces that the rendered manifests of each cluster use
    (kinds a cluster excludes in the configuration left out).

    Exits 0, 1 when the policy has errors, 2 on a usage, configuration or
    I/O error.
    """
    needed = rendered(paths, overrides, cluster, False, color, verbosity, _namespaces).made
    if output_format == "json":
        sys.stdout.write(json.dumps(needed, indent=2) + "\n")
    elif cluster is not None:
        sys.stdout.write("".join(ns + "\n" for ns in needed[cluster]))
    else:
        sys.stdout.write("".join(f"{name} {ns}\n" for name, listed in needed.items() for ns in listed))


def _namespaces(chosen: dict, policy) -> dict[str, list[str]]:
    return {name: sorted({doc.namespace for doc in docs}) for name, docs in chosen.items()}
