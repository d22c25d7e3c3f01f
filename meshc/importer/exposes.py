"""VirtualServices bound to gateways, read back as `expose` statements.

An exposure serves a service's own routes on a gateway host, each narrowed
by the exposure's `when` (backends/routes.py `gateway_virtual_services`):
the entries of service S are `S-ROUTE` (then `-2`, `-3` for its second and
later groups on the host), each matching `when ∧ route`, ending with
`S-not-found` when no route of S takes every request. So a group of
entries is an exposure when, with `when` read from its catch-all entry
(the route without `when`, the service's `default`, or the not-found
entry), meshc's own conjunction of `when` with each of S's routes gives
back every entry, and the entries do what S's routes do.

Entries before the exposures are routes that exist on the gateway only:
the gateway's `host HOST { ... }` block, in the order written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

from meshc.backends.documents import slug
from meshc.backends.routes import conjunction
from meshc.importer.hosts import gateway_ref, service_of
from meshc.importer.ledger import Ledger
from meshc.importer.model import BlueGreen, Cond, Dest, Expose, Forward, Gateway, Match, Origin, Route, Service, Target
from meshc.importer.virtual_services import MESH, Entry, VirtualServiceReading
from meshc.language import ir
from meshc.language.ir import CLUSTER_LABEL as CLUSTER
from meshc.language.source import Span

_HERE = Span("<import>", 1, 1, 1, 1, 0, 0)
_SUFFIX = re.compile(r"(?P<route>.*?)(?P<suffix>-[2-9]|-[1-9][0-9]+)?(?P<preview>-preview)?")
MESH_ONLY = ("port", "source-label", "source-namespace")
NOT_FOUND = "not-found"
PREVIEW = "x-preview"  # model/resolve.py PREVIEW_HEADER
DEFAULT = "default"


@dataclass
class _Group:
    service: Service
    suffix: str
    entries: list[tuple[Entry, str]]  # the entry and its route name (S- and the suffix taken off)


class ExposureReader:
    def __init__(self, reader, ledger: Ledger):
        self.reader = reader  # cluster.ClusterReader: targets, routes, services
        self.ledger = ledger
        self.model = reader.model

    def read(self, reading: VirtualServiceReading) -> None:
        res = reading.resource
        for ref in reading.gateways:
            if ref == MESH:
                continue
            gateway = self._gateway(ref)
            if gateway is None:
                written = [gateway_ref(str(g), res.namespace) for g in res.spec.get("gateways") or ()]
                where = ("spec", "gateways", written.index(ref)) if ref in written else ("spec", "gateways")
                self.ledger.lose("gateway-routes-differ", res, where,
                                 f"names gateway `{ref}`, which is not imported; its routes there are left out",
                                 value=True)
                continue
            for host, i in reading.hosts:
                if not _serves(gateway, host):
                    self.ledger.lose("resource-not-in-effect", res, ("spec", "hosts", i),
                                     f"`{host}` is not a host gateway `{ref}` serves: no request reaches these routes "
                                     "there", value=True)
                    continue
                self._host(reading, gateway, host)

    def _gateway(self, ref: str) -> Optional[Gateway]:
        ns, _, name = ref.partition("/")
        found = self.model.namespaces.get(ns)
        return next((g for g in found.gateways if g.name == name), None) if found else None

    def _host(self, reading: VirtualServiceReading, gateway: Gateway, host: str) -> None:
        """The host's entries: meshc renders a gateway's `host` block first,
        then the exposures; so the longest run of exposure groups at the
        end is read as exposures, and every entry before it as the block's
        routes, in the order written."""
        res = reading.resource
        expected = f"{gateway.name}-{slug(host)}"
        if res.namespace != gateway.namespace or res.name != expected:
            self.ledger.lose("name-not-kept", res, ("metadata", "name"),
                             f"the VirtualService `{res.namespace}/{res.name}` becomes "
                             f"`{gateway.namespace}/{expected}` (meshc names it after its gateway and host)",
                             value=True)
        entries = [e for e in reading.entries if e.usable or e.direct_status == 404]
        exposures: list[tuple[Service, Expose]] = []
        start = len(entries)
        groups = self._groups(entries)
        for group in reversed(groups):
            if start == 0 or group.entries[-1][0] is not entries[start - 1]:
                break
            expose = self._exposure(group, gateway, host, res)
            if expose is None:
                break
            exposures.insert(0, (group.service, expose))
            start -= len(group.entries)
        for service, expose in exposures:
            service.exposes += (expose,)
            service.sources.append(res)
        routes = []
        names: set[str] = set()
        for entry in entries[:start]:
            route = self._gateway_route(res, entry, names)
            if route is not None:
                routes.append(route)
                names.add(route.name)
        if routes:
            key = (gateway.namespace, gateway.name, host)
            self.model.host_routes[key] = self.model.host_routes.get(key, ()) + tuple(routes)

    def _gateway_route(self, res, entry: Entry, names: set[str]) -> Optional[Route]:
        """An entry as a route of the gateway's `host` block (which tests no
        port, source or namespace: they are the gateway's own there)."""
        if not entry.usable:
            self.ledger.field(res, ("spec", "http", entry.index, "directResponse"),
                              "the language answers 404 itself only after routes that all have a `when`; the entry "
                              "is left out")
            return None
        route = self.reader._route(res, entry, None, names, self.ledger)
        if route is None:
            return None
        kept = []
        for i, match in enumerate(route.matches):
            mesh = [c for c in match if c.kind in MESH_ONLY and not (c.kind == "source-label" and c.name == CLUSTER)]
            if mesh:
                self.ledger.lose("unsupported-field", res, ("spec", "http", entry.index, "match", i),
                                 f"tests the {mesh[0].kind.replace('-', ' ')} of a request at a gateway, where it is "
                                 "the gateway's own; the language refuses that (MESH325), so the alternative is left "
                                 "out")
                continue
            kept.append(match)
        if route.matches and not kept:
            return None
        return replace(route, matches=tuple(kept))

    # --------------------------------------------- meshc's own rendering
    def _groups(self, entries: list[Entry]) -> list[_Group]:
        """Consecutive entries named `S-...` for one service S and suffix."""
        groups: list[_Group] = []
        for entry in entries:
            named = self._owner(entry)
            if named is None:
                groups.append(None)
                continue
            service, rest = named
            route, suffix = _route_and_suffix(service, rest)
            last = groups[-1] if groups else None
            if last is not None and last.service is service and last.suffix == suffix:
                last.entries.append((entry, route))
            else:
                groups.append(_Group(service, suffix, [(entry, route)]))
        return [g for g in groups if g is not None]

    def _owner(self, entry: Entry) -> Optional[tuple[Service, str]]:
        """The service an entry named `S-...` belongs to: of the services so
        named (its destinations' first), one that has the route the rest of
        the name gives; services of one name in several namespaces are
        told apart so."""
        if not entry.name:
            return None
        found: list[Service] = []
        for raw, _ in entry.dests + entry.mirrors:
            key = service_of(raw.host)
            if key is not None and entry.name.startswith(key[1] + "-"):
                found.append(self.model.service(*key))
        found += [svc for svc in self.model.services.values() if entry.name.startswith(svc.name + "-")]
        if not found:
            return None

        def rank(svc: Service) -> tuple:
            route, _ = _route_and_suffix(svc, entry.name[len(svc.name) + 1:])
            known = route.removesuffix("-preview") in {r.name for r in svc.routes or ()} | {DEFAULT, NOT_FOUND}
            return known, len(svc.name), -found.index(svc), svc.routes is not None

        svc = max(found, key=rank)
        return svc, entry.name[len(svc.name) + 1:]

    def _exposure(self, group: _Group, gateway: Gateway, host: str, res) -> Optional[Expose]:
        svc = group.service
        routes = svc.routes or ()
        own = f"{svc.name}.{svc.namespace}.svc.cluster.local"
        catch_all = next((r.name for r in routes if not r.matches), None) if routes else DEFAULT
        by_name = {name: e for e, name in group.entries}
        anchor = by_name.get(catch_all or NOT_FOUND)
        if anchor is None:
            return None
        when = anchor.matches or ()
        found = []
        for entry, name in group.entries:
            if entry.direct_status == 404 and not entry.usable:
                found.append((name, _canonical(entry.matches or ()), "404"))
                continue
            # named as meshc names the entries (`ROUTE-preview` may be no name of its own)
            route = self.reader._unnamed_route(res, entry, Target(svc.namespace, svc.name), self.ledger)
            if route is None:
                return None
            found.append((name, _canonical(route.matches), (route.action, route.mirrors, route.options)))
        # The exposure's port goes to the service's own destinations that
        # name none: try no port, then each port those destinations have.
        own = Target(svc.namespace, svc.name)
        ports = {t.port for e, _ in group.entries for t, _ in e.dests + e.mirrors
                 if t.host == f"{svc.name}.{svc.namespace}.svc.cluster.local"} - {None}
        # A service with several ports is exposed on one of them (MESH319),
        # named even where no destination shows which.
        candidates = [*sorted(ports), *(p for p in svc.ports if p not in ports)] if len(svc.ports) > 1 \
            else [None, *sorted(ports)]
        for port in candidates:
            if found == self._expected(svc, when, own, port):
                origin = Origin(res, ("spec", "http", group.entries[0][0].index))
                return Expose(gateway.name, host, port, tuple(when), origin)
        return None

    def _expected(self, svc: Service, when: tuple[Match, ...], own: Target, port: Optional[int]) -> Optional[list]:
        """The entries meshc renders for `svc` exposed with `when` on `port`:
        (route name, matches, what it does); None when it cannot be worked out."""
        out = []
        outer = tuple(_ir(m) for m in when)
        routes = svc.routes
        if routes is None:
            return [(DEFAULT, _canonical(when), _at_gateway(Route(DEFAULT, (), None, (), ()), own, port))]
        for route in routes:
            mine = tuple(m for m in route.matches if not any(c.kind in MESH_ONLY for c in m))
            if route.matches and not mine:
                continue
            matches = conjunction(outer, tuple(_ir(m) for m in mine))
            if matches is None:
                continue
            back = _canonical(tuple(_back(m) for m in matches))
            if isinstance(route.action, BlueGreen):
                header = ir.HeaderCondition.model_construct(
                    span=_HERE, name=PREVIEW, match=ir.StringMatch.model_construct(op="exact", value="true"))
                preview = conjunction(matches, (ir.Match.model_construct(span=_HERE, conditions=(header,)),))
                if preview is not None:
                    to_preview = Forward((Dest(replace(own, subset=route.action.preview)),))
                    out.append((f"{route.name}-preview", _canonical(tuple(_back(m) for m in preview)),
                                _at_gateway(replace(route, action=to_preview), own, port)))
                route = replace(route, action=Forward((Dest(replace(own, subset=route.action.active)),)))
            out.append((route.name, back, _at_gateway(route, own, port)))
        if not any(not r.matches for r in routes):
            out.append((NOT_FOUND, _canonical(when), "404"))
        return out


def _route_and_suffix(service: Service, rest: str) -> tuple[str, str]:
    """`ROUTE[-N][-preview]` of an entry `SERVICE-...`: the route, with
    `-preview` kept, and the group suffix `-N`. A route's own name may end
    in `-N` (`gmf3st7-9`): the service's route names decide."""
    names = {r.name for r in service.routes or ()} | {DEFAULT, NOT_FOUND}
    plain = rest[: -len("-preview")] if rest.endswith("-preview") else rest
    if plain in names:
        return rest, ""
    m = _SUFFIX.fullmatch(rest)
    return m.group("route") + (m.group("preview") or ""), m.group("suffix") or ""


def _serves(gateway: Gateway, host: str) -> bool:
    """checks/routing.py `_serves`: one of the gateway's hosts, or under its wildcard."""
    return any(p in ("*", host) or (p.startswith("*.") and host.endswith(p[1:])) for p in gateway.hosts)


def _at_gateway(route: Route, own: Target, port: Optional[int]) -> tuple:
    """What a service's route does at a gateway exposing it on `port`
    (backends/routes.py `_destination`): the service's own destinations that
    name no port get it, a route without `to` goes to the service on it."""
    def there(t: Target) -> Target:
        mine = (t.namespace, t.service) == (own.namespace, own.service)
        return replace(t, port=port) if mine and t.port is None else t

    action = route.action
    if action is None and port is not None:
        action = Forward((Dest(replace(own, port=port)),))
    elif isinstance(action, Forward):
        action = Forward(tuple(replace(d, target=there(d.target)) for d in action.dests))
    return action, tuple(replace(m, target=there(m.target)) for m in route.mirrors), route.options


_KINDS = {
    "header": lambda c: ir.HeaderCondition.model_construct(span=_HERE, name=c.name, match=_sm(c)),
    "header-absent": lambda c: ir.HeaderAbsentCondition.model_construct(span=_HERE, name=c.name),
    "cookie": lambda c: ir.CookieCondition.model_construct(span=_HERE, name=c.name, value=c.value),
    "path": lambda c: ir.PathCondition.model_construct(span=_HERE, match=_sm(c)),
    "method": lambda c: ir.MethodCondition.model_construct(span=_HERE, method=c.value),
    "query": lambda c: ir.QueryCondition.model_construct(span=_HERE, name=c.name, match=_sm(c)),
    "port": lambda c: ir.PortCondition.model_construct(span=_HERE, port=int(c.value)),
    "source-label": lambda c: ir.SourceLabelCondition.model_construct(
        span=_HERE, label=ir.LabelPair.model_construct(span=_HERE, key=c.name, value=c.value)),
    "source-namespace": lambda c: ir.SourceNamespaceCondition.model_construct(
        span=_HERE, namespace=ir.Name.model_construct(span=_HERE, value=c.value)),
}


def _sm(c: Cond) -> ir.StringMatch:
    return ir.StringMatch.model_construct(op=c.op, value=c.value)


def _ir(match: Match) -> ir.Match:
    return ir.Match.model_construct(span=_HERE, conditions=tuple(_KINDS[c.kind](c) for c in match))


def _back(match: ir.Match) -> Match:
    out = []
    for c in match.conditions:
        if isinstance(c, ir.HeaderCondition):
            out.append(Cond("header", c.name, c.match.op, c.match.value))
        elif isinstance(c, ir.HeaderAbsentCondition):
            out.append(Cond("header-absent", c.name))
        elif isinstance(c, ir.CookieCondition):
            out.append(Cond("cookie", c.name, value=c.value))
        elif isinstance(c, ir.PathCondition):
            out.append(Cond("path", op=c.match.op, value=c.match.value))
        elif isinstance(c, ir.MethodCondition):
            out.append(Cond("method", value=c.method))
        elif isinstance(c, ir.QueryCondition):
            out.append(Cond("query", c.name, c.match.op, c.match.value))
        elif isinstance(c, ir.PortCondition):
            out.append(Cond("port", value=str(c.port)))
        elif isinstance(c, ir.SourceLabelCondition):
            out.append(Cond("source-label", c.label.key, value=c.label.value))
        else:
            out.append(Cond("source-namespace", value=c.namespace.value))
    return tuple(out)


def _canonical(matches) -> tuple:
    return tuple(tuple(sorted(m, key=repr)) for m in matches)
