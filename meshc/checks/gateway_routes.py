"""Routes that exist only at a gateway (a gateway's `host` blocks), and
CORS, which only traffic through a gateway can use."""

from __future__ import annotations

from collections import defaultdict

from meshc.checks.routing import alternatives, base_options, blocker_of, own_options, serves
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.conditions import MESH_ONLY, EarlierMatches
from meshc.model.resolve import GatewayHostInfo, Index, ServiceInfo


def check_gateway_hosts(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """A `host` block names a host its gateway serves, has routes, and its
    routes name services and test what a gateway's requests carry."""
    out: list[Diagnostic] = []
    for block in Index(policy).gateway_hosts():
        gw, host = block.gateway, block.block
        if not serves(gw, host.host):
            out.append(diagnostic(
                "host-not-on-gateway",
                f"gateway `{gw.name.value}` does not serve host `{host.host}`",
                host.span,
                labels=[Label(gw.name.span, "gateway declared here")],
                help=f"add `{host.host}` to the gateway's `hosts`",
            ))
        if not host.routes:
            out.append(diagnostic(
                "host-without-routes",
                f"the `host {host.host}` block of gateway `{gw.name.value}` has no routes, so it does nothing",
                host.span,
                help="add a `route`; options of a `host` block apply to its routes only, not to the "
                     "exposures of the host",
            ))
        for route in host.routes:
            out += _service_targets(block, route) + _mesh_conditions(block, route)
    return out


def _where(block: GatewayHostInfo, route: ir.Route) -> str:
    return f"route `{route.name.value}` of host `{block.block.host}` on gateway `{block.gateway.name.value}`"


def _service_targets(block: GatewayHostInfo, route: ir.Route) -> list[Diagnostic]:
    """A gateway route belongs to no service: it names each one it goes to."""
    action = route.action
    if action is None:
        return [diagnostic(
            "gateway-route-needs-service",
            f"{_where(block, route)} says nowhere to go: a gateway route has no service of its own",
            route.name.span, help="add `to service NAME [in NAMESPACE]`",
        )]
    if isinstance(action, (ir.Canary, ir.BlueGreen)):
        kind = "canary" if isinstance(action, ir.Canary) else "blue-green"
        old, new = (action.baseline, action.candidate) if isinstance(action, ir.Canary) \
            else (action.active, action.preview)
        return [diagnostic(
            "gateway-route-needs-service",
            f"{_where(block, route)} uses `{kind}`, which moves one service's traffic between its subsets, "
            "and a gateway route has no service of its own",
            action.span,
            help=f"split by weight: `to service NAME subset {old.value} 90%, service NAME subset {new.value} 10%`",
        )]
    targets = [d.target for d in action.destinations] + [m.target for m in route.mirrors]
    return [
        diagnostic(
            "gateway-route-needs-service",
            f"{_where(block, route)} goes to `{t.subset.value}`, but a gateway route has no service "
            "for it to be a subset of",
            t.span, help=f"name the service: `service NAME subset {t.subset.value}`",
        )
        for t in targets if isinstance(t, ir.SubsetTarget)
    ]


_WHAT = {ir.PortCondition: "the port", ir.SourceLabelCondition: "the source's labels",
         ir.SourceNamespaceCondition: "the source namespace"}


def _mesh_conditions(block: GatewayHostInfo, route: ir.Route) -> list[Diagnostic]:
    """`from cluster` (Istio's cluster label) stays: every proxy carries
    the label of its cluster, so at a gateway it says whose gateway routes."""
    return [
        diagnostic(
            "mesh-condition-at-gateway",
            f"{_where(block, route)} tests {_WHAT[type(cond)]}, which for every request a gateway routes "
            "is the gateway's own",
            cond.span,
            help="match on what the request carries: headers, cookies, the path, the method, query parameters",
        )
        for m in route.matches for cond in m.conditions
        if isinstance(cond, MESH_ONLY)
        and not (isinstance(cond, ir.SourceLabelCondition) and cond.label.key == ir.CLUSTER_LABEL)
    ]


def check_shadowed_exposures(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """The routes of a gateway's `host` block come before the exposures of
    the host; an exposure each of whose alternatives one of them takes is dead."""
    index = Index(policy)
    blocks: dict[tuple[str, str], list[GatewayHostInfo]] = defaultdict(list)
    for block in index.gateway_hosts():
        blocks[block.key].append(block)
    out = []
    for info in index.all_services():
        for expose in info.service.exposes:
            for block in blocks.get((expose.gateway.value, expose.host), ()):
                routes = block.block.routes
                earlier = EarlierMatches()
                for i, route in enumerate(routes):
                    earlier.add(i, alternatives(route))
                blocker = blocker_of(earlier, routes, expose.matches or (ir.Match(span=expose.span, conditions=()),))
                if blocker is None:
                    continue
                out.append(diagnostic(
                    "unreachable-route",
                    f"the exposure of service `{info.service.name.value}` on host `{expose.host}` can never "
                    f"match: route `{blocker.name.value}` of the gateway's `host` block is tried first and "
                    "matches every request it matches",
                    expose.span,
                    labels=[Label(blocker.name.span, "this gateway route wins first")],
                    help=f"give route `{blocker.name.value}` a narrower `when`, or remove the exposure",
                ))
    return out


def check_cors_reach(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """CORS on a service no gateway exposes never answers a browser."""
    out = []
    for info in Index(policy).all_services():
        if info.service.exposes:
            continue
        blocks = base_options(info) + [o for r in info.service.routes for o in own_options(r)]
        out += [_unreachable_cors(info, b.cors) for b in blocks if b.cors is not None]
    return out


def _unreachable_cors(info: ServiceInfo, cors: ir.Cors) -> Diagnostic:
    return diagnostic(
        "cors-without-gateway",
        f"service `{info.service.name.value}` sets CORS, but no gateway exposes it: its VirtualService "
        "applies to mesh callers, never to a browser",
        cors.span,
        help="set `cors` where browsers come in: in a gateway's `host` block (or one of its routes), "
             "or expose the service",
    )
