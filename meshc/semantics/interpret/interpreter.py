"""What a policy does to one request in one cluster, read from
docs/language.md over the IR (never from the backend, whose output this is
compared with).

A request leaving a sidecar (`gateway` None) follows the service of its
host: its VirtualService when it has one (routes, or route options in this
cluster), else Istio's default route. A request at a gateway follows the
gateway's server on its port (a `redirect-http` server answers 301) and the
VirtualService of its host there, built from the routes of the gateway's
`host` block for it and the exposures of that host.
`entries.py` says which entries exist and in which order; this module tries
them and states the outcome.

Clusters ("Fleet", "Services across clusters"): a caller's proxy is
programmed by its cluster's primary, so the routing a caller in a remote
experiences is its primary's configuration (its `on PRIMARY` blocks, its
Istio release) applied to a proxy whose source cluster is the remote.
Services are reached by the same host from every cluster; where their pods
run matters only to `local` services and cluster subsets, which are plain
subsets here (a `Target` names a subset, not the pods behind it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Collection, Optional, Union

from meshc.language import ir
from meshc.language.source import Span
from meshc.model.requests import best_host
from meshc.model.resolve import Index, ServiceInfo, clusters
from meshc.semantics.decision import NO_RETRIES, Decision, Share, Target
from meshc.semantics.interpret import istio_defaults
from meshc.semantics.interpret.conditions import Condition
from meshc.semantics.interpret.destinations import Upstream, shares, upstream
from meshc.semantics.interpret.locality import serving
from meshc.semantics.interpret.entries import (
    Alternative, Configuration, Entry, Group, Table, gateway_table, mesh_table)
from meshc.semantics.interpret.options import Origin, route_options
from meshc.semantics.interpret.policy import destination_policy, levels, unmanaged_levels
from meshc.semantics.registry import registry
from meshc.semantics.request import Request

# Ports whose requests VirtualServices route; the others are proxied as TCP.
HTTP_PROTOCOLS = frozenset({"http", "http2", "grpc"})


@dataclass(frozen=True)
class Miss:
    """An entry tried before the one taken: for each of its alternatives,
    the first condition that failed."""

    entry: str
    route: Optional[Span]  # the route (None for a `default` entry)
    when: Optional[Span]  # the route's `when`
    failures: tuple[Condition, ...]


@dataclass(frozen=True)
class Explanation:
    """A decision with how it was reached: `why` in one sentence, the entries
    tried before (`tried`), the route taken and the alternative that
    matched, where each route option in force came from, and where each
    destination-policy field of each target came from. `source_cluster` is
    the caller's cluster and `configuration` the primary whose
    configuration routes it."""

    decision: Decision
    why: str
    tried: tuple[Miss, ...] = ()
    route: Optional[Span] = None
    when: Optional[Span] = None
    matched: Optional[Alternative] = None
    options: tuple[Origin, ...] = ()
    policies: tuple[tuple[Target, tuple[Origin, ...]], ...] = ()
    source_cluster: str = ""
    configuration: str = ""


@dataclass(frozen=True)
class _Outcome:
    """An entry's decision for one routing port and arrival port, before the rewrite (which
    depends on the path matched) and the origins behind it."""

    decision: Decision
    rewrite: Optional[str]
    options: tuple[Origin, ...]
    policies: tuple[tuple[Target, tuple[Origin, ...]], ...]


class Interpreter:
    """The meaning of `policy` for callers in `cluster`.

    A caller's proxy follows the configuration of its cluster's primary: in
    a primary, the cluster's own; in a remote (`remote of P`), P's, with the
    `on P` blocks and the Istio release of P, and `from cluster` and `local`
    deciding by the caller's cluster, the remote. So
    `Interpreter(policy, "shanghai")` answers what a workload in the remote
    shanghai experiences, which is also what
    `Interpreter(policy, "hangzhou")` answers for a request whose
    `source_cluster` is shanghai.

    A request's `source_cluster` is the cluster of the proxy that routes it
    (the caller's, or the gateway pod's); None means `cluster`. A request
    from a cluster the configuration does not program is answered as that
    configuration would route it (what the evaluator of the primary's
    rendered documents does), though no such proxy exists.

    `default_istio` is the Istio release of a cluster whose fleet entry gives
    none (`--istio-version`)."""

    def __init__(self, policy: ir.MeshPolicy, cluster: str, default_istio: str = istio_defaults.DEFAULT_ISTIO):
        if cluster not in clusters(policy):
            raise ValueError(f"cluster `{cluster}` is not in the policy's fleet")
        self.policy = policy
        self.cluster = cluster
        self.index = Index(policy)
        topology = self.index.topology
        self.primary = topology.primary_of(cluster)
        self.config = Configuration(self.index, self.primary, topology.served_by(self.primary))
        fleet_entry = self.index.clusters.get(self.primary)
        self.istio = (fleet_entry.istio if fleet_entry is not None else None) or default_istio
        self.by_host = self.index.by_host
        self.ports = registry(policy, cluster)
        self._mesh: dict[str, Optional[Table]] = {}
        self._gateway: dict[tuple[str, str], Optional[Table]] = {}
        self._outcomes: dict[tuple[int, Optional[int], int], _Outcome] = {}
        self._policies: dict[Target, tuple] = {}
        self._upstreams: dict[Target, Upstream] = {}

    # ------------------------------------------------------------ answers
    def evaluate(self, request: Request) -> Decision:
        return self._run(request, None).decision

    def explain(self, request: Request) -> Explanation:
        return self._run(request, [])

    def serving(self, request: Request, down: Collection[str] = ()) -> tuple[tuple[Share, Optional[tuple[str, ...]]], ...]:
        """Each destination of the request's decision with the clusters whose
        pods take it, the pods of the clusters in `down` being unhealthy
        (locality.py: `()` means no healthy pod, a 503; None a service the
        policy does not declare)."""
        request = self._caller(request)
        decision = self.evaluate(request)
        out = []
        for share in decision.destinations:
            pods = self._upstreams[share.target].pods
            clusters = None if pods is None else serving(
                self.index.topology, pods, decision.policy(share.target), request.source_cluster, down)
            out.append((share, clusters))
        return tuple(out)

    # ---------------------------------------------------------- the walk
    def _caller(self, request: Request) -> Request:
        """The request with its source cluster (this interpreter's by default)."""
        return request if request.source_cluster is not None else replace(request, source_cluster=self.cluster)

    def _run(self, request: Request, trace: Optional[list[Miss]]) -> Explanation:
        request = self._caller(request)
        found = self._walk(request, trace)
        return replace(found, source_cluster=request.source_cluster, configuration=self.primary)

    def _walk(self, request: Request, trace: Optional[list[Miss]]) -> Explanation:
        found = self._table(request)
        if not isinstance(found, Table):
            return found
        at_gateway = found.at_gateway
        for group in found.groups:
            if trace is None and at_gateway and not any(a.failure(request, True) is None for a in group.alternatives):
                continue  # every entry of the group needs one of these alternatives
            for entry in group.entries:
                for alt in entry.alternatives:
                    if alt.failure(request, at_gateway) is None:
                        return self._taken(request, found, group, entry, alt, trace)
                if trace is not None:
                    trace.append(Miss(entry.name, entry.route.span if entry.route else None, entry.when_span,
                                      tuple(a.failure(request, at_gateway) for a in entry.alternatives)))
            if any(a.failure(request, at_gateway) is None for a in group.alternatives):
                # Without a 404 entry only the `from cluster` of `local`'s per-cluster
                # copies lets a request through a service's routes: at a gateway it goes
                # on to the later exposures; in the mesh, a client every entry filters
                # out by proxy conditions is not covered by the VirtualService ("Routes").
                if group.not_found is None and at_gateway:
                    continue
                if group.not_found is None and not any(
                        alt.kept_for(request) for entry in group.entries for alt in entry.alternatives):
                    return replace(self._default(request, group.info), tried=tuple(trace or ()))
                decision = Decision("respond", status=404, virtual_service=found.name, entry=group.not_found)
                return Explanation(decision, f"no route of {_service(group.info)} takes the request: 404",
                                   tuple(trace or ()))
        # At a gateway the routes of every VirtualService of the host are
        # merged, so no one VirtualService answers (docs/semantics.md).
        owner = None if at_gateway else found.name
        return Explanation(Decision("respond", status=404, virtual_service=owner),
                           f"no entry of {found.name} takes the request: 404", tuple(trace or ()))

    def _table(self, request: Request) -> Union[Table, Explanation]:
        """The VirtualService that routes the request, or the answer when none does."""
        if request.gateway is None:
            info = self.by_host.get(request.host)
            if not self._carries_http(request):
                return self._default(request, info, http=False)
            table = self._mesh_table(info) if info is not None else None
            if table is None:
                return self._default(request, info)
            return table
        namespace, _, name = request.gateway.partition("/")
        found = self.index.gateways.get(name)
        if found is None or found[0].name.value != namespace:
            return _respond(None, f"no gateway {request.gateway}: nothing listens")
        gateway = found[1]
        server = next((s for s in gateway.servers if s.port == request.port), None)
        if server is None:
            return _respond(None, f"gateway {request.gateway} has no server on port {request.port}: nothing listens")
        if best_host(gateway.hosts, request.host) is None:
            if server.protocol == "https":
                return _respond(None, f"gateway {request.gateway} does not serve {request.host}: no TLS handshake")
            return _respond(404, f"gateway {request.gateway} does not serve {request.host}")
        if server.redirect:
            return Explanation(Decision("redirect", status=301),
                               f"port {request.port} of {request.gateway} redirects to HTTPS: 301")
        table = self._gateway_table(namespace, name, request.host)
        if table is None:
            return _respond(404, f"no service is exposed on {request.host} via {request.gateway}")
        return table

    def _carries_http(self, request: Request) -> bool:
        """Routes apply to HTTP ports only: a `tcp`, `tls` or `https` port
        is proxied as TCP (Istio's default; docs/language.md, Services)."""
        declared = {p.number: p.protocol for p in self.ports.ports(request.host)}
        return declared.get(request.port, "http") in HTTP_PROTOCOLS

    def _default(self, request: Request, info: Optional[ServiceInfo], http: bool = True) -> Explanation:
        """Istio's default route: the host on the port dialled (TCP proxying,
        without retries, for a port that does not carry HTTP); a host that
        is no service nor `external` goes to the PassthroughCluster, without
        retries ("What Istio does where a policy says nothing")."""
        target = Target(request.host, None, request.port)
        flat, origins = self._policy(target, upstream(self.index, info, None, None) if info else Upstream(None, None))
        known = info is not None or bool(self.ports.ports(request.host))
        retries = istio_defaults.default_retries(self.istio) if http and known else NO_RETRIES
        decision = Decision("default", destinations=(Share(target, Fraction(1)),), retries=retries,
                            policies=((target, flat),))
        why = "Istio's default route" if known else "the PassthroughCluster, as Istio sends what it does not know"
        if not http:
            why = f"port {request.port} does not carry HTTP: proxied as TCP"
        return Explanation(decision, f"no HTTP routing for {request.host}: {why}", policies=((target, origins),))

    def _taken(self, request: Request, table: Table, group: Group, entry: Entry, alt: Alternative,
               trace: Optional[list[Miss]]) -> Explanation:
        if table.at_gateway:
            port = group.port if group.port is not None else request.port
        else:
            ports = group.info.service.ports
            port = ports[0].number if len(ports) == 1 else request.port
        outcome = self._outcome(table, group, entry, port, request.port)
        decision = outcome.decision
        if outcome.rewrite is not None:
            decision = replace(decision, rewrite=_rewrite(request, alt, outcome.rewrite))
        route = entry.route
        return Explanation(decision, f"entry {entry.name} of {table.name} takes the request", tuple(trace or ()),
                           route.span if route else None, entry.when_span, alt, outcome.options, outcome.policies)

    # ------------------------------------------------- cached ingredients
    def _mesh_table(self, info: ServiceInfo) -> Optional[Table]:
        if info.host not in self._mesh:
            self._mesh[info.host] = mesh_table(self.config, info)
        return self._mesh[info.host]

    def _gateway_table(self, namespace: str, gateway: str, host: str) -> Optional[Table]:
        key = (gateway, host)
        if key not in self._gateway:
            exposures = [(info, position, expose)
                         for info in self.index.all_services()
                         for position, expose in enumerate(info.service.exposes)
                         if expose.gateway.value == gateway]
            blocks = {b.block.host: b for b in reversed(list(self.index.gateway_hosts()))
                      if b.gateway is self.index.gateways[gateway][1]}  # the first block of a host
            chosen = best_host(tuple({e.host for _, _, e in exposures} | set(blocks)), host)
            mine = [x for x in exposures if x[2].host == chosen]
            block = blocks.get(chosen)
            routed = mine or (block is not None and block.block.routes)
            self._gateway[key] = gateway_table(self.config, block, mine, namespace, gateway, chosen) \
                if routed else None
        return self._gateway[key]

    def _outcome(self, table: Table, group: Group, entry: Entry, port: Optional[int], arrived: int) -> _Outcome:
        key = (id(entry), port, arrived)
        if key not in self._outcomes:
            info = group.info
            options = route_options(info, entry.route, self.primary, self.istio)
            destinations, mirrors, services = shares(self.index, info, entry.route, entry.preview, port, arrived,
                                                     entry.local, self.primary)
            policies, origins = [], []
            for target in sorted(services, key=lambda t: t.key):
                flat, why = self._policy(target, services[target])
                policies.append((target, flat))
                origins.append((target, why))
            decision = Decision(
                "route", virtual_service=table.name, entry=entry.name, destinations=destinations,
                timeout_ms=options.timeout_ms, retries=options.retries, fault=options.fault, mirrors=mirrors,
                cors=options.cors, policies=tuple(policies))
            self._outcomes[key] = _Outcome(decision, options.rewrite, options.origins,
                                           tuple(origins))
        return self._outcomes[key]

    def _policy(self, target: Target, upstream: Upstream) -> tuple:
        """A target's destination policy: none for a subset that does not
        exist (decision.py: the upstream cluster does not exist)."""
        if target not in self._policies:
            self._upstreams[target] = upstream
            if not upstream.defined:
                blocks = []
            elif upstream.info is None:
                blocks = unmanaged_levels(self.policy, target.host)
            else:
                blocks = levels(upstream.info, upstream.subset, target.port, self.primary)
            self._policies[target] = destination_policy(blocks)
        return self._policies[target]


def _respond(status: Optional[int], why: str) -> Explanation:
    return Explanation(Decision("respond", status=status), why)


def _service(info: ServiceInfo) -> str:
    return f"{info.namespace.name.value}/{info.service.name.value}"


def _rewrite(request: Request, alt: Alternative, replacement: str) -> str:
    """The path the upstream receives: `rewrite path` replaces the matched
    prefix (`/` when the alternative tests no path; the whole path, query
    kept, after an exact or regex match)."""
    match = next((c.path for c in alt.conditions if c.path is not None), None)
    if match is None:
        return replacement + request.path[1:]
    if match.op == "prefix":
        return replacement + request.path[len(match.value):]
    _, mark, query = request.path.partition("?")
    return replacement + mark + query
