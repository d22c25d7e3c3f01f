"""S11 request by request: the edge's split, retries, fault and CORS exist
only at the gateway (issue 15). Each request goes to the evaluator of the
rendered YAML (meshc/semantics/evaluate, read from Istio's sources); the
interpreter of the .mesh source agrees on all of them and on S11's grid.
The expected answers are worked out from /work/shared/design/scenarios.md
(S11) and docs/language.md ("Routes of the gateway"), not from meshc's
output."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from differential import disagreements, istio_release, report

from meshc.backends.istio import render
from meshc.diagnostics import Severity
from meshc.language.source import SourceFile
from meshc.pipeline import compile_paths, compile_sources, discover
from meshc.semantics.decision import Cors, Fault, Retries, Share, Target
from meshc.semantics.evaluate import Evaluator, dead_entries
from meshc.semantics.grid import requests_for
from meshc.semantics.interpret import Interpreter
from meshc.semantics.registry import registry
from meshc.semantics.request import Request

ROOT = Path(__file__).resolve().parents[2]
PRIMARIES = ("hangzhou", "beijing", "shenzhen")
GATEWAY = "istio-system/main-gateway"
# Istio's default retry policy; shenzhen runs Istio 1.20, which also retried
# on 503 (dropped in 1.24: istio/istio#52111).
_DEFAULT_ON = ("cancelled", "connect-failure", "refused-stream", "retriable-status-codes", "unavailable")
DEFAULT_RETRIES = {"hangzhou": Retries(2, None, _DEFAULT_ON), "beijing": Retries(2, None, _DEFAULT_ON),
                   "shenzhen": Retries(2, None, _DEFAULT_ON, (503,))}
CORS = Cors(origins=("https://app.example.com",), methods=("DELETE", "GET", "POST", "PUT"),
            headers=("authorization", "content-type", "x-request-id"), max_age_s=86_400)


def fq(name: str) -> str:
    return f"{name}.web.svc.cluster.local"


USERS_SPLIT = {Share(Target(fq("user-service"), None, 8080), Fraction(9, 10)),
               Share(Target(fq("user-service-v2"), None, 8080), Fraction(1, 10))}


@pytest.fixture(scope="module")
def examples():
    (paths,) = discover([str(ROOT / "examples")])
    compiled = compile_paths(paths)
    assert compiled.ok
    return compiled.policy, render(compiled.policy)


@pytest.fixture(scope="module")
def evaluators(examples) -> dict[str, Evaluator]:
    """Per primary: the evaluator of its rendered documents, for its Istio release."""
    policy, rendering = examples
    return {c: Evaluator([d.body for d in rendering.clusters[c]], registry(policy, c),
                         istio=istio_release(policy, c)) for c in PRIMARIES}


@pytest.mark.parametrize("cluster", PRIMARIES)
def test_the_interpreter_agrees_on_s11(examples, cluster):
    """Over S11's grid (its gateway host and the services it routes to)
    and every request this module asks."""
    policy, rendering = examples
    asked = [edge(**kw) for kw, _ in GATEWAY_CASES] + [mesh(cluster, name, **kw) for name in EDGE_SERVICES
                                                       for kw in MESH_CASES]
    grid = [r for r in requests_for(policy, cluster)
            if (r.gateway, r.host) == (GATEWAY, "api.example.com") or r.host in {fq(n) for n in EDGE_SERVICES}]
    assert len(grid) >= 20
    found = disagreements(policy, rendering, cluster, asked + grid)
    assert not found, report(found)


def edge(port: int = 443, **kw) -> Request:
    return Request.make("api.example.com", port, gateway=GATEWAY, source_namespace="istio-system",
                        source_labels={"istio": "ingressgateway"}, **kw)


def mesh(cluster: str, name: str, **kw) -> Request:
    kw = {"source_namespace": "web", "source_labels": {"app": "frontend"}, **kw}
    return Request.make(fq(name), 8080, source_cluster=cluster, **kw)


# ------------------------------------------------------ mesh callers
EDGE_SERVICES = ("user-service", "user-service-v2", "api-gateway")
MESH_CASES = [
    {},
    {"path": "/api/v1/users/42", "method": "POST"},
    {"headers": {"x-api-version": "v1", "origin": "https://app.example.com"}},
    {"path": "/api/v2/orders", "source_namespace": "istio-system", "source_labels": {"istio": "ingressgateway"}},
]


@pytest.mark.parametrize("cluster", PRIMARIES)
@pytest.mark.parametrize("name", EDGE_SERVICES)
@pytest.mark.parametrize("kw", MESH_CASES)
def test_mesh_callers_get_istios_default_route(evaluators, cluster, name, kw):
    """No split, no fault, no extra retries, no CORS: plain Kubernetes
    routing to the service on the port dialled."""
    d = evaluators[cluster].evaluate(mesh(cluster, name, **kw))
    assert (d.kind, d.destinations) == ("default", (Share(Target(fq(name), None, 8080), Fraction(1)),))
    assert (d.timeout_ms, d.fault, d.cors, d.mirrors, d.retries) == (None, None, None, (), DEFAULT_RETRIES[cluster])


# ---------------------------------------------------- gateway callers
GATEWAY_CASES = [
    ({"path": "/api/v1/users"}, "users"),
    ({"path": "/api/v1/users/42", "query": {"page": "2"}, "method": "DELETE"}, "users"),
    ({"path": "/api/v1/usersx"}, "users"),                            # a prefix is a string prefix
    ({"path": "/", "headers": {"x-api-version": "v1"}}, "users"),     # the header alternative
    ({"path": "/api/v2/orders", "headers": {"x-api-version": "v1"}}, "users"),  # `users` is tried first
    ({"path": "/api/v2"}, "api-v2"),
    ({"path": "/api/v2/orders", "headers": {"x-api-version": "v2"}}, "api-v2"),
    ({"path": "/api/v1/user"}, None),
    ({"path": "/API/v1/users"}, None),                                # paths are case-sensitive
    ({"path": "/", "headers": {"x-api-version": "V1"}}, None),        # so are header values
]


@pytest.mark.parametrize("cluster", PRIMARIES)
@pytest.mark.parametrize("kw, entry", GATEWAY_CASES)
def test_gateway_callers_are_routed_as_written(evaluators, cluster, kw, entry):
    d = evaluators[cluster].evaluate(edge(**kw))
    if entry is None:
        assert (d.kind, d.status) == ("respond", 404)
        return
    assert (d.kind, d.virtual_service, d.entry) == ("route", "istio-system/main-gateway-api-example-com", entry)
    assert d.cors == CORS  # the host block's, for each of its routes
    if entry == "users":
        assert set(d.destinations) == USERS_SPLIT
        assert d.timeout_ms == 30_000
        assert d.retries == Retries(3, 10_000, ("5xx", "connect-failure", "refused-stream", "reset"))
        assert d.fault == Fault(5_000, Fraction(1, 1000), 503, Fraction(1, 10_000))
    else:
        assert d.destinations == (Share(Target(fq("api-gateway"), None, 8080), Fraction(1)),)
        assert (d.timeout_ms, d.fault, d.retries) == (None, None, DEFAULT_RETRIES[cluster])
    assert d.rewrite is None


@pytest.mark.parametrize("cluster", PRIMARIES)
def test_the_edge_keeps_user_services_destination_policy(evaluators, cluster):
    d = evaluators[cluster].evaluate(edge(path="/api/v1/users"))
    assert d.policy(Target(fq("user-service"), None, 8080))["connectionPool.tcp.maxConnections"] == 200


@pytest.mark.parametrize("cluster", PRIMARIES)
@pytest.mark.parametrize("host, port, answer", [
    ("api.example.com", 80, ("redirect", 301)),
    ("app.example.com", 443, ("respond", 404)),   # served, routed by nothing
])
def test_gateway_servers(evaluators, cluster, host, port, answer):
    d = evaluators[cluster].evaluate(Request.make(host, port, gateway=GATEWAY, path="/api/v1/users",
                                                  source_namespace="istio-system"))
    assert (d.kind, d.status) == answer


# ------------------------------------------------- beyond S11 itself
EDGE_ONLY = """
namespace istio-system {
  gateway edge {
    hosts a.example.com
    https credential cert
    host a.example.com {
      route users {
        when path ^= "/api/v1/users/"
        rewrite path "/"
        to service users in web
      }
      %s
    }
  }
}

namespace web {
  service users { port 8080 http }
  service docs {
    port 80 http
    route all { to service docs }
    expose via edge host a.example.com when path ^= "/docs"
  }
}
"""


def _compile(text: str):
    compiled = compile_sources([SourceFile("edge.mesh", text)])
    assert compiled.policy is not None
    return compiled


def _evaluator(compiled) -> Evaluator:
    docs = render(compiled.policy).clusters["default"]
    return Evaluator([d.body for d in docs], registry(compiled.policy, "default"))


def test_a_rewrite_on_the_edge_replaces_the_matched_prefix():
    compiled = _compile(EDGE_ONLY % "")
    assert compiled.ok
    request = Request.make("a.example.com", 443, gateway="istio-system/edge", path="/api/v1/users/42?x=1",
                           source_namespace="istio-system")
    for reading in (_evaluator(compiled), Interpreter(compiled.policy, "default")):
        d = reading.evaluate(request)
        assert (d.entry, d.rewrite) == ("users", "/42?x=1")
    docs = reading.evaluate(Request.make("a.example.com", 443, gateway="istio-system/edge", path="/docs/x",
                                         source_namespace="istio-system"))
    assert (docs.entry, docs.rewrite) == ("docs-all", None)  # the exposure after the block's routes


def test_a_catch_all_before_the_exposures_shadows_them():
    """`meshc check` refuses it (MESH307 at the exposure); rendered anyway,
    the evaluator finds the exposure's entry dead behind the catch-all."""
    compiled = _compile(EDGE_ONLY % "route rest { to service users in web }")
    errors = [(d.code, d.span.line) for d in compiled.diagnostics if d.severity is Severity.ERROR]
    assert errors == [("MESH307", 22)]  # the `expose` line
    (vs,) = [d for d in render(compiled.policy).clusters["default"]
             if d.kind == "VirtualService" and d.name == "edge-a-example-com"]
    assert [(e.name, e.covered_by, e.after_catch_all) for e in dead_entries(vs.body)] == [("docs-all", (1,), True)]


def test_without_the_catch_all_nothing_is_dead():
    compiled = _compile(EDGE_ONLY % 'route rest { when header x-rest = "1" to service users in web }')
    assert compiled.ok
    (vs,) = [d for d in render(compiled.policy).clusters["default"]
             if d.kind == "VirtualService" and d.name == "edge-a-example-com"]
    assert dead_entries(vs.body) == []


def test_check_reports_an_exposed_route_a_gateway_route_shadows(tmp_path):
    """The exposure itself can still match (its other route), so the checks
    on the source let it through; `meshc check` reads what is rendered and
    reports the dead entry at the route it comes from (MESH323)."""
    import json

    from click.testing import CliRunner

    from meshc.cli import cli

    path = tmp_path / "edge.mesh"
    path.write_text(EDGE_ONLY.replace('%s', 'route docs-edge { when path ^= "/docs" to service users in web }')
                    .replace('route all { to service docs }',
                             'route manual { when path ^= "/docs/manual" to service docs }\n'
                             '    route rest { to service docs }')
                    .replace('expose via edge host a.example.com when path ^= "/docs"', 'expose via edge host a.example.com'))
    result = CliRunner().invoke(cli, ["check", str(path), "--output-format", "json"])
    assert result.exit_code == 0, result.output
    found = [(d["code"], path.read_text().splitlines()[d["location"]["line"] - 1].split("{")[0].strip())
             for d in json.loads(result.stdout)]
    assert found == [("MESH323", "route manual")]
