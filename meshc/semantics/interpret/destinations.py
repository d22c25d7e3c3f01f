"""Where a route sends requests and copies, as shares of targets
(docs/language.md, "Destinations").

- `to A w%, B rest`: each destination its weight, `rest` what the others
  leave; a single destination takes everything;
- `canary B -> C steps ... at N`: step N's percentage to the candidate, the
  rest to the baseline (all to the baseline at step 0);
- `blue-green active A preview P`: the preview entry to P, the route to A;
- no destination: the service itself, without a subset;
- `mirror T p%`: a copy of p % of the requests (100 % without a percentage).

A share of 0 is no share at all. Ports: the routing service itself (a
subset, or no destination) on the port the request is routed on (the port
dialled in the mesh, the exposed port at a gateway); `service X port N` on
N; `service X` without a port on X's port when it has exactly one, else on
the port the request arrived on (the caller's port of the routing service,
or the gateway's port: "Destinations", issue 7).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional, Union

from meshc.language import ir
from meshc.model.resolve import CLUSTER_DOMAIN, Index, ServiceInfo
from meshc.semantics.decision import Share, Target, percent_share

# A target as written: a subset name (canary, blue-green), an IR target, or
# None for the routing service itself.
Written = Union[str, ir.SubsetTarget, ir.ServiceTarget, None]


def target(index: Index, info: ServiceInfo, written: Written, port: Optional[int],
           arrived: int) -> tuple[Target, Optional[ServiceInfo]]:
    """The upstream a written target names, and its service when declared:
    `port` is the routing service's, `arrived` the port the request came on."""
    if written is None:
        return Target(info.host, None, port), info
    if isinstance(written, str):
        return Target(info.host, written, port), info
    if isinstance(written, ir.SubsetTarget):
        return Target(info.host, written.subset.value, port), info
    other = index.target_service(info, written)
    subset = written.subset.value if written.subset else None
    if other is None:  # an undeclared service (MESH204): its conventional host
        namespace = written.namespace.value if written.namespace else info.namespace.name.value
        return Target(f"{written.service.value}.{namespace}.{CLUSTER_DOMAIN}", subset, written.port or arrived), None
    if written.port is not None:
        chosen = written.port
    elif len(other.service.ports) == 1:
        chosen = other.service.ports[0].number
    else:
        chosen = port if other.key == info.key else arrived
    return Target(other.host, subset, chosen), other


def _percent(p: ir.Percent) -> Fraction:
    return Fraction(str(p.value))


def forwarded(route: Optional[ir.Route], preview: bool) -> list[tuple[Written, Fraction]]:
    """The written targets of a route's destinations with their shares."""
    action = route.action if route is not None else None
    if action is None:
        return [(None, Fraction(1))]
    if isinstance(action, ir.BlueGreen):
        return [((action.preview if preview else action.active).value, Fraction(1))]
    if isinstance(action, ir.Canary):
        baseline, candidate = action.baseline.value, action.candidate.value
        if not 1 <= action.at <= len(action.steps):
            return [(baseline, Fraction(1))]
        moved = _percent(action.steps[action.at - 1]) / 100
        return [(t, s) for t, s in ((baseline, 1 - moved), (candidate, moved)) if s > 0]
    if len(action.destinations) == 1:
        return [(action.destinations[0].target, Fraction(1))]
    given = [_percent(d.weight) if d.weight is not None else None for d in action.destinations]
    left = 100 - sum(w for w in given if w is not None)
    weights = [w if w is not None else left for w in given]
    total = sum(weights)
    return [(d.target, w / total) for d, w in zip(action.destinations, weights) if w > 0]


def shares(index: Index, info: ServiceInfo, route: Optional[ir.Route], preview: bool, port: Optional[int],
           arrived: int) -> tuple[tuple[Share, ...], tuple[Share, ...], dict[Target, Optional[ServiceInfo]]]:
    """(destinations, mirrors, the service of every target)."""
    services: dict[Target, Optional[ServiceInfo]] = {}

    def resolve(written: Written, share: Fraction) -> Share:
        t, svc = target(index, info, written, port, arrived)
        services[t] = svc
        return Share(t, share)

    weights: dict[Target, Fraction] = {}
    for written, share in forwarded(route, preview):
        found = resolve(written, share)
        weights[found.target] = weights.get(found.target, Fraction(0)) + found.share
    destinations = tuple(sorted((Share(t, s) for t, s in weights.items() if s > 0), key=lambda s: s.target.key))
    mirrors = []
    for m in route.mirrors if route is not None else ():
        share = percent_share(m.percent.value) if m.percent is not None else Fraction(1)
        if share > 0:
            mirrors.append(resolve(m.target, share))
    return destinations, tuple(sorted(mirrors, key=lambda s: (s.target.key, s.share))), services
