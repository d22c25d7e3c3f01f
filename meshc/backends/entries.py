"""Gateways and ServiceEntries: ingress, the cross-network (east-west)
gateway and external services."""

from __future__ import annotations

from meshc.backends.documents import Document, document, slug
from meshc.backends.targets import IstioTarget
from meshc.language import ir
from meshc.model.resolve import ROOT_NAMESPACE, gateway_selector

CROSS_NETWORK_NAME = "cross-network-gateway"
# The port east-west gateways pass mTLS through on, by SNI.
CROSS_NETWORK_PORT = 15443
_PROTOCOL = {"http": "HTTP", "http2": "HTTP2", "grpc": "GRPC", "https": "HTTPS", "tcp": "TCP", "tls": "TLS"}


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
    selector = gateway_selector(gw)
    return document(target.networking, "Gateway", ns.name.value, gw.name.value,
                    {"selector": selector, "servers": servers}, [gw])


def cross_network_gateway(fleet: ir.Fleet, target: IstioTarget) -> Document:
    """The east-west Gateway of Istio's multi-network installs
    (samples/multicluster/expose-services.yaml): the east-west gateway pods
    pass Istio mutual TLS through to every `*.local` service by SNI. Its
    hosts are the services the control plane knows, so nothing else needs
    exposing; it carries no certificate of its own."""
    spec = {
        "selector": {"istio": "eastwestgateway"},
        "servers": [{
            "port": {"number": CROSS_NETWORK_PORT, "name": "tls", "protocol": "TLS"},
            "tls": {"mode": "AUTO_PASSTHROUGH"},
            "hosts": ["*.local"],
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


def _port(number: int, protocol: str) -> dict:
    return {"number": number, "name": f"{protocol}-{number}", "protocol": _PROTOCOL[protocol]}
