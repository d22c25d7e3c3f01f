"""`local` services, read back from what meshc renders for them.

A local service's DestinationRule has, for every cluster C it runs in, a
subset `C` (its endpoints in C) and `C-S` for each declared subset S; every
route that sends traffic to it is rendered per calling cluster, sending to
that cluster's subsets, and, where a primary serves several clusters,
named `ROUTE-C` and matching `from cluster C` (backends/routes.py
`http_routes`, backends/destinations.py `local_subsets`). When every
primary's configuration has exactly that shape, the service is `local` and
its routes are read without the per-cluster copies; otherwise nothing
changes here and the clusters' differences are reported as usual.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

from meshc.importer.model import BlueGreen, ClusterImport, Forward, Mirror, Route, Service, Subset, Target
from meshc.language.ir import CLUSTER_LABEL
from meshc.model.topology import Topology


def unlocalise(readings: Sequence[ClusterImport], primaries: Sequence[str], topology: Topology) -> None:
    """Rewrite, in place, the readings of every service found to be local."""
    configs = [r for r in readings if r.cluster in primaries]
    keys = sorted({k for r in configs for k, s in r.services.items() if s.configured()})
    for key in keys:
        if not all(key in r.services for r in configs):
            continue
        shapes = {_local_shape(r.services[key], topology) for r in configs}
        if len(shapes) != 1 or None in shapes:
            continue
        rewritten = _rewrite(configs, {key: shapes.pop()}, topology)
        if rewritten is not None:
            for reading in configs:
                reading.services.update(rewritten[reading.cluster])


def _rewrite(configs: Sequence[ClusterImport], local: dict, topology: Topology) -> Optional[dict]:
    """Every reading with the routes to the `local` services read back;
    None when some primary's configuration is not meshc's shape for them
    (a service with cluster subsets that is not local, say)."""
    out: dict[str, dict[tuple[str, str], Service]] = {}
    for reading in configs:
        served = topology.served_by(reading.cluster)
        found: dict[tuple[str, str], Service] = {}
        for key, svc in reading.services.items():
            routes = svc.routes
            if key in local and not any(_localised(svc, r, local) for r in routes or ()):
                return None  # meshc renders a local service's own routes per cluster, always
            if routes is not None and _touches(svc, routes, local):
                placed = local[key][0] if key in local else None
                sources = tuple(c for c in served if placed is None or c in placed)
                routes = _routes(svc, routes, local, sources, len(served) > 1)
                if routes is None:
                    return None
            if key in local:
                found[key] = replace(svc, routes=routes, subsets=local[key][1], local=local[key][0])
            elif routes is not svc.routes:
                found[key] = replace(svc, routes=routes)
        out[reading.cluster] = found
    return out


def _local_shape(svc: Service, topology: Topology) -> Optional[tuple[tuple[str, ...], tuple[Subset, ...]]]:
    """(placement, declared subsets) when the subsets are meshc's local ones."""
    subsets = list(svc.subsets)
    if not subsets or subsets[0].labels != ((CLUSTER_LABEL, subsets[0].name),):
        return None
    placement = tuple(s.name for s in subsets if s.labels == ((CLUSTER_LABEL, s.name),))
    if not set(placement) <= set(topology.names):
        return None
    first = placement[0]
    declared = []
    for s in subsets[1:]:
        if s.name in placement:
            break
        if not s.name.startswith(first + "-") or (CLUSTER_LABEL, first) not in s.labels:
            return None
        declared.append(Subset(s.name[len(first) + 1:], tuple(x for x in s.labels if x[0] != CLUSTER_LABEL),
                               s.policy, s.effective, s.origin))
    expected = []
    for c in placement:
        expected.append((c, ((CLUSTER_LABEL, c),), None))
        expected += [(f"{c}-{d.name}", d.labels + ((CLUSTER_LABEL, c),), d.policy) for d in declared]
    if [(s.name, s.labels, s.policy) for s in subsets] != [(n, lbl, p) for n, lbl, p in expected]:
        return None
    return placement, tuple(declared)


def _touches(svc: Service, routes: tuple[Route, ...], local: dict) -> bool:
    if svc.key in local:
        return True
    return any((t.namespace, t.service) in local for r in routes for t in _targets(r))


def _targets(route: Route) -> list[Target]:
    out = [m.target for m in route.mirrors]
    if isinstance(route.action, Forward):
        out += [d.target for d in route.action.dests]
    return out


def _routes(svc: Service, routes: tuple[Route, ...], local: dict, sources: tuple[str, ...],
            several: bool) -> Optional[tuple[Route, ...]]:
    """The routes as written before meshc copied them per calling cluster."""
    out: list[Route] = []
    i = 0
    while i < len(routes):
        route = routes[i]
        if not _localised(svc, route, local):
            out.append(route)
            i += 1
            continue
        if not several:
            back = _back(svc, route, local, sources[0], route.name, False)
            if back is None:
                return None
            out.append(back)
            i += 1
            continue
        copies = routes[i:i + len(sources)]
        base = next((route.name[: -len(c) - 1] for c in sources[:1] if route.name.endswith("-" + c)), None)
        if base is None or len(copies) != len(sources):
            return None
        backs = {_back(svc, r, local, c, base, True) for r, c in zip(copies, sources)}
        if len(backs) != 1 or None in backs or any(r.name != f"{base}-{c}" for r, c in zip(copies, sources)):
            return None
        out.append(backs.pop())
        i += len(sources)
    return tuple(out)


def _localised(svc: Service, route: Route, local: dict) -> bool:
    """meshc renders the route per calling cluster: it sends to a local
    service (the service itself, when it is local and routes to itself)."""
    if svc.key in local and not isinstance(route.action, Forward):
        return True
    return any((t.namespace, t.service) in local for t in _targets(route))


def _back(svc: Service, route: Route, local: dict, source: str, name: str, matched: bool) -> Optional[Route]:
    def target(t: Target) -> Optional[Target]:
        if (t.namespace, t.service) not in local:
            return t
        if t.subset == source:
            return replace(t, subset=None)
        if t.subset is not None and t.subset.startswith(source + "-"):
            return replace(t, subset=t.subset[len(source) + 1:])
        return None

    matches = route.matches
    if matched:
        stripped = []
        for m in matches:
            here = [c for c in m if c.kind == "source-label" and c.name == CLUSTER_LABEL]
            if len(here) != 1 or here[0].value != source:
                return None
            stripped.append(tuple(c for c in m if c is not here[0]))
        matches = tuple(stripped)
        if any(not m for m in matches):
            matches = ()
    action = route.action
    if isinstance(action, Forward):
        dests = [replace(d, target=target(d.target)) for d in action.dests]
        if any(d.target is None for d in dests):
            return None
        action = Forward(tuple(dests))
        own = Target(svc.namespace, svc.name)
        if svc.key in local and len(dests) == 1 and dests[0].target == own:
            action = None
    elif isinstance(action, BlueGreen):
        return None
    mirrors = [Mirror(target(m.target), m.percent) for m in route.mirrors]
    if any(m.target is None for m in mirrors):
        return None
    return Route(name, matches, action, tuple(mirrors), route.options, route.origin)

