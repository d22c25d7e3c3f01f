"""The renderings issue 7 found routing differently from the policy, each
stated as requests and where the rendered Istio sends them (evaluated over
the emitted documents, not read off the YAML)."""

from __future__ import annotations

import pytest

from meshc.backends.istio import render
from meshc.language.source import SourceFile
from meshc.pipeline import compile_sources
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.registry import registry
from meshc.semantics.request import Request

GATEWAY = """namespace istio-system {
  gateway gw {
    hosts h.example.com
    https credential cert
  }
}
"""
HOST = "s.ns.svc.cluster.local"


def evaluator(text: str) -> Evaluator:
    compiled = compile_sources([SourceFile("p.mesh", text)])
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    rendering = render(compiled.policy)
    return Evaluator([d.body for d in rendering.clusters["default"]], registry(compiled.policy, "default"))


def service(body: str, ports: str = "port 80 http") -> str:
    return GATEWAY + f"namespace ns {{\n  service s {{\n    {ports}\n    subsets by version v1 v2\n{body}\n  }}\n}}\n"


def edge(**kw) -> Request:
    return Request.make("h.example.com", 443, gateway="istio-system/gw", source_namespace="istio-system", **kw)


def subsets(decision) -> set:
    return {s.target.subset for s in decision.destinations}


@pytest.mark.parametrize("exposure, route, passes, refused", [
    ('header x-env = "prod"', 'header x-env ^= "p"', {"headers": {"x-env": "prod"}}, {"headers": {"x-env": "pre"}}),
    ('cookie tenant = "acme"', 'header x-beta = "1"', {"cookies": {"tenant": "acme"}, "headers": {"x-beta": "1"}},
     {"cookies": {"tenant": "evil"}, "headers": {"x-beta": "1"}}),
    ("method = GET", 'header x-beta = "1"', {"headers": {"x-beta": "1"}}, {"method": "POST", "headers": {"x-beta": "1"}}),
])
def test_an_exposure_condition_is_never_lost_to_a_route_condition(exposure, route, passes, refused):
    ev = evaluator(service(f"expose via gw host h.example.com when {exposure}\n"
                           f"route canary {{ when {route} to v2 }}\nroute rest {{ to v1 }}"))
    assert subsets(ev.evaluate(edge(**passes))) == {"v2"}
    # What the exposure refuses is not served, whatever the route allows.
    assert ev.evaluate(edge(**refused)).kind == "respond"


def test_post_does_not_get_through_a_get_only_exposure():
    ev = evaluator(service('expose via gw host h.example.com when method = GET\n'
                           'route writes { when method = POST to v2 }\nroute rest { to v1 }'))
    assert ev.evaluate(edge(method="POST")).kind == "respond"
    assert subsets(ev.evaluate(edge(method="GET"))) == {"v1"}


def test_a_catch_all_exposure_does_not_hide_a_header_exposure():
    other = ("namespace ns {\n  service beta {\n    port 80 http\n"
             "    expose via gw host h.example.com when header x-beta = \"1\"\n  }\n}\n")
    ev = evaluator(service('expose via gw host h.example.com when path ^= "/"\nroute rest { to v1 }') + other)
    assert {s.target.host for s in ev.evaluate(edge(headers={"x-beta": "1"})).destinations} == {"beta.ns.svc.cluster.local"}
    assert subsets(ev.evaluate(edge())) == {"v1"}


def test_the_more_specific_of_two_equal_path_exposures_is_reached():
    other = ("namespace ns {\n  service aaa {\n    port 80 http\n"
             "    expose via gw host h.example.com when path ^= \"/api\"\n  }\n}\n")
    ev = evaluator(service('expose via gw host h.example.com when path ^= "/api" and header x-beta = "1"\n'
                           'route rest { to v1 }') + other)
    assert {s.target.host for s in ev.evaluate(edge(path="/api/x", headers={"x-beta": "1"})).destinations} == {HOST}
    assert {s.target.host for s in ev.evaluate(edge(path="/api/x")).destinations} == {"aaa.ns.svc.cluster.local"}


def test_each_alternative_of_an_or_ranks_on_its_own():
    other = ("namespace ns {\n  service api {\n    port 80 http\n"
             "    expose via gw host h.example.com when path ^= \"/api\"\n  }\n}\n")
    ev = evaluator(service('expose via gw host h.example.com when path ^= "/api/v1/users" or header x-v = "1"\n'
                           'route rest { to v1 }') + other)
    # /api with the header: the longer path prefix of `api` wins over a header alternative.
    assert {s.target.host for s in ev.evaluate(edge(path="/api/v2", headers={"x-v": "1"})).destinations} == {
        "api.ns.svc.cluster.local"}
    assert {s.target.host for s in ev.evaluate(edge(path="/other", headers={"x-v": "1"})).destinations} == {HOST}


def test_a_subset_keeps_its_ports_circuit_breaker():
    ev = evaluator(GATEWAY + """namespace ns {
  service s {
    port 80 http { circuit-breaker { max-connections 10 } }
    subsets by version v1 v2
    subset v1 { circuit-breaker { max-pending 5 } }
    route all { to v1 }
  }
}
""")
    d = ev.evaluate(Request.make(HOST, 80))
    policy = d.policy(d.destinations[0].target)
    assert policy["connectionPool.tcp.maxConnections"] == 10
    assert policy["connectionPool.http.http1MaxPendingRequests"] == 5


def test_a_service_target_goes_to_the_targets_port_not_the_callers():
    ev = evaluator(service("route all { to v1 mirror service api 100% }",
                           ports="port 80 http") + "namespace ns {\n  service api {\n    port 8080 http\n  }\n}\n")
    d = ev.evaluate(Request.make(HOST, 80))
    assert [(m.target.host, m.target.port) for m in d.mirrors] == [("api.ns.svc.cluster.local", 8080)]


def test_other_clients_of_a_port_only_service_get_404_not_every_version():
    ev = evaluator(service("route admin { when port 9090 to v2 }", ports="port 8080 http\n    port 9090 http"))
    assert subsets(ev.evaluate(Request.make(HOST, 9090))) == {"v2"}
    other = ev.evaluate(Request.make(HOST, 8080))
    assert (other.kind, other.status) == ("respond", 404)


def test_a_preview_that_cannot_be_reached_is_not_rendered_over_the_route():
    ev = evaluator(service('route release {\n  when header x-preview = "false" or path ^= "/r"\n'
                           '  blue-green active v1 preview v2\n}\nroute rest { to v1 }'))
    # `x-preview: false` keeps its meaning: the active subset.
    assert subsets(ev.evaluate(Request.make(HOST, 80, headers={"x-preview": "false"}))) == {"v1"}
    assert subsets(ev.evaluate(Request.make(HOST, 80, path="/r", headers={"x-preview": "true"}))) == {"v2"}
