"""VirtualServices: a service's routes for mesh traffic, and the routes of
the hosts it exposes on gateways."""

from __future__ import annotations

import re
from typing import Iterable, Optional

from meshc.backends.destinations import local_subset_name
from meshc.backends.documents import Document, document, duration, number, slug
from meshc.backends.targets import IstioTarget
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.conditions import MESH_ONLY, always_holds, conjoin, is_catch_all
from meshc.model.resolve import (
    GatewayHostInfo,
    Index,
    RouteOwner,
    ServiceInfo,
    canary_split,
    preview_match,
    route_targets,
    weights,
)
from meshc.model.waves import live_step

# The last entry of a service's VirtualService when no route takes every
# request: without it, Istio's default route would take requests the routes
# filter out by source or port (a VirtualService none of whose entries
# applies to a client does not apply to it at all; pilot's httproute.go).
NOT_FOUND = "not-found"
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def cookie_regex(name: str, value: str) -> str:
    """A full-match RE2 regex for the `cookie` header that holds when the
    cookie `name` has exactly `value`, wherever it sits in the header:
    `a=1; canary=true; b=2` yes, `xcanary=true` and `canary=truex` no."""
    return f"(.*;\\s*)?{_re2_escape(name)}={_re2_escape(value)}(\\s*;.*)?"


def _re2_escape(text: str) -> str:
    return _RE2_SPECIAL.sub(r"\\\1", text)


class RouteBuilder:
    """Builds `http` routes of VirtualServices for one primary cluster,
    whose configuration programs the proxies of the `served` clusters (the
    primary and its remotes)."""

    def __init__(self, index: Index, cluster: str, target: IstioTarget, served: tuple[str, ...] = ()):
        self.index = index
        self.cluster = cluster
        self.target = target
        self.served = served or (cluster,)
        self.diagnostics: list[Diagnostic] = []
        # While building a gateway's routes: the exposed service's host and
        # the port its `expose` names, which its destinations then carry.
        self._exposed: Optional[tuple[str, Optional[int]]] = None
        # While building the entries for callers in one served cluster (a
        # route that sends traffic to a `local` service): that cluster.
        self._source: Optional[str] = None

    # ---------------------------------------------------------- documents
    def service_virtual_service(self, info: ServiceInfo) -> Optional[Document]:
        """The mesh VirtualService of a service, if it routes or sets options."""
        svc = info.service
        # A local service always needs one, to keep callers in their cluster.
        if not svc.routes and not _has_options(info.options(None, self.cluster)) and svc.local is None:
            return None
        produced = [(self.http_routes(info, route, ()), route or svc) for route in svc.routes or (None,)]
        if self._unserved(info) or _needs_not_found(svc):
            produced.append(([_not_found(NOT_FOUND, ())], svc))
        http, spans = self._unique(produced)
        spec = {"hosts": [info.host], "http": http}
        doc = document(self.target.networking, "VirtualService", info.namespace.name.value,
                       svc.name.value, spec, _sources(info))
        doc.entry_spans = spans
        return doc

    def _unserved(self, info: ServiceInfo) -> bool:
        """A local service's routes to itself serve only the clusters it
        runs in: callers from the others (even when that is every cluster
        this configuration serves) get a 404, never its endpoints
        elsewhere; unless a route rendered as written (it sends only to
        other services) takes every request."""
        svc = info.service
        if svc.local is None or set(self.served) <= set(self.index.topology.placement(svc)):
            return False
        return not any(takes_everything(r.matches) for r in svc.routes if self._local_sources(info, r) is None)

    def gateway_virtual_services(self) -> list[Document]:
        """One VirtualService per (gateway, host): the routes of the
        gateway's `host` block in the order written, then every exposure of
        that host in `exposure_order`. A service's second and later groups
        on one host get `-2`, `-3` after the route's name."""
        exposed: dict[tuple[str, str], list[tuple[ServiceInfo, ir.Expose]]] = {}
        for info in self.index.all_services():
            for expose in info.service.exposes:
                exposed.setdefault((expose.gateway.value, expose.host), []).append((info, expose))
        own: dict[tuple[str, str], GatewayHostInfo] = {}
        for block in self.index.gateway_hosts():
            own.setdefault(block.key, block)  # a second block for one host is MESH205
        out = []
        for key in sorted(set(exposed) | set(own)):
            gw_name, host = key
            gw_ns, _ = self.index.gateways[gw_name]
            block, entries = own.get(key), exposed.get(key, [])
            produced = [(self.http_routes(block, route, ()), route) for route in block.block.routes] \
                if block is not None else []
            groups_seen: dict[tuple[str, str], int] = {}
            for info, expose, alternatives in exposure_order(entries):
                number = groups_seen[info.key] = groups_seen.get(info.key, 0) + 1
                suffix = f"-{number}" if number > 1 else ""
                self._exposed = (info.host, expose.port)
                prefix = f"{info.service.name.value}-"
                produced += [(self.http_routes(info, route, alternatives, prefix=prefix, suffix=suffix), route or expose)
                             for route in info.service.routes or (None,)]
                if _needs_not_found(info.service):
                    # What the exposure admits and no route takes is answered
                    # here, as in the mesh, not passed on to later exposures.
                    produced.append(([_not_found(f"{prefix}{NOT_FOUND}{suffix}", alternatives)], expose))
            self._exposed = None
            http, spans = self._unique(produced)
            if not http:
                # A `host` block without routes (MESH328) and no exposure, or
                # exposures and routes none of which can hold at this
                # cluster's gateway (`when from cluster` another): Istio
                # rejects a VirtualService without routes, and without one
                # the gateway answers the host with 404 (no virtual host).
                continue
            # The VirtualService lives in the gateway's namespace, so the bare
            # name is enough ("specifying a gateway with no namespace qualifier
            # is the same as specifying the VirtualService's namespace",
            # istio/api networking/v1alpha3/virtual_service.proto), and
            # kustomize's nameReference (manifests.py) renames a bare name
            # under namePrefix/nameSuffix but never `namespace/name`.
            spec = {"hosts": [host], "gateways": [gw_name], "http": http}
            nodes = ([block.block] if block is not None else []) + [e for _, e in entries] \
                + [i.service for i, _ in entries]
            doc = document(self.target.networking, "VirtualService", gw_ns.name.value,
                           f"{gw_name}-{slug(host)}", spec, nodes)
            doc.entry_spans = spans
            out.append(doc)
        return out

    def _unique(self, produced: list[tuple[list[dict], ir.Node]]) -> tuple[list[dict], tuple[ir.Span, ...]]:
        """The entries of one VirtualService and the span of the construct
        each comes from; two with one name (a route called like another's
        `-preview` entry, or `SERVICE-ROUTE` names that meet on a gateway)
        are reported, as Istio keys stats and logs by them."""
        first: dict[str, ir.Node] = {}
        out, spans = [], []
        for entries, node in produced:
            for entry in entries:
                earlier = first.setdefault(entry["name"], node)
                if earlier is not node:
                    self.diagnostics.append(diagnostic(
                        "duplicate-name",
                        f"two routes of one VirtualService would be named `{entry['name']}`",
                        _name_span(node), labels=[Label(_name_span(earlier), "this one has that name too")],
                        help="rename one of the routes",
                    ))
                out.append(entry)
                spans.append(_name_span(node))
        return out, tuple(spans)

    # -------------------------------------------------------------- routes
    def http_routes(self, info: RouteOwner, route: Optional[ir.Route], outer: tuple[ir.Match, ...],
                    prefix: str = "", suffix: str = "") -> list[dict]:
        """The HTTP routes for one .mesh route of a service or of a gateway's
        `host` block (two for blue-green: preview first); `outer` are the
        matches of a gateway exposure, ANDed in.
        An entry no request can match is left out (the checks report it).

        A route that sends traffic to a `local` service is rendered once per
        served cluster, each sending to that cluster's subsets; when the
        configuration serves several clusters (a primary with remotes), each
        copy is named `ROUTE-CLUSTER` and matches `from cluster CLUSTER`."""
        sources = self._local_sources(info, route)
        if sources is None:
            return self._entries(info, route, outer, prefix, suffix)
        several = len(self.served) > 1
        out: list[dict] = []
        for source in sources:
            self._source = source
            if not several:
                out += self._entries(info, route, outer, prefix, suffix)
                continue
            span = (route if route is not None else info.service).span
            here = ir.SourceClusterCondition(span=span, cluster=ir.Name(span=span, value=source))
            callers = conjunction(outer, (ir.Match(span=span, conditions=(here,)),))
            if callers is not None:
                out += self._entries(info, route, callers, prefix, f"{suffix}-{source}")
        self._source = None
        return out

    def _local_sources(self, info: RouteOwner, route: Optional[ir.Route]) -> Optional[tuple[str, ...]]:
        """The served clusters to render the route for one by one, or None
        when it sends nothing to a local service. A local service's own
        routes serve only the clusters it runs in."""
        hosts = {info.host} if route is None or not isinstance(route.action, ir.Forward) else set()
        if route is not None:
            hosts |= {other.host for other in (self.index.target_service(info, t) for t in route_targets(route))
                      if other is not None}
        if not hosts & set(self.index.local_services):
            return None
        if isinstance(info, GatewayHostInfo) or info.service.local is None:
            return self.served
        placed = self.index.topology.placement(info.service)
        return tuple(c for c in self.served if c in placed)

    def _entries(self, info: RouteOwner, route: Optional[ir.Route], outer: tuple[ir.Match, ...],
                 prefix: str, suffix: str) -> list[dict]:
        name = prefix + (route.name.value if route else "default") + suffix
        own = route.matches if route else ()
        if self._exposed is not None and own:
            # At a gateway the port and the source are the gateway's own:
            # what tests them is about mesh callers and is left out there
            # (docs/language.md, MESH318).
            own = tuple(m for m in own if not any(isinstance(c, MESH_ONLY) for c in m.conditions))
            if not own:
                return []
        matches = conjunction(outer, own)
        if matches is None:
            return []
        options = self._options(info, route)
        action = route.action if route else None
        out = []
        if isinstance(action, ir.BlueGreen):
            preview_matches = conjunction(matches, (preview_match(action),))
            if preview_matches is not None:
                out.append(self._http(info, f"{name}-preview", preview_matches,
                                      [self._destination(info, info.host, action.preview.value, None)], route, options))
        out.append(self._http(info, name, matches, self._destinations(info, action), route, options))
        return out

    def _http(self, info: RouteOwner, name: str, matches: tuple[ir.Match, ...], destinations: list[dict],
              route: Optional[ir.Route], options: dict) -> dict:
        http: dict = {"name": name}
        if matches:
            http["match"] = [_match(m) for m in matches]
        http["route"] = destinations
        if route is not None and route.mirrors:
            http.update(self._mirrors(info, route))
        http.update(options)
        return http

    def _destinations(self, info: RouteOwner, action: Optional[ir.Action]) -> list[dict]:
        if action is None:
            return [self._destination(info, info.host, None, None)]
        if isinstance(action, ir.BlueGreen):
            return [self._destination(info, info.host, action.active.value, None)]
        if isinstance(action, ir.Canary):
            # A remote's proxies follow this primary's configuration, and a
            # remote is in its primary's wave: the primary's step serves both.
            baseline, candidate = canary_split(action, live_step(action, self.index.topology, self.cluster))
            return [
                self._destination(info, info.host, action.baseline.value, baseline),
                self._destination(info, info.host, action.candidate.value, candidate),
            ]
        shares = weights(action)
        many = len(action.destinations) > 1
        return [
            self._target(info, d.target, share if many else None)
            for d, share in zip(action.destinations, shares)
        ]

    def _target(self, info: RouteOwner, target: ir.Target, weight: Optional[int]) -> dict:
        if isinstance(target, ir.SubsetTarget):
            return self._destination(info, info.host, target.subset.value, weight)
        other = self.index.target_service(info, target)
        out = self._destination(info, other.host, target.subset.value if target.subset else None, weight)
        port = target.port
        if port is None and len(other.service.ports) == 1:
            # Istio would pick the only port too (GetDestinationCluster);
            # written out, the YAML says it. With several ports, the checks
            # make sure the caller's port is one of them.
            port = other.service.ports[0].number
        if port is not None:
            out["destination"]["port"] = {"number": port}
        return out

    def _destination(self, info: RouteOwner, host: str, subset: Optional[str], weight: Optional[int]) -> dict:
        if self._source is not None and host in self.index.local_services:
            subset = local_subset_name(self._source, subset)
        dest: dict = {"host": host}
        if subset is not None:
            dest["subset"] = subset
        if self._exposed is not None and self._exposed[0] == host and self._exposed[1] is not None:
            dest["port"] = {"number": self._exposed[1]}
        out: dict = {"destination": dest}
        if weight is not None:
            out["weight"] = weight
        return out

    def _mirrors(self, info: RouteOwner, route: ir.Route) -> dict:
        mirrors = route.mirrors
        if len(mirrors) == 1:
            m = mirrors[0]
            return {"mirror": self._mirror_destination(info, m), "mirrorPercentage": {"value": _percent(m)}}
        if not self.target.supports("mirrors"):
            self.diagnostics.append(diagnostic(
                "unsupported-by-istio-version",
                f"route `{route.name.value}`: {self.target.requirement('mirrors')}, "
                f"and cluster `{self.cluster}` runs Istio {self.target.version}",
                mirrors[1].span,
                help="keep one mirror, or upgrade the cluster and set `istio` in the fleet",
            ))
        return {"mirrors": [{"destination": self._mirror_destination(info, m), "percentage": {"value": _percent(m)}}
                            for m in mirrors]}

    def _mirror_destination(self, info: RouteOwner, mirror: ir.Mirror) -> dict:
        return self._target(info, mirror.target, None)["destination"]

    def _options(self, info: RouteOwner, route: Optional[ir.Route]) -> dict:
        return options_fields(info.options(route, self.cluster))


def _percent(mirror: ir.Mirror):
    return number(mirror.percent.value) if mirror.percent is not None else 100


def options_fields(o: ir.Options) -> dict:
    """Route options as HTTPRoute fields, in output order."""
    out: dict = {}
    if o.rewrite is not None:
        out["rewrite"] = {"uri": o.rewrite.path}
    if o.timeout is not None:
        out["timeout"] = duration(o.timeout)
    if o.retry is not None:
        out["retries"] = _retries(o.retry)
    fault = {}
    if o.delay is not None:
        fault["delay"] = {"fixedDelay": duration(o.delay.delay), "percentage": {"value": number(o.delay.percent.value)}}
    if o.abort is not None:
        fault["abort"] = {"httpStatus": o.abort.status, "percentage": {"value": number(o.abort.percent.value)}}
    if fault:
        out["fault"] = fault
    if o.cors is not None:
        out["corsPolicy"] = _cors(o.cors)
    return out


def _retries(r: ir.Retry) -> dict:
    out: dict = {"attempts": r.attempts}
    if r.per_try is not None:
        out["perTryTimeout"] = duration(r.per_try)
    if r.on:
        out["retryOn"] = ",".join(r.on)
    return out


def _cors(c: ir.Cors) -> dict:
    out: dict = {}
    if c.origins:
        out["allowOrigins"] = [{"exact": o} for o in c.origins]
    if c.methods:
        out["allowMethods"] = list(c.methods)
    if c.headers:
        out["allowHeaders"] = list(c.headers)
    if c.expose_headers:
        out["exposeHeaders"] = list(c.expose_headers)
    if c.max_age is not None:
        out["maxAge"] = duration(c.max_age)
    if c.credentials:
        out["allowCredentials"] = True
    return out


def _has_options(o: ir.Options) -> bool:
    return any(getattr(o, f) is not None for f in ("timeout", "retry", "delay", "abort", "rewrite", "cors"))


def conjunction(outer: Iterable[ir.Match], inner: Iterable[ir.Match]) -> Optional[tuple[ir.Match, ...]]:
    """The alternatives of `outer and inner` (no alternatives: no
    condition), each pairing of an outer and an inner alternative merged
    exactly (model/conditions.py); pairings no request satisfies are left
    out, and None means none is left: nothing can match."""
    outer, inner = tuple(outer), tuple(inner)
    if not outer:
        return inner
    if not inner:
        return outer
    both = [conjoin(o, i) for o in outer for i in inner]
    kept = tuple(m for m in both if isinstance(m, ir.Match))
    return kept or None


def _needs_not_found(svc: ir.Service) -> bool:
    """Routes of which none takes every request end in a 404 entry."""
    return bool(svc.routes) and not any(takes_everything(route.matches) for route in svc.routes)


def _not_found(name: str, matches: tuple[ir.Match, ...]) -> dict:
    entry: dict = {"name": name}
    if matches:
        entry["match"] = [_match(m) for m in matches]
    entry["directResponse"] = {"status": 404}
    return entry


def takes_everything(matches: tuple[ir.Match, ...]) -> bool:
    """A route with no `when`, or one alternative of which always holds."""
    return not matches or any(is_catch_all(m) for m in matches)


def exposure_order(entries: list[tuple[ServiceInfo, ir.Expose]]) -> list[tuple[ServiceInfo, ir.Expose, tuple[ir.Match, ...]]]:
    """The exposures of one host in the order Istio must try them, each
    split into groups of its `when` alternatives of equal rank.

    Every alternative ranks on its own: an exact path, then longer path
    prefixes, then path regexes, then alternatives without a path, then
    catch-alls (nothing that can fail: no condition, `path ^= "/"`,
    `path ~ ".*"`). Among equal ranks, more conditions first (`path ^=
    "/api" and header x-beta = "1"` before `path ^= "/api"`), then by
    service, then as written."""
    ranked = []
    for order, (info, expose) in enumerate(entries):
        for alt_order, alt in enumerate(expose.matches or (ir.Match(span=expose.span, conditions=()),)):
            ranked.append((_rank(alt), info.key, order, alt_order, info, expose, alt))
    ranked.sort(key=lambda r: r[:4])
    out: list[tuple[ServiceInfo, ir.Expose, tuple[ir.Match, ...]]] = []
    for rank, _, _, _, info, expose, alt in ranked:
        if out and out[-1][1] is expose and _rank(out[-1][2][-1]) == rank:
            out[-1] = (info, expose, out[-1][2] + (alt,))
        else:
            out.append((info, expose, (alt,)))
    # An exposure without `when` serves everything: it keeps no condition.
    return [(i, e, alts if e.matches else ()) for i, e, alts in out]


def _rank(alt: ir.Match) -> tuple[int, int, int]:
    if is_catch_all(alt):
        return 4, 0, 0
    paths = [c.match for c in alt.conditions if isinstance(c, ir.PathCondition) and not always_holds(c)]
    tested = -len([c for c in alt.conditions if not always_holds(c)])
    if not paths:
        return 3, 0, tested
    return {"exact": 0, "prefix": 1, "regex": 2}[paths[0].op], -len(paths[0].value), tested


def _string_match(m: ir.StringMatch) -> dict:
    return {m.op: m.value}


def _match(m: ir.Match) -> dict:
    """One HTTPMatchRequest; the checks guarantee one condition per slot."""
    out: dict = {}
    for c in m.conditions:
        if isinstance(c, ir.PathCondition):
            out["uri"] = _string_match(c.match)
        elif isinstance(c, ir.HeaderCondition):
            out.setdefault("headers", {})[c.name] = _string_match(c.match)
        elif isinstance(c, ir.CookieCondition):
            out.setdefault("headers", {})["cookie"] = {"regex": cookie_regex(c.name, c.value)}
        elif isinstance(c, ir.HeaderAbsentCondition):
            out.setdefault("withoutHeaders", {})[c.name] = {}
        elif isinstance(c, ir.MethodCondition):
            out["method"] = {"exact": c.method}
        elif isinstance(c, ir.QueryCondition):
            out.setdefault("queryParams", {})[c.name] = _string_match(c.match)
        elif isinstance(c, ir.PortCondition):
            out["port"] = c.port
        elif isinstance(c, ir.SourceLabelCondition):
            out.setdefault("sourceLabels", {})[c.label.key] = c.label.value
        elif isinstance(c, ir.SourceClusterCondition):
            out.setdefault("sourceLabels", {})[ir.CLUSTER_LABEL] = c.cluster.value
        else:
            out["sourceNamespace"] = c.namespace.value
    return out


def _name_span(node: ir.Node) -> ir.Span:
    name = getattr(node, "name", None)
    return name.span if isinstance(name, ir.Name) else node.span


def _sources(info: ServiceInfo) -> list[ir.Node]:
    return [info.service]
