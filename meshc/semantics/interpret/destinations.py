"""Where a route sends requests and copies, as shares of targets
(docs/language.md, "Destinations").

- `to A w%, B rest`: each destination its weight, `rest` what the others
  leave; a single destination takes everything;
- `canary B -> C steps ... at N`: step N's percentage to the candidate, the
  rest to the baseline (all to the baseline at step 0); with `wave` lines,
  N is the `at` of the wave that lists the cluster whose configuration
  routes (a remote's proxies follow its primary's, and its primary's wave);
- `blue-green active A preview P`: the preview entry to P, the route to A;
- no destination: the service itself, without a subset;
- `mirror T p%`: a copy of p % of the requests (100 % without a percentage).

A share of 0 is no share at all. Ports: the routing service itself (a
subset, or no destination) on the port the request is routed on (the port
dialled in the mesh, the exposed port at a gateway); `service X port N` on
N; `service X` without a port on X's port when it has exactly one, else on
the port the request arrived on (the caller's port of the routing service,
or the gateway's port: "Destinations", issue 7).

A `local` service's targets are the caller's cluster's subsets ("Services
across clusters"): `C` for the service itself, `C-S` for its subset S, in
the cluster the entry routes for; mirrors too, since a copy of a request is
traffic to the service as much as the request.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple, Optional, Union

from meshc.language import ir
from meshc.model.resolve import CLUSTER_DOMAIN, Index, RouteOwner, ServiceInfo
from meshc.semantics.decision import Share, Target, percent_share

# A target as written: a subset name (canary, blue-green), an IR target, or
# None for the routing service itself.
Written = Union[str, ir.SubsetTarget, ir.ServiceTarget, None]


class Upstream(NamedTuple):
    """What a target is for its destination policy and pods: the declared
    service (None when undeclared), the subset as declared (a local subset
    `C-S` is S), whether the subset exists (a local subset of a cluster the
    service does not run in does not), and the clusters whose pods it
    selects (None: unknown, for a service the policy does not declare)."""

    info: Optional[ServiceInfo]
    subset: Optional[str]
    defined: bool = True
    pods: Optional[tuple[str, ...]] = None


def upstream(index: Index, info: ServiceInfo, subset: Optional[str], local: Optional[str]) -> Upstream:
    """A declared service's subset (None: the whole service); `local` is the
    caller's cluster when the service is `local`. Its pods run where the
    service does (`in`), restricted to the subset's cluster label
    (`subsets by cluster`, `in C`) and to a local subset's cluster."""
    declared = info.subset(subset) if subset is not None else None
    pinned = {p.value for p in declared.labels if p.key == ir.CLUSTER_LABEL} if declared else set()
    placement = index.topology.placement(info.service)
    pods = tuple(c for c in placement if all(c == p for p in pinned) and (local is None or c == local))
    return Upstream(info, subset, local is None or local in placement, pods)


def target(index: Index, info: RouteOwner, written: Written, port: Optional[int], arrived: int,
           local: Optional[str]) -> tuple[Target, Upstream]:
    """The upstream a written target names: `port` is the routing service's,
    `arrived` the port the request came on, `local` the caller's cluster for
    local services. A gateway `host` block's routes name services only
    (MESH326)."""
    if written is None or isinstance(written, (str, ir.SubsetTarget)):
        subset = written.subset.value if isinstance(written, ir.SubsetTarget) else written
        return _local(index, Target(info.host, subset, port), info, local)
    other = index.target_service(info, written)
    subset = written.subset.value if written.subset else None
    if other is None:  # an undeclared service (MESH204): its conventional host
        namespace = written.namespace.value if written.namespace else info.namespace.name.value
        host = f"{written.service.value}.{namespace}.{CLUSTER_DOMAIN}"
        return Target(host, subset, written.port or arrived), Upstream(None, subset)
    if written.port is not None:
        chosen = written.port
    elif len(other.service.ports) == 1:
        chosen = other.service.ports[0].number
    else:
        chosen = port if isinstance(info, ServiceInfo) and other.key == info.key else arrived
    return _local(index, Target(other.host, subset, chosen), other, local)


def _local(index: Index, t: Target, info: ServiceInfo, cluster: Optional[str]) -> tuple[Target, Upstream]:
    if info.service.local is None or cluster is None:
        return t, upstream(index, info, t.subset, None)
    local = cluster if t.subset is None else f"{cluster}-{t.subset}"
    return Target(t.host, local, t.port), upstream(index, info, t.subset, cluster)


def _percent(p: ir.Percent) -> Fraction:
    return Fraction(str(p.value))


def live_step(canary: ir.Canary, configuration: str) -> int:
    """The step a canary is at in the configuration of the primary
    `configuration`: the `at` of the wave listing it, else the canary's."""
    for wave in canary.waves:
        if any(name.value == configuration for name in wave.clusters):
            return wave.at
    return canary.at


def forwarded(route: Optional[ir.Route], preview: bool, configuration: str) -> list[tuple[Written, Fraction]]:
    """The written targets of a route's destinations with their shares, in
    the configuration of the primary `configuration`."""
    action = route.action if route is not None else None
    if action is None:
        return [(None, Fraction(1))]
    if isinstance(action, ir.BlueGreen):
        return [((action.preview if preview else action.active).value, Fraction(1))]
    if isinstance(action, ir.Canary):
        baseline, candidate = action.baseline.value, action.candidate.value
        step = live_step(action, configuration)
        if not 1 <= step <= len(action.steps):
            return [(baseline, Fraction(1))]
        moved = _percent(action.steps[step - 1]) / 100
        return [(t, s) for t, s in ((baseline, 1 - moved), (candidate, moved)) if s > 0]
    if len(action.destinations) == 1:
        return [(action.destinations[0].target, Fraction(1))]
    given = [_percent(d.weight) if d.weight is not None else None for d in action.destinations]
    left = 100 - sum(w for w in given if w is not None)
    weights = [w if w is not None else left for w in given]
    total = sum(weights)
    return [(d.target, w / total) for d, w in zip(action.destinations, weights) if w > 0]


def shares(index: Index, info: RouteOwner, route: Optional[ir.Route], preview: bool, port: Optional[int],
           arrived: int, local: Optional[str],
           configuration: str) -> tuple[tuple[Share, ...], tuple[Share, ...], dict[Target, Upstream]]:
    """(destinations, mirrors, what every target is), in the configuration
    of the primary `configuration`."""
    services: dict[Target, Upstream] = {}

    def resolve(written: Written, share: Fraction) -> Share:
        t, upstream = target(index, info, written, port, arrived, local)
        services[t] = upstream
        return Share(t, share)

    weights: dict[Target, Fraction] = {}
    for written, share in forwarded(route, preview, configuration):
        found = resolve(written, share)
        weights[found.target] = weights.get(found.target, Fraction(0)) + found.share
    destinations = tuple(sorted((Share(t, s) for t, s in weights.items() if s > 0), key=lambda s: s.target.key))
    mirrors = []
    for m in route.mirrors if route is not None else ():
        share = percent_share(m.percent.value) if m.percent is not None else Fraction(1)
        if share > 0:
            mirrors.append(resolve(m.target, share))
    return destinations, tuple(sorted(mirrors, key=lambda s: (s.target.key, s.share))), services
