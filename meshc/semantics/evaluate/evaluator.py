"""Where Envoy sends a request, as Istio programs it from rendered documents.

A request leaving a sidecar (`Request.gateway` None) is routed by the
outbound route configuration of its port
(pilot/pkg/networking/core/httproute.go `BuildSidecarOutboundVirtualHosts`,
route.go `BuildSidecarVirtualHostWrapper`,
`buildSidecarVirtualHostsForVirtualService`, `separateVSHostsAndServices`):

- the services with the dialled port, and the VirtualServices bound to
  `mesh` that the client's namespace sees (hosts.py `visible`); on a port
  other than 80 only those naming a service with that port (pilot's
  `selectVirtualServices` "hack");
- each VirtualService in order builds its routes for this client
  (routes.py); one that keeps none does not apply, and its hosts get the
  default route as if it did not exist;
- a service host is taken by the first VirtualService naming it exactly,
  or by the one whose wildcard host is the most specific for it
  (sidecar.go `computeWildcardHostVirtualServiceIndex`); a VirtualService
  host that is no service gets a virtual host of its own only on port 80,
  or beside a service of the same VirtualService on the port;
- a service with no VirtualService gets the default route
  (`BuildDefaultHTTPOutboundRoute`): the service on the dialled port, the
  default retry policy, no timeout;
- a host nobody knows goes to the PassthroughCluster (ALLOW_ANY, Istio's
  default): the original destination, no retries, no timeout;
- a non-HTTP port of a known service is proxied as TCP (reported as the
  service on that port, no retries).

A request at an ingress gateway (`Request.gateway` = `NS/NAME`) is routed
as gateway.py describes; the gateway pod's labels are the named Gateway's
selector plus `Request.source_labels`, its namespace `source_namespace`.

Within a virtual host the first route (alternative) that matches takes the
request (actions.py turns it into a decision); none: 404.

Destinations without a port: `GetDestinationCluster` uses the port of the
service pilot looked up when it has exactly one. At a sidecar pilot looks
services up in the listener's own table, where every service has exactly
the listener port (or is absent), so a destination without port always
gets the port the client dialled; at a gateway a single-port service gives
its port, otherwise the server's port is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Optional, Union

from meshc.semantics.decision import NO_RETRIES, Decision, Retries, Share, Target
from meshc.semantics.evaluate import actions
from meshc.semantics.evaluate.documents import (MESH_GATEWAY, DocumentError, host_matches, load_directory, load_yaml,
                                                resources, sorted_resources)
from meshc.semantics.evaluate.gateway import VHost, listener, merged_gateways, sni_server, virtual_hosts
from meshc.semantics.evaluate.gateway import check as check_gateway
from meshc.semantics.evaluate.hosts import Domains, Services, hosts_of, is_http_or_sniffed, strip_port, visible
from meshc.semantics.evaluate.matchers import split_path
from meshc.semantics.evaluate.policy import DestinationRules
from meshc.semantics.evaluate.routes import (Alternative, EntryActions, Miss, View, VirtualService,
                                             compile_virtual_service)
from meshc.semantics.request import Registry, Request, ServicePort

PASSTHROUGH = "PassthroughCluster"
MESH = frozenset((MESH_GATEWAY,))


@dataclass(frozen=True)
class Explanation:
    """A decision and how it was reached.

    `misses`: for every route tried before the one taken (or all, when none
    took the request), each failing condition of each match alternative,
    and the alternatives pilot left out for this proxy (`filtered`).
    `notes`: which virtual host and VirtualService applied, and why."""

    decision: Decision
    misses: tuple[Miss, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Trace:
    misses: list[Miss] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _SidecarHost:
    """A virtual host of a sidecar's route configuration."""

    routes: tuple[Alternative, ...] = ()
    virtual_service: Optional[VirtualService] = None
    default: Optional[str] = None  # the service of a default route


class Evaluator:
    """Istio's HTTP routing over the rendered documents of one cluster.

    `registry` lists the Kubernetes services (and any other hosts) the
    control plane knows; ServiceEntries among the documents add their own.
    Documents Istio's webhook would reject (invalid regexes, malformed
    resources) are left out and listed in `problems`. `istio` is the
    cluster's Istio release: the default retry policy changed in 1.24."""

    def __init__(self, documents: Iterable[dict], registry: Registry = Registry(), *,
                 domain: str = "cluster.local", root_namespace: str = "istio-system", istio: str = "1.30") -> None:
        self.problems: list[str] = []
        self.default_retries = actions.default_retries(istio)
        found = sorted_resources(resources(documents))
        self.virtual_services: list[VirtualService] = []
        for res in found:
            if res.kind == "VirtualService":
                try:
                    compiled = compile_virtual_service(res, domain)
                    for entry in compiled.entries:
                        entry.actions = _validate(entry.spec, self.default_retries)
                    self.virtual_services.append(compiled)
                except (DocumentError, TypeError, ValueError, AttributeError, KeyError) as err:
                    self.problems.append(f"VirtualService {res.key}: {err}")
        self.gateways = self._readable(found, "Gateway", check_gateway)
        self._gateway_by_key = {g.key: g for g in self.gateways}
        self.services = Services(registry, self._readable(found, "ServiceEntry", hosts_of), domain)
        self.rules = DestinationRules([r for r in found if r.kind == "DestinationRule"], domain, root_namespace,
                                      self.problems)
        self._visible: dict[tuple[str, str], list[VirtualService]] = {}
        self._sidecar_tables: dict[tuple, Domains[_SidecarHost]] = {}
        self._gateway_tables: dict[tuple, Domains[VHost]] = {}
        self._decisions: dict[tuple, tuple[Decision, Optional[Alternative]]] = {}
        self._policies: dict[tuple, tuple] = {}
        self._defaults: dict[tuple, Decision] = {}
        self._tcp: dict[tuple, Optional[tuple[str, str]]] = {}

    def _readable(self, found: list, kind: str, check) -> list:
        """The resources of `kind` that `check` reads without raising; the
        others (what Istio's webhook would refuse) are left out, in `problems`."""
        out = []
        for res in found:
            if res.kind != kind:
                continue
            try:
                check(res)
                out.append(res)
            except (DocumentError, TypeError, ValueError, AttributeError, KeyError) as err:
                self.problems.append(f"{kind} {res.key}: {err}")
        return out

    @classmethod
    def from_directory(cls, path: Union[str, Path], registry: Registry = Registry(), **options) -> "Evaluator":
        """An evaluator of a rendered cluster directory (`out/<cluster>/`)."""
        return cls(load_directory(path), registry, **options)

    @classmethod
    def from_yaml(cls, text: str, registry: Registry = Registry(), **options) -> "Evaluator":
        """An evaluator of a YAML stream."""
        return cls(load_yaml(text), registry, **options)

    # ------------------------------------------------------------ public

    def evaluate(self, request: Request) -> Decision:
        """What Envoy does with `request`."""
        return self._evaluate(request, None)

    def explain(self, request: Request) -> Explanation:
        """`evaluate` and the conditions that turned away every route tried first."""
        trace = _Trace()
        decision = self._evaluate(request, trace)
        return Explanation(decision, tuple(trace.misses), tuple(trace.notes))

    # ---------------------------------------------------------- routing

    def _evaluate(self, req: Request, trace: Optional[_Trace]) -> Decision:
        headers: dict[str, str] = {}
        for k, v in req.headers:  # Envoy's names are lower case; it joins repeated headers with ","
            k = k.lower()
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        headers[":method"] = req.method
        headers[":authority"] = headers.get(":authority") or headers.get("host") or req.host
        headers[":path"] = req.path
        only, _ = split_path(req.path)
        view = View(req.path, only, headers)
        if req.gateway is None:
            headers[":scheme"] = "http"
            return self._sidecar(req, view, trace)
        return self._gateway(req, view, trace)

    def _sidecar(self, req: Request, view: View, trace: Optional[_Trace]) -> Decision:
        port, ns = req.port, req.source_namespace
        tcp_key = (req.host, ns, port)
        tcp = self._tcp.get(tcp_key, False)
        if tcp is False:
            tcp = self._tcp_service(req.host, ns, port)
            self._tcp[tcp_key] = tcp
        if tcp is not None:
            if trace:
                trace.notes.append(f"{tcp[0]}:{port} is {tcp[1]}: proxied as TCP, no HTTP routing")
            return self._plain(Target(tcp[0], None, port), ns, NO_RETRIES)
        key = (port, ns, proxy_labels(req))
        table = self._sidecar_tables.get(key)
        if table is None:
            table = self._sidecar_table(port, ns, dict(key[2]))
            if len(self._sidecar_tables) > 1024:
                self._sidecar_tables.clear()
            self._sidecar_tables[key] = table
        vhost = table.find(view.headers[":authority"])
        if trace:
            self._sidecar_notes(req, vhost, trace)
        if vhost is None:
            return self._plain(Target(strip_port(req.host).lower(), None, port), ns, NO_RETRIES, known=False)
        if vhost.default is not None:
            return self._plain(Target(vhost.default, None, port), ns, self.default_retries)
        vs = vhost.virtual_service
        labels = dict(proxy_labels(req)) if trace else {}

        def misses(upto: Optional[Alternative]) -> list[Miss]:
            return vs.misses(upto, view, port, MESH, labels, ns)

        return self._routes(vhost.routes, view, port, ns, "sidecar", trace, misses, vs.key)

    def _tcp_service(self, host: str, ns: str, port: int) -> Optional[tuple[str, str]]:
        """The known service `host` names, if its `port` is not HTTP."""
        service = self.services.resolve(host, ns)
        if service is not None:
            for p in self.services.ports[service]:
                if p.number == port and not is_http_or_sniffed(p.protocol):
                    return service, p.protocol
        return None

    def _sidecar_notes(self, req: Request, vhost: Optional["_SidecarHost"], trace: _Trace) -> None:
        port, ns, labels = req.port, req.source_namespace, dict(proxy_labels(req))
        named = self.services.resolve(req.host, ns) or strip_port(req.host).lower()
        for vs in self._visible_to(MESH_GATEWAY, ns):
            if any(host_matches(h, named) for h in vs.hosts) and not vs.routes(port, MESH, labels, ns):
                trace.notes.append(f"VirtualService {vs.key} keeps no route for this client on port {port}: "
                                   "it does not apply")
        if vhost is None:
            trace.notes.append(f"no virtual host for {req.host} on port {port}: {PASSTHROUGH}")
        elif vhost.default is not None:
            trace.notes.append(f"{vhost.default}:{port} has no VirtualService for this client: default route")
        else:
            trace.notes.append(f"{req.host}:{port} is routed by VirtualService {vhost.virtual_service.key}")

    def _sidecar_table(self, port: int, ns: str, labels: dict) -> Domains[_SidecarHost]:
        on_port = self.services.on_port(port)
        everything = self._visible_to(MESH_GATEWAY, ns)
        claims = _wildcard_index(everything, self.services.ports)
        table: Domains[_SidecarHost] = Domains()
        claimed: set[str] = set()
        wrappers = []
        for vs in everything:
            if port != 80 and not any(_selects(h, on_port) for h in vs.hosts):
                continue
            routes = vs.routes(port, MESH, labels, ns)
            if not routes:
                continue
            others, matching = [], []
            for h in vs.hosts:
                if not h.startswith("*"):
                    (matching if h in on_port else others).append(h)
                    continue
                hits = [s for s in on_port if host_matches(s, h)]
                matching += [s for s in hits if claims.get(s) is vs]
                if not hits:
                    others.append(h)
            http = [s for s in matching if is_http_or_sniffed(on_port[s].protocol)]
            if not http and port != 80:
                continue
            wrappers.append((_SidecarHost(routes, vs), others, http))
            claimed.update(http)
        # the first virtual host to claim a domain keeps it (httproute.go dedupeDomains)
        for vhost, others, http in wrappers:
            for h in others:
                table.add(h, vhost)
            for s in http:
                for d in self.services.domains(s, ns):
                    table.add(d, vhost)
        for s, sp in on_port.items():
            if s not in claimed and is_http_or_sniffed(sp.protocol):
                default = _SidecarHost(default=s)
                for d in self.services.domains(s, ns):
                    table.add(d, default)
        return table

    def _gateway(self, req: Request, view: View, trace: Optional[_Trace]) -> Decision:
        named = self._gateway_by_key.get(req.gateway)
        if named is None:
            if trace:
                trace.notes.append(f"no Gateway {req.gateway} among the documents")
            return Decision("respond")
        labels = {str(k): str(v) for k, v in (named.spec.get("selector") or {}).items()}
        labels.update(proxy_labels(req))
        ns = req.source_namespace
        key = (req.port, ns, tuple(sorted(labels.items())))
        cached = self._gateway_tables.get(key)
        if cached is None:
            pod = merged_gateways(self.gateways, labels)
            cached = (listener(pod, req.port), {})
            if len(self._gateway_tables) > 1024:
                self._gateway_tables.clear()
            self._gateway_tables[key] = cached
        found, configs = cached
        if trace:
            trace.notes.extend(found.dropped)
        if found.http:
            servers, tls = found.http, False
        else:
            server = sni_server(found.tls, req.host)
            if server is None or not server.is_http_server:
                if trace:
                    trace.notes.append(f"no HTTP server of the gateway takes {req.host} on port {req.port}")
                return Decision("respond")
            servers, tls = [server], True
        view.headers[":scheme"] = "https" if tls else "http"
        config_key = tuple(id(s) for s in servers)
        table = configs.get(config_key)
        if table is None:
            table = virtual_hosts(servers, lambda gw: self._visible_to(gw, ns),
                                  lambda vs, port, gw: vs.routes(port, frozenset((gw,)), labels, ns))
            configs[config_key] = table
        vhost = table.find(view.headers[":authority"])
        if vhost is None or (not vhost.routes and not vhost.require_tls):
            if trace:
                trace.notes.append(f"no virtual host for {req.host} on port {req.port} of {req.gateway}: 404")
            return Decision("respond", 404)
        if vhost.require_tls and not tls:
            if trace:
                trace.notes.append(f"{vhost.domain} requires TLS (httpsRedirect): 301 to https")
            return Decision("redirect", 301)

        def misses(upto: Optional[Alternative]) -> list[Miss]:
            out: list[Miss] = []
            for alt in vhost.routes:
                if alt is upto:
                    break
                vs = alt.entry.virtual_service
                out += [Miss(vs.key, alt.entry.index, alt.entry.name, alt.index, f, e, a)
                        for f, e, a in alt.misses(view)]
            return out

        if trace:
            trace.notes.append(f"virtual host {vhost.domain} on port {req.port}: routes of "
                               + ", ".join(sorted({a.entry.virtual_service.key for a in vhost.routes})))
        return self._routes(tuple(vhost.routes), view, req.port, ns, "gateway", trace, misses, None)

    def _routes(self, routes, view: View, port: int, ns: str, mode: str, trace: Optional[_Trace],
                misses, vs_key: Optional[str]) -> Decision:
        for alt in routes:
            if alt.matches(view):
                if trace:
                    trace.misses.extend(misses(alt))
                return self._decision(alt, view, port, ns, mode)
        if trace:
            trace.misses.extend(misses(None))
            trace.notes.append("no route matches: 404")
        return Decision("respond", 404, vs_key)

    # -------------------------------------------------------- decisions

    def _decision(self, alt: Alternative, view: View, port: int, ns: str, mode: str) -> Decision:
        key = (id(alt), port, ns, mode)
        cached = self._decisions.get(key)
        if cached is None:
            cached = self._translate(alt, port, ns, mode)
            self._decisions[key] = cached
        decision, rewriting = cached
        if rewriting is None:
            return decision
        path = rewriting.path
        new = actions.rewrite(rewriting.entry.spec.get("rewrite"), path.kind if path else None,
                              path.value if path else "", view.path)
        return replace(decision, rewrite=new)

    def _translate(self, alt: Alternative, port: int, ns: str, mode: str) -> tuple[Decision, Optional[Alternative]]:
        """route.go `TranslateRoute` for a route of this listener port."""
        spec = alt.entry.spec
        known = alt.entry.actions or _validate(spec, self.default_retries)
        common = dict(virtual_service=alt.entry.virtual_service.key, entry=alt.entry.name, fault=known.fault,
                      cors=known.cors)
        if spec.get("redirect") is not None:
            code = int((spec["redirect"] or {}).get("redirectCode") or 301)
            return Decision("redirect", code, **common), None
        if spec.get("directResponse") is not None:
            return Decision("respond", int(spec["directResponse"].get("status") or 0), **common), None
        if mode == "sidecar":
            on_port = self.services.on_port(port)

            def lookup(host: str) -> tuple:
                return (on_port[host],) if host in on_port else ()
        else:
            def lookup(host: str) -> tuple:
                return self.services.ports.get(host, ())
        shares = actions.destinations(spec, port, lookup)
        if shares is None:  # no weighted destination: Envoy rejects the route configuration
            return Decision("respond", **common), None
        mirrors = actions.mirrors(spec, port, lookup)
        targets = sorted({s.target for s in shares + mirrors}, key=lambda t: t.key)
        decision = Decision("route", None, destinations=shares, timeout_ms=known.timeout_ms,
                            retries=known.retries,
                            mirrors=mirrors,
                            policies=tuple((t, self._policy(t, ns)) for t in targets), **common)
        rewriting = spec.get("rewrite") or {}
        return decision, (alt if rewriting.get("uri") or rewriting.get("uriRegexRewrite") else None)

    def _plain(self, target: Target, ns: str, retries: Retries, known: bool = True) -> Decision:
        """The default route (or passthrough / TCP proxy) to one target."""
        key = (target, ns, retries)
        found = self._defaults.get(key)
        if found is None:
            found = Decision("default", destinations=(Share(target, Fraction(1)),), retries=retries,
                             policies=((target, self._policy(target, ns) if known else ()),))
            if len(self._defaults) > 65536:
                self._defaults.clear()
            self._defaults[key] = found
        return found

    def _policy(self, target: Target, ns: str) -> tuple:
        key = (target, ns)
        found = self._policies.get(key)
        if found is None:
            host = target.host.lower()
            ports = self.services.ports.get(host)
            if not ports or all(p.number != target.port for p in ports):
                found = ()  # no such cluster
            else:
                found = self.rules.policy(host, target.subset, target.port, ns,
                                          self.services.namespaces.get(host, "")) or ()
            self._policies[key] = found
        return found

    def _visible_to(self, gateway: str, ns: str) -> list[VirtualService]:
        key = (gateway, ns)
        found = self._visible.get(key)
        if found is None:
            found = self._visible[key] = visible(self.virtual_services, gateway, ns)
        return found


def _validate(spec: dict, default_retries: Retries) -> EntryActions:
    """Translate an entry once, so that what Istio's webhook would reject
    (a bad duration, percentage or regex) is found when loading; what does
    not depend on the listener port is kept for every decision."""
    def no_ports(host: str) -> tuple:
        return ()
    known = EntryActions(actions.timeout_ms(spec.get("timeout")),
                         actions.convert_retries(spec.get("retries"), default_retries),
                         actions.fault(spec.get("fault")), actions.cors(spec.get("corsPolicy")))
    actions.mirrors(spec, 0, no_ports)
    if spec.get("redirect") is None and spec.get("directResponse") is None:
        actions.destinations(spec, 0, no_ports)
    actions.rewrite(spec.get("rewrite"), None, "", "/")
    return known


def _selects(vs_host: str, on_port: dict[str, ServicePort]) -> bool:
    """httproute.go `selectVirtualServices`: the host names a service on the port."""
    if vs_host in on_port:
        return True
    if vs_host.startswith("*"):
        return any(host_matches(vs_host, s) for s in on_port)
    return any(s.startswith("*") and host_matches(vs_host, s) for s in on_port)


def _wildcard_index(virtual_services: list[VirtualService], services) -> dict[str, VirtualService]:
    """sidecar.go `computeWildcardHostVirtualServiceIndex`: for each service,
    the VirtualService of its exact host, else of its most specific
    wildcard host (the first VirtualService naming a host keeps it)."""
    exact: dict[str, VirtualService] = {}
    wild: dict[str, VirtualService] = {}
    for vs in virtual_services:
        for h in vs.hosts:
            (wild if h.startswith("*") else exact).setdefault(h, vs)
    out = {}
    ordered = sorted(wild, key=lambda h: (-len(h), h))
    for s in services:
        if s in exact:
            out[s] = exact[s]
            continue
        best = next((h for h in ordered if s.endswith(h[1:])), None)
        if best is not None:
            out[s] = wild[best]
    return out


CLUSTER_LABEL = "topology.istio.io/cluster"


def proxy_labels(req: Request) -> tuple[tuple[str, str], ...]:
    """The labels `sourceLabels` is matched against: the workload's, with
    `topology.istio.io/cluster` set to the proxy's cluster, whatever the
    workload's own label says (pilot/pkg/xds/ads.go `setTopologyLabels` calls
    pilot/pkg/serviceregistry/util/label/label.go `AugmentLabels`, which
    overwrites the cluster label when the proxy's cluster is known)."""
    if req.source_cluster is None:
        return req.source_labels
    own = tuple((k, v) for k, v in req.source_labels if k != CLUSTER_LABEL)
    return tuple(sorted(own + ((CLUSTER_LABEL, req.source_cluster),)))
