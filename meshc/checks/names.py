"""Names: duplicates in one scope, and references to things that do not exist."""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, Iterator, Optional, TypeVar

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import GatewayHostInfo, Index, RouteOwner, ServiceInfo, host, route_targets
from meshc.suggest import did_you_mean

T = TypeVar("T")


def repeats(items: Iterable[T], key: Callable[[T], Hashable]) -> Iterator[tuple[T, T]]:
    """Each item whose key an earlier item already has, with that earlier item."""
    first: dict[Hashable, T] = {}
    for item in items:
        earlier = first.setdefault(key(item), item)
        if earlier is not item:
            yield item, earlier


def duplicates(
    items: Iterable[T], key: Callable[[T], str], span: Callable[[T], ir.Span], what: str, where: str
) -> list[Diagnostic]:
    """One diagnostic per repeat of a name in one scope, pointing at the first."""
    return [
        diagnostic(
            "duplicate-name",
            f"{what} `{key(item)}` is declared twice in {where}",
            span(item),
            labels=[Label(span(first), "first declared here")],
            help="rename or remove one of them",
        )
        for item, first in repeats(items, key)
    ]


def _name_span(node) -> ir.Span:
    return node.name.span


def check_duplicate_names(policy: ir.MeshPolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if policy.fleet:
        out += duplicates(policy.fleet.clusters, lambda c: c.name.value, _name_span, "cluster",
                          f"fleet `{policy.fleet.name.value}`")
    gateways = [gw for ns in policy.namespaces for gw in ns.gateways]
    out += duplicates(gateways, lambda g: g.name.value, _name_span, "gateway", "the policy")
    for ns in policy.namespaces:
        out += duplicates(ns.services, lambda s: s.name.value, _name_span, "service",
                          f"namespace `{ns.name.value}`")
        for svc in ns.services:
            where = f"service `{svc.name.value}`"
            out += duplicates(svc.routes, lambda r: r.name.value, _name_span, "route", where)
            out += duplicates(svc.subsets, lambda s: s.name.value, _name_span, "subset", where)
            out += duplicates(svc.ports, lambda p: str(p.number), lambda p: p.span, "port", where)
            out += duplicates(svc.overrides, lambda o: o.cluster.value, lambda o: o.cluster.span,
                              "override for cluster", where)
            out += _route_overrides(svc.routes)
        for gw in ns.gateways:
            where = f"gateway `{gw.name.value}`"
            out += duplicates(gw.host_routes, lambda h: h.host, lambda h: h.span, "`host` block for", where)
            for block in gw.host_routes:
                out += duplicates(block.routes, lambda r: r.name.value, _name_span, "route",
                                  f"host `{block.host}` of {where}")
                out += _route_overrides(block.routes)
    return out


def _route_overrides(routes: tuple[ir.Route, ...]) -> list[Diagnostic]:
    return [d for route in routes
            for d in duplicates(route.overrides, lambda o: o.cluster.value, lambda o: o.cluster.span,
                                "override for cluster", f"route `{route.name.value}`")]


def unknown_subset(info: ServiceInfo, name: ir.Name, role: str) -> Optional[Diagnostic]:
    if info.subset(name.value) is not None:
        return None
    declared = [s.name.value for s in info.service.subsets if s.labels]
    svc = info.service.name.value
    if any(s.name.value == name.value for s in info.service.subsets):
        message = f"subset `{name.value}` of service `{svc}` has no labels"
        hint = f"give it labels (`subset {name.value} {{ version = \"{name.value}\" }}`) or list it in `subsets by`"
    else:
        message = f"{role} `{name.value}` is not a subset of service `{svc}`"
        hint = did_you_mean(name.value, declared) or (
            f"declared subsets: {', '.join(declared)}" if declared
            else f"declare it, e.g. `subsets by version {name.value}`")
    return diagnostic("unknown-subset", message, name.span, help=hint)


def target_diagnostics(index: Index, info: RouteOwner, target: ir.Target, arrivals: set[int]) -> list[Diagnostic]:
    if isinstance(target, ir.SubsetTarget):
        if not isinstance(info, ServiceInfo):
            return []  # no service to be a subset of: MESH326
        d = unknown_subset(info, target.subset, "destination")
        return [d] if d else []
    other = index.target_service(info, target)
    if other is None:
        ns = target.namespace.value if target.namespace else info.namespace.name.value
        known = [k[1] for k in index.services if k[0] == ns]
        return [diagnostic(
            "unknown-service",
            f"service `{target.service.value}` is not declared in namespace `{ns}`",
            target.service.span,
            help=did_you_mean(target.service.value, known)
            or f"declare it: `service {target.service.value} {{ port 80 http }}` in namespace `{ns}`",
        )]
    out = []
    if target.subset is not None:
        d = unknown_subset(other, target.subset, "destination")
        if d:
            out.append(d)
    if target.port is not None:
        out += unknown_port(other, target.port, target.span, "")
    else:
        out += _port_left_to_istio(info, other, target, arrivals)
    return out


def _port_left_to_istio(info: RouteOwner, other: ServiceInfo, target: ir.ServiceTarget,
                        arrivals: set[int]) -> list[Diagnostic]:
    """Without `port`, Istio keeps the port a request arrived on unless the
    target has one port only (pilot's GetDestinationCluster)."""
    if isinstance(info, ServiceInfo) and other.key == info.key:
        return []  # its own ports, and at a gateway the `expose`'s port (MESH319)
    ports = {p.number for p in other.service.ports}
    missing = sorted(arrivals - ports)
    if len(ports) < 2 or not missing:
        return []
    reaches = f"`{info.service.name.value}`" if isinstance(info, ServiceInfo) \
        else f"gateway `{info.gateway.name.value}`"
    return [diagnostic(
        "target-needs-port",
        f"service `{other.service.name.value}` has several ports and this target names none: a request that "
        f"reaches {reaches} on port {missing[0]} would go to port {missing[0]}, "
        f"which `{other.service.name.value}` does not have",
        target.span, help=f"add `port N`, one of {', '.join(map(str, sorted(ports)))}",
    )]


def _arrival_ports(index: Index, info: RouteOwner) -> set[int]:
    """The ports a request routed by these routes arrives on: a service's
    own and those of the gateway servers that serve its exposures; a
    gateway `host` block's, its gateway's."""
    if isinstance(info, GatewayHostInfo):
        return _served_ports(info.gateway)
    ports = {p.number for p in info.service.ports}
    for expose in info.service.exposes:
        found = index.gateways.get(expose.gateway.value)
        if found is not None:
            ports |= _served_ports(found[1])
    return ports


def _served_ports(gateway: ir.Gateway) -> set[int]:
    """The ports a gateway routes requests from (a redirect routes none)."""
    return {s.port for s in gateway.servers if not s.redirect}


def unknown_port(info: ServiceInfo, port: int, span: ir.Span, consequence: str) -> list[Diagnostic]:
    """A port the service does not declare (any port, if it declares none)."""
    ports = [p.number for p in info.service.ports]
    if not ports or port in ports:
        return []
    return [diagnostic("unknown-port", f"service `{info.service.name.value}` has no port {port}{consequence}",
                       span, help="declared ports: " + ", ".join(map(str, ports)))]


def check_references(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Subsets, services, ports and gateways that routes refer to exist."""
    index = Index(policy)
    out: list[Diagnostic] = []
    for info in index.all_services():
        svc = info.service
        for subset in svc.subsets:
            if not subset.labels:
                d = unknown_subset(info, subset.name, "subset")
                if d:
                    out.append(d)
        arrivals = _arrival_ports(index, info)
        for route in svc.routes:
            action = route.action
            for target in route_targets(route):
                out += target_diagnostics(index, info, target, arrivals)
            if isinstance(action, ir.Canary):
                for name, role in ((action.baseline, "baseline"), (action.candidate, "candidate")):
                    d = unknown_subset(info, name, f"canary {role}")
                    if d:
                        out.append(d)
            elif isinstance(action, ir.BlueGreen):
                for name, role in ((action.active, "active"), (action.preview, "preview")):
                    d = unknown_subset(info, name, f"blue-green {role}")
                    if d:
                        out.append(d)
            out += _port_conditions(info, route.matches)
        for expose in svc.exposes:
            out += _port_conditions(info, expose.matches)
            if expose.gateway.value not in index.gateways:
                out.append(diagnostic(
                    "unknown-gateway",
                    f"gateway `{expose.gateway.value}` is not declared",
                    expose.gateway.span,
                    help=did_you_mean(expose.gateway.value, index.gateways)
                    or "declare it in a namespace: `gateway NAME { hosts ... https credential ... }`",
                ))
    for block in index.gateway_hosts():
        arrivals = _arrival_ports(index, block)
        out += [d for route in block.block.routes for target in route_targets(route)
                for d in target_diagnostics(index, block, target, arrivals)]
    return out


def _port_conditions(info: ServiceInfo, matches: tuple[ir.Match, ...]) -> list[Diagnostic]:
    return [
        d
        for match in matches for cond in match.conditions if isinstance(cond, ir.PortCondition)
        for d in unknown_port(info, cond.port, cond.span, "; this match never applies")
    ]


def check_clusters(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Every cluster name (`on`, `in`, `remote of`, cluster subsets, `from
    cluster`, `cluster=` pins) is a cluster of the fleet."""
    index = Index(policy)
    out: list[Diagnostic] = []

    def unknown(value: str, span: ir.Span, what: str) -> None:
        out.extend(unknown_cluster(index, value, span, what))

    for cluster in policy.fleet.clusters if policy.fleet else ():
        if cluster.remote_of is not None:
            unknown(cluster.remote_of.value, cluster.remote_of.span, "the primary of a remote,")
    matches: list[ir.Match] = []
    for info in index.all_services():
        svc = info.service
        for override in svc.overrides + tuple(o for r in svc.routes for o in r.overrides):
            unknown(override.cluster.value, override.cluster.span, "override for")
        for name in svc.placement:
            unknown(name.value, name.span, "placement in")
        for route in svc.routes:
            for wave in route.action.waves if isinstance(route.action, ir.Canary) else ():
                for name in wave.clusters:
                    unknown(name.value, name.span, "a canary wave of")
        for subset in svc.subsets:
            for label in subset.labels:
                if label.key == ir.CLUSTER_LABEL:
                    unknown(label.value, label.span, f"subset `{subset.name.value}` selects cluster")
        matches += [m for r in svc.routes for m in r.matches] + [m for e in svc.exposes for m in e.matches]
    for block in index.gateway_hosts():
        for override in (o for r in block.block.routes for o in r.overrides):
            unknown(override.cluster.value, override.cluster.span, "override for")
        matches += [m for r in block.block.routes for m in r.matches]
    for match in matches:
        for cond in match.conditions:
            if isinstance(cond, ir.SourceClusterCondition):
                unknown(cond.cluster.value, cond.cluster.span, "a match on callers from")
            elif isinstance(cond, ir.SourceLabelCondition) and cond.label.key == ir.CLUSTER_LABEL:
                unknown(cond.label.value, cond.span, "a match on callers from")
    for p in policy_blocks(policy):
        for label in p.failover_priority.labels if p.failover_priority else ():
            if label.key == ir.CLUSTER_LABEL and label.value is not None:
                unknown(label.value, label.span, "`failover priority` pins cluster")
    return out


def unknown_cluster(index: Index, value: str, span: ir.Span, what: str) -> list[Diagnostic]:
    """MESH202 when `value` is not a cluster of the fleet."""
    known = index.clusters
    if value in known:
        return []
    if index.policy.fleet is None:
        hint = "there is no fleet: declare `fleet NAME { cluster ... }` to render per cluster"
    else:
        hint = did_you_mean(value, known) or "fleet clusters: " + ", ".join(known)
    return [diagnostic("unknown-cluster", f"{what} `{value}` is not a cluster of the fleet", span, help=hint)]


def policy_blocks(policy: ir.MeshPolicy) -> Iterator[ir.Policy]:
    """Each destination policy block as written, once."""
    for ns in policy.namespaces:
        if ns.defaults is not None:
            yield ns.defaults
        for svc in ns.services:
            yield svc.policy
            yield from (s.policy for s in svc.subsets if s.policy is not None)
            yield from (p.policy for p in svc.ports if p.policy is not None)
            yield from (o.policy for o in svc.overrides if o.policy is not None)


def check_hosts(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """No two services (or external entries) claim one host."""
    claimed: dict[str, tuple[ir.Span, str]] = {}
    out = []

    def claim(name: str, span: ir.Span, what: str) -> None:
        if name in claimed:
            first_span, first_what = claimed[name]
            out.append(diagnostic(
                "duplicate-host",
                f"host `{name}` is claimed by {what} and by {first_what}",
                span,
                labels=[Label(first_span, f"{first_what} claims it here")],
                help="one host has one VirtualService; rename one of them",
            ))
        else:
            claimed[name] = (span, what)

    for ns in policy.namespaces:
        declared = set()
        for svc in ns.services:
            if svc.name.value in declared:
                continue  # a repeated declaration: check_duplicate_names reports it
            declared.add(svc.name.value)
            claim(host(ns.name.value, svc), svc.name.span, f"service `{svc.name.value}`")
        for ext in ns.externals:
            for h in ext.hosts:
                claim(h, ext.span, f"external `{h}`")
    return out
