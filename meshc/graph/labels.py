"""The words on each box of the picture, shared by every drawing format;
each writer escapes them and breaks lines its own way."""

from __future__ import annotations

from meshc.graph.model import Entrance, Route, ServiceGraph, Target


def service(g: ServiceGraph) -> list[str]:
    lines = [g.host]
    if g.ports:
        lines.append("port " + ", ".join(g.ports))
    if g.placement:
        lines.append("runs in " + ", ".join(g.placement))
    if g.local:
        lines.append("local")
    if g.failover:
        lines.append("failover " + ", ".join(g.failover))
    return lines


def route(r: Route) -> list[str]:
    if r.implicit:
        lines = ["no routes: every request"]
    else:
        lines = [f"{r.index}. {r.name}"]
        if r.when:
            lines += [("when " if i == 0 else "or ") + alt for i, alt in enumerate(r.when)]
        else:
            lines.append("every request")
    if r.note:
        lines.append(r.note)
    if r.options:
        lines.append(r.options)
    return lines


def target(t: Target) -> list[str]:
    return [t.label] + ([t.detail] if t.detail else [])


def entrance(e: Entrance) -> list[str]:
    return [e.host, f"gateway {e.gateway}"] + ([e.route] if e.route else [])


def entrance_condition(e: Entrance) -> str:
    return " or ".join(e.when)
