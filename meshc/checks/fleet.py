"""The fleet and where services run: remotes and their primaries, placement,
cluster subsets, `local` services and reachability across networks."""

from __future__ import annotations

from typing import Iterator, Optional

from meshc.checks.names import policy_blocks
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import Index, ServiceInfo, route_targets


def check_topology(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Remotes follow a primary of the fleet, run its release, and get no
    overrides of their own; a fleet has clusters."""
    fleet = policy.fleet
    if fleet is None:
        return []
    index = Index(policy)
    topology = index.topology
    out: list[Diagnostic] = []
    if not fleet.clusters:
        out.append(diagnostic("placed-nowhere", f"fleet `{fleet.name.value}` has no cluster: nothing runs anywhere",
                              fleet.name.span, help="add `cluster NAME` for every cluster of the mesh"))
    for cluster in fleet.clusters:
        primary = index.clusters.get(cluster.remote_of.value) if cluster.remote_of else None
        if primary is None:
            continue  # a primary, or an unknown one (MESH202)
        name = cluster.name.value
        if primary is cluster:
            out.append(diagnostic("invalid-topology", f"cluster `{name}` is a remote of itself",
                                  cluster.remote_of.span, help="a remote names the primary whose istiod it uses"))
        elif primary.remote_of is not None:
            out.append(diagnostic(
                "invalid-topology",
                f"cluster `{name}` is a remote of `{primary.name.value}`, which is a remote itself",
                cluster.remote_of.span, labels=[Label(primary.remote_of.span, "a remote here")],
                help=f"name the primary that runs istiod: `remote of {primary.remote_of.value}`"))
        elif not topology.same_network(name, primary.name.value) and not topology.has_gateway(primary.name.value):
            # Istio's primary-remote on several networks: the remote's proxies
            # and its istiod-less control plane reach the primary's istiod
            # through the primary's east-west gateway (expose-istiod.yaml,
            # setup/install/multicluster/primary-remote_multi-network).
            out.append(diagnostic(
                "missing-gateway-address",
                f"remote `{name}` is on network {cluster.network.value} and its primary `{primary.name.value}` "
                f"on {primary.network.value}, which it reaches only through `{primary.name.value}`'s east-west "
                f"gateway, but `{primary.name.value}` declares none: `{name}`'s proxies would get no configuration",
                cluster.remote_of.span, labels=[Label(primary.name.span, "no `gateway` here")],
                help=f"add `gateway ADDRESS` to `{primary.name.value}` (the east-west gateway that exposes istiod), "
                     f"or put `{name}` on network {primary.network.value}"))
        elif cluster.istio is not None and cluster.istio != primary.istio:
            runs = f"runs {primary.istio}" if primary.istio else "does not say which it runs"
            out.append(diagnostic(
                "invalid-topology",
                f"remote `{name}` declares Istio {cluster.istio}, but its primary `{primary.name.value}` {runs}",
                cluster.span, help="a remote runs its primary's control plane: drop `istio` on the remote"))
    if topology.multi_network:
        shown = ", ".join(topology.networks)
        for cluster in fleet.clusters:
            if cluster.network is None:
                out.append(diagnostic(
                    "invalid-topology",
                    f"cluster `{cluster.name.value}` declares no network, but the fleet spans networks {shown}: "
                    "Istio takes a proxy or pod without a network to be on every network, so its sidecars would "
                    "dial the other networks' pods directly, not through their east-west gateways, and theirs "
                    "its pods",
                    cluster.name.span,
                    help=f"add `network NAME` to `{cluster.name.value}`: the network its Istio install declares "
                         "(`values.global.network`)"))
    for info in index.all_services():
        svc = info.service
        for override in svc.overrides + tuple(o for r in svc.routes for o in r.overrides):
            name = override.cluster.value
            if topology.is_remote(name):
                primary = topology.primary_of(name)
                out.append(diagnostic(
                    "override-on-remote",
                    f"cluster `{name}` is a remote of `{primary}`: its proxies follow `{primary}`'s configuration, "
                    "so an override for it would apply nowhere",
                    override.cluster.span,
                    help=f"write the override `on {primary}` (it applies to `{name}` too), or match `{name}`'s "
                         f"callers with `when from cluster {name}` in a route",
                ))
    return out


def _cluster_subsets(svc: ir.Service) -> Iterator[tuple[ir.Subset, ir.LabelPair]]:
    for subset in svc.subsets:
        for label in subset.labels:
            if label.key == ir.CLUSTER_LABEL:
                yield subset, label


def _from_clusters(svc: ir.Service) -> Iterator[tuple[ir.Route, ir.SourceClusterCondition]]:
    for route in svc.routes:
        for match in route.matches:
            for cond in match.conditions:
                if isinstance(cond, ir.SourceClusterCondition):
                    yield route, cond


def _caller_clusters(svc: ir.Service) -> Iterator[tuple[ir.Route, ir.Condition, str]]:
    """Conditions on the caller's cluster: `from cluster C`, and the label
    `topology.istio.io/cluster` that Istio sets on every proxy, the same
    test in the mesh."""
    for route, cond in _from_clusters(svc):
        yield route, cond, cond.cluster.value
    for route in svc.routes:
        for match in route.matches:
            for cond in match.conditions:
                if isinstance(cond, ir.SourceLabelCondition) and cond.label.key == ir.CLUSTER_LABEL:
                    yield route, cond, cond.label.value


def check_placement(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Subsets select clusters the service runs in; a service placed in some
    clusters has ports for its stubs and is reachable from every network."""
    index = Index(policy)
    topology = index.topology
    out: list[Diagnostic] = []
    for info in index.all_services():
        svc = info.service
        placed = topology.placement(svc)
        for subset, label in _cluster_subsets(svc):
            if label.value in topology.clusters and label.value not in placed:
                out.append(diagnostic(
                    "placed-nowhere",
                    f"subset `{subset.name.value}` selects cluster `{label.value}`, where service "
                    f"`{svc.name.value}` does not run: its traffic gets 503",
                    label.span, labels=[Label(svc.placement[0].span, "the service runs only here")],
                    help=f"add `{label.value}` to the service's `in`, or remove the subset"))
        partial = set(placed) != set(topology.names)
        if partial and svc.local is None and not svc.ports and not topology.dns_proxying:
            out.append(diagnostic(
                "stub-needs-ports",
                f"service `{svc.name.value}` runs in some clusters only, and the others get a Service stub "
                "that needs its ports",
                svc.name.span, labels=[Label(svc.placement[0].span, "runs only here")],
                help="declare its ports (`port 8080 http`), named as in the real Service"))
        out += _reachable_across_networks(index, info, placed)
    return out


def _reachable_across_networks(index: Index, info: ServiceInfo, placed: tuple[str, ...]) -> list[Diagnostic]:
    """In a multi-network fleet, a caller reaches the service's pods on
    another network through that network's east-west gateway; a network
    without one hands out its pods' own addresses, which other networks
    cannot route."""
    topology = index.topology
    svc = info.service
    if not topology.multi_network or svc.local is not None or not placed:
        return []  # (an `in` naming no fleet cluster is MESH202)
    # (a cluster without a network is on every network: MESH901)
    dark = [c for c in placed if topology.network(c) is not None
            and not topology.network_has_gateway(topology.network(c))]
    callers = [c for c in topology.names if any(not topology.same_network(c, d) for d in dark)]
    if not callers:
        return []
    networks = sorted({topology.network(c) for c in dark})
    shown = ", ".join(networks)
    where = svc.placement[0].span if svc.placement else svc.name.span
    fix = f"add `gateway ADDRESS` to a cluster of network {shown}"
    if len(dark) == len(placed):
        return [diagnostic(
            "missing-gateway-address",
            f"service `{svc.name.value}` runs only on network {shown}, where no cluster has an east-west gateway, "
            f"so callers in {', '.join(callers)} cannot reach it",
            where, help=f"{fix}, or run the service on the callers' network")]
    return [diagnostic(
        "missing-gateway-address",
        f"service `{svc.name.value}` runs in {', '.join(dark)} on network {shown}, where no cluster has an east-west "
        f"gateway: callers in {', '.join(callers)} get those pods' own addresses, which their network cannot "
        "route, so the requests sent there fail",
        where, help=f"{fix}, or keep the service off {'it' if len(networks) == 1 else 'them'} "
                    f"(`in {' '.join(c for c in placed if c not in dark)}`)")]


def check_cluster_routing(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Cluster routing needs clusters to tell apart; a plain `cluster` label
    with a cluster's name means Istio's cluster label."""
    index = Index(policy)
    topology = index.topology
    single = len(topology.names) == 1
    out: list[Diagnostic] = []
    where = "a policy without a fleet" if policy.fleet is None else f"fleet `{policy.fleet.name.value}`"

    def one_cluster(span: ir.Span, what: str) -> None:
        out.append(diagnostic(
            "single-cluster-fleet", f"{what} in {where}, which has one cluster: it changes nothing", span,
            help="declare the fleet's other clusters, or drop it"))

    for info in index.all_services():
        svc = info.service
        if single:
            for subset, label in _cluster_subsets(svc):
                one_cluster(label.span, f"cluster subset `{subset.name.value}`")
            for _, cond in _from_clusters(svc):
                one_cluster(cond.span, "`from cluster`")
            if svc.local is not None:
                one_cluster(svc.local.span, "`local`")
        for subset in svc.subsets:
            for label in subset.labels:
                if label.key == "cluster" and label.value in topology.clusters:
                    out.append(_plain_label(label.span, f"subset {subset.name.value} {{ in {label.value} }}"))
        for match in [m for r in svc.routes for m in r.matches] + [m for e in svc.exposes for m in e.matches]:
            for cond in match.conditions:
                if isinstance(cond, ir.SourceLabelCondition) and cond.label.key == "cluster" \
                        and cond.label.value in topology.clusters:
                    out.append(_plain_label(cond.span, f"when from cluster {cond.label.value}"))
    if single:
        for block in policy_blocks(policy):
            for label in block.failover_priority.labels if block.failover_priority else ():
                if label.key == ir.CLUSTER_LABEL:
                    one_cluster(label.span, "a `cluster` entry of `failover priority`")
    return out


def _plain_label(span: ir.Span, fix: str) -> Diagnostic:
    return diagnostic(
        "plain-cluster-label",
        "a plain `cluster` label with a fleet cluster's name: Istio labels proxies and endpoints with "
        "`topology.istio.io/cluster`, pods rarely carry `cluster`",
        span, help=f"write `{fix}`")


def check_local(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """A local service runs wherever something needs it, and has no
    cluster subsets."""
    index = Index(policy)
    topology = index.topology
    out: list[Diagnostic] = []
    for info in index.all_services():
        svc = info.service
        if svc.local is not None:
            for port in svc.ports:
                if port.protocol in ("tcp", "tls", "https"):
                    out.append(diagnostic(
                        "local-misuse",
                        f"service `{svc.name.value}` is local, but its port {port.number} is `{port.protocol}`, "
                        "whose traffic takes no HTTP route and so crosses clusters anyway",
                        port.span, labels=[Label(svc.local.span, "local here")],
                        help="keep `local` for HTTP services (`http`, `http2`, `grpc`)"))
            for subset, label in _cluster_subsets(svc):
                out.append(diagnostic(
                    "local-misuse",
                    f"service `{svc.name.value}` is local, so subset `{subset.name.value}` of cluster "
                    f"`{label.value}` selects nothing for callers elsewhere",
                    label.span, labels=[Label(svc.local.span, "local here")],
                    help="drop the cluster subset (or `local`, to route between clusters)"))
            placed = topology.placement(svc)
            out += _local_subset_names(svc, placed)
            for route, cond, cluster in _caller_clusters(svc):
                if cluster in topology.clusters and cluster not in placed:
                    out.append(_needed(svc, placed, cond.span, [cluster],
                                       f"route `{route.name.value}` serves callers from it"))
            for expose in svc.exposes:
                missing = [c for c in topology.names if c not in placed]
                if missing:
                    out.append(_needed(svc, placed, expose.span, missing,
                                       f"gateway `{expose.gateway.value}` exposes it there"))
        for route in svc.routes:
            for target in route_targets(route):
                other = index.target_service(info, target)
                if other is None or other.service.local is None or other is info or other.key == info.key:
                    continue
                callers = topology.placement(svc) if svc.local is not None else tuple(topology.names)
                missing = [c for c in callers if c not in topology.placement(other.service)]
                if missing:
                    out.append(_needed(other.service, topology.placement(other.service), target.span, missing,
                                       f"route `{route.name.value}` of service `{svc.name.value}` sends "
                                       "its callers there to it"))
    return out


# Istio takes a subset name that is a DNS-1123 label (pilot's
# pkg/config/validation/validation.go, `validateSubsetName`).
_LABEL_LENGTH = 63


def _local_subset_names(svc: ir.Service, placed: tuple[str, ...]) -> list[Diagnostic]:
    """A local service's per-cluster subsets, `C` and `C-S`, each have a
    name of their own that Istio accepts. Reported at the declared subset
    involved: that is the name to change."""
    subsets = list({s.name.value: s for s in svc.subsets if s.labels}.values())
    named: dict[str, list[tuple[str, Optional[ir.Subset]]]] = {}
    for cluster in placed:
        for subset in [None] + subsets:
            name = cluster if subset is None else f"{cluster}-{subset.name.value}"
            what = f"cluster `{cluster}`" if subset is None else f"subset `{subset.name.value}` in cluster `{cluster}`"
            named.setdefault(name, []).append((what, subset))
    out = []
    for name, uses in named.items():
        if len(name) > _LABEL_LENGTH:
            message = (f"{uses[0][0]} would be subset `{name}`, {len(name)} characters, and Istio takes subset "
                       f"names of at most {_LABEL_LENGTH}")
        elif len(uses) > 1:
            message = " and ".join(what for what, _ in uses) + \
                f" would {'both' if len(uses) == 2 else 'all'} be subset `{name}`"
        else:
            continue
        subset = next((s for _, s in uses if s is not None), None)
        out.append(diagnostic(
            "local-misuse", f"service `{svc.name.value}` is local: {message}",
            subset.name.span if subset is not None else svc.local.span,
            labels=[Label(svc.local.span, "local here")] if subset is not None else [],
            help="rename the subset: a local service's subsets are named `CLUSTER` and `CLUSTER-SUBSET`"))
    return out


def _needed(svc: ir.Service, placed: tuple[str, ...], span: ir.Span, clusters: list[str], why: str) -> Diagnostic:
    return diagnostic(
        "local-service-called-elsewhere",
        f"local service `{svc.name.value}` does not run in {', '.join(clusters)}, but {why}",
        span, labels=[Label(svc.local.span, f"local here; it runs in {', '.join(placed) or 'no cluster'}")],
        help=f"run it there too (`in {' '.join(sorted(set(placed) | set(clusters)))}`), or drop `local`")
