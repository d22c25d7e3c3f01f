"""Services, VirtualService visibility, and Envoy's virtual host selection.

Followed:

- pilot/pkg/model/push_context.go `initVirtualServices` and
  `VirtualServicesForGateway`, pilot/pkg/model/virtualservice.go
  `SelectVirtualServices`: a VirtualService is seen by proxies of a
  namespace if `exportTo` is empty or `*` (public), names `.` or its own
  namespace (private, for proxies of that namespace) or names the proxy's
  namespace (exported), `~` hides it; they come private first, then
  exported, then public, each in pilot's creation order.
- pkg/config/protocol: `http`, `http2`, `grpc`, `grpc-web`, `http_proxy`
  are HTTP; an unknown protocol is sniffed (HTTP routing applies to HTTP
  requests); `tcp`, `tls`, `https`, `mongo`, `redis`, `mysql`, `udp` are not.
- Envoy's virtual host selection (route config `domains`): exact domain
  first, then the longest `*suffix` wildcard, then `prefix*`, then `*`;
  case-insensitive, and with `ignore_port_in_host_matching` (pilot sets it
  for sidecars and gateways) the request's `:port` is ignored.
"""

from __future__ import annotations

from typing import Generic, Iterable, Mapping, Optional, TypeVar

from meshc.semantics.evaluate.documents import Resource
from meshc.semantics.evaluate.routes import VirtualService
from meshc.semantics.request import Registry, ServicePort

HTTP_PROTOCOLS = frozenset({"http", "http2", "grpc", "grpc-web", "http_proxy"})
NON_HTTP_PROTOCOLS = frozenset({"tcp", "tls", "https", "mongo", "redis", "mysql", "udp"})


def is_http_or_sniffed(protocol: str) -> bool:
    """protocol.Instance `IsHTTPOrSniffed`."""
    return protocol.lower() not in NON_HTTP_PROTOCOLS


def hosts_of(entry: Resource) -> list[str]:
    """A ServiceEntry's hosts, lower case; raises for what the webhook
    refuses (hosts that are not a list of names, ports without a number)."""
    hosts = entry.spec.get("hosts") or []
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise TypeError(f"ServiceEntry {entry.key}: hosts are not a list of names")
    for p in entry.spec.get("ports") or ():
        int(p["number"])
    return [h.lower() for h in hosts]


class Services:
    """The hosts the control plane knows: the registry's, plus the hosts
    of every ServiceEntry among the documents (with the entry's ports and
    namespace)."""

    def __init__(self, registry: Registry, service_entries: Iterable[Resource], domain: str) -> None:
        self.domain = domain
        self.ports: dict[str, tuple[ServicePort, ...]] = {h.lower(): tuple(p) for h, p in registry.services.items()}
        self.namespaces: dict[str, str] = {h: self._kube_namespace(h) for h in self.ports}
        for entry in service_entries:
            ports = tuple(ServicePort(int(p["number"]), str(p.get("protocol") or "").lower())
                          for p in entry.spec.get("ports") or () if isinstance(p, dict) and "number" in p)
            for host in hosts_of(entry):
                known = {p.number: p for p in self.ports.get(host, ())}
                for p in ports:
                    known.setdefault(p.number, p)
                self.ports[host] = tuple(known.values())
                self.namespaces.setdefault(host, entry.namespace)
        self._on_port: dict[int, dict[str, ServicePort]] = {}

    def _kube_namespace(self, host: str) -> str:
        suffix = f".svc.{self.domain}"
        if host.endswith(suffix):
            parts = host[: -len(suffix)].split(".")
            if len(parts) == 2:
                return parts[1]
        return ""

    def on_port(self, port: int) -> dict[str, ServicePort]:
        """Services with `port`, as pilot's `servicesByName` for a listener."""
        found = self._on_port.get(port)
        if found is None:
            found = {h: p for h, ports in sorted(self.ports.items()) for p in ports if p.number == port}
            self._on_port[port] = found
        return found

    def resolve(self, host: str, namespace: str) -> Optional[str]:
        """The known service a sidecar's Host header names, if any: itself,
        or a Kubernetes service by one of the names pilot generates for it
        (httproute.go `generateAltVirtualHosts`: `name` from the service's
        own namespace, `name.ns`, `name.ns.svc`); a trailing dot (absolute
        FQDN, Istio 1.27+) is accepted."""
        host = strip_port(host).lower().rstrip(".")
        parts = host.split(".")
        candidates = [host]
        if len(parts) == 1:
            candidates.append(f"{host}.{namespace}.svc.{self.domain}")
        elif len(parts) == 2 or (len(parts) == 3 and parts[2] == "svc"):
            candidates.append(f"{parts[0]}.{parts[1]}.svc.{self.domain}")
        return next((c for c in candidates if c in self.ports), None)

    def domains(self, host: str, namespace: str) -> list[str]:
        """The domains of a service's virtual host for a client in
        `namespace` (httproute.go `generateVirtualHostDomains` with the port
        ignored): the host, its absolute form, and for a Kubernetes service
        `name.ns`, `name.ns.svc`, plus `name` in the same namespace."""
        out = [host, host + "."]
        suffix = f".svc.{self.domain}"
        if host.endswith(suffix):
            name, _, ns = host[: -len(suffix)].partition(".")
            if name and ns and "." not in ns:
                if ns == namespace:
                    out.append(name)
                out += [f"{name}.{ns}", f"{name}.{ns}.svc"]
        return out


def visible(virtual_services: list[VirtualService], gateway: str, namespace: str) -> list[VirtualService]:
    """The VirtualServices bound to `gateway` (`mesh` for sidecars) that
    proxies in `namespace` see, in pilot's order (private, exported, public)."""
    groups: tuple[list, list, list] = ([], [], [])
    for vs in virtual_services:
        if gateway not in vs.gateways:
            continue
        export = vs.export_to
        if not export or "*" in export:
            groups[2].append(vs)
        elif "~" in export:
            continue
        elif vs.resource.namespace == namespace and export & {".", namespace}:
            groups[0].append(vs)
        elif namespace in export:
            groups[1].append(vs)
    return groups[0] + groups[1] + groups[2]


V = TypeVar("V")


class Domains(Generic[V]):
    """Envoy's domain matching over the virtual hosts of one route config."""

    def __init__(self) -> None:
        self.exact: dict[str, V] = {}
        self.suffix: list[tuple[str, V]] = []
        self.prefix: list[tuple[str, V]] = []
        self.default: Optional[V] = None
        self._found: dict[str, Optional[V]] = {}

    def add(self, domain: str, value: V) -> bool:
        """Add `domain` unless it is taken; whether it was added."""
        self._found.clear()
        domain = domain.lower()
        if domain == "*":
            if self.default is not None:
                return False
            self.default = value
        elif domain.startswith("*"):
            if any(d == domain[1:] for d, _ in self.suffix):
                return False
            self.suffix.append((domain[1:], value))
            self.suffix.sort(key=lambda i: -len(i[0]))
        elif domain.endswith("*"):
            if any(d == domain[:-1] for d, _ in self.prefix):
                return False
            self.prefix.append((domain[:-1], value))
            self.prefix.sort(key=lambda i: -len(i[0]))
        else:
            if domain in self.exact:
                return False
            self.exact[domain] = value
        return True

    def __contains__(self, domain: str) -> bool:
        domain = domain.lower()
        if domain == "*":
            return self.default is not None
        if domain.startswith("*"):
            return any(d == domain[1:] for d, _ in self.suffix)
        return domain in self.exact

    def find(self, host: str) -> Optional[V]:
        """The virtual host Envoy picks for a request's host (port ignored);
        a wildcard matches at least one character."""
        found = self._found.get(host, False)
        if found is False:
            found = self._find(host)
            if len(self._found) > 65536:
                self._found.clear()
            self._found[host] = found
        return found

    def _find(self, host: str) -> Optional[V]:
        host = strip_port(host).lower()
        found = self.exact.get(host)
        if found is not None:
            return found
        for suffix, value in self.suffix:
            if len(host) > len(suffix) and host.endswith(suffix):
                return value
        for prefix, value in self.prefix:
            if len(host) > len(prefix) and host.startswith(prefix):
                return value
        return self.default


def strip_port(host: str) -> str:
    """`host:port` without its port (an IPv6 literal keeps its brackets)."""
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    head, sep, tail = host.rpartition(":")
    return head if sep and tail.isdigit() else host


def labels_subset(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
