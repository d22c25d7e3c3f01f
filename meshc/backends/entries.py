"""Gateways and ServiceEntries: ingress, the cross-network gateway, external
services and the fleet-wide entries of global services."""

from __future__ import annotations

import ipaddress
from typing import Optional

from meshc.backends.documents import Document, document, slug
from meshc.backends.targets import IstioTarget
from meshc.language import ir
from meshc.model.resolve import ROOT_NAMESPACE, Index, ServiceInfo

CROSS_NETWORK_NAME = "cross-network-gateway"
# The port east-west gateways pass mTLS through on, by SNI.
CROSS_NETWORK_PORT = 15443
_PROTOCOL = {"http": "HTTP", "http2": "HTTP2", "grpc": "GRPC", "https": "HTTPS", "tcp": "TCP", "tls": "TLS"}
DEFAULT_INGRESS_SELECTOR = {"istio": "ingressgateway"}


def ingress_gateway(ns: ir.Namespace, gw: ir.Gateway, target: IstioTarget) -> Document:
    servers = []
    for server in gw.servers:
        entry: dict = {
            "port": {"number": server.port, "name": f"{server.protocol}-{server.port}",
                     "protocol": server.protocol.upper()},
            "hosts": list(gw.hosts),
        }
        if server.redirect:
            entry["tls"] = {"httpsRedirect": True}
        elif server.protocol == "https":
            entry["tls"] = {"mode": "SIMPLE", "credentialName": server.credential}
        servers.append(entry)
    selector = {lbl.key: lbl.value for lbl in gw.selector} or dict(DEFAULT_INGRESS_SELECTOR)
    return document(target.networking, "Gateway", ns.name.value, gw.name.value,
                    {"selector": selector, "servers": servers}, [gw])


def cross_network_gateway(policy: ir.MeshPolicy, target: IstioTarget) -> Optional[Document]:
    """The east-west Gateway every cluster needs when the fleet spans several
    networks: mTLS passed through by SNI for cluster-local and global hosts."""
    fleet = policy.fleet
    if fleet is None or len({c.network.value for c in fleet.clusters if c.network}) < 2:
        return None
    hosts = ["*.local"]
    if any(s.is_global for ns in policy.namespaces for s in ns.services):
        hosts.append("*.global")
    spec = {
        "selector": {"istio": "eastwestgateway"},
        "servers": [{
            "port": {"number": CROSS_NETWORK_PORT, "name": "tls", "protocol": "TLS"},
            "tls": {"mode": "AUTO_PASSTHROUGH"},
            "hosts": hosts,
        }],
    }
    return document(target.networking, "Gateway", ROOT_NAMESPACE, CROSS_NETWORK_NAME, spec, [fleet])


def external_entry(ns: ir.Namespace, ext: ir.External, target: IstioTarget) -> Document:
    spec = {
        "hosts": list(ext.hosts),
        "ports": [_port(p.number, p.protocol) for p in ext.ports],
        "location": "MESH_EXTERNAL",
        "resolution": "DNS",
    }
    return document(target.networking, "ServiceEntry", ns.name.value, slug(ext.hosts[0]), spec, [ext])


def global_entry(index: Index, info: ServiceInfo, target: IstioTarget) -> Document:
    """`NAME.global` in every cluster: one endpoint per cluster that runs the
    service, its east-west gateway, with the cluster's locality and network."""
    svc = info.service
    ports = [_port(p.number, p.protocol) for p in svc.ports]
    endpoints = []
    for name in svc.placement:
        cluster = index.clusters[name.value]
        endpoint: dict = {
            "address": cluster.gateway,
            "ports": {p["name"]: CROSS_NETWORK_PORT for p in ports},
            "labels": {"cluster": cluster.name.value},
        }
        if cluster.region:
            endpoint["locality"] = "/".join(x.value for x in (cluster.region, cluster.zone) if x)
        if cluster.network:
            endpoint["network"] = cluster.network.value
        endpoints.append(endpoint)
    spec = {
        "hosts": [info.host],
        "ports": ports,
        "location": "MESH_INTERNAL",
        "resolution": "STATIC" if all(_is_ip(e["address"]) for e in endpoints) else "DNS",
        "endpoints": endpoints,
    }
    nodes = [svc] + [index.clusters[n.value] for n in svc.placement]
    return document(target.networking, "ServiceEntry", info.namespace.name.value, f"{svc.name.value}-global",
                    spec, nodes)


def _port(number: int, protocol: str) -> dict:
    return {"number": number, "name": f"{protocol}-{number}", "protocol": _PROTOCOL[protocol]}


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return False
