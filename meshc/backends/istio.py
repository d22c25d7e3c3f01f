"""The Istio backend: IR → documents, per cluster of the fleet.

Configuration goes to primaries only: a primary's istiod reads it from its
own API server and programs its proxies and those of its remotes, so a
remote's directory holds only the Service stubs its DNS needs. Every primary
carries the routing of every service, the same everywhere but for what the
policy says differs: `on CLUSTER` overrides, `local` services, a cluster's
Istio version, and the step of a canary's wave (a remote is in its
primary's wave, so the primary's step serves its proxies too). Documents
that come out the same for several clusters are built once and shared, so
the emitter serialises them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from meshc.backends.alerts import canary_alerts
from meshc.backends.destinations import (
    defaults_destination_rule,
    policy_gaps,
    service_destination_rule,
    version_gaps,
)
from meshc.backends.documents import Document
from meshc.backends.entries import cross_network_gateway, external_entry, ingress_gateway
from meshc.backends.routes import RouteBuilder
from meshc.backends.security import authorization_policies, peer_authentications
from meshc.backends.stubs import service_stub
from meshc.backends.targets import DEFAULT_VERSION, IstioTarget
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import Index, ServiceInfo
from meshc.model.waves import live_step, wave_of


@dataclass
class Rendering:
    """Documents per cluster, in output order, and what the backend reported."""

    clusters: dict[str, list[Document]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def render(policy: ir.MeshPolicy, default_version: str = DEFAULT_VERSION) -> Rendering:
    index = Index(policy)
    topology = index.topology
    backend = _Backend(policy, index)
    result = Rendering()
    for cluster in topology.names:
        if topology.is_remote(cluster):
            docs = backend.stubs(cluster)
        else:
            spec = index.clusters.get(cluster)
            target = IstioTarget(spec.istio if spec is not None and spec.istio else default_version)
            docs = backend.cluster(cluster, target) + backend.stubs(cluster)
        result.diagnostics += _collisions(docs)
        result.clusters[cluster] = sorted(docs, key=lambda d: d.sort_key)
    result.diagnostics += backend.diagnostics
    return result


class _Backend:
    def __init__(self, policy: ir.MeshPolicy, index: Index):
        self.policy = policy
        self.index = index
        self.topology = index.topology
        self.diagnostics: list[Diagnostic] = []
        self._memo: dict[tuple, list[Document]] = {}

    def _once(self, key: tuple, build: Callable[[], list[Document]]) -> list[Document]:
        """Build documents once per key; clusters with the same key share them."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def cluster(self, cluster: str, target: IstioTarget) -> list[Document]:
        """What a primary's istiod reads, for its own proxies and its remotes'."""
        served = self.topology.served_by(cluster)
        docs: list[Document] = []
        docs += self._once(("mesh", target.version), lambda: self._mesh_wide(target))
        if self._needs_cross_network_gateway(served):
            docs += self._once(("east-west", target.version),
                               lambda: [cross_network_gateway(self.policy.fleet, target)])
        for info in self.index.all_services():
            # With local services anywhere, routes to them differ per served set.
            key = ("service", info.key, target.version, _override_key(info.service, cluster),
                   served if self.index.local_services else None)
            docs += self._once(key + (self._steps(info.service, cluster),),
                               lambda info=info: self._routes(info, cluster, target, served))
            docs += self._once(key, lambda info=info: self._policy(info, cluster, target))
            # The alerts of a wave watch its clusters: shared by the clusters of one wave.
            docs += self._once(("alerts", info.key, self._waves(info.service, cluster)),
                               lambda info=info: _present(canary_alerts(info, self.policy, self.topology, cluster)))
        exposed = [i.service for i in self.index.all_services() if i.service.exposes]
        overridden = any(_override_key(svc, cluster) for svc in exposed) or any(
            _overrides(block.block.routes, cluster) for block in self.index.gateway_hosts())
        locals_ = served if self.index.local_services else None
        steps = tuple(self._steps(svc, cluster) for svc in exposed)
        docs += self._once(("ingress", target.version, cluster if overridden else None, locals_, steps),
                           lambda: self._ingress(cluster, target, served))
        return docs

    def _steps(self, service: ir.Service, cluster: str) -> tuple[int, ...]:
        """The steps the service's canaries with waves render in `cluster`:
        clusters at the same steps share the service's documents."""
        return tuple(live_step(c, self.topology, cluster) for c in _waved(service))

    def _waves(self, service: ir.Service, cluster: str) -> tuple[Optional[int], ...]:
        """The wave `cluster` is in, for each of the service's canaries with waves."""
        return tuple(getattr(wave_of(c, self.topology, cluster), "number", None) for c in _waved(service))

    def stubs(self, cluster: str) -> list[Document]:
        """Service stubs for the services that do not run in `cluster`, so
        that its callers' DNS resolves them (none with DNS proxying; none
        for local services, which callers there cannot reach anyway)."""
        if self.topology.dns_proxying:
            return []
        docs: list[Document] = []
        for info in self.index.all_services():
            svc = info.service
            if svc.local is None and cluster not in self.topology.placement(svc):
                docs += self._once(("stub", info.key), lambda info=info: [service_stub(info)])
        return docs

    def _needs_cross_network_gateway(self, served: tuple[str, ...]) -> bool:
        """In a multi-network fleet, a primary whose clusters have an
        east-west gateway configures it (for a remote's gateway too: its
        pods follow the primary's configuration)."""
        return self.topology.multi_network and any(self.topology.has_gateway(c) for c in served)

    def _mesh_wide(self, target: IstioTarget) -> list[Document]:
        docs: list[Document] = []
        for ns in self.policy.namespaces:
            for gw in ns.gateways:
                docs.append(ingress_gateway(ns, gw, target))
            for ext in ns.externals:
                docs.append(external_entry(ns, ext, target))
            defaults = defaults_destination_rule(ns, target)
            if defaults is not None:
                docs.append(defaults)
                self._report_gaps(policy_gaps([ns.defaults], target), target, "the defaults", None)
            docs += peer_authentications(ns, target)
            docs += authorization_policies(ns, target)
        return docs

    def _routes(self, info: ServiceInfo, cluster: str, target: IstioTarget,
                served: tuple[str, ...]) -> list[Document]:
        """The service's VirtualService."""
        routes = RouteBuilder(self.index, cluster, target, served)
        doc = routes.service_virtual_service(info)
        self.diagnostics += routes.diagnostics
        return _present(doc)

    def _policy(self, info: ServiceInfo, cluster: str, target: IstioTarget) -> list[Document]:
        """The service's DestinationRule (the same whatever its canaries' steps)."""
        placement = self.topology.placement(info.service)
        doc = service_destination_rule(info, cluster, target, placement)
        self._report_gaps(version_gaps(info, cluster, target), target, f"service `{info.service.name.value}`",
                          cluster)
        return _present(doc)

    def _ingress(self, cluster: str, target: IstioTarget, served: tuple[str, ...]) -> list[Document]:
        routes = RouteBuilder(self.index, cluster, target, served)
        docs = routes.gateway_virtual_services()
        self.diagnostics += routes.diagnostics
        return docs

    def _report_gaps(self, gaps: list[tuple[str, ir.Node]], target: IstioTarget, what: str,
                     cluster: Optional[str]) -> None:
        where = f"cluster `{cluster}`" if cluster else "a cluster"
        for feature, node in gaps:
            self.diagnostics.append(diagnostic(
                "unsupported-by-istio-version",
                f"{what}: {target.requirement(feature)}, and {where} runs Istio {target.version}",
                node.span,
                help="upgrade the cluster and set `istio` in the fleet, or use `failover REGION -> REGION`",
            ))


def _waved(service: ir.Service) -> list[ir.Canary]:
    return [r.action for r in service.routes if isinstance(r.action, ir.Canary) and r.action.waves]


def _present(doc: Optional[Document]) -> list[Document]:
    return [doc] if doc is not None else []


def _override_key(service: ir.Service, cluster: str) -> Optional[str]:
    """The cluster, if anything about the service differs there."""
    overridden = any(o.cluster.value == cluster for o in service.overrides)
    return cluster if overridden or _overrides(service.routes, cluster) else None


def _overrides(routes: tuple[ir.Route, ...], cluster: str) -> bool:
    return any(o.cluster.value == cluster for r in routes for o in r.overrides)


def _collisions(docs: list[Document]) -> list[Diagnostic]:
    """Two constructs that would render to one resource name."""
    seen: dict[str, Document] = {}
    out = []
    for doc in docs:
        first = seen.setdefault(doc.path, doc)
        if first is doc or doc.span is None:
            continue
        labels = [Label(first.span, f"renders {first.kind} `{first.name}` too")] if first.span else []
        out.append(diagnostic(
            "duplicate-name",
            f"two {doc.kind} resources would be named `{doc.name}` in namespace `{doc.namespace}`",
            doc.span, labels=labels, help="rename one of them",
        ))
    return out
