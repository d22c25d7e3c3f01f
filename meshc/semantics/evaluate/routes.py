"""A VirtualService's `http` list as the routes pilot builds for one proxy.

Followed: pilot/pkg/networking/core/route/route.go

- `BuildHTTPRoutesForVirtualService`: entries in order; an entry without
  `match` is a catch-all and ends the list; each match alternative becomes
  its own Envoy route; the first alternative that `IsCatchAllRoute` ends
  the list (routes after it are never sent to Envoy);
- `TranslateRoute`: an alternative whose `port` is not the listener port is
  dropped; so is one that fails `sourceMatchHTTP` for this proxy;
- `sourceMatchHTTP`: a match with `gateways` applies where one of them is
  the proxy's gateway name (`mesh` for sidecars) and then ignores
  `sourceLabels`/`sourceNamespace`; otherwise `sourceLabels` must be a
  subset of the proxy's labels and `sourceNamespace` empty or the proxy's;
- `IsCatchAllRoute`: path prefix `/` (or no uri) or regex `.*`, with no
  header, query or metadata matcher (`method`, `authority`, `scheme` and
  `withoutHeaders` are header matchers; `port` and `sourceLabels` are not).

If every alternative is dropped for a proxy, `BuildHTTPRoutesForVirtualService`
fails and the VirtualService does not apply to that proxy at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from meshc.semantics.decision import Cors, Fault, Retries
from meshc.semantics.evaluate.documents import MESH_GATEWAY, DocumentError, Resource, fqdn, gateway_name
from meshc.semantics.evaluate.matchers import HeaderCheck, PathCheck, Pattern, parse_query

PSEUDO_HEADERS = (("method", ":method"), ("authority", ":authority"), ("scheme", ":scheme"))


class View:
    """What Envoy's route matcher reads of one request."""

    __slots__ = ("path", "path_only", "headers", "_query")

    def __init__(self, path: str, path_only: str, headers: dict[str, str]) -> None:
        self.path = path
        self.path_only = path_only
        self.headers = headers  # lower-case names, pseudo-headers included
        self._query: Optional[dict[str, str]] = None

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = parse_query(self.path)
        return self._query


@dataclass(frozen=True)
class Miss:
    """Why one match alternative of an `http` entry did not take a request.

    `filtered` conditions (port, gateways, sourceLabels, sourceNamespace)
    are not tested at run time: pilot left the alternative out of this
    proxy's routes."""

    virtual_service: str
    entry: int
    entry_name: Optional[str]
    match: Optional[int]
    field: str
    expected: str
    actual: Optional[str]
    filtered: bool = False


@dataclass(eq=False)
class Alternative:
    """One match alternative (or the whole entry when it has no `match`)."""

    entry: "Entry"
    index: Optional[int]
    port: int = 0
    gateways: tuple[str, ...] = ()
    source_labels: tuple[tuple[str, str], ...] = ()
    source_namespace: str = ""
    path: Optional[PathCheck] = None
    headers: tuple[HeaderCheck, ...] = ()
    query: tuple[tuple[str, Pattern], ...] = ()
    ignore_uri_case: bool = False

    @property
    def catch_all(self) -> bool:
        """route.go `IsCatchAllRoute` on the route this alternative becomes."""
        path = self.path
        path_all = path is None or (path.kind == "prefix" and path.value == "/") or \
            (path.kind == "regex" and path.value == ".*")
        return path_all and not self.headers and not self.query

    @property
    def context_free(self) -> bool:
        """Present for every proxy on every port."""
        return not (self.port or self.gateways or self.source_labels or self.source_namespace)

    def present(self, port: int, gateways: frozenset, labels: Mapping[str, str], namespace: str) -> bool:
        """`TranslateRoute`'s port check and `sourceMatchHTTP`."""
        return not self.filtered_by(port, gateways, labels, namespace)

    def filtered_by(self, port: int, gateways: frozenset, labels: Mapping[str, str],
                    namespace: str) -> list[tuple[str, str, str]]:
        """The conditions that leave this alternative out of the proxy's routes."""
        out = []
        if self.port and self.port != port:
            out.append(("port", str(self.port), str(port)))
        if self.gateways:
            if not any(g in gateways for g in self.gateways):
                out.append(("gateways", ", ".join(self.gateways), ", ".join(sorted(gateways))))
            return out
        if any(labels.get(k) != v for k, v in self.source_labels):
            out.append(("sourceLabels", _labels(self.source_labels), _labels(sorted(labels.items()))))
        elif self.source_namespace and self.source_namespace != namespace:
            out.append(("sourceNamespace", self.source_namespace, namespace))
        return out

    def matches(self, view: View) -> bool:
        """Envoy's route match: path, every header matcher, every query parameter."""
        if self.path is not None and not self.path.test(view.path_only):
            return False
        headers = view.headers
        for check in self.headers:
            if not check.test(headers.get(check.name)):
                return False
        if self.query:
            query = view.query
            for name, pattern in self.query:
                value = query.get(name)
                if value is None or not pattern.test(value):
                    return False
        return True

    def misses(self, view: View) -> list[tuple[str, str, Optional[str]]]:
        """Every condition that fails for `view`: (field, expected, actual)."""
        out: list[tuple[str, str, Optional[str]]] = []
        if self.path is not None and not self.path.test(view.path_only):
            out.append(("uri", self.path.expected(), view.path_only))
        for check in self.headers:
            value = view.headers.get(check.name)
            if not check.test(value):
                out.append((check.field, check.expected(), None if check.claim else value))
        for name, pattern in self.query:
            value = view.query.get(name)
            if value is None or not pattern.test(value):
                out.append((f"queryParams.{name}", pattern.describe(), value))
        return out


@dataclass(frozen=True)
class EntryActions:
    """What an entry does whatever the listener port: its timeout, its
    retry policy (the evaluator's release gives the default), fault and CORS."""

    timeout_ms: Optional[int]
    retries: Retries
    fault: Optional[Fault]
    cors: Optional[Cors]


@dataclass(eq=False)
class Entry:
    """One element of `spec.http`."""

    virtual_service: "VirtualService"
    index: int
    name: Optional[str]
    spec: dict
    alternatives: tuple[Alternative, ...] = ()
    has_match: bool = True
    actions: Optional[EntryActions] = None  # set by the evaluator that loads the entry, for its Istio release


@dataclass(eq=False)
class VirtualService:
    """A VirtualService with resolved hosts, gateways and compiled entries."""

    resource: Resource
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]
    export_to: frozenset
    entries: tuple[Entry, ...] = ()
    context_free: bool = True
    _routes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key = self.resource.key  # `NS/NAME`, read on every decision

    def routes(self, port: int, gateways: frozenset, labels: Mapping[str, str],
               namespace: str) -> tuple[Alternative, ...]:
        """`BuildHTTPRoutesForVirtualService` for one proxy and listener port
        (empty: the VirtualService does not apply to that proxy)."""
        key = (port, gateways) if self.context_free else (port, gateways, tuple(sorted(labels.items())), namespace)
        routes = self._routes.get(key)
        if routes is None:
            routes = tuple(self._build(port, gateways, labels, namespace))
            if len(self._routes) > 4096:
                self._routes.clear()
            self._routes[key] = routes
        return routes

    def _build(self, port, gateways, labels, namespace):
        out = []
        for entry in self.entries:
            if not entry.has_match:
                out.append(entry.alternatives[0])
                return out
            for alt in entry.alternatives:
                if alt.present(port, gateways, labels, namespace):
                    out.append(alt)
                    if alt.catch_all:
                        return out
        return out

    def misses(self, upto: Optional[Alternative], view: View, port: int, gateways: frozenset,
               labels: Mapping[str, str], namespace: str) -> list[Miss]:
        """Why each alternative before `upto` (all when None) did not take
        the request, in the order pilot lists them."""
        out: list[Miss] = []
        for entry in self.entries:
            for alt in entry.alternatives:
                if alt is upto:
                    return out
                filtered = alt.filtered_by(port, gateways, labels, namespace) if entry.has_match else []
                out += [Miss(self.key, entry.index, entry.name, alt.index, f, e, a, True) for f, e, a in filtered]
                if filtered:
                    continue
                out += [Miss(self.key, entry.index, entry.name, alt.index, f, e, a) for f, e, a in alt.misses(view)]
                if alt.catch_all:
                    return out  # pilot sends nothing after a catch-all
        return out


def _labels(items) -> str:
    return ", ".join(f"{k}={v}" for k, v in items) or "(none)"


def compile_virtual_service(resource: Resource, domain: str) -> VirtualService:
    """Resolve names (pilot's `ResolveVirtualServiceShortnames`) and compile
    every match; raises DocumentError for what the webhook would reject."""
    spec = resource.spec
    ns = resource.namespace
    hosts = tuple(fqdn(str(h), ns, domain).lower() for h in spec.get("hosts") or ())
    gateways = tuple(gateway_name(str(g), ns) for g in spec.get("gateways") or ()) or (MESH_GATEWAY,)
    export_to = frozenset(str(e) for e in spec.get("exportTo") or ())
    vs = VirtualService(resource, hosts, gateways, export_to)
    entries = []
    for index, http in enumerate(spec.get("http") or ()):
        if not isinstance(http, dict):
            raise DocumentError(f"{resource.key}: spec.http[{index}] is not a mapping")
        entry = Entry(vs, index, http.get("name"), _resolve_destinations(http, ns, domain))
        matches = http.get("match") or []
        if not matches:
            entry.has_match = False
            entry.alternatives = (Alternative(entry, None),)
        else:
            entry.alternatives = tuple(_alternative(entry, i, m, ns) for i, m in enumerate(matches))
        entries.append(entry)
    vs.entries = tuple(entries)
    vs.context_free = all(alt.context_free for e in vs.entries for alt in e.alternatives)
    return vs


def _alternative(entry: Entry, index: int, match: dict, namespace: str) -> Alternative:
    if not isinstance(match, dict):
        raise DocumentError(f"match[{index}] of entry {entry.index} is not a mapping")
    alt = Alternative(entry, index)
    alt.port = int(match.get("port") or 0)
    alt.gateways = tuple(gateway_name(str(g), namespace) for g in match.get("gateways") or ())
    alt.source_labels = tuple(sorted((str(k), str(v)) for k, v in (match.get("sourceLabels") or {}).items()))
    alt.source_namespace = str(match.get("sourceNamespace") or "")
    alt.ignore_uri_case = bool(match.get("ignoreUriCase"))
    uri = match.get("uri")
    if uri:
        pattern = Pattern.of(uri)
        if pattern.kind != "present":
            alt.path = PathCheck(pattern.kind, pattern.value, alt.ignore_uri_case)
    headers = [HeaderCheck(f"headers.{k}", str(k).lower(), Pattern.of(v))
               for k, v in (match.get("headers") or {}).items()]
    headers += [HeaderCheck(f"withoutHeaders.{k}", str(k).lower(), Pattern.of(v), invert=True)
                for k, v in (match.get("withoutHeaders") or {}).items()]
    headers.sort(key=lambda h: h.name)  # route.go sorts header matchers by name
    for key, pseudo in PSEUDO_HEADERS:
        if match.get(key) is not None:
            headers.append(HeaderCheck(key, pseudo, Pattern.of(match[key])))
    alt.headers = tuple(headers)
    alt.query = tuple((str(k), Pattern.of(v)) for k, v in sorted((match.get("queryParams") or {}).items()))
    return alt


def _resolve_destinations(http: dict, namespace: str, domain: str) -> dict:
    """A copy of an `http` entry with the hosts of `route`, `mirror` and
    `mirrors` destinations resolved (pilot's `ResolveVirtualServiceShortnames`)."""
    def resolved(dest):
        if not isinstance(dest, dict) or not dest.get("host"):
            return dest
        return {**dest, "host": fqdn(str(dest["host"]), namespace, domain)}

    out = dict(http)
    if isinstance(http.get("route"), list):
        out["route"] = [{**r, "destination": resolved(r.get("destination"))} if isinstance(r, dict) else r
                        for r in http["route"]]
    if http.get("mirror"):
        out["mirror"] = resolved(http["mirror"])
    if isinstance(http.get("mirrors"), list):
        out["mirrors"] = [{**m, "destination": resolved(m.get("destination"))} if isinstance(m, dict) else m
                          for m in http["mirrors"]]
    return out
