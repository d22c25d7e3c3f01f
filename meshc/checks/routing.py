"""Routes: weights, canaries, reachability, default routes, rewrites."""

from __future__ import annotations

from typing import Iterator, Optional

from meshc.model.conditions import MESH_ONLY, EarlierMatches, compatible, slot
from meshc.checks.names import repeats, unknown_port
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import GatewayHostInfo, Index, RouteOwner, ServiceInfo, clusters


def route_lists(policy: ir.MeshPolicy) -> Iterator[tuple[RouteOwner, tuple[ir.Route, ...]]]:
    """Each list of routes tried in order: a service's, and a gateway
    `host` block's."""
    index = Index(policy)
    for info in index.all_services():
        yield info, info.service.routes
    for block in index.gateway_hosts():
        yield block, block.block.routes


def _routes(policy: ir.MeshPolicy) -> Iterator[tuple[RouteOwner, ir.Route]]:
    for owner, routes in route_lists(policy):
        for route in routes:
            yield owner, route


def base_options(owner: RouteOwner) -> list[ir.Options]:
    """The blocks that give options to every route of an owner."""
    if isinstance(owner, GatewayHostInfo):
        return [owner.block.options]
    return [owner.service.options] + [o.options for o in owner.service.overrides]


def own_options(route: ir.Route) -> list[ir.Options]:
    """The blocks of a route that give it options: its own, its `on CLUSTER`s."""
    return [route.options] + [o.options for o in route.overrides]


def _num(value: float) -> str:
    return f"{value:g}"


def check_weights(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """`to` shares are whole percentages that add up to 100, `rest` used once."""
    out: list[Diagnostic] = []
    for _, route in _routes(policy):
        forward = route.action
        if not isinstance(forward, ir.Forward):
            continue
        out += forward_weights(f"route `{route.name.value}`", forward)
    return out


def forward_weights(where: str, forward: ir.Forward) -> list[Diagnostic]:
    """Shares of a destination list (`where` names it: route `primary`)."""
    dests = forward.destinations
    out = [
        diagnostic("fractional-weight", f"weight {_num(d.weight.value)}% is not a whole percentage",
                   d.weight.span, help="Istio route weights are integers")
        for d in dests if d.weight is not None and d.weight.value != int(d.weight.value)
    ]
    rests = [d for d in dests if d.rest]
    if len(dests) == 1:
        only = dests[0]
        if only.rest:
            out.append(diagnostic("rest-misuse", "`rest` on the only destination", only.span,
                                  help="a single destination takes all traffic: drop `rest`"))
        elif only.weight is not None and only.weight.value != 100:
            out.append(diagnostic(
                "weights-not-100",
                f"the only destination of {where} has weight {_num(only.weight.value)} %, not 100 %",
                only.weight.span,
                help="a single destination gets all traffic whatever its weight; drop the weight",
            ))
        return out
    for extra in rests[1:]:
        out.append(diagnostic("rest-misuse", f"`rest` is used twice in {where}", extra.span,
                              labels=[Label(rests[0].span, "first `rest`")],
                              help="give all but one destination an explicit share"))
    missing = [d for d in dests if d.weight is None and not d.rest]
    for d in missing:
        out.append(diagnostic(
            "weights-not-100",
            f"a destination of {where} has no weight",
            d.span,
            help="with several destinations each needs a share (or `rest`); Istio gives 0 % to one without",
        ))
    if missing:
        return out
    total = sum(d.weight.value for d in dests if d.weight is not None)
    if rests:
        if total >= 100:
            out.append(diagnostic(
                "rest-misuse",
                f"nothing is left for `rest`: the other weights of {where} add up to {_num(total)} %",
                rests[0].span,
                help="lower the other weights below 100 %",
            ))
    elif abs(total - 100) > 1e-9:
        out.append(diagnostic(
            "weights-not-100",
            f"weights of {where} add up to {_num(total)} %, not 100 %",
            forward.span,
            help="make them add up to 100 %, or let one destination take the `rest`",
        ))
    return out


def check_retries(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """`retry 0` with settings that need attempts."""
    out = []
    blocks = []
    for owner, routes in route_lists(policy):
        blocks += base_options(owner) + [o for r in routes for o in own_options(r)]
    for options in blocks:
        retry = options.retry
        if retry is not None and retry.attempts == 0 and (retry.per_try is not None or retry.on):
            out.append(diagnostic(
                "retry-without-attempts", "`retry 0` with `per-try` or `on` retries nothing",
                retry.span, help="write `retry off` to disable retries, or give a number of attempts"))
    return out


def check_canaries(policy: ir.MeshPolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for _, route in _routes(policy):
        canary = route.action
        if isinstance(canary, ir.Canary):
            out += _canary(route.name.value, canary)
    return out


def _canary(route: str, c: ir.Canary) -> list[Diagnostic]:
    out = [
        diagnostic("fractional-weight", f"canary step {_num(s.value)}% is not a whole percentage",
                   s.span, help="Istio route weights are integers")
        for s in c.steps if s.value != int(s.value)
    ]
    if c.baseline.value == c.candidate.value:
        out.append(diagnostic("canary-same-subset", f"canary of route `{route}` goes from `{c.baseline.value}` to itself",
                              c.candidate.span, help="the candidate is the new subset, e.g. `canary v1 -> v2`"))
    previous: Optional[ir.Percent] = None
    for step in c.steps:
        if previous is None and step.value <= 0:
            out.append(diagnostic("canary-steps-not-increasing", "the first canary step sends no traffic",
                                  step.span, help="start above 0 %; `at 0` is the baseline already"))
        elif previous is not None and step.value <= previous.value:
            out.append(diagnostic(
                "canary-steps-not-increasing",
                f"canary step {_num(step.value)}% does not increase on {_num(previous.value)}%",
                step.span,
                labels=[Label(previous.span, "the step before")],
                help="each step must send more traffic to the candidate than the one before",
            ))
        previous = step
    if c.steps and c.steps[-1].value != 100:
        out.append(diagnostic("canary-not-ending-at-100",
                              f"the last canary step is {_num(c.steps[-1].value)}%, so the canary never finishes",
                              c.steps[-1].span, help="end the steps with `100%`"))
    if c.at > len(c.steps):
        out.append(diagnostic(
            "canary-at-out-of-range",
            f"`at {c.at}` names no step: the canary has {len(c.steps)} step{'s' if len(c.steps) != 1 else ''}",
            c.at_span or c.span,
            help=f"use `at 0` (baseline) to `at {len(c.steps)}`",
        ))
    gaps = len(c.steps) - 1
    if len(c.pauses) > 1 and len(c.pauses) != gaps:
        out.append(diagnostic(
            "canary-pause-count",
            f"`pause` gives {len(c.pauses)} durations for {gaps} gap{'s' if gaps != 1 else ''} between steps",
            c.pauses[0].span,
            help=f"give one duration for every gap, or {gaps}",
        ))
    return out


def check_conditions(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Each `and` fills each match slot once and can hold for some request."""
    out: list[Diagnostic] = []
    for owner, routes in route_lists(policy):
        matches = [m for r in routes for m in r.matches]
        if isinstance(owner, ServiceInfo):
            matches += [m for e in owner.service.exposes for m in e.matches]
        for match in matches:
            out += _conjunction(match)
    return out


def _conjunction(match: ir.Match) -> list[Diagnostic]:
    out = []
    seen: dict[str, ir.Condition] = {}
    for cond in match.conditions:
        if isinstance(cond, (ir.HeaderCondition, ir.QueryCondition, ir.PathCondition)) and cond.match.op != "exact" \
                and not cond.match.value:
            out.append(diagnostic(
                "empty-match", f"Istio rejects an empty {cond.match.op} on {slot(cond)}",
                cond.span, help="give the prefix or regex some text, or drop the condition"))
        key = slot(cond)
        first = seen.get(key)
        if first is None:
            seen[key] = cond
            continue
        if not compatible(first, cond):
            out.append(diagnostic(
                "impossible-match",
                f"no request satisfies both conditions on {key}",
                cond.span,
                labels=[Label(first.span, "conflicts with this")],
                help="did you mean `or`?",
            ))
        else:
            out.append(diagnostic(
                "repeated-condition",
                f"{key} is tested twice in one `and`",
                cond.span,
                labels=[Label(first.span, "first tested here")],
                help="keep the stricter condition, or split the route in two",
            ))
    return out


def check_reachability(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """A route whose every alternative an earlier route already takes is dead."""
    return [d for _, routes in route_lists(policy) for d in unreachable_routes(routes)]


def unreachable_routes(routes: tuple[ir.Route, ...]) -> list[Diagnostic]:
    """The routes of one list (tried in order) that an earlier one shadows."""
    out: list[Diagnostic] = []
    earlier = EarlierMatches()
    for i, route in enumerate(routes):
        blocker = blocker_of(earlier, routes, alternatives(route))
        if blocker is not None:
            everything = blocker.is_catch_all
            out.append(diagnostic(
                "unreachable-route",
                f"route `{route.name.value}` can never match: route `{blocker.name.value}` before it "
                + ("matches every request" if everything else "matches every request it matches"),
                route.name.span,
                labels=[Label(blocker.name.span, "this route wins first")],
                help=f"move route `{route.name.value}` above route `{blocker.name.value}`, or remove it",
            ))
        earlier.add(i, alternatives(route))
    return out


def alternatives(route: ir.Route) -> tuple[ir.Match, ...]:
    """A route's `or`-ed matches; a route without `when` is one empty match."""
    return route.matches or (ir.Match(span=route.span, conditions=()),)


def blocker_of(earlier: EarlierMatches, routes: tuple[ir.Route, ...],
               matches: tuple[ir.Match, ...]) -> Optional[ir.Route]:
    """The earlier route (of `routes`, filed in `earlier`) that takes every
    request one of `matches` matches, if any: the first one for each
    alternative, a catch-all preferred."""
    found = None
    for alt in matches:
        hit = earlier.first_covering(alt)
        if hit is None:
            return None
        if found is None or routes[hit].is_catch_all:
            found = routes[hit]
    return found


def check_default_route(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """A service whose routes all have a `when` answers 404 to the rest."""
    out = []
    for info in Index(policy).all_services():
        routes = info.service.routes
        if routes and not any(r.is_catch_all for r in routes):
            out.append(diagnostic(
                "no-default-route",
                f"service `{info.service.name.value}` has no default route: requests that match no `when` get 404",
                info.service.name.span,
                labels=[Label(routes[-1].name.span, "the last route has a `when`")],
                help="add a last route without `when`, e.g. `route default { to "
                     f"{_default_subset(info)} }}`",
            ))
    return out


def _default_subset(info: ServiceInfo) -> str:
    labelled = [s.name.value for s in info.service.subsets if s.labels]
    return labelled[0] if labelled else f"service {info.service.name.value}"


def check_rewrites(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """`rewrite path` replaces the matched prefix; with no path match, `/`."""
    out = []
    names = clusters(policy)
    for owner, route in _routes(policy):
        if not any(b.rewrite is not None for b in base_options(owner) + own_options(route)):
            continue
        unanchored = any(
            not any(isinstance(c, ir.PathCondition) and c.match.op != "regex" for c in alt.conditions)
            for alt in alternatives(route)
        )
        if not unanchored:
            continue
        rewrites = {owner.options(route, cluster).rewrite for cluster in names} - {None}
        for rewrite in sorted(rewrites, key=lambda r: r.span.start):
            out.append(diagnostic(
                "rewrite-without-path-match",
                f"route `{route.name.value}` rewrites the path but does not match on a path prefix",
                rewrite.span,
                labels=[Label(route.name.span, "this route")],
                help='Istio then replaces only the leading `/` (`/foo` → `/v2foo`); add `when path ^= "..."`',
            ))
    return out


def check_exposes(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Gateway exposure: served hosts, one owner per match, one path per match."""
    index = Index(policy)
    out: list[Diagnostic] = []
    for info in index.all_services():
        for expose in info.service.exposes:
            found = index.gateways.get(expose.gateway.value)
            if found is not None and not serves(found[1], expose.host):
                out.append(diagnostic(
                    "host-not-on-gateway",
                    f"gateway `{expose.gateway.value}` does not serve host `{expose.host}`",
                    expose.span,
                    labels=[Label(found[1].name.span, "gateway declared here")],
                    help=f"add `{expose.host}` to the gateway's `hosts`",
                ))
            out += _exposed_port(info, expose) + _mesh_only_conditions(info, expose)
            for alt in expose.matches:
                if any(isinstance(c, ir.PathCondition) for c in alt.conditions):
                    for route in info.service.routes:
                        if any(isinstance(c, ir.PathCondition) for m in route.matches for c in m.conditions):
                            out.append(diagnostic(
                                "expose-path-conflict",
                                f"the exposure of service `{info.service.name.value}` matches a path, "
                                f"and so does route `{route.name.value}`",
                                expose.span,
                                labels=[Label(route.name.span, "this route matches a path too")],
                                help="move the whole path into the route's `when`, or into the `expose`",
                            ))
    exposes = [e for info in index.all_services() for e in info.service.exposes]
    for expose, first in repeats(exposes, _exposure_key):
        out.append(diagnostic(
            "expose-conflict",
            f"host `{expose.host}` on gateway `{expose.gateway.value}` is exposed twice with the same match",
            expose.span,
            labels=[Label(first.span, "exposed here first")],
            help="give each exposure its own `when path ^= ...`",
        ))
    return out


def _exposed_port(info: ServiceInfo, expose: ir.Expose) -> list[Diagnostic]:
    """The port a gateway sends the service's traffic to: named when the
    service has several, and one it declares."""
    ports = [p.number for p in info.service.ports]
    if expose.port is not None:
        return unknown_port(info, expose.port, expose.span, "")
    if len(ports) > 1:
        return [diagnostic(
            "expose-needs-port",
            f"service `{info.service.name.value}` has several ports; its exposure must say which one",
            expose.span, help=f"add `port {ports[0]}` (or another of {', '.join(map(str, ports))}) to the `expose`")]
    return []


def _mesh_only_conditions(info: ServiceInfo, expose: ir.Expose) -> list[Diagnostic]:
    return [
        diagnostic(
            "mesh-only-condition",
            f"route `{route.name.value}` tests what gateway traffic never has, so on gateway "
            f"`{expose.gateway.value}` it never matches",
            cond.span, labels=[Label(expose.span, "exposed here")],
            help="behind a gateway the port and the source are the gateway's; match on headers or paths",
        )
        for route in info.service.routes for m in route.matches for cond in m.conditions
        if isinstance(cond, MESH_ONLY)
    ]


def _exposure_key(expose: ir.Expose) -> tuple:
    return (expose.gateway.value, expose.host,
            tuple(sorted(repr(m.model_dump(exclude={"span"})) for m in expose.matches)))


def serves(gateway: ir.Gateway, host: str) -> bool:
    for pattern in gateway.hosts:
        if pattern in ("*", host) or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False
