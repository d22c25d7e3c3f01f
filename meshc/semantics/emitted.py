"""Check what is emitted: the `http` entries of every rendered
VirtualService (mesh and gateway) that no request can reach, reported at the
source construct that produced them.

The checks on the IR catch a route shadowed by an earlier route of the same
service; what meshc adds when rendering (exposures of several services on
one host, preview entries, 404 entries) can shadow too. Reading the final
list the way pilot does (evaluate/dead.py) closes that gap.
"""

from __future__ import annotations

from meshc.backends.istio import Rendering
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.semantics.evaluate.dead import dead_entries
from meshc.semantics.evaluate.documents import DocumentError


def check_emitted(rendering: Rendering) -> list[Diagnostic]:
    """One diagnostic per dead entry, naming the clusters it is dead in (a
    document shared by several clusters is analysed once)."""
    dead: dict[int, tuple] = {}
    clusters: dict[int, list[str]] = {}
    for cluster, docs in rendering.clusters.items():
        for doc in docs:
            if doc.kind != "VirtualService" or not doc.entry_spans:
                continue
            if id(doc) not in dead:
                try:
                    dead[id(doc)] = (doc, dead_entries(doc.body))
                except DocumentError:
                    dead[id(doc)] = (doc, [])  # the schemas and the checks report malformed output
            clusters.setdefault(id(doc), []).append(cluster)
    return [_diagnostic(doc, entry, clusters[key]) for key, (doc, entries) in dead.items() for entry in entries]


def _diagnostic(doc, entry, clusters: list[str]) -> Diagnostic:
    http = doc.body["spec"]["http"]
    cover = entry.covered_by[0]
    name = http[entry.index].get("name", f"#{entry.index + 1}")
    winner = http[cover].get("name", f"#{cover + 1}")
    how = "matches every request" if entry.after_catch_all else "takes every request it would match"
    labels = [Label(doc.entry_spans[cover], f"renders entry `{winner}`")] \
        if doc.entry_spans[cover] != doc.entry_spans[entry.index] else []
    where = f"cluster{'s' if len(clusters) > 1 else ''} {', '.join(sorted(clusters))}"
    return diagnostic(
        "dead-rendered-entry",
        f"entry `{name}` of VirtualService {doc.namespace}/{doc.name} can never match in {where}: "
        f"entry `{winner}` before it {how}",
        doc.entry_spans[entry.index], labels=labels,
        help="reorder or narrow the routes or exposures so that the later one can be reached, or remove it",
    )
