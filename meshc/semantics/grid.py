"""Requests that exercise a policy: a grid built from the conditions it
tests, for differential tests (evaluator of the rendered YAML against the
interpreter of the source).

For every place a request can arrive, the grid holds:

- a request that meets no condition, and a POST to a path and query no
  condition chose (for rewrites and default routes);
- for every `when` alternative that can lead there (a route's, and at a
  gateway a route's of the gateway's `host` block and an exposure's ANDed
  with each route's, blue-green's `x-preview` included), a request
  meeting all of its conditions, and for each of those
  conditions, the same request with that condition missed in every way the
  grid knows: a value that does not match, a near miss (one character
  more or fewer, a prefix boundary, a regex non-match) and, for headers,
  cookies, query parameters and labels, the value absent;
- for every alternative, a request meeting it and missing every other
  tested attribute (a route after one that tests only `absent` is reached
  this way);
- for every two alternatives, a request meeting both (which one wins is
  what ordering is about);
- every candidate value of every tested attribute on its own.

Clusters: `requests_for(policy, CLUSTER)` asks for callers in CLUSTER (a
remote's callers follow its primary's configuration, which the grid does not
need to know beyond `local`): every request comes from CLUSTER, but where a
condition tests the caller's cluster (`from cluster C`, or the label
`topology.istio.io/cluster` that Istio gives every proxy), the grid tries C
and every other cluster of the fleet as the source cluster. A `local`
service renders its routes (and the routes that reach it) once per cluster
a primary serves, matching `from cluster`; where the caller's primary serves
remotes, those places try the routes from each of these clusters.

Places: every declared service host on each of its ports from a sidecar
(with the source namespaces and labels the policy tests); every external
host and port; a host nobody declares, on port 80; every gateway server port with every host the gateway
serves, exposes or routes, and one it does not. Each place gets at most
`per_place` requests, in the order above; the result is sorted and free
of duplicates, and depends only on the policy.
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Collection, Iterable, NamedTuple, Optional

import re2

from meshc.language import ir
from meshc.model.resolve import Index, RouteOwner, ServiceInfo, clusters, route_targets
from meshc.semantics.request import Request

try:  # the stdlib's regex parser, used to find strings a regex matches
    import re._parser as _sre  # type: ignore[import-not-found]
    from re import _constants as _sc  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as _sc  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

PER_PLACE = 400
UNSERVED_HOST = "unserved.invalid"
PROBE_PATH = "/probe/a?q=1"  # a path no condition chose, with a query, for rewrites and defaults

_RE2 = re2.Options()
_RE2.log_errors = False


class _Exact(NamedTuple):
    op: str
    value: str


class _Preview(NamedTuple):
    """The header blue-green adds to its preview entry, read like a
    `HeaderCondition` (IR nodes are not built outside lowering)."""

    name: str = "x-preview"
    match: _Exact = _Exact("exact", "true")


_PREVIEW = _Preview()


class _FromCluster(NamedTuple):
    """The `from cluster C` match a `local` service's per-cluster routes carry."""

    cluster: str


Slot = tuple[str, ...]  # ("header", NAME), ("cookie", NAME), ("path",), ("query", NAME), ("source-cluster",), ...
Value = Optional[str]  # None: absent
Assignment = dict[Slot, Value]


# ----------------------------------------------------------------- places
def requests_for(policy: ir.MeshPolicy, cluster: str, per_place: int = PER_PLACE,
                 hosts: Optional[Collection[str]] = None) -> list[Request]:
    """The grid for callers in `cluster`; with `hosts`, only the places of
    those hosts (a service's, an external one, or one a gateway serves,
    wildcards as written)."""
    if cluster not in clusters(policy):
        raise ValueError(f"cluster `{cluster}` is not in the policy's fleet")
    index = Index(policy)
    fleet = tuple(clusters(policy))
    served = index.topology.served_by(index.topology.primary_of(cluster))

    def per_cluster(info: RouteOwner, routes: tuple[ir.Route, ...], alts: list[tuple]) -> list[tuple]:
        if len(served) == 1 or not _local_routing(index, info, routes):
            return alts
        return [alt + (_FromCluster(c),) for alt in alts or [()] for c in served]

    wanted = None if hosts is None else {_concrete(h) for h in hosts}
    out: set[Request] = set()
    for info in index.all_services():
        if wanted is not None and info.host not in wanted:
            continue
        alts = per_cluster(info, info.service.routes,
                           [alt for route in info.service.routes for alt in _route_alternatives(route)])
        for port in info.service.ports:
            out.update(place_requests(info.host, port.number, None, alts, cluster, fleet, per_place))
    if hosts is None:  # a host nobody declares: Istio's PassthroughCluster
        out.add(Request(UNSERVED_HOST, 80, source_cluster=cluster))
    for ns in policy.namespaces:
        for external in ns.externals:
            out.update(Request(h, p.number, source_cluster=cluster) for h in external.hosts for p in external.ports
                       if wanted is None or h in wanted)
    for name, (ns, gateway) in sorted(index.gateways.items()):
        where = f"{ns.name.value}/{name}"
        exposures = [(info, e) for info in index.all_services() for e in info.service.exposes
                     if e.gateway.value == name]
        blocks = [b for b in index.gateway_hosts() if b.gateway is gateway]
        hosts = sorted({_concrete(h) for h in gateway.hosts} | {_concrete(e.host) for _, e in exposures}
                       | {_concrete(b.block.host) for b in blocks} | {UNSERVED_HOST})
        source = {"source_namespace": ns.name.value,
                  "source_labels": tuple(sorted((p.key, p.value) for p in gateway.selector))
                  or (("istio", "ingressgateway"),)}
        for server in gateway.servers:
            for host in hosts:
                if wanted is not None and host not in wanted:
                    continue
                alts = [alt
                        for b in blocks if _concrete(b.block.host) == host
                        for alt in per_cluster(b, b.block.routes,
                                               [a for route in b.block.routes for a in _route_alternatives(route)])]
                alts += [alt
                         for info, e in exposures if _concrete(e.host) == host
                         for alt in per_cluster(info, info.service.routes, [
                             e_alt + r_alt for e_alt in _alternatives(e.matches)
                             for r_alt in ([a for route in info.service.routes for a in _route_alternatives(route)]
                                           or [()])])]
                if server.redirect or not alts:
                    alts = []
                out.update(place_requests(host, server.port, where, alts, cluster, fleet, per_place, source))
    return sorted(out, key=_order)


def _order(r: Request) -> tuple:
    return (r.gateway or "", r.host, r.port, r.path, r.method, r.headers, r.source_namespace, r.source_labels,
            r.source_cluster or "")


def _local_routing(index: Index, info: RouteOwner, routes: tuple[ir.Route, ...]) -> bool:
    """Whether `local` makes some of the routes per-cluster: their service
    is local, or one of them sends or mirrors traffic to a local service."""
    return (isinstance(info, ServiceInfo) and info.service.local is not None) or any(
        other is not None and other.service.local is not None
        for route in routes for t in route_targets(route)
        for other in [index.target_service(info, t)])


def _concrete(host: str) -> str:
    """A host name a request may carry for a (possibly wildcard) host."""
    if host == "*":
        return "any.example.invalid"
    return "w" + host[1:] if host.startswith("*.") else host


def _alternatives(matches: tuple[ir.Match, ...]) -> list[tuple]:
    return [tuple(m.conditions) for m in matches] or [()]


def _route_alternatives(route: ir.Route) -> list[tuple]:
    alts = _alternatives(route.matches)
    if isinstance(route.action, ir.BlueGreen):
        alts += [a + (_PREVIEW,) for a in alts]
    return alts


# --------------------------------------------------------- one place's grid
def place_requests(host: str, port: int, gateway: Optional[str], alts: list[tuple], cluster: str,
                   fleet: tuple[str, ...], limit: int, source: Optional[dict] = None) -> list[Request]:
    """The grid of one place (a host and port at a sidecar, or at the
    gateway `NS/NAME`), from the `when` alternatives that can lead there:
    tuples of IR conditions (`meshc import` builds them from Istio matches),
    at most `limit` requests, in the order the module docstring gives."""
    at_gateway = gateway is not None
    alts = [tuple(c for c in alt if _slot(c) is not None and not (at_gateway and _mesh_only(c))) for alt in alts]
    values: dict[Slot, list[Value]] = {}
    for alt in alts:
        for c in alt:
            slot = _slot(c)
            for v in _candidates(c, fleet):
                if _valid(slot, v) and v not in values.setdefault(slot, []):
                    values[slot].append(v)
    assignments: list[Assignment] = [{}, {("path",): PROBE_PATH, ("method",): "POST"}]
    hits = []
    for alt in alts:
        hit = _hit(alt, values)
        if hit is None:
            continue
        hits.append(hit)
        assignments.append(hit)
        for c in alt:
            slot = _slot(c)
            assignments.extend({**hit, slot: v} for v in values[slot] if not _holds(c, v))
    for hit in hits:  # ... and nothing else: every other tested attribute set to miss what tests it
        assignments.append({**{slot: miss for slot, miss in _misses(alts, values).items() if slot not in hit},
                            **hit})
    for a, b in combinations(hits, 2):
        if all(a[s] == b[s] for s in a.keys() & b.keys()):
            assignments.append({**a, **b})
    assignments.extend({slot: v} for slot, vs in values.items() for v in vs)
    out: dict[tuple, None] = {}  # many assignments make the same request: built once each
    for a in assignments:
        out.setdefault(_request_fields(host, port, gateway, a, cluster, source), None)
        if len(out) >= limit:
            break
    return [Request(*fields) for fields in out]


def _hit(alt: tuple, values: dict[Slot, list[Value]]) -> Optional[Assignment]:
    """Values meeting every condition of an alternative, None when the grid
    has none (a contradiction, or a regex it cannot satisfy)."""
    out: Assignment = {}
    for c in alt:
        slot = _slot(c)
        on_slot = [d for d in alt if _slot(d) == slot]
        chosen = next((v for v in values[slot] if all(_holds(d, v) for d in on_slot)), _MISSING)
        if chosen is _MISSING:
            return None
        out[slot] = chosen
    return out


_MISSING = object()


def _misses(alts: list[tuple], values: dict[Slot, list[Value]]) -> Assignment:
    """For each slot, a value no condition on it holds for (when there is one)."""
    out: Assignment = {}
    for slot, vs in values.items():
        on_slot = [c for alt in alts for c in alt if _slot(c) == slot]
        miss = next((v for v in vs if not any(_holds(c, v) for c in on_slot)), _MISSING)
        if miss is not _MISSING:
            out[slot] = miss
    return out


def _request_fields(host: str, port: int, gateway: Optional[str], a: Assignment, cluster: str,
                    source: Optional[dict]) -> tuple:
    """The fields of the request an assignment makes, in Request's order."""
    headers: dict[str, str] = {}
    cookies, query, labels = [], [], []
    for s, v in sorted(a.items(), key=_slot_key):  # one slot of a kind and name each: sorted by name
        if v is None:
            continue
        kind = s[0]
        if kind == "header":
            headers[s[1]] = v
        elif kind == "cookie":
            cookies.append(v)
        elif kind == "query":
            query.append(f"{s[1]}={v}")
        elif kind == "source-label":
            labels.append((s[1], v))
    if cookies and "cookie" not in headers:
        headers["cookie"] = "; ".join(cookies)
    path = a.get(("path",)) or "/"
    if query:
        path += "?" + "&".join(query)
    if source is not None:
        namespace, labelled = source["source_namespace"], source["source_labels"]
    else:
        namespace, labelled = a.get(("source-namespace",)) or "default", tuple(labels)
    return (host, port, gateway, a.get(("method",)) or "GET", path, tuple(sorted(headers.items())), namespace,
            labelled, a.get(("source-cluster",)) or cluster)


def _slot_key(item: tuple[Slot, Value]) -> Slot:
    return item[0]


# ------------------------------------------------------------- conditions
def _cluster_of(c) -> Optional[str]:
    """The cluster a condition on the caller's cluster asks for, None for
    other conditions."""
    if isinstance(c, ir.SourceClusterCondition):
        return c.cluster.value
    if isinstance(c, _FromCluster):
        return c.cluster
    if isinstance(c, ir.SourceLabelCondition) and c.label.key == ir.CLUSTER_LABEL:
        return c.label.value
    return None


def _slot(c) -> Optional[Slot]:
    if _cluster_of(c) is not None:
        return ("source-cluster",)
    if isinstance(c, (ir.HeaderCondition, ir.HeaderAbsentCondition, _Preview)):
        return ("header", c.name)
    if isinstance(c, ir.CookieCondition):
        return ("cookie", c.name)
    if isinstance(c, ir.PathCondition):
        return ("path",)
    if isinstance(c, ir.QueryCondition):
        return ("query", c.name)
    if isinstance(c, ir.MethodCondition):
        return ("method",)
    if isinstance(c, ir.SourceLabelCondition):
        return ("source-label", c.label.key)
    if isinstance(c, ir.SourceNamespaceCondition):
        return ("source-namespace",)
    return None  # `port`: every port of the place is tried anyway


def _mesh_only(c) -> bool:
    """Conditions a gateway never meets (`from cluster` it may)."""
    return isinstance(c, (ir.SourceLabelCondition, ir.SourceNamespaceCondition))


def _holds(c, v: Value) -> bool:
    """Whether a slot value meets a condition (cookies judged alone)."""
    if isinstance(c, ir.HeaderAbsentCondition):
        return v is None
    if v is None:
        return False
    if _cluster_of(c) is not None:
        return v == _cluster_of(c)
    if isinstance(c, (ir.HeaderCondition, ir.PathCondition, ir.QueryCondition, _Preview)):
        return _string_holds(c.match, v)
    if isinstance(c, ir.CookieCondition):
        return any(part.strip() == f"{c.name}={c.value}" for part in v.split(";"))
    if isinstance(c, ir.MethodCondition):
        return v == c.method
    if isinstance(c, ir.SourceLabelCondition):
        return v == c.label.value
    return v == c.namespace.value


def _string_holds(m: ir.StringMatch, v: str) -> bool:
    if m.op == "exact":
        return v == m.value
    if m.op == "prefix":
        return v.startswith(m.value)
    return re2.compile(m.value, _RE2).fullmatch(v) is not None


def _candidates(c, fleet: tuple[str, ...]) -> list[Value]:
    """Values to try for a condition's attribute: matches first, then near
    misses and misses."""
    wanted = _cluster_of(c)
    if wanted is not None:  # every cluster of the fleet is a caller
        return [wanted] + [other for other in fleet if other != wanted]
    if isinstance(c, ir.HeaderAbsentCondition):
        return [None, "", "1"]
    if isinstance(c, (ir.HeaderCondition, ir.QueryCondition, _Preview)):
        return _string_candidates(c.match, "") + [None]
    if isinstance(c, ir.PathCondition):
        return _string_candidates(c.match, "/") + ["/"]
    if isinstance(c, ir.CookieCondition):
        pair = f"{c.name}={c.value}"
        return [pair, f"a=1; {pair}; b=2", f"x{pair}", f"{pair}x", f"{c.name}={c.value[:-1]}", None]
    if isinstance(c, ir.MethodCondition):
        return [c.method, "POST" if c.method == "GET" else "GET"]
    if isinstance(c, ir.SourceLabelCondition):
        return [c.label.value, c.label.value + "x", None]
    return [c.namespace.value, "other" if c.namespace.value == "default" else "default"]


def _string_candidates(m: ir.StringMatch, root: str) -> list[str]:
    v = m.value
    if m.op == "exact":
        return [v, v + "x", v[:-1]]
    if m.op == "prefix":
        return [v, v + "x", v + "/y", v[:-1]]
    found = regex_samples(v)
    misses = [s for s in [x + "~" for x in found[:1]] + [x[:-1] for x in found[:1]] + [root + "~"]
              if re2.compile(v, _RE2).fullmatch(s) is None]
    return found + misses


_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
# what a query value may carry unencoded, short of `&`, `=`, `+` and `#`
_QUERY_CHARS = _PATH_CHARS | frozenset(":@!$'()*,;?")


def _valid(slot: Slot, v: Value) -> bool:
    """Whether a value can travel in a request as written (no control
    characters, no surrounding spaces, paths Envoy leaves unnormalised)."""
    if v is None:
        return slot[0] not in ("path", "source-cluster")
    if slot[0] == "path":
        parts = v.split("/")
        return v.startswith("/") and set(v) <= _PATH_CHARS and "" not in parts[1:-1] and not {".", ".."} & set(parts)
    if slot[0] == "query":
        return set(v) <= _QUERY_CHARS
    if slot[0] in ("source-label", "source-namespace"):
        return set(v) <= _PATH_CHARS - {"/"}
    return v.isprintable() and v == v.strip()


# ---------------------------------------------------------- regex samples
class _Unsupported(Exception):
    pass


def regex_samples(pattern: str) -> list[str]:
    """A few strings the RE2 `pattern` fully matches (none when the stdlib
    parser cannot read it and no fallback matches)."""
    compiled = re2.compile(pattern, _RE2)
    try:
        parsed = list(_sre.parse(pattern))
        found = [_sample(parsed, more) for more in (False, True)]
    except (_Unsupported, re.error, OverflowError, RecursionError):  # RE2 syntax the stdlib does not read
        found = []
    found += ["", "a", "0", "1", "/", "/a"]
    out: list[str] = []
    for s in found:
        if s not in out and compiled.fullmatch(s) is not None:
            out.append(s)
    return out[:3]


_CATEGORY = {
    _sc.CATEGORY_DIGIT: "01", _sc.CATEGORY_WORD: "ab", _sc.CATEGORY_SPACE: " ",
    _sc.CATEGORY_NOT_DIGIT: "ab", _sc.CATEGORY_NOT_WORD: "-.", _sc.CATEGORY_NOT_SPACE: "ab",
}


def _sample(items: Iterable, more: bool) -> str:
    out = []
    for op, av in items:
        if op is _sc.LITERAL:
            out.append(chr(av))
        elif op is _sc.NOT_LITERAL:
            out.append("a" if av != ord("a") else "b")
        elif op is _sc.ANY:
            out.append("a")
        elif op is _sc.IN:
            out.append(_char_in(av, more))
        elif op is _sc.BRANCH:
            branches = av[1]
            out.append(_sample(branches[1 if more and len(branches) > 1 else 0], more))
        elif op is _sc.SUBPATTERN:
            out.append(_sample(av[-1], more))
        elif op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT):
            lo, hi, sub = av
            out.append(_sample(sub, more) * (min(lo + 1, hi) if more else lo))
        elif op is _sc.AT:
            continue
        else:
            raise _Unsupported(str(op))
    return "".join(out)


def _char_in(items: list, more: bool) -> str:
    negate = bool(items) and items[0][0] is _sc.NEGATE
    members = items[1:] if negate else items
    if negate:
        pool = [ch for ch in "ab0_-/xZ" if not any(_member(op, av, ch) for op, av in members)]
    else:
        pool = []
        for op, av in members:
            if op is _sc.LITERAL:
                pool.append(chr(av))
            elif op is _sc.RANGE:
                pool.extend(chr(c) for c in range(av[0], min(av[1], av[0] + 1) + 1))
            elif op is _sc.CATEGORY:
                pool.extend(_CATEGORY.get(av, ""))
            else:
                raise _Unsupported(str(op))
    if not pool:
        raise _Unsupported("character class")
    return pool[1 if more and len(pool) > 1 else 0]


def _member(op, av, ch: str) -> bool:
    if op is _sc.LITERAL:
        return ord(ch) == av
    if op is _sc.RANGE:
        return av[0] <= ord(ch) <= av[1]
    if op is _sc.CATEGORY:
        return ch in _CATEGORY.get(av, "") or (av is _sc.CATEGORY_NOT_WORD and not ch.isalnum() and ch != "_")
    raise _Unsupported(str(op))
