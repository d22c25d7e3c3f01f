"""A test as the cases it runs: each request, from each caller cluster
(the one its `from cluster` names, else every cluster of the fleet), at
each choice of canary steps (docs/testing.md):

- no `at`: the live steps, as the policy says;
- `at N...`: every canary of the services the request reaches at step N,
  one case per N;
- `every step`: each such canary at each of its steps 0 (baseline) to the
  last, one at a time, the others at their live step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from meshc.language import ir
from meshc.model.requests import addressed, canaries, services
from meshc.model.resolve import Index, RouteOwner, ServiceInfo
from meshc.traffic.asking import Ask
from meshc.traffic.readings import Steps, canary_key


@dataclass(frozen=True)
class Case:
    test: ir.PolicyTest
    request: ir.PolicyRequest
    ask: Ask
    home: Optional[ServiceInfo]  # the one service the request is addressed to
    cluster: str  # the caller's
    steps: Steps

    @property
    def where(self) -> str:
        """`the canary of shop/cart route primary at step 2`, or `at the live steps`."""
        if not self.steps:
            return "at the live steps"
        return ", ".join(f"the canary of {ns}/{svc} route {route} at step {step}"
                         for (ns, svc, route), step in self.steps)


def cases(index: Index, clusters: list[str], test: ir.PolicyTest) -> Iterator[Case]:
    for request in test.requests:
        ask = Ask.of(request)
        reached = addressed(index, ask.service, ask.host, ask.gateway)
        found = services(reached)
        home = found[0] if len(found) == 1 else None
        callers = [request.source_cluster.value] if request.source_cluster is not None else clusters
        for steps in _steps(test, reached):
            for cluster in callers:
                yield Case(test, request, ask, home, cluster, steps)


def _steps(test: ir.PolicyTest, reached: list[RouteOwner]) -> list[Steps]:
    found = canaries(reached)
    if test.every_step:
        return [((canary_key(info, route), step),)
                for info, route in found for step in range(len(route.action.steps) + 1)] or [()]
    if test.steps:
        return [tuple((canary_key(info, route), step) for info, route in found) for step in test.steps]
    return [()]
