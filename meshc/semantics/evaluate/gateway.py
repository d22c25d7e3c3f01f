"""Ingress gateways: which servers take a port, and their virtual hosts.

Followed:

- pilot/pkg/model/push_context.go `mergeGateways`: a gateway pod merges
  every Gateway whose `selector` is a subset of its labels (no selector:
  every pod), in creation order;
- pilot/pkg/model/gateway.go `mergeGateways`, `sanitizeServerHostNamespace`,
  `gatewayRDSRouteName`: plain-text HTTP servers on one port share one
  route configuration (`http.PORT`), whichever Gateway they come from; a
  later server whose protocol cannot merge with the port's first
  plain-text one is dropped (`canMergeProtocols`), as is a TLS server
  repeating a host of an earlier one (`CheckDuplicates`); each HTTPS
  server terminating TLS has a route configuration of its own, reached by
  SNI; `./host` means the Gateway's namespace, `*/host` any namespace;
- pilot/pkg/networking/core/gateway.go `buildGatewayHTTPRouteConfig`: for
  each server, the VirtualServices bound to its Gateway and visible to the
  gateway pod's namespace (`VirtualServicesForGateway`) whose hosts
  intersect the server's (pkg/config/host `NamesForNamespace`,
  `Names.Intersection`, wildcards included, the more specific name of a
  pair kept) add their routes to one virtual host per intersecting host,
  in order; `httpsRedirect` makes those virtual hosts (and one per server
  host with no VirtualService) require TLS, which Envoy answers with a 301
  to https; catch-all routes move to the end of each virtual host
  (route.go `SortVHostRoutes`); no virtual host at all gives a `*` one with
  no routes; a host no virtual host takes, or a request no route takes,
  gets Envoy's 404.

Not modelled: `bind` addresses, the gateway Service's port mapping
(`resolvePorts`: the server port is taken as the port the request
arrives on), TLS passthrough and TCP servers, HTTP/3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from meshc.semantics.evaluate.documents import Resource, host_subset_of
from meshc.semantics.evaluate.hosts import HTTP_PROTOCOLS, Domains, labels_subset
from meshc.semantics.evaluate.routes import Alternative, VirtualService


@dataclass
class Server:
    """One server of a Gateway, hosts sanitized."""

    gateway: str
    index: int
    number: int
    protocol: str
    port_name: str
    hosts: tuple[str, ...]
    tls: Optional[dict]

    @property
    def https_redirect(self) -> bool:
        return bool((self.tls or {}).get("httpsRedirect"))

    @property
    def is_tls_server(self) -> bool:
        """gateway.go `IsTLSServer`: TLS settings on a non-HTTP protocol."""
        return self.tls is not None and self.protocol not in HTTP_PROTOCOLS

    @property
    def is_http_server(self) -> bool:
        """gateway.go `IsHTTPServer`: HTTP, or HTTPS terminating TLS."""
        if self.protocol in HTTP_PROTOCOLS:
            return True
        return self.protocol == "https" and not self.passthrough

    @property
    def passthrough(self) -> bool:
        return (self.tls or {}).get("mode") in ("PASSTHROUGH", "AUTO_PASSTHROUGH")

    @property
    def route_name(self) -> str:
        """gateway.go `gatewayRDSRouteName`."""
        if self.protocol in HTTP_PROTOCOLS:
            return f"http.{self.number}"
        if self.protocol == "https" and not self.passthrough:
            ns, name = self.gateway.split("/", 1)
            return f"https.{self.number}.{self.port_name}.{name}.{ns}"
        return ""

    @property
    def sni_hosts(self) -> tuple[str, ...]:
        return tuple(sorted({h.split("/", 1)[-1] for h in self.hosts}))


def servers(gateway: Resource) -> list[Server]:
    """The servers of a Gateway with `sanitizeServerHostNamespace` applied."""
    out = []
    for index, spec in enumerate(gateway.spec.get("servers") or ()):
        port = spec.get("port") or {}
        if "number" not in port:
            continue
        hosts = []
        for h in spec.get("hosts") or ():
            h = str(h)
            if "/" in h:
                ns, name = h.split("/", 1)
                if ns == ".":
                    h = f"{gateway.namespace}/{name}"
                elif ns == "*":
                    if name == "*":
                        hosts = ["*"]
                        break
                    h = name
            hosts.append(h)
        out.append(Server(gateway.key, index, int(port["number"]), str(port.get("protocol") or "").lower(),
                          str(port.get("name") or ""), tuple(hosts), spec.get("tls")))
    return out


def check(gateway: Resource) -> None:
    """Read a Gateway as `listener` and the routing do, so that what the
    webhook would refuse (a server or TLS setting that is not a mapping, a
    port without a number) raises when loading."""
    for server in servers(gateway):
        for setting in ("https_redirect", "is_tls_server", "is_http_server", "route_name", "sni_hosts"):
            getattr(server, setting)
    dict((gateway.spec.get("selector") or {}).items())


def merged_gateways(gateways: list[Resource], labels: Mapping[str, str]) -> list[Resource]:
    """The Gateways a pod with `labels` merges (push_context.go `mergeGateways`)."""
    return [g for g in gateways if labels_subset({str(k): str(v) for k, v in (g.spec.get("selector") or {}).items()},
                                                 labels)]


@dataclass
class Listener:
    """What listens on one port of a gateway pod: the plain-text HTTP
    route configuration's servers, and the TLS servers (by SNI)."""

    http: list[Server] = field(default_factory=list)
    tls: list[Server] = field(default_factory=list)
    plain_protocol: Optional[str] = None
    dropped: list[str] = field(default_factory=list)


def listener(gateways: list[Resource], port: int) -> Listener:
    """gateway.go `mergeGateways` for one port (bind addresses ignored)."""
    out = Listener()
    routes: dict[str, list[Server]] = {}
    tls_hosts: set[str] = set()
    seen = False
    for gateway in gateways:
        for server in servers(gateway):
            if server.number != port:
                continue
            if server.tls is not None:
                duplicates = [h for h in server.hosts if h in tls_hosts]
                if duplicates:
                    out.dropped.append(f"{server.gateway} server {server.index}: duplicate TLS hosts {duplicates}")
                    continue
                tls_hosts.update(server.hosts)
            if not seen:
                seen = True
                if not server.is_tls_server:
                    out.plain_protocol = server.protocol
                if server.is_http_server:
                    routes[server.route_name] = [server]
                if server.is_tls_server:
                    out.tls.append(server)
                continue
            if out.plain_protocol is not None:
                # model/gateway.go canMergeProtocols(new, existing)
                if not ((server.protocol in HTTP_PROTOCOLS or server.protocol == out.plain_protocol)
                        and out.plain_protocol in HTTP_PROTOCOLS) or not server.route_name:
                    out.dropped.append(f"{server.gateway} server {server.index}: {server.protocol} conflicts "
                                       f"with {out.plain_protocol} on port {port}")
                    continue
                routes.setdefault(server.route_name, []).append(server)
                continue
            if not server.is_tls_server:
                out.plain_protocol = server.protocol
                if server.is_http_server:
                    routes[server.route_name] = [server]
                continue
            if server.is_http_server:
                if server.route_name in routes:
                    out.dropped.append(f"{server.gateway} server {server.index}: port name not unique")
                    continue
                routes[server.route_name] = [server]
            out.tls.append(server)
    out.http = routes.get(f"http.{port}", []) if out.plain_protocol in HTTP_PROTOCOLS else []
    return out


def sni_server(tls: list[Server], host: str) -> Optional[Server]:
    """Envoy's filter chain match on server names: exact, then the longest
    wildcard, then a server for every name."""
    host = host.lower()
    best: Optional[tuple[int, Server]] = None
    for server in tls:
        for name in server.sni_hosts:
            name = name.lower()
            if name == host:
                rank = 1_000_000
            elif name == "*":
                rank = 0
            elif name.startswith("*") and host.endswith(name[1:]) and len(host) > len(name) - 1:
                rank = len(name)
            else:
                continue
            if best is None or rank > best[0]:
                best = (rank, server)
    return best[1] if best else None


@dataclass
class VHost:
    """A virtual host of a gateway route configuration."""

    domain: str
    routes: list[Alternative] = field(default_factory=list)
    require_tls: bool = False


RoutesFor = Callable[[VirtualService, int, str], tuple[Alternative, ...]]


def virtual_hosts(route_servers: list[Server], virtual_services: Callable[[str], list[VirtualService]],
                  routes_for: RoutesFor) -> Domains[VHost]:
    """gateway.go `buildGatewayHTTPRouteConfig` for one route configuration."""
    by_host: dict[str, VHost] = {}
    for server in route_servers:
        for vs in virtual_services(server.gateway):
            server_hosts = names_for_namespace(server.hosts, vs.resource.namespace)
            common = intersection(server_hosts, vs.hosts)
            if not common:
                continue
            routes = routes_for(vs, server.number, server.gateway)
            if not routes:
                continue
            for h in common:
                h = h.lower()
                vhost = by_host.get(h)
                if vhost is None:
                    by_host[h] = vhost = VHost(h)
                vhost.routes.extend(routes)
                if server.https_redirect:
                    vhost.require_tls = True
        if server.https_redirect:
            for h in server.hosts:
                h = h.lower()
                by_host.setdefault(h, VHost(h)).require_tls = True
    domains: Domains[VHost] = Domains()
    if not by_host:
        domains.add("*", VHost("*"))
        return domains
    for h, vhost in by_host.items():
        # route.go SortVHostRoutes: catch-alls last, order kept otherwise
        vhost.routes = [r for r in vhost.routes if not r.catch_all] + [r for r in vhost.routes if r.catch_all]
        domains.add(h, vhost)
    return domains


def names_for_namespace(hosts: tuple[str, ...], namespace: str) -> list[str]:
    """pkg/config/host `NamesForNamespace`."""
    out = []
    for h in hosts:
        if "/" in h:
            ns, name = h.split("/", 1)
            if ns not in (namespace, "*"):
                continue
            h = name
        out.append(h)
    return out


def intersection(a: list[str], b: tuple[str, ...]) -> list[str]:
    """pkg/config/host `Names.Intersection`: for every pair where one name
    is a subset of the other, the narrower one, once."""
    out: list[str] = []
    for x in a:
        for y in b:
            pick = x if host_subset_of(x, y) else y if host_subset_of(y, x) else None
            if pick is not None and pick not in out:
                out.append(pick)
    return out
