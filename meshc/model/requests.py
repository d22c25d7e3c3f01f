"""What a test's request is addressed to (docs/testing.md): what owns the
routes it may reach and the canaries whose steps the test sets.

- `request service NAME [in NS]`: that service;
- `request host H via GATEWAY`: the gateway's `host` block and the services
  exposed on the gateway's host that takes H (the exact name, else the
  longest `*.` wildcard, else `*`);
- `request host H` from a sidecar: the service whose host is H (none for an
  external host).
"""

from __future__ import annotations

from typing import Iterable, Optional

from meshc.language import ir
from meshc.model.resolve import GatewayHostInfo, Index, RouteOwner, ServiceInfo


def named_services(index: Index, namespace: Optional[str], name: str) -> list[ServiceInfo]:
    """The services `request service NAME [in NS]` may mean (several only
    when it gives no namespace and the name is declared in several)."""
    if namespace is not None:
        found = index.services.get((namespace, name))
        return [] if found is None else [found]
    return [info for key, info in index.services.items() if key[1] == name]


def addressed(index: Index, service: Optional[tuple[Optional[str], str]], host: Optional[str],
              gateway: Optional[str]) -> list[RouteOwner]:
    """What owns the routes that may take a request to `service`
    (namespace, name), or for `host` at `gateway` (its `host` block, then
    the services exposed there) or from a sidecar."""
    if service is not None:
        found = named_services(index, *service)
        return list(found) if len(found) == 1 else []
    if gateway is not None:
        exposed = index.exposures.get(gateway, [])
        blocks = {h: b for (g, h), b in index.host_blocks.items() if g == gateway}
        chosen = best_host({e.host for _, e in exposed} | set(blocks), host or "")
        owners: list[RouteOwner] = [blocks[chosen]] if chosen in blocks else []
        return owners + _unique(info for info, e in exposed if e.host == chosen)
    found = index.by_host.get(host or "")
    return [] if found is None else [found]


def services(owners: Iterable[RouteOwner]) -> list[ServiceInfo]:
    return [o for o in owners if isinstance(o, ServiceInfo)]


def routes(owner: RouteOwner) -> tuple[ir.Route, ...]:
    return owner.block.routes if isinstance(owner, GatewayHostInfo) else owner.service.routes


def of_request(request: ir.PolicyRequest) -> dict:
    """A test request's address, as `addressed` takes it."""
    service = None
    if request.service is not None:
        service = (request.namespace.value if request.namespace else None, request.service.value)
    return {"service": service, "host": request.host,
            "gateway": request.gateway.value if request.gateway else None}


def canaries(owners: Iterable[RouteOwner]) -> list[tuple[ServiceInfo, ir.Route]]:
    """The routes with a canary among the services' routes."""
    return [(info, route) for info in services(owners) for route in info.service.routes
            if isinstance(route.action, ir.Canary)]


def best_host(hosts: Iterable[str], host: str) -> Optional[str]:
    """The one of `hosts` that takes `host` as Envoy picks a virtual host:
    the exact name, else the longest `*.suffix`, else `*`."""
    hosts = set(hosts)
    if host in hosts:
        return host
    wild = [h for h in hosts if h.startswith("*.") and host.endswith(h[1:]) and len(host) > len(h) - 1]
    if wild:
        return max(wild, key=lambda h: (len(h), h))
    return "*" if "*" in hosts else None


def _unique(infos: Iterable[ServiceInfo]) -> list[ServiceInfo]:
    out: dict[tuple[str, str], ServiceInfo] = {}
    for info in infos:
        out.setdefault(info.key, info)
    return list(out.values())
