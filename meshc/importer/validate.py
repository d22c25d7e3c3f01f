"""References the language checks, checked before writing.

The language refuses a subset no service declares, a cluster not in the
fleet, a port a service does not have; Istio accepts them and then answers
503, or never matches. What would be refused is left out and reported
here, at the YAML it came from: a subset selecting a cluster outside the
fleet, a route to a subset or port that does not exist (and everything
that then stops making sense: a route whose every alternative is gone).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from meshc.importer.ledger import Ledger
from meshc.importer.merge import Merged, Plan
from meshc.importer.model import BlueGreen, Cond, Forward, Origin, Route, Target, Waves
from meshc.language.ir import CLUSTER_LABEL

FLEET_HELP = "give the fleet with --fleet, or each cluster with --cluster NAME=PATH"


class Validator:
    def __init__(self, merged: Merged, fleet: set[str], ledger: Ledger):
        self.merged = merged
        self.fleet = fleet
        self.ledger = ledger

    def run(self) -> None:
        for plan in self.merged.services.values():
            self._subsets(plan)
            self._policy(plan)
        for plan in [*self.merged.services.values(), *self.merged.blocks.values()]:
            plan.routes = tuple(r for r in (self._route(plan, r) for r in plan.routes) if r is not None)
            for name in [n for n in plan.route_overrides if n not in {r.name for r in plan.routes}]:
                del plan.route_overrides[name]

    def _lose(self, origin: Optional[Origin], message: str, help: Optional[str] = None, *path) -> None:
        if origin is not None:
            self.ledger.lose("unsupported-value", origin.resource, origin.path + path, message, help, value=True,
                             merged=True)

    def _subsets(self, plan: Plan) -> None:
        kept = []
        for sub in plan.service.subsets:
            outside = [v for k, v in sub.labels if k == CLUSTER_LABEL and v not in self.fleet]
            if outside:
                self._lose(sub.origin, f"selects cluster `{outside[0]}`, which is not in the fleet; the subset is "
                                       "left out", FLEET_HELP)
                continue
            kept.append(sub)
        if len(kept) != len(plan.service.subsets):
            plan.service = replace(plan.service, subsets=tuple(kept))

    def _policy(self, plan: Plan) -> None:
        pins = dict(plan.service.policy).get("failover-priority", ())
        outside = [v for k, v in pins if k == "cluster" and v is not None and v not in self.fleet]
        if outside:
            origin = next((Origin(r) for r in plan.service.sources if r.kind == "DestinationRule"), None)
            self._lose(origin, f"`failover priority` pins cluster `{outside[0]}`, which is not in the fleet; it is "
                               "left out", FLEET_HELP, "spec", "trafficPolicy")
            plan.service = replace(plan.service, policy=tuple(
                (k, v) for k, v in plan.service.policy if k != "failover-priority"))

    def _route(self, plan, route: Route) -> Optional[Route]:
        """A service's route (or a gateway `host` block's), with what it
        names checked."""
        svc = getattr(plan, "service", None)
        matches = []
        for i, match in enumerate(route.matches):
            problem = next((p for p in (self._condition(svc, c) for c in match) if p), None)
            if problem:
                self._lose(route.origin, f"{problem}; the alternative is left out", None, "match", i)
                continue
            matches.append(match)
        if route.matches and not matches:
            self._lose(route.origin, "has no alternative left; the route is left out")
            return None
        for target in _targets(route, (svc.namespace, svc.name) if svc is not None else None):
            problem = self._target(target)
            if problem:
                self._lose(route.origin, f"{problem}: Istio answers 503; the route is left out")
                return None
        return route if len(matches) == len(route.matches) else replace(route, matches=tuple(matches))

    def _condition(self, svc, c: Cond) -> Optional[str]:
        if c.kind == "source-label" and c.name == CLUSTER_LABEL and c.value not in self.fleet:
            return f"it matches callers in cluster `{c.value}`, which is not in the fleet"
        if c.kind == "port" and svc is not None and int(c.value) not in svc.ports:
            return f"port {c.value} is not a port of service {svc.namespace}/{svc.name}"
        if c.kind == "port" and svc is not None and not svc.ports[int(c.value)].known and \
                any(p.known for p in svc.ports.values()):
            return f"port {c.value} is not a port of the Service {svc.namespace}/{svc.name}"
        return None

    def _target(self, t: Target) -> Optional[str]:
        other = self.merged.services.get((t.namespace, t.service))
        if other is None:
            return f"service {t.namespace}/{t.service} is unknown"
        if t.subset is not None and t.subset not in {s.name for s in other.service.subsets}:
            return f"no DestinationRule of {t.namespace}/{t.service} defines subset `{t.subset}`"
        ports = other.service.ports
        if t.port is not None and not ports[t.port].known and any(p.known for p in ports.values()):
            return f"port {t.port} is not a port of the Service {t.namespace}/{t.service}"
        return None


def _targets(route: Route, own: Optional[tuple[str, str]]) -> list[Target]:
    action = route.action
    out = [m.target for m in route.mirrors]
    if isinstance(action, Forward):
        out += [d.target for d in action.dests]
    elif isinstance(action, BlueGreen):
        out += [Target(own[0], own[1], action.active), Target(own[0], own[1], action.preview)]
    elif isinstance(action, Waves):
        out += [Target(own[0], own[1], action.baseline), Target(own[0], own[1], action.candidate)]
    return out
