"""Kubernetes Service stubs: the name of a service in the clusters where it
does not run, so that their callers' DNS resolves it.

Istio merges the endpoints of Services with one name and namespace across
clusters, but Kubernetes DNS answers only for Services of its own cluster.
Istio's multi-cluster guide deploys the Service to every cluster for this
reason (istio.io, docs/setup/install/multicluster/verify: "the DNS lookup
must succeed in each cluster"); with Istio's DNS proxying the sidecars
resolve remote Services themselves (pkg/dns/server/name_table.go builds the
table from every cluster's services), and no stub is needed.

A stub selects `app: NAME`, which matches nothing where the service does not
run, so it adds no endpoint of its own. Its ports must carry the real
Service's port names: in a cluster that has a stub, the stub defines the
service's ports for that cluster's istiod (pilot's aggregate registry takes
the first cluster's Service), and pilot keeps only the endpoints whose port
name matches (xds/endpoints/endpoint_builder.go).
"""

from __future__ import annotations

from meshc.backends.documents import MANAGED_BY, Document, sources_of
from meshc.model.resolve import ServiceInfo


def port_name(port) -> str:
    """The Kubernetes name of a service port: as declared, else `PROTOCOL-NUMBER`."""
    return port.name or f"{port.protocol}-{port.number}"


def service_stub(info: ServiceInfo) -> Document:
    svc = info.service
    name, namespace = svc.name.value, info.namespace.name.value
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {
            "selector": {"app": name},
            # appProtocol states the protocol whatever the port's name (Istio's protocol selection).
            "ports": [{"name": port_name(p), "port": p.number, "protocol": "TCP", "appProtocol": p.protocol}
                      for p in svc.ports],
        },
    }
    return Document("Service", namespace, name, body, sources_of([svc]), svc.span)
