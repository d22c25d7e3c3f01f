"""A test as the cases it runs: each request, from each caller cluster
(the one its `from cluster` names, else every cluster of the fleet), at
each choice of canary steps (docs/testing.md):

- no `at`: the live steps, as the policy says;
- `at N...`: every canary of the services the request reaches at step N,
  one case per N;
- `every step`: each such canary at each of its steps 0 (baseline) to the
  last, one at a time, the others at their live step.

The services a request reaches are those whose entries take it
(traffic/asking.py `reached_canaries`): at a gateway host with several
exposures, which one takes the request is known only once it is
evaluated, so `meshc check` leaves such requests' steps to the run, and a
case says here when its steps name no step of what it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from meshc.language import ir
from meshc.model.requests import addressed, services
from meshc.model.resolve import ServiceInfo
from meshc.traffic.asking import Ask, reached_canaries
from meshc.traffic.readings import Readings, Steps, canary_key


@dataclass(frozen=True)
class Case:
    test: ir.PolicyTest
    request: ir.PolicyRequest
    ask: Ask
    home: Optional[ServiceInfo]  # the one service the request is addressed to
    cluster: str  # the caller's
    steps: Steps
    problem: Optional[str] = None  # why the test's steps do not apply to what the request reaches

    @property
    def where(self) -> str:
        """`the canary of shop/cart route primary at step 2`, or `at the live steps`."""
        if not self.steps:
            return "at the live steps"
        return ", ".join(f"the canary of {ns}/{svc} route {route} at step {step}"
                         for (ns, svc, route), step in self.steps)


def cases(readings: Readings, test: ir.PolicyTest) -> Iterator[Case]:
    index = readings.index
    for request in test.requests:
        ask = Ask.of(request)
        found = services(addressed(index, ask.service, ask.host, ask.gateway))
        home = found[0] if len(found) == 1 else None
        callers = [request.source_cluster.value] if request.source_cluster is not None else readings.clusters
        choices, problem = _steps(test, readings, ask, callers)
        for steps in choices:
            for cluster in callers:
                yield Case(test, request, ask, home, cluster, steps, problem)


def _steps(test: ir.PolicyTest, readings: Readings, ask: Ask, callers: list[str]) -> tuple[list[Steps], Optional[str]]:
    """The choices of steps of a request's cases, and a problem that stops
    them (then one case per caller at the live steps, which fails)."""
    if not test.steps and not test.every_step:
        return [()], None
    found = reached_canaries(readings, ask, callers)
    if not found:
        return [()], "the request reaches no service with a canary"
    if test.every_step:
        return [((canary_key(info, route), step),)
                for info, route in found for step in range(len(route.action.steps) + 1)], None
    for step in test.steps:
        for info, route in found:
            if step > len(route.action.steps):
                return [()], (f"the canary of {info.namespace.name.value}/{info.service.name.value} route "
                              f"{route.name.value}, which the request reaches, has only {_steps_said(route)}")
    return [tuple((canary_key(info, route), step) for info, route in found) for step in test.steps], None


def _steps_said(route: ir.Route) -> str:
    n = len(route.action.steps)
    return f"{n} step" + ("s" if n != 1 else "")
