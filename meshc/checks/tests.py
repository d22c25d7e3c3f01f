"""Policy tests (`test` blocks, docs/testing.md): everything a test names
exists, its steps are steps of a canary it reaches, and it can fail."""

from __future__ import annotations

from typing import Optional

from meshc.checks.names import duplicates, target_diagnostics, unknown_cluster, unknown_port, unknown_subset
from meshc.checks.routing import forward_weights
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.requests import addressed, canaries, named_services, of_request, routes, services
from meshc.model.resolve import Index, RouteOwner, ServiceInfo, owner_name
from meshc.suggest import did_you_mean


def check_tests(policy: ir.MeshPolicy) -> list[Diagnostic]:
    index = Index(policy)
    out = duplicates(policy.tests, lambda t: t.name.value, lambda t: t.name.span, "test", "the policy")
    for test in policy.tests:
        out += _test(index, test)
    return out


def _test(index: Index, test: ir.PolicyTest) -> list[Diagnostic]:
    where = f"test `{test.name.value}`"
    out: list[Diagnostic] = []
    if not test.requests or not test.expectations:
        missing = "no `request`" if not test.requests else "no `expect`"
        out.append(diagnostic(
            "empty-test", f"{where} has {missing}", test.name.span,
            help="a test needs a request and something to expect of it, e.g. `request service NAME in NS` "
                 "and `expect to SUBSET`"))
    reached: dict[tuple[str, str], RouteOwner] = {}
    certain: dict[tuple[str, str], RouteOwner] = {}
    for request in test.requests:
        out += _request(index, request)
        found = addressed(index, **of_request(request))
        for owner in found:
            reached.setdefault(owner.key, owner)
            if len(found) == 1:
                certain.setdefault(owner.key, owner)
    owners = list(reached.values())
    out += _steps(test, owners, list(certain.values()))
    for name in test.down:
        out += _cluster(index, name.value, name.span, "`down`:")
    if test.down and not any(e.kind == "served" for e in test.expectations):
        out.append(diagnostic(
            "down-without-served-by", f"{where} takes clusters down but expects nothing of who serves",
            test.down[0].span, help="add `expect served by CLUSTER...`, or remove `down`"))
    found = services(owners)
    home = found[0] if len(found) == 1 else None
    for e in test.expectations:
        out += _expectation(index, e, home, owners, where)
    return out


def _cluster(index: Index, value: str, span: ir.Span, what: str) -> list[Diagnostic]:
    """A cluster a test names: one of the fleet, or `default` without one."""
    return [] if value in index.topology.names else unknown_cluster(index, value, span, what)


def _request(index: Index, request: ir.PolicyRequest) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if request.service is not None:
        found = named_services(index, request.namespace.value if request.namespace else None,
                               request.service.value)
        name = request.service.value
        if not found:
            scope = f"namespace `{request.namespace.value}`" if request.namespace else "any namespace"
            known = [k[1] for k in index.services if request.namespace is None or k[0] == request.namespace.value]
            out.append(diagnostic("unknown-service", f"service `{name}` is not declared in {scope}",
                                  request.service.span, help=did_you_mean(name, known)))
        elif len(found) > 1:
            out.append(diagnostic(
                "ambiguous-service", f"service `{name}` is declared in {len(found)} namespaces",
                request.service.span, labels=[Label(i.service.name.span, f"in `{i.namespace.name.value}`")
                                              for i in found],
                help="say which: " + " or ".join(f"`service {name} in {i.namespace.name.value}`" for i in found)))
        elif request.port is not None:
            out += unknown_port(found[0], request.port, request.span, "")
    elif request.host in index.by_host and request.gateway is None and request.port is not None:
        out += unknown_port(index.by_host[request.host], request.port, request.span, "")
    if request.gateway is not None and request.gateway.value not in index.gateways:
        out.append(diagnostic("unknown-gateway", f"gateway `{request.gateway.value}` is not declared",
                              request.gateway.span, help=did_you_mean(request.gateway.value, index.gateways)))
    if request.source_cluster is not None:
        out += _cluster(index, request.source_cluster.value, request.source_cluster.span, "`from cluster`:")
    for label in request.source_labels:
        if label.key == ir.CLUSTER_LABEL:
            out.append(diagnostic(
                "cluster-label-in-request", f"istiod sets `{ir.CLUSTER_LABEL}` to the caller's own cluster: "
                f"`{label.value}` is not sent", label.span,
                help=f"say where the caller runs with `from cluster {label.value}`, and remove the label"))
    return out


def _steps(test: ir.PolicyTest, owners: list[RouteOwner], certain: list[RouteOwner]) -> list[Diagnostic]:
    """`at` and `every step` against the canaries the requests may reach
    (`owners`), and the steps against those they certainly reach (`certain`:
    the one owner a request is addressed to). Which of several exposures
    of a gateway host takes a request is known once it is evaluated:
    `meshc test` checks those steps (policytest/cases.py)."""
    if not test.steps and not test.every_step:
        return []
    span = test.steps_span or test.span
    if not canaries(owners):
        return [diagnostic("no-canary-to-step", f"no service test `{test.name.value}` reaches has a canary",
                           span, help="remove the steps: the test runs at the live state as written")]
    out = []
    for info, route in canaries(certain):
        canary = route.action
        for step in test.steps:
            if step > len(canary.steps):
                out.append(diagnostic(
                    "canary-at-out-of-range",
                    f"`at {step}` names no step of the canary of route `{route.name.value}` "
                    f"(service `{info.service.name.value}`): it has {len(canary.steps)} steps",
                    span, labels=[Label(canary.span, "this canary")],
                    help=f"use steps 0 (baseline) to {len(canary.steps)}, or `every step`"))
    return out


def _expectation(index: Index, e, home: Optional[ServiceInfo], owners: list[RouteOwner],
                 where: str) -> list[Diagnostic]:
    if e.kind == "to":
        out = forward_weights(f"`expect to` of {where}", e)
        for d in e.destinations:
            out += _target(index, d.target, home)
        return out
    if e.kind == "mirror":
        return _target(index, e.mirror.target, home)
    if e.kind == "served":
        return [d for name in e.clusters for d in _cluster(index, name.value, name.span, "`served by`:")]
    if e.kind == "route":
        names = [r.name.value for owner in owners for r in routes(owner)]
        if e.route.value in names:
            return []
        reach = " and ".join(f"`{owner_name(o)}`" for o in owners) or "nothing the policy routes"
        return [diagnostic("unknown-route", f"the requests of {where} reach {reach}, with no route "
                           f"`{e.route.value}`", e.route.span,
                           help=did_you_mean(e.route.value, names) or
                           ("routes: " + ", ".join(names) if names else "expect what the default route does instead"))]
    return []


def _target(index: Index, target: ir.Target, home: Optional[ServiceInfo]) -> list[Diagnostic]:
    if home is not None:
        return target_diagnostics(index, home, target, set())
    if isinstance(target, ir.SubsetTarget) or target.namespace is None:
        what = f"subset `{target.subset.value}`" if isinstance(target, ir.SubsetTarget) \
            else f"`service {target.service.value}` without `in NAMESPACE`"
        return [diagnostic(
            "subset-needs-service", f"{what} belongs to no one service: the requests may reach several, or none "
            "that the policy declares", target.span,
            help="name the service: `service NAME in NAMESPACE [subset SUBSET]`")]
    other = index.services.get((target.namespace.value, target.service.value))
    if other is None:
        return [diagnostic("unknown-service", f"service `{target.service.value}` is not declared in namespace "
                           f"`{target.namespace.value}`", target.service.span)]
    d = unknown_subset(other, target.subset, "destination") if target.subset is not None else None
    return [d] if d else []
