"""What the IR means once defaults, overrides and inheritance are applied.

Checks and backends both ask "what is the timeout of this route in that
cluster?" or "which outlier detection applies to this subset?"; the answers
live here, once. Inheritance is explicit and setting by setting: a subset or
port policy inherits every setting it does not set itself (unlike Istio's
own subset and port-level settings, which replace whole messages), and a
service inherits its namespace's `defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Optional, TypeVar, Union

from meshc.language import ir
from meshc.model.topology import Topology

# Istio's root namespace: policy there applies mesh-wide.
ROOT_NAMESPACE = "istio-system"
CLUSTER_DOMAIN = "svc.cluster.local"

N = TypeVar("N", bound=ir.Node)


def merge(base: Optional[N], over: Optional[N]) -> Optional[N]:
    """`over` on top of `base`: the settings `over` sets win, nested blocks
    (circuit-breaker, eject) merge setting by setting."""
    if base is None:
        return over
    if over is None:
        return base
    update = {}
    for name in type(over).model_fields:
        if name == "span":
            continue
        value = getattr(over, name)
        if value is None or value == ():
            continue
        current = getattr(base, name)
        if isinstance(value, (ir.CircuitBreaker, ir.Ejection)) and isinstance(current, type(value)):
            value = merge(current, value)
        update[name] = value
    update["span"] = over.span
    return base.model_copy(update=update)


def host(namespace: str, service: ir.Service) -> str:
    """The host a service is reached by, the same in every cluster: Istio
    merges the endpoints of Services of one name and namespace across the
    clusters of a mesh ("namespace sameness")."""
    return f"{service.name.value}.{namespace}.{CLUSTER_DOMAIN}"


def clusters(policy: ir.MeshPolicy) -> list[str]:
    return Topology(policy).names


def override_for(overrides: tuple[ir.Override, ...], cluster: str) -> Optional[ir.Override]:
    return next((o for o in overrides if o.cluster.value == cluster), None)


@dataclass(frozen=True)
class ServiceInfo:
    """A service with the namespace it lives in."""

    namespace: ir.Namespace
    service: ir.Service

    @property
    def host(self) -> str:
        return host(self.namespace.name.value, self.service)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace.name.value, self.service.name.value

    def subset(self, name: str) -> Optional[ir.Subset]:
        return next((s for s in self.service.subsets if s.name.value == name and s.labels), None)

    def policy(self, cluster: str) -> ir.Policy:
        """The service's destination policy in one cluster."""
        over = override_for(self.service.overrides, cluster)
        policy = merge(self.namespace.defaults, self.service.policy)
        return merge(policy, over.policy if over else None)

    def options(self, route: Optional[ir.Route], cluster: str) -> ir.Options:
        """A route's options in one cluster: service, then the service's
        override, then the route, then the route's override."""
        svc_over = override_for(self.service.overrides, cluster)
        return route_options(merge(self.service.options, svc_over.options if svc_over else None), route, cluster)


@dataclass(frozen=True)
class GatewayHostInfo:
    """A gateway's `host HOST { ... }` block, with the gateway and the
    namespace it lives in (a target without `in` is in that namespace)."""

    namespace: ir.Namespace
    gateway: ir.Gateway
    block: ir.GatewayHost

    @property
    def key(self) -> tuple[str, str]:
        """The gateway VirtualService it renders into: (gateway, host)."""
        return self.gateway.name.value, self.block.host

    def options(self, route: Optional[ir.Route], cluster: str) -> ir.Options:
        """A gateway route's options in one cluster: the host block, then
        the route, then the route's override."""
        return route_options(self.block.options, route, cluster)


# What owns routes: a service, or a gateway's `host` block.
RouteOwner = Union[ServiceInfo, GatewayHostInfo]


def owner_name(owner: RouteOwner) -> str:
    """`NS/NAME` of a service; `gateway NAME host H` of a `host` block."""
    if isinstance(owner, GatewayHostInfo):
        return f"gateway {owner.gateway.name.value} host {owner.block.host}"
    return f"{owner.namespace.name.value}/{owner.service.name.value}"


def route_options(base: ir.Options, route: Optional[ir.Route], cluster: str) -> ir.Options:
    """`base` (what the enclosing block gives every route), then the
    route's own options, then its `on CLUSTER`."""
    if route is None:
        return base
    options = merge(base, route.options)
    route_over = override_for(route.overrides, cluster)
    return merge(options, route_over.options if route_over else None)


class Index:
    """Name lookups over a whole policy."""

    def __init__(self, policy: ir.MeshPolicy):
        self.policy = policy

    @cached_property
    def services(self) -> dict[tuple[str, str], ServiceInfo]:
        out: dict[tuple[str, str], ServiceInfo] = {}
        for ns in self.policy.namespaces:
            for svc in ns.services:
                out.setdefault((ns.name.value, svc.name.value), ServiceInfo(ns, svc))
        return out

    @cached_property
    def by_host(self) -> dict[str, ServiceInfo]:
        """Services by host (the first declaration of a name winning)."""
        return {info.host: info for info in self.services.values()}

    @cached_property
    def gateways(self) -> dict[str, tuple[ir.Namespace, ir.Gateway]]:
        out: dict[str, tuple[ir.Namespace, ir.Gateway]] = {}
        for ns in self.policy.namespaces:
            for gw in ns.gateways:
                out.setdefault(gw.name.value, (ns, gw))
        return out

    @cached_property
    def topology(self) -> Topology:
        return Topology(self.policy)

    @property
    def clusters(self) -> dict[str, ir.Cluster]:
        return self.topology.clusters

    @cached_property
    def local_services(self) -> dict[str, ServiceInfo]:
        """`local` services by host."""
        return {info.host: info for info in self.services.values() if info.service.local is not None}

    def all_services(self) -> Iterator[ServiceInfo]:
        for ns in self.policy.namespaces:
            for svc in ns.services:
                yield ServiceInfo(ns, svc)

    def gateway_hosts(self) -> Iterator[GatewayHostInfo]:
        """Every `host` block of every gateway, in the order written."""
        for ns in self.policy.namespaces:
            for gw in ns.gateways:
                for block in gw.host_routes:
                    yield GatewayHostInfo(ns, gw, block)

    @cached_property
    def exposures(self) -> dict[str, list[tuple[ServiceInfo, ir.Expose]]]:
        """Each gateway's exposures, by gateway name, in service order."""
        out: dict[str, list[tuple[ServiceInfo, ir.Expose]]] = {}
        for info in self.services.values():
            for expose in info.service.exposes:
                out.setdefault(expose.gateway.value, []).append((info, expose))
        return out

    @cached_property
    def host_blocks(self) -> dict[tuple[str, str], GatewayHostInfo]:
        """Each gateway's `host` blocks by (gateway, host), the first of a host."""
        out: dict[tuple[str, str], GatewayHostInfo] = {}
        for block in self.gateway_hosts():
            out.setdefault(block.key, block)
        return out

    def target_service(self, info: RouteOwner, target: ir.Target) -> Optional[ServiceInfo]:
        """The service a destination target points at (the route's own for
        a subset; a gateway route has none)."""
        if isinstance(target, ir.SubsetTarget):
            return info if isinstance(info, ServiceInfo) else None
        namespace = target.namespace.value if target.namespace else info.namespace.name.value
        return self.services.get((namespace, target.service.value))


def rendered_files(policy: ir.MeshPolicy) -> set[str]:
    """The files that declare something `render` renders: every file of the
    policy but those that hold only `test` blocks."""
    tested = {t.span.file for t in policy.tests}
    said: set[str] = set()
    if policy.fleet is not None:
        said.add(policy.fleet.span.file)
    for ns in policy.namespaces:
        said.add(ns.span.file)
        for group in (ns.services, ns.gateways, ns.externals, ns.mtls, ns.allows):
            said.update(node.span.file for node in group)
        if ns.defaults is not None:
            said.add(ns.defaults.span.file)
    return {f for f in policy.files if f in said or f not in tested}


def route_targets(route: ir.Route) -> Iterator[ir.Target]:
    """Every target a route sends (or mirrors) traffic to."""
    action = route.action
    if isinstance(action, ir.Forward):
        for d in action.destinations:
            yield d.target
    for m in route.mirrors:
        yield m.target


# The pods a gateway without `selector` configures: Istio's default ingress gateway.
DEFAULT_INGRESS_SELECTOR = {"istio": "ingressgateway"}


def gateway_selector(gw: ir.Gateway) -> dict[str, str]:
    return {lbl.key: lbl.value for lbl in gw.selector} or dict(DEFAULT_INGRESS_SELECTOR)


# A blue-green route sends requests with this header to the preview subset.
PREVIEW_HEADER = "x-preview"


def preview_match(action: ir.BlueGreen) -> ir.Match:
    """What sends a request to a blue-green route's preview (ANDed with the
    route's own `when`)."""
    header = ir.HeaderCondition(span=action.span, name=PREVIEW_HEADER, match=ir.StringMatch(op="exact", value="true"))
    return ir.Match(span=action.span, conditions=(header,))


def canary_split(canary: ir.Canary, step: Optional[int] = None) -> tuple[int, int]:
    """(baseline %, candidate %) at a step, the live one by default; step 0
    is all baseline."""
    step = canary.at if step is None else step
    if step == 0 or step > len(canary.steps):
        return 100, 0
    candidate = int(canary.steps[step - 1].value)
    return 100 - candidate, candidate


def weights(forward: ir.Forward) -> list[int]:
    """The integer weight of each destination, `rest` filled in."""
    given = [d.weight.value if d.weight is not None else None for d in forward.destinations]
    if len(given) == 1:
        return [100]
    taken = sum(w for w in given if w is not None)
    return [int(w) if w is not None else int(100 - taken) for w in given]


def effective_mtls(policy: ir.MeshPolicy, namespace: str, workload: str) -> Optional[ir.Mtls]:
    """The `mtls` that governs a workload: its own, else its namespace's,
    else the mesh-wide one in the root namespace."""
    by_scope: dict[tuple[str, Optional[str]], ir.Mtls] = {}
    for ns in policy.namespaces:
        for m in ns.mtls:
            by_scope.setdefault((ns.name.value, m.workload.value if m.workload else None), m)
    for scope in ((namespace, workload), (namespace, None), (ROOT_NAMESPACE, None)):
        if scope in by_scope:
            return by_scope[scope]
    return None
