"""Route coverage: which routes, exposures and canary steps some case of a
test reached (as Envoy's router check tool reports route coverage).

- a route is reached when an entry it rendered took a request;
- an exposure, when a request at its gateway for a host it serves was taken
  by an entry of its service (a route's, or its 404 or default entry);
- a step of a canary, when its route took a request with the canary at
  that step in the caller's cluster (its wave's live step unless the test
  set it).

What is reached in one cluster counts for the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from meshc.language import ir
from meshc.language.source import Span
from meshc.model.requests import best_host
from meshc.model.resolve import Index, owner_name
from meshc.model.topology import Topology
from meshc.model.waves import live_step
from meshc.traffic.readings import Origin

# ("route", NS, SERVICE, ROUTE) | ("route", GATEWAY, HOST, ROUTE) of a `host` block
# | ("expose", NS, SERVICE, i) | ("step", NS, SERVICE, ROUTE, STEP)
Item = tuple


@dataclass(frozen=True)
class Entry:
    item: Item
    kind: str  # route, exposure, canary step
    what: str
    span: Span


@dataclass
class Coverage:
    items: dict[Item, Entry]
    reached: set[Item] = field(default_factory=set)

    @property
    def percent(self) -> float:
        return 100.0 if not self.items else 100.0 * len(self.reached & self.items.keys()) / len(self.items)

    def missed(self) -> list[Entry]:
        return [e for key, e in self.items.items() if key not in self.reached]

    def counts(self) -> dict[str, tuple[int, int]]:
        """kind → (reached, total)."""
        out: dict[str, list[int]] = {}
        for key, e in self.items.items():
            c = out.setdefault(e.kind, [0, 0])
            c[0] += key in self.reached
            c[1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}


def measured(policy: ir.MeshPolicy) -> Coverage:
    items: dict[Item, Entry] = {}
    index = Index(policy)
    for block in index.gateway_hosts():
        for route in block.block.routes:
            key = ("route",) + block.key + (route.name.value,)
            items[key] = Entry(key, "route", f"route {route.name.value} of {owner_name(block)}", route.name.span)
    for info in index.services.values():
        ns, svc = info.key
        for route in info.service.routes:
            items[("route", ns, svc, route.name.value)] = Entry(
                ("route", ns, svc, route.name.value), "route", f"route {route.name.value} of {ns}/{svc}",
                route.name.span)
            if isinstance(route.action, ir.Canary):
                for step in range(len(route.action.steps) + 1):
                    key = ("step", ns, svc, route.name.value, step)
                    items[key] = Entry(key, "canary step",
                                       f"step {step} of the canary of route {route.name.value} of {ns}/{svc}",
                                       route.action.span)
        for i, expose in enumerate(info.service.exposes):
            key = ("expose", ns, svc, i)
            items[key] = Entry(key, "exposure", f"{ns}/{svc} via {expose.gateway.value} host {expose.host}",
                               expose.span)
    return Coverage(items)


def reach(coverage: Coverage, origin: Optional[Origin], topology: Topology, cluster: str, gateway: Optional[str],
          host: str) -> None:
    """Record what one decision reached in `cluster` (`gateway` the
    gateway's name, for a request that arrived at one); `origin` comes from
    the policy at the case's steps."""
    if origin is None:
        return
    route = origin.route
    if route is not None:
        coverage.reached.add(("route",) + origin.info.key + (route.name.value,))
    if origin.service is None:
        return  # a gateway's `host` block: no canary, no exposure
    ns, svc = origin.info.key
    if route is not None and isinstance(route.action, ir.Canary):
        step = live_step(route.action, topology, cluster)
        coverage.reached.add(("step", ns, svc, route.name.value, step))
    if gateway is None:
        return
    exposes = origin.info.service.exposes
    chosen = best_host((e.host for e in exposes if e.gateway.value == gateway), host)
    for i, e in enumerate(exposes):
        if e.gateway.value == gateway and e.host == chosen and (origin.expose is None or origin.expose is e):
            coverage.reached.add(("expose", ns, svc, i))
