"""The interpreter on generated policies (tests/strategies_policy.py, which
writes .mesh from docs/language.md) and the request grid of each.

Budget: MESHC_INTERPRET_EXAMPLES policies per property (default 15), e.g.
`MESHC_INTERPRET_EXAMPLES=2000 pytest tests/semantics -k properties` for a
long run.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_policy import BlueGreen, Canary, Forward, Policy, effective_timeout, fleet_policies, policies

from meshc.language import ir
from meshc.language.source import SourceFile
from meshc.pipeline import compile_sources
from meshc.semantics.grid import requests_for
from meshc.semantics.interpret import Interpreter

SETTINGS = settings(max_examples=int(os.environ.get("MESHC_INTERPRET_EXAMPLES", "15")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def compiled(p: Policy) -> ir.MeshPolicy:
    result = compile_sources([SourceFile(name, text) for name, text in sorted(p.files().items())])
    errors = [f"{d.span}: {d.code} {d.message}" for d in result.diagnostics if d.is_error]
    assert result.ok, f"a generated policy does not compile: {errors}"
    return result.policy


def ms(duration: str) -> int:
    number, unit = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", duration).groups()
    return int(Fraction(number) * _UNITS[unit])


@SETTINGS
@given(st.one_of(policies(), fleet_policies()))
def test_decisions_are_well_formed_and_deterministic(p):
    policy = compiled(p)
    for cluster in p.cluster_names:
        interpreter, fresh = Interpreter(policy, cluster), Interpreter(policy, cluster)
        grid = requests_for(policy, cluster)
        assert grid == requests_for(policy, cluster)
        for request in grid:
            d = interpreter.evaluate(request)
            assert d == fresh.evaluate(request) == interpreter.evaluate(request)
            assert interpreter.explain(request).decision == d
            if d.kind in ("route", "default"):
                assert d.destinations and sum(s.share for s in d.destinations) == 1
                assert all(0 < s.share <= 1 for s in d.destinations + d.mirrors)
                targets = {s.target for s in d.destinations + d.mirrors}
                assert [t for t, _ in d.policies] == sorted(targets, key=lambda t: t.key)
            else:
                assert not d.destinations and d.status in (None, 301, 404)


@SETTINGS
@given(policies())
def test_mesh_routes_follow_the_documented_model(p):
    """Every route the generator wrote is reached by the grid in the mesh
    (the generator never shadows one), with the split and the timeout the
    model says."""
    policy = compiled(p)
    services = {s.host: s for s in p.services()}
    for cluster in p.cluster_names:
        interpreter = Interpreter(policy, cluster)
        reached = set()
        for request in requests_for(policy, cluster):
            d = interpreter.evaluate(request)
            svc = services.get(request.host)
            if request.gateway is not None or svc is None or d.kind != "route" or not svc.routes:
                continue
            route = next(r for r in svc.routes if d.entry in r.entry_names)
            reached.add((svc.host, d.entry))
            timeout = effective_timeout(svc, route, cluster)
            assert d.timeout_ms == (ms(timeout) if timeout else None)
            actual: dict = {}
            for s in d.destinations:  # two ports of one service count as one (host, subset)
                actual[s.target.host, s.target.subset] = actual.get((s.target.host, s.target.subset), 0) + s.share * 100
            assert expected_split(route, d.entry, svc.host, cluster) == actual
        written = {(s.host, name) for s in p.services() for r in s.routes for name in r.entry_names
                   if sendable(policy, s.namespace, s.name, r.name)}
        assert written <= reached


def expected_split(route, entry: str, own_host: str, cluster: str) -> dict:
    action = route.action
    if action is None:
        return {(own_host, None): 100}
    if isinstance(action, BlueGreen):
        return {(own_host, action.preview if entry.endswith("-preview") else action.active): 100}
    if isinstance(action, Canary):
        live = action.share_in(cluster)
        return {k: v for k, v in {(own_host, action.baseline): 100 - live, (own_host, action.candidate): live}.items()
                if v}
    assert isinstance(action, Forward)
    out: dict = {}
    for d, w in zip(action.destinations, action.weights()):
        if w:
            out[d.host, d.subset] = out.get((d.host, d.subset), 0) + w
    return out


_PLAIN = re.compile(r"[A-Za-z0-9._:/-]*")


def sendable(policy: ir.MeshPolicy, namespace: str, service: str, route: str) -> bool:
    """Whether some alternative of the route can be met by a real request:
    its header and query values are plain text and its path regex accepts
    a path (the generator also writes `path ~ "[^/]+"`)."""
    ns = next(n for n in policy.namespaces if n.name.value == namespace)
    r = next(r for s in ns.services if s.name.value == service for r in s.routes if r.name.value == route)
    if not r.matches:
        return True
    return any(all(plain(c) for c in m.conditions) for m in r.matches)


def plain(c) -> bool:
    if isinstance(c, (ir.HeaderCondition, ir.QueryCondition)) and c.match.op != "regex":
        return bool(_PLAIN.fullmatch(c.match.value))
    if isinstance(c, ir.PathCondition) and c.match.op == "regex":
        return c.match.value != "[^/]+"
    return True
