"""The request grid: what it holds for each kind of condition, that it
reaches every route of the examples, and that it is bounded and
deterministic."""

from __future__ import annotations

import pytest
import re2

from meshc.pipeline import compile_paths, discover
from meshc.semantics.grid import UNSERVED_HOST, regex_samples, requests_for
from meshc.semantics.interpret import Interpreter
from test_interpret_support import host, one_route, policy_of

GATEWAY = """
namespace istio-system {
  gateway gw {
    hosts h.example.com *.wild.example.com
    https credential cert
    redirect-http
  }
}
"""


def place(requests, name: str, port: int = 80, gateway=None):
    return [r for r in requests if (r.host, r.port, r.gateway) == (name, port, gateway)]


def one_condition(when: str):
    return place(requests_for(one_route(when), "default"), host("s"))


@pytest.mark.parametrize("when, attribute, values", [
    ('header x = "ab"', lambda r: r.header("x"), {"ab", "abx", "a", None}),
    ('header x ^= "ab"', lambda r: r.header("x"), {"ab", "abx", "ab/y", "a", None}),
    ('header x absent', lambda r: r.header("x"), {None, "", "1"}),
    ('path ^= "/api"', lambda r: r.path_only, {"/api", "/apix", "/api/y", "/ap", "/", "/probe/a"}),
    ('path = "/api"', lambda r: r.path_only, {"/api", "/apix", "/ap", "/", "/probe/a"}),
    ('method = PUT', lambda r: r.method, {"PUT", "GET", "POST"}),
    ('from namespace ops', lambda r: r.source_namespace, {"ops", "default"}),
    ('source app = "web"', lambda r: dict(r.source_labels).get("app"), {"web", "webx", None}),
    ('cookie c = "v1"', lambda r: r.header("cookie"),
     {"c=v1", "a=1; c=v1; b=2", "xc=v1", "c=v1x", "c=v", None}),
])
def test_each_condition_gets_matches_near_misses_and_absence(when, attribute, values):
    assert {attribute(r) for r in one_condition(when)} == values


def test_queries_travel_in_the_path():
    requests = one_condition('query q = "1"')
    assert {r.path for r in requests} == {"/", "/?q=1", "/?q=1x", "/?q=", "/probe/a?q=1"}


def test_regexes_get_matching_and_non_matching_values():
    values = {r.header("x") for r in one_condition('header x ~ "v[0-9]+"')}
    pattern = re2.compile("v[0-9]+")
    assert any(v is not None and pattern.fullmatch(v) for v in values)
    assert any(v is not None and not pattern.fullmatch(v) for v in values) and None in values


@pytest.mark.parametrize("pattern", ["^[0-9]*[02468]$", "(foo|bar)-[0-9]{1,3}", "(?i)chrome.*", "[^/]+x",
                                     "/api/v[12]/.*", r"\d+\.\d+", r"\pL+", "a|b|c"])
def test_regex_samples_match(pattern):
    samples = regex_samples(pattern)
    assert samples and all(re2.compile(pattern).fullmatch(s) for s in samples)


def test_alternatives_are_met_together_and_apart():
    policy = policy_of("""
namespace ns {
  service s {
    port 80 http
    subsets by version v1 v2 v3
    route a { when header a absent to v2 }
    route b { when header b = "1" and path ^= "/b" to v3 }
    route rest { to v1 }
  }
}""")
    interpreter = Interpreter(policy, "default")
    entries = {interpreter.evaluate(r).entry for r in place(requests_for(policy, "default"), host("s"))}
    assert entries == {"a", "b", "rest"}   # `b` only with header `a` present


def test_gateway_places():
    policy = policy_of(GATEWAY + """
namespace ns {
  service s {
    port 80 http
    expose via gw host h.example.com when header x = "1"
    expose via gw host *.wild.example.com
  }
}""")
    requests = requests_for(policy, "default")
    at = {(r.host, r.port) for r in requests if r.gateway == "istio-system/gw"}
    assert at == {(h, p) for h in ("h.example.com", "w.wild.example.com", UNSERVED_HOST) for p in (80, 443)}
    exposed = place(requests, "h.example.com", 443, "istio-system/gw")
    assert {r.header("x") for r in exposed} == {"1", "1x", "", None}
    assert all(r.source_namespace == "istio-system" for r in exposed)
    assert len(place(requests, "h.example.com", 80, "istio-system/gw")) == 2  # a redirect: no conditions tried


@pytest.fixture(scope="module")
def examples():
    (paths,) = discover(["examples"])
    return compile_paths(paths).policy


FLEET = ("hangzhou", "shanghai", "beijing", "shenzhen")
# session-cache is `local`: hangzhou's configuration, which shanghai's
# proxies follow too, renders its entry once per cluster it serves.
LOCAL_ENTRIES = {"hangzhou": {"default-hangzhou", "default-shanghai"},
                 "shanghai": {"default-hangzhou", "default-shanghai"},
                 "beijing": {"default"}, "shenzhen": {"default"}}


@pytest.mark.parametrize("cluster", FLEET)
def test_the_grid_reaches_every_entry_of_the_examples(examples, cluster):
    requests = requests_for(examples, cluster)
    assert requests == requests_for(examples, cluster) and len(set(requests)) == len(requests)
    # every cluster calls where a route tests the caller's cluster (S4's
    # `from cluster shanghai`); elsewhere the callers are in `cluster`
    assert {r.source_cluster for r in requests} == set(FLEET)
    assert {r.source_cluster for r in place(requests, host("user-service", "production"))} == {cluster}
    interpreter = Interpreter(examples, cluster)
    taken = {(d.virtual_service, d.entry) for d in map(interpreter.evaluate, requests)}
    mesh = {(f"{ns.name.value}/{s.name.value}", name)
            for ns in examples.namespaces for s in ns.services for r in s.routes
            for name in ([f"{r.name.value}-preview"] if r.action and r.action.kind == "blue-green" else [])
            + [r.name.value]}
    gateway = {("istio-system/payment-gateway-pay-example-com", "payment-service-live"),
               ("istio-system/payment-gateway-pay-example-com", "payment-service-live-preview"),
               ("istio-system/main-gateway-api-example-com", "users"),
               ("istio-system/main-gateway-api-example-com", "api-v2"),
               ("payments/payment", "default")}
    local = {("edge/session-cache", name) for name in LOCAL_ENTRIES[cluster]}
    assert mesh | gateway | local <= taken
    kinds = {d.kind for d in map(interpreter.evaluate, requests)}
    assert kinds == {"route", "default", "respond", "redirect"}


def test_the_grid_is_bounded_per_place():
    alternatives = " or ".join(f'header h{i} = "{i}" and header g{i} ^= "x"' for i in range(30))
    policy = policy_of(f"""
namespace ns {{
  service s {{
    port 80 http
    route r {{ when {alternatives} }}
    route rest {{ }}
  }}
}}""")
    served = [r for r in requests_for(policy, "default", per_place=100) if r.host != UNSERVED_HOST]
    assert len(served) == 100
    assert len([r for r in requests_for(policy, "default") if r.host != UNSERVED_HOST]) <= 400


def test_the_grid_asks_for_a_host_nobody_declares():
    """Istio's PassthroughCluster: a place of its own (issue 9 found the
    interpreter giving it default retries)."""
    policy = policy_of("namespace ns {\n  service s { port 80 http }\n}")
    (unknown,) = [r for r in requests_for(policy, "default") if r.host == UNSERVED_HOST]
    assert (unknown.port, unknown.gateway) == (80, None)
