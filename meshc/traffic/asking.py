"""A request as a user asks it (a test's `request`, `meshc route`'s
options) and the request the evaluator is given, per caller cluster.

Defaults (docs/testing.md): the service's first port; at a gateway, the
port of its first server that does not redirect (443 for `https`), the
gateway's namespace as the source namespace; `GET /`; the caller's
cluster is the cluster asked about. The caller's `topology.istio.io/cluster`
label is always its cluster: a value given for it is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from meshc.language import ir
from meshc.model.requests import addressed, canaries, named_services
from meshc.model.resolve import Index, RouteOwner, ServiceInfo
from meshc.semantics.request import Request
from meshc.traffic.readings import Readings

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Ask:
    """What is asked: a service (`NS`, `NAME`) or a host (at a gateway, or
    from a sidecar), and the request's attributes (None: the default)."""

    service: Optional[tuple[Optional[str], str]] = None
    host: Optional[str] = None
    gateway: Optional[str] = None
    port: Optional[int] = None
    method: Optional[str] = None
    path: Optional[str] = None
    headers: Pairs = ()
    cookies: Pairs = ()
    query: Pairs = ()
    source_labels: Pairs = ()
    source_namespace: Optional[str] = None
    source_cluster: Optional[str] = None

    @classmethod
    def of(cls, request: ir.PolicyRequest) -> "Ask":
        """A test's request."""
        service = None
        if request.service is not None:
            service = (request.namespace.value if request.namespace else None, request.service.value)
        return cls(
            service, request.host, request.gateway.value if request.gateway else None, request.port,
            request.method, request.path, tuple((h.name, h.value) for h in request.headers),
            tuple((c.name, c.value) for c in request.cookies), tuple((q.name, q.value) for q in request.query),
            tuple((p.key, p.value) for p in request.source_labels),
            request.source_namespace.value if request.source_namespace else None,
            request.source_cluster.value if request.source_cluster else None)


class Unanswerable(Exception):
    """What is asked names nothing the policy declares (a usage error for
    `meshc route`; the checks report it in a test)."""


def owners(index: Index, ask: Ask) -> list[RouteOwner]:
    """What owns the routes the request may reach (model/requests.py)."""
    return addressed(index, ask.service, ask.host, ask.gateway)


def reached_canaries(readings: Readings, ask: Ask, callers: Iterable[str]) -> list[tuple[ServiceInfo, ir.Route]]:
    """The canaries of the services the request reaches from `callers`, the
    ones whose steps `at` and `every step` set (docs/testing.md): those of
    the one owner it is addressed to; at a gateway host with several
    (exposures, a `host` block), those of the owners whose entries take it
    in the rendered documents of some caller, at the live steps (a canary's
    step changes its weights, not which entry takes a request)."""
    found = owners(readings.index, ask)
    if len(found) > 1:
        variant = readings.at()
        taken = set()
        for cluster in callers:
            decision = variant.evaluator(cluster).evaluate(wire(readings.index, ask, cluster))
            origin = variant.origin(cluster, decision.virtual_service, decision.entry)
            if origin is not None:
                taken.add(origin.info.key)
        found = [o for o in found if o.key in taken]
    return canaries(found)


def wire(index: Index, ask: Ask, cluster: str) -> Request:
    """The request a caller in `cluster` sends (`source_cluster` wins)."""
    gateway, host, port = None, ask.host, ask.port
    namespace = ask.source_namespace
    if ask.service is not None:
        found = named_services(index, *ask.service)
        if len(found) != 1:
            raise Unanswerable(_which(ask, found))
        info = found[0]
        host = info.host
        port = port or (info.service.ports[0].number if info.service.ports else 80)
        _declared_port(info, port)
    elif ask.gateway is not None:
        known = index.gateways.get(ask.gateway)
        if known is None:
            raise Unanswerable(f"no gateway `{ask.gateway}` in the policy")
        ns, gw = known
        gateway = f"{ns.name.value}/{gw.name.value}"
        servers = [s for s in gw.servers if not s.redirect] or list(gw.servers)
        port = port or (servers[0].port if servers else 80)
        namespace = namespace or ns.name.value
    else:
        port = port or _host_port(index, host or "")
        if host in index.by_host:
            _declared_port(index.by_host[host], port)
    return Request.make(
        host or "", port, gateway=gateway, method=ask.method or "GET", path=ask.path or "/",
        headers=dict(ask.headers), cookies=dict(ask.cookies), query=dict(ask.query),
        source_namespace=namespace or "default",
        source_labels={k: v for k, v in ask.source_labels if k != ir.CLUSTER_LABEL},
        source_cluster=ask.source_cluster or cluster)


def cluster_label_note(ask: Ask) -> Optional[str]:
    """What a caller's `topology.istio.io/cluster` label given as a source
    label becomes: istiod sets it to the proxy's own cluster over the
    workload's (pilot/pkg/serviceregistry/util/label/label.go
    `AugmentLabels`), so a caller cannot claim another cluster by label."""
    given = [v for k, v in ask.source_labels if k == ir.CLUSTER_LABEL]
    if not given:
        return None
    return (f"istiod sets {ir.CLUSTER_LABEL} to each caller's own cluster, over the workload's label: the "
            f"value `{given[-1]}` given is not sent (for a caller in {given[-1]}, ask --from-cluster {given[-1]})")


def _declared_port(info: ServiceInfo, port: int) -> None:
    """A service with ports is dialled on one of them (MESH207 in a test):
    on another, no listener of the caller's proxy takes the request, which
    neither reading models."""
    ports = [p.number for p in info.service.ports]
    if ports and port not in ports:
        raise Unanswerable(f"service `{info.service.name.value}` in namespace `{info.namespace.name.value}` has no "
                           f"port {port} (declared ports: {', '.join(map(str, ports))})")


def _host_port(index: Index, host: str) -> int:
    info = index.by_host.get(host)
    if info is not None and info.service.ports:
        return info.service.ports[0].number
    for ns in index.policy.namespaces:
        for external in ns.externals:
            if host in external.hosts and external.ports:
                return external.ports[0].number
    return 80


def _which(ask: Ask, found: list[ServiceInfo]) -> str:
    ns, name = ask.service
    if not found:
        return f"no service `{name}`" + (f" in namespace `{ns}`" if ns else "") + " in the policy"
    return f"service `{name}` is declared in namespaces " + ", ".join(i.namespace.name.value for i in found) + \
        "; say which (NAMESPACE/NAME)"
