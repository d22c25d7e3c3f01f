"""The services a cluster's control plane knows, as the policy declares them.

The evaluator of rendered Istio needs the Kubernetes Services and
ServiceEntry hosts the manifests route to (to pick a destination's port, to
build default routes); meshc does not render Kubernetes Services, so they
come from the policy: every declared service's host with its ports, and
every external host with its ports.

The registry is the same in every cluster, a remote's included: a service is
known by its host `NAME.NS.svc.cluster.local` in every cluster of the fleet,
wherever it runs (`in`), because every primary's istiod merges the endpoints
of the Services of that name and namespace in all the clusters it watches
(docs/multicluster.md, "namespace sameness"). Where it does not run, a
Service stub or DNS proxying only lets callers resolve the name; neither
adds routing, so neither appears here. Port names (`port N PROTO name
NAME`) match endpoints to ports and do not change routing.
"""

from __future__ import annotations

from meshc.language import ir
from meshc.model.resolve import Index, clusters
from meshc.semantics.request import Registry, ServicePort


def registry(policy: ir.MeshPolicy, cluster: str) -> Registry:
    if cluster not in clusters(policy):
        raise ValueError(f"cluster `{cluster}` is not in the policy's fleet")
    services: dict[str, tuple[ServicePort, ...]] = {}
    for info in Index(policy).all_services():
        services.setdefault(info.host, tuple(ServicePort(p.number, p.protocol) for p in info.service.ports))
    for ns in policy.namespaces:
        for external in ns.externals:
            for host in external.hosts:
                services.setdefault(host, tuple(ServicePort(p.number, p.protocol) for p in external.ports))
    return Registry(dict(sorted(services.items())))
