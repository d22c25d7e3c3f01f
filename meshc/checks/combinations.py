"""Matches meshc builds by combining two `when`s: an exposure's with each
route of the exposed service, and a blue-green route's with its preview
header. The combination must hold exactly when both do (model/conditions.py
`conjoin`); these checks report what then cannot be rendered or never
matches."""

from __future__ import annotations

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.conditions import Impossible, Inexpressible, conjoin, slot
from meshc.model.resolve import PREVIEW_HEADER, Index, preview_match


def check_combined_matches(policy: ir.MeshPolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for info in Index(policy).all_services():
        svc = info.service
        for expose in svc.exposes:
            for route in svc.routes:
                out += _exposed_route(expose, route)
        for route in svc.routes:
            if isinstance(route.action, ir.BlueGreen):
                out += _preview(route, route.action)
    return out


def _exposed_route(expose: ir.Expose, route: ir.Route) -> list[Diagnostic]:
    if not expose.matches or not route.matches or (_tests_path(expose.matches) and _tests_path(route.matches)):
        return []  # a path on both sides is MESH313's
    results = [conjoin(e, r) for e in expose.matches for r in route.matches]
    where = f"host `{expose.host}` of gateway `{expose.gateway.value}`"
    out = [
        diagnostic(
            "combination-not-expressible",
            f"route `{route.name.value}` and its exposure on {where} both test {slot(r.second)}, "
            "and one Istio match cannot test both",
            r.second.span, labels=[Label(r.first.span, "the exposure tests it too")],
            help="test it in one of them only: in the `expose` when every route needs it, else in the routes",
        )
        for r in results if isinstance(r, Inexpressible)
    ]
    if all(isinstance(r, Impossible) for r in results):
        first = results[0]
        out.append(diagnostic(
            "combination-never-matches",
            f"route `{route.name.value}` never matches on {where}: its `when` contradicts the exposure's "
            f"on {slot(first.second)}",
            route.name.span, labels=[Label(first.first.span, "the exposure requires this")],
            help="the route still serves mesh traffic; if it should serve the gateway too, "
                 "make the two conditions compatible",
        ))
    return out


def _preview(route: ir.Route, action: ir.BlueGreen) -> list[Diagnostic]:
    preview = preview_match(action)
    out = []
    for alt in route.matches:
        result = conjoin(alt, preview)
        if isinstance(result, Impossible):
            out.append(diagnostic(
                "combination-never-matches",
                f"the preview of route `{route.name.value}` is never reached through this alternative: "
                f"the preview needs header `{PREVIEW_HEADER}: true`",
                result.first.span, labels=[Label(action.span, "blue-green here")],
                help=f"drop the `{PREVIEW_HEADER}` condition: the preview adds it, the active subset takes the rest",
            ))
        elif isinstance(result, Inexpressible):
            out.append(diagnostic(
                "combination-not-expressible",
                f"route `{route.name.value}` tests header `{PREVIEW_HEADER}`, which its blue-green preview "
                "tests too, and one Istio match cannot test both",
                result.first.span, labels=[Label(action.span, "blue-green here")],
                help=f"drop the `{PREVIEW_HEADER}` condition: the preview adds it",
            ))
    return out


def _tests_path(matches: tuple[ir.Match, ...]) -> bool:
    return any(isinstance(c, ir.PathCondition) for m in matches for c in m.conditions)
