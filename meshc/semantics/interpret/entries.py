"""The ordered entries a request is tried against, per VirtualService, as
docs/language.md describes them ("Routes", "Destinations", "Gateways and
exposure") with the rules issue 7 pins down.

Mesh: a service with routes (or, in this cluster, route options) has one
VirtualService `NS/NAME`; its entries are the routes in order, blue-green
adding `NAME-preview` just before its route (the route's `when` and
`x-preview: true`), and a service with options but no routes has one entry
`default`. A request no entry takes gets a 404 from the entry `not-found`
("Routes").

Gateway: one VirtualService `GATEWAY-HOST` per gateway host. Every exposure
alternative ranks on its own: exact path, then longer path prefix, then
path regex, then no path condition, then catch-alls (no condition, `path ^=
"/"`, `path ~ ".*"`, which count as no condition elsewhere too); equal
ranks go more conditions first, then by service (namespace, name), then in
source order. The alternatives of one exposure with one rank (class, prefix
length, number of conditions: so that per-alternative order survives
grouping) form a group: the service's routes (or one `SERVICE-default`
entry), each entry matching (exposure alternative) AND (route alternative),
exposure alternatives first in the order of an entry's matches.
A service's second and later groups on one host add `-2`, `-3` after the
route part of the entry names. A request one of a group's alternatives
takes but none of its service's routes does gets a 404, as it would from the
service's own VirtualService (the docs are silent there: an alternative
reading lets it fall through to the host's later entries).

`local` services ("Services across clusters"): a local service always has
a VirtualService (an entry `default` when it has no routes: the docs name
none). Every route that sends or mirrors traffic to a local service (its
own routes but those that send only to other services, and other
services' routes to it) sends each caller to its cluster's subsets (`C`,
`C-S`). In a
primary that serves no remote the entry is unchanged and its cluster is the
primary; a primary with remotes renders it once per cluster it serves
(itself, then its remotes in fleet order), named `ROUTE-C` and matching
`from cluster C` too. A local service's own routes are rendered only for
the served clusters it runs in, and callers of a served cluster it does
not run in get the 404 of `not-found`. Where the docs are silent: the
cluster goes after the route part of a gateway entry's name
(`SERVICE-ROUTE-2-C`), and blue-green's preview entry of the copy is
`ROUTE-C-preview`.

The routes of the gateway's `host` block for the host come before every
exposure, in the order written, each named as written and a group of its
own ("Routes of the gateway"): a request none of them takes goes on to the
exposures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from meshc.language import ir
from meshc.language.source import Span
from meshc.model.resolve import GatewayHostInfo, Index, RouteOwner, ServiceInfo, route_targets
from meshc.semantics.interpret.conditions import (
    EXPOSURE, LOCAL, ROUTE, Condition, compile_condition, from_cluster, is_trivial_path, preview_condition)
from meshc.semantics.request import Request


@dataclass(frozen=True)
class Alternative:
    """Conditions that must all hold (none: every request)."""

    conditions: tuple[Condition, ...]
    span: Optional[Span]

    def failure(self, request: Request, at_gateway: bool) -> Optional[Condition]:
        """The first condition that does not hold, None when all hold."""
        return next((c for c in self.conditions if not c.holds(request, at_gateway)), None)

    def kept_for(self, request: Request) -> bool:
        """Whether the calling proxy (in the mesh) gets this alternative:
        its conditions on the proxy hold."""
        return all(c.holds(request, False) for c in self.conditions if c.proxy)

    def __add__(self, other: "Alternative") -> "Alternative":
        return Alternative(self.conditions + other.conditions, other.span or self.span)


EVERYTHING = Alternative((), None)
NOT_FOUND = "not-found"  # the entry that answers 404 when no route takes a request


@dataclass(frozen=True)
class Entry:
    """One `http` entry: its name, the route it comes from (None for a
    service's `default` entry), whether it is a blue-green preview, the
    alternatives that take a request, and the cluster whose subsets the
    `local` services among its targets take (None: no local target)."""

    name: str
    route: Optional[ir.Route]
    preview: bool
    alternatives: tuple[Alternative, ...]
    local: Optional[str] = None

    @property
    def when_span(self) -> Optional[Span]:
        return when_span(self.route.matches) if self.route is not None else None


@dataclass(frozen=True)
class Group:
    """A service's entries behind the alternatives that lead to it: the one
    catch-all of a mesh VirtualService, or an exposure's alternatives of one
    rank; or one route of a gateway's `host` block (`info` is the block).
    `port` is the service port the gateway sends to (None for mesh and for
    a `host` block's route: the port dialled)."""

    info: RouteOwner
    alternatives: tuple[Alternative, ...]
    entries: tuple[Entry, ...]
    expose: Optional[ir.Expose] = None
    port: Optional[int] = None
    # The entry that answers 404 to what the group admits and no route takes
    # (rendered for a service whose routes all have a `when`; None: none).
    not_found: Optional[str] = None


@dataclass(frozen=True)
class Table:
    """One VirtualService: `NS/NAME` and its groups in order."""

    name: str
    groups: tuple[Group, ...]
    at_gateway: bool


def when_span(matches: tuple[ir.Match, ...]) -> Optional[Span]:
    """The span covering a `when`'s alternatives."""
    if not matches:
        return None
    first, last = matches[0].span, matches[-1].span
    return Span(first.file, first.line, first.column, last.end_line, last.end_column, first.start, last.end)


def alternatives(matches: tuple[ir.Match, ...], origin: str) -> tuple[Alternative, ...]:
    if not matches:
        return (EVERYTHING,)
    return tuple(Alternative(tuple(compile_condition(c, origin) for c in m.conditions), m.span) for m in matches)


@dataclass(frozen=True)
class Configuration:
    """One primary's configuration: the primary (whose `on CLUSTER` blocks
    apply) and the clusters whose proxies it programs (itself, then its
    remotes), for the routes `local` renders per cluster."""

    index: Index
    primary: str
    served: tuple[str, ...]

    def local_span(self, info: RouteOwner, route: Optional[ir.Route]) -> Optional[Span]:
        """The `local` that makes an entry per-cluster: the service's own
        when the entry sends to the service itself (no destination, a
        canary, a blue-green), else that of the first local service it
        sends or mirrors to. A local service's route that sends only to
        other services is rendered as written."""
        if isinstance(info, ServiceInfo) and info.service.local is not None and (
                route is None or not isinstance(route.action, ir.Forward)):
            return info.service.local.span
        for written in route_targets(route) if route is not None else ():
            other = self.index.target_service(info, written)
            if other is not None and other.service.local is not None:
                return other.service.local.span
        return None

    def copies(self, info: RouteOwner, route: Optional[ir.Route]) -> tuple[tuple[Optional[str], Optional[Condition]], ...]:
        """(the caller's cluster, the `from cluster` match) of each entry
        an entry renders as: one per served cluster, or for a local
        service's own routes one per served cluster it runs in."""
        span = self.local_span(info, route)
        if span is None:
            return ((None, None),)
        own = isinstance(info, ServiceInfo) and info.service.local is not None
        callers = self.running(info) if own else self.served
        if len(self.served) == 1:
            return tuple((c, None) for c in callers)
        return tuple((c, from_cluster(c, span, LOCAL)) for c in callers)

    def running(self, info: ServiceInfo) -> tuple[str, ...]:
        """The served clusters the service runs in."""
        placed = self.index.topology.placement(info.service)
        return tuple(c for c in self.served if c in placed)

    def unserved(self, info: ServiceInfo) -> bool:
        """A local service whose callers in some served cluster have no
        endpoint there: they get 404 ("Services across clusters")."""
        return info.service.local is not None and self.running(info) != self.served


def _with(alt: Alternative, extra: Optional[Condition]) -> Alternative:
    return alt if extra is None else Alternative(alt.conditions + (extra,), alt.span)


def route_entries(config: Configuration, info: RouteOwner, routes: tuple[ir.Route, ...], prefix: str, suffix: str,
                  lead: tuple[Alternative, ...]) -> tuple[Entry, ...]:
    """The entries of `routes` (a service's, or a gateway `host` block's)
    behind `lead` (each alternative of an entry is a lead alternative AND a
    route alternative), named `PREFIX + ROUTE + SUFFIX` (and `-C` for a
    per-cluster copy)."""
    out: list[Entry] = []
    for route in routes:
        for cluster, extra in config.copies(info, route):
            alts = tuple(_with(a + r, extra) for a in lead for r in alternatives(route.matches, ROUTE))
            name = f"{prefix}{route.name.value}{suffix}" + (f"-{cluster}" if extra is not None else "")
            if isinstance(route.action, ir.BlueGreen):
                preview = Alternative((preview_condition(route.action.span),), route.action.span)
                out.append(Entry(f"{name}-preview", route, True, tuple(a + preview for a in alts), cluster))
            out.append(Entry(name, route, False, alts, cluster))
    return tuple(out)


def default_entries(config: Configuration, info: ServiceInfo, name: str,
                    lead: tuple[Alternative, ...]) -> tuple[Entry, ...]:
    """The one entry of a service without routes (per cluster when local)."""
    return tuple(Entry(name + (f"-{cluster}" if extra is not None else ""), None, False,
                       tuple(_with(a, extra) for a in lead), cluster)
                 for cluster, extra in config.copies(info, None))


def has_options(service: ir.Service, cluster: str) -> bool:
    """Whether route options apply to the service in this cluster."""
    blocks = [service.options] + [o.options for o in service.overrides if o.cluster.value == cluster]
    return any(getattr(b, f) is not None for b in blocks for f in ir.Options.model_fields if f != "span")


def mesh_table(config: Configuration, info: ServiceInfo) -> Optional[Table]:
    """The service's own VirtualService in a primary's configuration, None
    when it has none."""
    if info.service.routes:
        entries = route_entries(config, info, info.service.routes, "", "", (EVERYTHING,))
    elif has_options(info.service, config.primary) or info.service.local is not None:
        entries = default_entries(config, info, "default", (EVERYTHING,))
    else:
        return None
    name = f"{info.namespace.name.value}/{info.service.name.value}"
    not_found = NOT_FOUND if all_conditional(info) or config.unserved(info) else None
    return Table(name, (Group(info, (EVERYTHING,), entries, not_found=not_found),), at_gateway=False)


def all_conditional(info: ServiceInfo) -> bool:
    """A service whose routes all have a `when`: its VirtualService (and each
    of its exposure groups) ends with a 404 entry ("Routes", "Gateways and
    exposure")."""
    return bool(info.service.routes) and all(r.matches for r in info.service.routes)


# Rank classes of an exposure alternative, most specific first.
EXACT, PREFIX, REGEX, OTHER, CATCH_ALL = range(5)


def rank(alt: Alternative) -> tuple[int, int, int]:
    """(class, -prefix length, -conditions): smaller goes first."""
    conditions = [c for c in alt.conditions if not is_trivial_path(c)]
    if not conditions:
        return CATCH_ALL, 0, 0
    path = next((c.path for c in conditions if c.path is not None), None)
    if path is None:
        return OTHER, 0, -len(conditions)
    if path.op == "exact":
        return EXACT, 0, -len(conditions)
    if path.op == "prefix":
        return PREFIX, -len(path.value), -len(conditions)
    return REGEX, 0, -len(conditions)


def exposed_port(info: ServiceInfo, expose: ir.Expose) -> Optional[int]:
    """The service port a gateway sends to: `expose ... port N`, else the
    service's only port."""
    if expose.port is not None:
        return expose.port
    ports = info.service.ports
    return ports[0].number if len(ports) == 1 else None


def gateway_table(config: Configuration, block: Optional[GatewayHostInfo],
                  exposures: list[tuple[ServiceInfo, int, ir.Expose]], namespace: str, gateway: str,
                  host: str) -> Table:
    """The VirtualService of one gateway host from the gateway's `host`
    block for it and the exposures of that host (each with its position
    among its service's exposures)."""
    ranked = []
    for info, position, expose in exposures:
        by_rank: dict[tuple[int, int, int], list[tuple[int, Alternative]]] = {}
        for index, alt in enumerate(alternatives(expose.matches, EXPOSURE)):
            by_rank.setdefault(rank(alt), []).append((index, alt))
        for r, alts in by_rank.items():
            ranked.append(((r, info.key, position, alts[0][0]), info, expose, tuple(a for _, a in alts)))
    ranked.sort(key=lambda item: item[0])
    groups: list[Group] = [
        Group(block, alternatives(route.matches, ROUTE), route_entries(config, block, (route,), "", "", (EVERYTHING,)))
        for route in (block.block.routes if block is not None else ())]
    seen: dict[tuple[str, str], int] = {}
    for _, info, expose, alts in ranked:
        seen[info.key] = seen.get(info.key, 0) + 1
        suffix = "" if seen[info.key] == 1 else f"-{seen[info.key]}"
        prefix = f"{info.service.name.value}-"
        if info.service.routes:
            entries = route_entries(config, info, info.service.routes, prefix, suffix, alts)
        else:
            entries = default_entries(config, info, f"{prefix}default{suffix}", alts)
        groups.append(Group(info, alts, entries, expose, exposed_port(info, expose),
                            f"{prefix}{NOT_FOUND}{suffix}" if all_conditional(info) else None))
    return Table(f"{namespace}/{gateway}-{host.replace('.', '-')}", tuple(groups), at_gateway=True)
