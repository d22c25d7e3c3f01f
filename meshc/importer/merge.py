"""Several clusters' readings made one policy.

In the language a service's routes, subsets, subset and port policy, and a
namespace's defaults, gateways, external services and security are the same
in every cluster; only route options and the service's policy may differ
(`on CLUSTER`). So, setting by setting, the value most clusters agree on is
written for all (a setting some cluster does not have is written in the
clusters that have it only, as the language cannot unset), the others as
`on CLUSTER` overrides, and anything else that differs is reported with the
first cluster's version kept.

Then the idioms: a route option every route of a service has alike is
written once on the service; a service whose only route takes every request
to the service itself, with options, is a service with those options.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence

from meshc.diagnostics import Label
from meshc.importer import values as val
from meshc.importer.destination_rules import istio_fields
from meshc.importer.ledger import Ledger
from meshc.importer.locality import unlocalise
from meshc.importer.model import (ClusterImport, Forward, Namespace, Origin, Port, Route, Service, Settings, Target,
                                  Waves, least, merge, settings)
from meshc.importer.resources import Resource
from meshc.model.topology import Topology

DEFAULT_ROUTE = "default"
# Words that end the list of a wave's clusters besides the statement words
# (docs/language.md, lexical rules): such a cluster cannot be listed.
WAVE_WORDS = frozenset({"after", "at", "wave", "pause", "analysis"})


@dataclass
class Plan:
    """A service as it will be written."""

    service: Service
    placement: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    options: Settings = ()
    route_overrides: dict[str, dict[str, Settings]] = field(default_factory=dict)
    option_overrides: dict[str, Settings] = field(default_factory=dict)
    policy_overrides: dict[str, Settings] = field(default_factory=dict)


@dataclass
class Block:
    """A gateway's `host` block as it will be written."""

    routes: tuple[Route, ...]
    options: Settings = ()
    route_overrides: dict[str, dict[str, Settings]] = field(default_factory=dict)


@dataclass
class Merged:
    clusters: tuple[str, ...]
    namespaces: dict[str, Namespace]
    services: dict[tuple[str, str], Plan]
    blocks: dict[tuple[str, str, str], Block] = field(default_factory=dict)
    """By (namespace, gateway, host)."""


def merge_clusters(readings: Sequence[ClusterImport], primaries: Sequence[str], ledger: Ledger,
                   topology: Optional[Topology] = None) -> Merged:
    """`readings` in cluster order; only `primaries` carry configuration;
    `topology` (with a fleet) lets `local` services be recognised."""
    if topology is not None:
        unlocalise(readings, primaries, topology)
    configs = [r for r in readings if r.cluster in primaries]
    clusters = tuple(r.cluster for r in readings)
    services: dict[tuple[str, str], Plan] = {}
    keys = sorted({k for r in readings for k in r.services})
    for key in keys:
        plan = _service(key, configs, readings, ledger, {r.cluster: r.namespaces[key[0]].defaults or ()
                                                         for r in configs if key[0] in r.namespaces})
        if plan is not None:
            services[key] = plan
    namespaces = _namespaces(configs, ledger)
    for ns, _ in keys:
        namespaces.setdefault(ns, Namespace(ns))
    blocks = {key: _block(key, configs, ledger) for key in sorted({k for r in configs for k in r.host_routes})}
    return Merged(clusters, dict(sorted(namespaces.items())), services, blocks)


def _block(key: tuple[str, str, str], configs: Sequence[ClusterImport], ledger: Ledger) -> Block:
    """A `host` block: routes the same everywhere, their options per cluster."""
    found = [(r.cluster, r.host_routes[key]) for r in configs if key in r.host_routes]
    base = found[0][1]
    origin = base[0].origin.resource if base and base[0].origin else None
    if origin is not None and (len(found) < len(configs) or any(_shape(rs) != _shape(base) for _, rs in found)):
        ledger.lose("differs-per-cluster", origin, ("spec", "http"),
                    f"routes host `{key[2]}` on gateway {key[0]}/{key[1]} otherwise in some clusters; the language "
                    "routes a gateway's host the same in every cluster, and the first cluster's routes are imported",
                    merged=True)
    same = [(c, rs) for c, rs in found if _shape(rs) == _shape(base)]
    block = Block(base)
    routes = []
    for i, route in enumerate(base):
        common, per_cluster = _split({c: dict(rs[i].options) for c, rs in same})
        routes.append(replace(route, options=common))
        if per_cluster:
            block.route_overrides[route.name] = per_cluster
    overridden = {k for o in block.route_overrides.values() for c in o.values() for k in dict(c)}
    first = dict(routes[0].options) if routes else {}
    shared = {k: v for k, v in first.items()
              if k not in overridden and all(dict(r.options).get(k, _NOTHING) == v for r in routes)}
    if shared:
        block.options = settings(shared)
        routes = [replace(r, options=settings({k: v for k, v in dict(r.options).items() if k not in shared}))
                  for r in routes]
    block.routes = tuple(routes)
    return block


_NOTHING = object()


# --------------------------------------------------------------- services
def _service(key: tuple[str, str], configs: Sequence[ClusterImport], readings: Sequence[ClusterImport],
             ledger: Ledger, defaults: dict[str, Settings]) -> Optional[Plan]:
    found = [(r.cluster, r.services[key]) for r in configs if key in r.services]
    configured = [(c, s) for c, s in found if s.configured()]
    everywhere = [(r.cluster, r.services[key]) for r in readings if key in r.services]
    if not found and not everywhere:
        return None
    if configured and all(s.routes is None or _options_only(s) for _, s in configured) and (
            any(s.routes is None for _, s in configured) or len(configured) < len(found)):
        # A service with route options in some clusters only renders a
        # VirtualService there only: no routes, its options per cluster
        # (none where it has no VirtualService, or nothing at all).
        configured = [(c, replace(s, routes=(), options=s.routes[0].options if s.routes else ()))
                      for c, s in found]
    if len(configured) > 1 and len(configured) == len(configs):
        configured = _waves(configured)
    base = configured[0][1] if configured else (found or everywhere)[0][1]
    if configured and len(configured) < len(configs):
        missing = [r.cluster for r in configs if r.cluster not in {c for c, _ in configured}]
        _differs(ledger, base, f"configures service {key[0]}/{key[1]} in cluster "
                               f"{', '.join(c for c, _ in configured)} but not in {', '.join(missing)}; the language "
                               "configures a service in every primary alike")
    ports = _ports(everywhere)
    plan = Plan(replace(base, ports=ports, exposes=_exposed_ports(base, ports)))
    plan.placement = _placement(everywhere, [r.cluster for r in readings])
    if base.local is not None and set(base.local) != {r.cluster for r in readings}:
        plan.placement = base.local
    plan.routes = base.routes or ()
    for cluster, other in configured[1:]:
        _compare(ledger, base, other, cluster)
    if configured:
        _overrides(plan, configured)
        _levels(plan, [(c, s, defaults.get(c, ())) for c, s in configured], ledger)
    _lift(plan, [c for c, _ in configured])
    return plan


def _waves(configured: list[tuple[str, Service]]) -> list[tuple[str, Service]]:
    """A route that differs between the primaries only in its split between
    two subsets of the service is meshc's fleet canary: its steps are the
    candidate's shares seen (and 100 %, where every canary ends), its waves
    the primaries by share, furthest first, each after the wave before at
    its step. The language has no other way for routing to differ per
    cluster (docs/language.md, "Fleet canaries")."""
    routes = [s.routes for _, s in configured]
    if any(r is None for r in routes) or len({len(r) for r in routes}) != 1 or any(
            c in val.STATEMENT_WORDS | WAVE_WORDS for c, _ in configured):
        return configured
    changed = [list(r) for r in routes]
    made = False
    for i, first in enumerate(routes[0]):
        variants = [r[i] for r in routes]
        if all(_shape((v,)) == _shape((first,)) for v in variants):
            continue
        splits = [_two_subsets(v, configured[0][1]) for v in variants]
        if None in splits or len({sp[:2] for sp in splits}) != 1 or any(
                (v.name, v.matches, v.mirrors) != (first.name, first.matches, first.mirrors) for v in variants):
            continue
        shares = [sp[2] for sp in splits]
        steps = tuple(sorted(set(shares) - {0} | {100}))
        at = {c: steps.index(p) + 1 if p else 0 for (c, _), p in zip(configured, shares)}
        waves: list[tuple[tuple[str, ...], Optional[int], int]] = []
        for step in sorted(set(at.values()), reverse=True):
            before = waves[-1][2] if waves else None
            after = before if step and before is not None and before < len(steps) else None
            waves.append((tuple(c for c, _ in configured if at[c] == step), after, step))
        action = Waves(splits[0][0], splits[0][1], steps, tuple(waves))
        for k in range(len(changed)):
            changed[k][i] = replace(changed[k][i], action=action)
        made = True
    if not made:
        return configured
    return [(c, replace(svc, routes=tuple(rs))) for (c, svc), rs in zip(configured, changed)]


def _two_subsets(route: Route, svc: Service) -> Optional[tuple[str, str, int]]:
    """(baseline, candidate, candidate's share) of a route splitting between
    two subsets of `svc`, as a canary renders it (baseline first)."""
    action = route.action
    if not isinstance(action, Forward) or len(action.dests) != 2:
        return None
    (b, bw), (c, cw) = ((d.target, d.weight) for d in action.dests)
    if any(t.namespace != svc.namespace or t.service != svc.name or t.port is not None or t.subset is None
           for t in (b, c)) or b.subset == c.subset or not (bw or "").isdigit() or not (cw or "").isdigit() \
            or int(bw) + int(cw) != 100:
        return None
    return b.subset, c.subset, int(cw)


def _levels(plan: Plan, configured: list[tuple[str, Service, Settings]], ledger: Ledger) -> None:
    """The policy each port and subset is written with: one that, over the
    service's policy in each cluster (`on CLUSTER` included), and for a
    subset on a port over the port's, gives what Istio applies there, in
    every cluster. Where none does, the clusters disagree (only a service's
    policy may differ per cluster) or Istio's whole-message replacement
    drops what the language's inheritance keeps: both are reported."""
    service = {c: merge(d, s.policy) for c, s, d in configured}
    ports, written_ports = [], {}
    for number, own, effective in plan.service.port_policies:
        found = [(service[c], e, True) for c, s, _ in configured for n, _, e in s.port_policies if n == number]
        written, problem = _level(found, set())
        if problem:
            origin = next((Origin(r, ("spec", "trafficPolicy")) for r in plan.service.sources
                           if r.kind == "DestinationRule"), None)
            _level_lost(ledger, origin, f"port {number}", problem)
            written = own
        ports.append((number, written, effective))
        written_ports[number] = written or ()
    # A port's own settings win over the service's but not over a subset's:
    # a setting a subset repeats from the service must not be one a port sets.
    ported = {k for own in written_ports.values() for k, _ in own}
    subsets = []
    for i, sub in enumerate(plan.service.subsets):
        found = []
        for c, s, _ in configured:
            if i < len(s.subsets) and s.subsets[i].name == sub.name:
                present = s.subsets[i].policy is not None
                found.append((service[c], s.subsets[i].effective, present))
                found += [(merge(service[c], written_ports[n]), s.combos[(sub.name, n)], present)
                          for n in written_ports if (sub.name, n) in s.combos]
        written, problem = _level(found, ported)
        if problem:
            _level_lost(ledger, sub.origin, f"subset `{sub.name}`", problem)
            written = sub.policy
        subsets.append(sub if written == sub.policy else replace(sub, policy=written))
    if tuple(subsets) != plan.service.subsets or tuple(ports) != plan.service.port_policies:
        plan.service = replace(plan.service, subsets=tuple(subsets), port_policies=tuple(ports))


def _level(found: list[tuple[Settings, Settings, bool]], avoid: set[str]) -> tuple[Optional[Settings], Any]:
    """(what it inherits, what Istio applies, has a policy) for every place a
    subset or port policy applies -> (the settings to write or None for no
    policy, None), or (None, the problem): `clusters` when no one policy
    fits every cluster, else the settings Istio drops that the language
    would keep. `avoid`: settings not to repeat from the service (ports set
    them) when one must be written to keep a policy that sets nothing new."""
    if not any(present for _, _, present in found):
        return None, None
    wanted: dict[str, Any] = {}
    for under, effective, _ in found:
        for k, v in least(effective, under):
            if wanted.setdefault(k, v) != v:
                return None, "clusters"
    if not wanted and any(effective for _, effective, _ in found):
        # A policy that sets nothing new still has to be there (meshc renders
        # it in full): one setting every place inherits alike.
        first = dict(found[0][1])
        agreed = [k for k, v in first.items() if k not in avoid and all(dict(u).get(k) == v for u, _, _ in found)]
        key = next((k for k in agreed if not k.startswith("eject.")), next(iter(agreed), None))
        if key is None:
            return None, "clusters"
        wanted = {k: v for k, v in first.items() if k == key or (key.startswith("eject.") and k.startswith("eject."))}
    chosen = settings(wanted)
    kept = sorted({k for under, effective, _ in found for k, v in merge(under, chosen)
                   if dict(effective).get(k) != v})
    return (chosen, None) if not kept else (None, kept)


def _level_lost(ledger: Ledger, origin: Optional[Origin], what: str, problem: Any) -> None:
    if origin is None:
        return
    if problem == "clusters":
        ledger.lose("differs-per-cluster", origin.resource, origin.path,
                    f"gives {what} a policy no one `.mesh` policy can give in every cluster (only a service's policy "
                    "may differ per cluster, `on CLUSTER`); the first cluster's is imported", merged=True)
    else:
        ledger.lose("policy-not-inherited", origin.resource, origin.path,
                    f"Istio replaces whole messages: for {what} it drops or changes {istio_fields(problem)}, which the "
                    "language's setting-by-setting inheritance keeps", merged=True)


def _ports(everywhere: list[tuple[str, Service]]) -> dict[int, Port]:
    ports: dict[int, Port] = {}
    for _, svc in everywhere:
        for number, port in svc.ports.items():
            known = ports.get(number)
            if known is None or (known.name is None and port.name is not None):
                ports[number] = port
    return ports  # in the order read: meshc renders port-level settings in the order of the ports


def _exposed_ports(svc: Service, ports: dict) -> tuple:
    """An exposure read with no port (no destination at the gateway showed
    one), of a service found to have several ports once every resource was
    read: the language wants one said (MESH319). It shows only in the
    service's own destinations that name no port, which meshc's rendering
    of such a service has none of; the lowest is written, and the proof
    compares what it renders."""
    if len(ports) < 2:
        return svc.exposes
    return tuple(replace(e, port=min(ports)) if e.port is None else e for e in svc.exposes)


def _placement(everywhere: list[tuple[str, Service]], clusters: list[str]) -> tuple[str, ...]:
    """Where the service runs, when meshc's Service stubs say where it does not."""
    where = {c: s.runs_here for c, s in everywhere}
    if not any(v is False for v in where.values()) or len(clusters) < 2:
        return ()
    return tuple(c for c in clusters if where.get(c) is not False)


def _origin(svc: Service) -> Optional[Resource]:
    return svc.sources[0] if svc.sources else None


def _source(svc: Service, kind: str) -> Optional[Resource]:
    """The resource of a kind a service was read from (any, lacking one)."""
    return next((r for r in svc.sources if r.kind == kind), _origin(svc))


def _differs(ledger: Ledger, svc: Service, message: str, path: tuple = ("metadata", "name")) -> None:
    res = _origin(svc)
    if res is not None:
        ledger.lose("differs-per-cluster", res, path, message, value=True, merged=True)


def _compare(ledger: Ledger, base: Service, other: Service, cluster: str) -> None:
    """Report what differs in `cluster` beyond what `on CLUSTER` can say."""
    what = []
    if _shape(base.routes) != _shape(other.routes):
        what.append("routes")
    if tuple((s.name, s.labels, s.policy is None) for s in base.subsets) != tuple(
            (s.name, s.labels, s.policy is None) for s in other.subsets):
        what.append("subsets")
    if [p[0] for p in base.port_policies] != [p[0] for p in other.port_policies]:
        what.append("ports with a policy")
    if base.exposes != other.exposes:
        what.append("gateway exposure")
    if what:
        kind = "VirtualService" if what[0] in ("routes", "gateway exposure") else "DestinationRule"
        mine, theirs = _source(base, kind), _source(other, kind)
        if mine is not None:
            labels = [Label(theirs.value_span("metadata", "name"), f"cluster `{cluster}` has this")] if theirs else []
            ledger.lose("differs-per-cluster", mine, ("metadata", "name"),
                        f"gives service {base.namespace}/{base.name} other {' and '.join(what)} in cluster `{cluster}` "
                        "than here; the language keeps these the same in every cluster, and these are imported",
                        value=True, labels=labels, merged=True)


def _shape(routes: Optional[tuple[Route, ...]]) -> Any:
    """Routes without their options (which may differ per cluster)."""
    return None if routes is None else tuple((r.name, r.matches, r.action, r.mirrors) for r in routes)


def _overrides(plan: Plan, configured: list[tuple[str, Service]]) -> None:
    """Base values and per-cluster overrides, setting by setting."""
    base = plan.service
    shape = _shape(base.routes)
    same = [(c, s) for c, s in configured if _shape(s.routes) == shape]
    routes = []
    for i, route in enumerate(plan.routes):
        values = {c: dict(s.routes[i].options) for c, s in same}
        common, per_cluster = _split(values)
        routes.append(route if common == route.options else replace(route, options=common))
        if per_cluster:
            plan.route_overrides[route.name] = per_cluster
    plan.routes = tuple(routes)
    common, per_cluster = _split({c: dict(s.policy) for c, s in configured})
    if common != plan.service.policy:
        plan.service = replace(plan.service, policy=common)
    plan.policy_overrides = per_cluster
    if base.routes == ():
        plan.options, plan.option_overrides = _split({c: dict(s.options) for c, s in configured})


def _split(values: dict[str, dict[str, Any]]) -> tuple[Settings, dict[str, Settings]]:
    """(settings for every cluster, {cluster: its own settings})."""
    clusters = list(values)
    if all(values[c] == values[clusters[0]] for c in clusters[1:]):
        return settings(values[clusters[0]]) if clusters else (), {}
    keys = sorted({k for v in values.values() for k in v})
    common: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {c: {} for c in clusters}
    for key in keys:
        seen = [values[c].get(key) for c in clusters]
        if None in seen:
            chosen = None
        else:
            counts = Counter(map(_hashable, seen))
            top = max(counts.values())
            chosen = next(v for v in seen if counts[_hashable(v)] == top)
            common[key] = chosen
        for c, v in zip(clusters, seen):
            if v is not None and v != chosen:
                own[c][key] = v
    _whole_ejects(common, own, values)
    return settings(common), {c: settings(v) for c, v in own.items() if v}


def _whole_ejects(common: dict, own: dict[str, dict], values: dict[str, dict]) -> None:
    """An override of one `eject` field writes the cluster's whole `eject`."""
    for c, v in own.items():
        if any(k.startswith("eject.") for k in v):
            v.update({k: x for k, x in values[c].items() if k.startswith("eject.")})


def _hashable(value: Any) -> Any:
    return repr(value)


def _lift(plan: Plan, clusters: list[str]) -> None:
    """A route option every route has alike, in every cluster, is the service's."""
    routes = plan.routes
    if not routes:
        return

    def value(route: Route, key: str) -> tuple:
        overrides = plan.route_overrides.get(route.name, {})
        return dict(route.options).get(key), tuple(sorted((c, dict(o)[key]) for c, o in overrides.items()
                                                          if key in dict(o)))

    keys = {k for r in routes for k in dict(r.options)}
    keys |= {k for r in routes for o in plan.route_overrides.get(r.name, {}).values() for k in dict(o)}
    lifted = sorted(k for k in keys if all(value(r, k) == value(routes[0], k) for r in routes))
    if not lifted:
        return
    plan.options = settings({k: value(routes[0], k)[0] for k in lifted})
    for c, o in plan.route_overrides.get(routes[0].name, {}).items():
        mine = {k: v for k, v in dict(o).items() if k in lifted}
        if mine:
            plan.option_overrides[c] = settings(mine)
    plan.routes = tuple(replace(r, options=settings({k: v for k, v in dict(r.options).items() if k not in lifted}))
                        if any(k in lifted for k, _ in r.options) else r for r in routes)
    for name in list(plan.route_overrides):
        left = {c: settings({k: v for k, v in dict(o).items() if k not in lifted})
                for c, o in plan.route_overrides[name].items()}
        plan.route_overrides[name] = {c: o for c, o in left.items() if o}
        if not plan.route_overrides[name]:
            del plan.route_overrides[name]
    only = plan.routes[0]
    if len(plan.routes) == 1 and _plain_default(only) and not only.options and (
            plan.options or set(clusters) <= set(plan.option_overrides)):
        plan.routes = ()  # the service's options (in every cluster) alone render this very entry


def _options_only(svc: Service) -> bool:
    """A VirtualService whose one route is the `default` a service with
    options and no routes renders."""
    return svc.routes is not None and len(svc.routes) == 1 and _plain_default(svc.routes[0])


def _plain_default(route: Route) -> bool:
    return route.name == DEFAULT_ROUTE and not route.matches and route.action is None and not route.mirrors


# ------------------------------------------------------------- namespaces
def _namespaces(configs: Sequence[ClusterImport], ledger: Ledger) -> dict[str, Namespace]:
    out: dict[str, Namespace] = {}
    names = sorted({n for r in configs for n in r.namespaces})
    for name in names:
        found = [(r.cluster, r.namespaces[name]) for r in configs if name in r.namespaces]
        base = found[0][1]
        for cluster, other in found[1:]:
            for what, mine, theirs in (("defaults", base.defaults, other.defaults),
                                       ("mtls", base.mtls, other.mtls), ("allow", base.allows, other.allows),
                                       ("gateways", base.gateways, other.gateways),
                                       ("external services", base.externals, other.externals)):
                if mine != theirs:
                    origin = _first_origin(other, what) or _first_origin(base, what)
                    if origin is not None:
                        ledger.lose("differs-per-cluster", origin, ("metadata", "name"),
                                    f"namespace `{name}` has other {what} in cluster `{cluster}` than in "
                                    f"`{found[0][0]}`; the language keeps them the same in every cluster, and the "
                                    "first cluster's are imported", value=True, merged=True)
        out[name] = base
    return out


def _first_origin(ns: Namespace, what: str) -> Optional[Resource]:
    items = {"defaults": [ns.defaults_origin] if ns.defaults_origin else [], "mtls": [m.origin for m in ns.mtls],
             "allow": [a.origin for a in ns.allows], "gateways": [g.origin for g in ns.gateways],
             "external services": [e.origin for e in ns.externals]}[what]
    return next((o.resource for o in items if o is not None), None)


def own_target(plan: Plan) -> Target:
    return Target(plan.service.namespace, plan.service.name)
