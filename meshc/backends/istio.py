"""The Istio backend: IR → documents, per cluster of the fleet.

Every cluster carries the routing of every service, so a canary's split is
the same fleet-wide; `on CLUSTER` overrides and a cluster's Istio version
are what make clusters differ. Documents that come out the same for several
clusters are built once and shared, so the emitter serialises them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from meshc.backends.alerts import canary_alerts
from meshc.backends.destinations import defaults_destination_rule, service_destination_rule
from meshc.backends.documents import Document
from meshc.backends.entries import cross_network_gateway, external_entry, global_entry, ingress_gateway
from meshc.backends.routes import RouteBuilder
from meshc.backends.security import authorization_policies, peer_authentications
from meshc.backends.targets import DEFAULT_VERSION, IstioTarget
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import Index, ServiceInfo, clusters


@dataclass
class Rendering:
    """Documents per cluster, in output order, and what the backend reported."""

    clusters: dict[str, list[Document]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def render(policy: ir.MeshPolicy, default_version: str = DEFAULT_VERSION) -> Rendering:
    index = Index(policy)
    backend = _Backend(policy, index)
    result = Rendering()
    for cluster in clusters(policy):
        spec = index.clusters.get(cluster)
        target = IstioTarget(spec.istio if spec is not None and spec.istio else default_version)
        docs = backend.cluster(cluster, target)
        result.diagnostics += _collisions(docs)
        result.clusters[cluster] = sorted(docs, key=lambda d: d.sort_key)
    result.diagnostics += backend.diagnostics
    return result


class _Backend:
    def __init__(self, policy: ir.MeshPolicy, index: Index):
        self.policy = policy
        self.index = index
        self.diagnostics: list[Diagnostic] = []
        self._memo: dict[tuple, list[Document]] = {}

    def _once(self, key: tuple, build: Callable[[], list[Document]]) -> list[Document]:
        """Build documents once per key; clusters with the same key share them."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def cluster(self, cluster: str, target: IstioTarget) -> list[Document]:
        docs: list[Document] = []
        docs += self._once(("mesh", target.version), lambda: self._mesh_wide(target))
        for info in self.index.all_services():
            key = ("service", info.key, target.version, _override_key(info.service, cluster))
            docs += self._once(key, lambda info=info: self._service(info, cluster, target))
        exposed = [i.service for i in self.index.all_services() if i.service.exposes]
        overridden = next((c for c in map(lambda svc: _override_key(svc, cluster), exposed) if c), None)
        docs += self._once(("ingress", target.version, overridden), lambda: self._ingress(cluster, target))
        return docs

    def _mesh_wide(self, target: IstioTarget) -> list[Document]:
        docs: list[Document] = []
        xnet = cross_network_gateway(self.policy, target)
        if xnet is not None:
            docs.append(xnet)
        for ns in self.policy.namespaces:
            for gw in ns.gateways:
                docs.append(ingress_gateway(ns, gw, target))
            for ext in ns.externals:
                docs.append(external_entry(ns, ext, target))
            defaults = defaults_destination_rule(ns, target)
            if defaults is not None:
                docs.append(defaults)
            docs += peer_authentications(ns, target)
            docs += authorization_policies(ns, target)
        return docs

    def _service(self, info: ServiceInfo, cluster: str, target: IstioTarget) -> list[Document]:
        routes = RouteBuilder(self.index, cluster, target)
        docs = [routes.service_virtual_service(info), service_destination_rule(info, cluster, target)]
        if info.service.is_global and self.policy.fleet is not None:
            docs.append(global_entry(self.index, info, target))
        docs.append(canary_alerts(info))
        self.diagnostics += routes.diagnostics
        return [d for d in docs if d is not None]

    def _ingress(self, cluster: str, target: IstioTarget) -> list[Document]:
        routes = RouteBuilder(self.index, cluster, target)
        docs = routes.gateway_virtual_services()
        self.diagnostics += routes.diagnostics
        return docs


def _override_key(service: ir.Service, cluster: str) -> Optional[str]:
    """The cluster, if anything about the service differs there."""
    overridden = {o.cluster.value for o in service.overrides}
    overridden |= {o.cluster.value for r in service.routes for o in r.overrides}
    return cluster if cluster in overridden else None


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
