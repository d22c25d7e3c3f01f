"""Check what is emitted: the `http` entries of every rendered
VirtualService (mesh and gateway) that no request can reach, reported at the
source construct that produced them.

The checks on the IR catch a route shadowed by an earlier route of the same
service; what meshc adds when rendering (exposures of several services on
one host, preview entries, 404 entries) can shadow too. Reading the final
list the way pilot does (evaluate/dead.py) closes that gap.

Most VirtualServices have no entry that could cover a later one (each
route tests a header the next does not); `may_shadow` sees that from the
document alone, and only the others are compiled and analysed.
"""

from __future__ import annotations

from typing import Any

from meshc.backends.istio import Rendering
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic

PSEUDO_HEADERS = {"method": ":method", "authority": ":authority", "scheme": ":scheme"}
"""evaluate/routes.py's PSEUDO_HEADERS (a test holds them equal): match
fields evaluated as headers."""


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
                dead[id(doc)] = (doc, _dead_entries(doc.body))
            clusters.setdefault(id(doc), []).append(cluster)
    return [_diagnostic(doc, entry, clusters[key]) for key, (doc, entries) in dead.items() for entry in entries]


def _dead_entries(body: dict) -> list:
    if not may_shadow(body):
        return []
    from meshc.semantics.evaluate.dead import dead_entries
    from meshc.semantics.evaluate.documents import DocumentError

    try:
        return dead_entries(body)
    except DocumentError:
        return []  # the schemas and the checks report malformed output


def may_shadow(virtual_service: dict) -> bool:
    """False when no `http` entry of the VirtualService can take every
    request of a later one, so that dead_entries would find nothing: an
    entry is dead only when each of its match alternatives is covered by an
    earlier one, and an earlier alternative covers a later one only if it
    tests no header and no query parameter that the later one does not
    test too (dead.covers_alternative). True whenever unsure."""
    try:
        seen: list[tuple[frozenset, frozenset]] = []
        for entry in virtual_service["spec"].get("http") or ():
            alternatives = [_tested(m) for m in entry.get("match") or ()] or [(frozenset(), frozenset())]
            if all(any(h <= headers and q <= queries for h, q in seen) for headers, queries in alternatives):
                if seen:
                    return True
            seen += alternatives
        return False
    except (AttributeError, KeyError, TypeError):  # a malformed document: dead_entries says what it can
        return True


def _tested(match: Any) -> tuple[frozenset, frozenset]:
    """The header names (pseudo-headers included) and query parameters a
    match alternative tests."""
    headers = {str(k).lower() for key in ("headers", "withoutHeaders") for k in match.get(key) or {}}
    headers |= {pseudo for key, pseudo in PSEUDO_HEADERS.items() if match.get(key) is not None}
    return frozenset(headers), frozenset(str(k) for k in match.get("queryParams") or {})


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
