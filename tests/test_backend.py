"""What the rendered YAML says, construct by construct (docs/language.md):
each test renders a small policy with `meshc render --stdout` and reads the
YAML back."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from meshc.cli import cli

FLEET = """fleet prod {
  cluster east region r1 zone z1 network n1 gateway 10.0.0.1
  cluster north region r2 zone z2 network n2 gateway north.example.com istio 1.20
}
"""


def render(tmp_path, text: str, cluster: str = "east") -> dict:
    """{(kind, namespace, name): document} of one cluster."""
    (tmp_path / "p.mesh").write_text(text)
    args = ["render", str(tmp_path / "p.mesh"), "--stdout", "--cluster", cluster]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    docs = YAML(typ="safe").load_all(result.stdout)
    return {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs}


def vs(docs: dict, name: str = "svc", ns: str = "ns") -> dict:
    return docs[("VirtualService", ns, name)]["spec"]


def dr(docs: dict, name: str = "svc", ns: str = "ns") -> dict:
    return docs[("DestinationRule", ns, name)]["spec"]


def service(body: str) -> str:
    return FLEET + f"namespace ns {{\n  service svc {{\n    port 80 http\n    subsets by version v1 v2\n{body}\n  }}\n}}\n"


HOST = "svc.ns.svc.cluster.local"


def test_routes_keep_their_order_and_or_and(tmp_path):
    docs = render(tmp_path, service(
        'route a { when header x = "1" and path ^= "/a" to v2 }\n'
        'route b { when header y = "2" or query q ~ "[0-9]+" to v2 }\n'
        "route c { to v1 }"))
    http = vs(docs)["http"]
    assert [h["name"] for h in http] == ["a", "b", "c"]
    assert http[0]["match"] == [{"headers": {"x": {"exact": "1"}}, "uri": {"prefix": "/a"}}]
    assert http[1]["match"] == [{"headers": {"y": {"exact": "2"}}}, {"queryParams": {"q": {"regex": "[0-9]+"}}}]
    assert "match" not in http[2]


@pytest.mark.parametrize("condition, match", [
    ("method = POST", {"method": {"exact": "POST"}}),
    ("port 80", {"port": 80}),
    ('source app = "web"', {"sourceLabels": {"app": "web"}}),
    ("from namespace ops", {"sourceNamespace": "ops"}),
    ("header x-debug absent", {"withoutHeaders": {"x-debug": {}}}),
    ('path = "/x"', {"uri": {"exact": "/x"}}),
])
def test_conditions(tmp_path, condition, match):
    docs = render(tmp_path, service(f"route a {{ when {condition} to v2 }}\nroute b {{ to v1 }}"))
    assert vs(docs)["http"][0]["match"] == [match]


@pytest.mark.parametrize("at, split", [(0, [100, 0]), (1, [95, 5]), (3, [0, 100])])
def test_canary_renders_the_split_of_its_step(tmp_path, at, split):
    docs = render(tmp_path, service(f"route r {{ canary v1 -> v2 steps 5% 50% 100% at {at} }}"))
    route = vs(docs)["http"][0]["route"]
    assert [(d["destination"]["subset"], d["weight"]) for d in route] == list(zip(["v1", "v2"], split))


def test_rest_takes_what_is_left(tmp_path):
    route = vs(render(tmp_path, service("route r { to v2 15%, v1 rest }")))["http"][0]["route"]
    assert [(d["destination"]["subset"], d["weight"]) for d in route] == [("v2", 15), ("v1", 85)]


def test_blue_green_preview_header(tmp_path):
    http = vs(render(tmp_path, service('route r { when path ^= "/app" blue-green active v1 preview v2 }')))["http"]
    assert [h["name"] for h in http] == ["r-preview", "r", "not-found"]
    assert http[0]["match"] == [{"uri": {"prefix": "/app"}, "headers": {"x-preview": {"exact": "true"}}}]
    assert http[0]["route"] == [{"destination": {"host": HOST, "subset": "v2"}}]
    assert http[1]["route"] == [{"destination": {"host": HOST, "subset": "v1"}}]


def test_mirror_with_percentage_and_default(tmp_path):
    http = vs(render(tmp_path, service("route r { to v1 mirror v2 20% }")))["http"]
    assert http[0]["mirror"] == {"host": HOST, "subset": "v2"} and http[0]["mirrorPercentage"] == {"value": 20}
    unsized = vs(render(tmp_path, service("route r { to v1 mirror v2 }")))["http"][0]
    assert unsized["mirrorPercentage"] == {"value": 100}  # Istio's default, written out


def test_route_options_inherit_from_the_service_setting_by_setting(tmp_path):
    http = vs(render(tmp_path, service(
        "timeout 10s\nretry 3 per-try 2s on 5xx\nfault abort 503 1%\n"
        "route a { when header a = \"1\" timeout 1s to v2 }\nroute b { retry off fault delay 2s 5% to v1 }")))["http"]
    assert (http[0]["timeout"], http[0]["retries"], http[0]["fault"]) == (
        "1s", {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"},
        {"abort": {"httpStatus": 503, "percentage": {"value": 1}}})
    assert (http[1]["timeout"], http[1]["retries"]) == ("10s", {"attempts": 0})
    assert http[1]["fault"] == {"delay": {"fixedDelay": "2s", "percentage": {"value": 5}},
                                "abort": {"httpStatus": 503, "percentage": {"value": 1}}}


def test_circuit_breaker_subset_and_port_policy_are_fully_merged(tmp_path):
    text = (FLEET + "namespace ns {\n  defaults { lb least-request }\n  service svc {\n"
            "    port 80 http { circuit-breaker { max-connections 5 } }\n    subsets by version v1 v2\n"
            "    circuit-breaker { max-connections 100 max-pending 10 eject 7 consecutive 5xx every 5s for 15s }\n"
            "    subset v2 { circuit-breaker { eject 2 consecutive 5xx } }\n  }\n}\n")
    spec = dr(render(tmp_path, text))
    top = spec["trafficPolicy"]
    assert top["connectionPool"] == {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 10}}
    assert top["outlierDetection"] == {"consecutive5xxErrors": 7, "interval": "5s", "baseEjectionTime": "15s"}
    assert top["loadBalancer"] == {"simple": "LEAST_REQUEST"}  # from the namespace defaults
    port = top["portLevelSettings"][0]
    assert port["connectionPool"]["tcp"] == {"maxConnections": 5} and port["connectionPool"]["http"] == {
        "http1MaxPendingRequests": 10}
    assert port["outlierDetection"] == top["outlierDetection"] and port["loadBalancer"] == top["loadBalancer"]
    v2 = next(s for s in spec["subsets"] if s["name"] == "v2")["trafficPolicy"]
    # The subset's eject changes one setting; Istio alone would drop interval and baseEjectionTime.
    assert v2["outlierDetection"] == {"consecutive5xxErrors": 2, "interval": "5s", "baseEjectionTime": "15s"}


def test_namespace_defaults_become_a_wildcard_destination_rule(tmp_path):
    docs = render(tmp_path, FLEET + "namespace ns {\n  defaults { tls istio-mutual }\n}\n")
    assert dr(docs, "defaults") == {"host": "*.ns.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}


def test_failover_and_distribute(tmp_path):
    failover = dr(render(tmp_path, service(
        "failover r1 -> r2\ncircuit-breaker { eject 5 consecutive gateway-errors }")))["trafficPolicy"]
    assert failover["loadBalancer"]["localityLbSetting"] == {"enabled": True, "failover": [{"from": "r1", "to": "r2"}]}
    assert failover["outlierDetection"] == {"consecutiveGatewayErrors": 5}
    spread = dr(render(tmp_path, service("distribute r1/z1/* -> r1/z1/* 70%, r2/* 30%")))["trafficPolicy"]
    assert spread["loadBalancer"]["localityLbSetting"]["distribute"] == [
        {"from": "r1/z1/*", "to": {"r1/z1/*": 70, "r2/*": 30}}]


def test_cookie_hash_always_has_a_ttl(tmp_path):
    lb = dr(render(tmp_path, service("lb hash cookie session")))["trafficPolicy"]["loadBalancer"]
    assert lb == {"consistentHash": {"httpCookie": {"name": "session", "ttl": "0s"}}}
    timed = dr(render(tmp_path, service("lb hash cookie session ttl 1h")))["trafficPolicy"]["loadBalancer"]
    assert timed["consistentHash"]["httpCookie"]["ttl"] == "1h"


def test_overrides_change_only_their_cluster_and_versions_pick_api_versions(tmp_path):
    text = service("timeout 10s\non north { timeout 20s }\nroute r { to v1 }")
    east, north = render(tmp_path, text, "east"), render(tmp_path, text, "north")
    assert vs(east)["http"][0]["timeout"] == "10s" and vs(north)["http"][0]["timeout"] == "20s"
    assert east[("VirtualService", "ns", "svc")]["apiVersion"] == "networking.istio.io/v1"
    assert north[("VirtualService", "ns", "svc")]["apiVersion"] == "networking.istio.io/v1beta1"


def test_security_resources(tmp_path):
    docs = render(tmp_path, FLEET + 'namespace ns {\n  mtls strict\n  mtls permissive for legacy\n'
                  '  allow api from namespace ops to GET "/metrics"\n  allow api from principal "cluster.local/ns/a/sa/b"\n}\n')
    assert docs[("PeerAuthentication", "ns", "default")]["spec"] == {"mtls": {"mode": "STRICT"}}
    assert docs[("PeerAuthentication", "ns", "legacy")]["spec"] == {
        "selector": {"matchLabels": {"app": "legacy"}}, "mtls": {"mode": "PERMISSIVE"}}
    assert docs[("AuthorizationPolicy", "ns", "api")]["spec"] == {
        "selector": {"matchLabels": {"app": "api"}}, "action": "ALLOW", "rules": [
            {"from": [{"source": {"namespaces": ["ops"]}}], "to": [{"operation": {"methods": ["GET"], "paths": ["/metrics"]}}]},
            {"from": [{"source": {"principals": ["cluster.local/ns/a/sa/b"]}}]}]}


def test_strings_that_yaml_would_retype_stay_strings(tmp_path):
    docs = render(tmp_path, service("\n".join(
        f'route r{i} {{ when header h = "{value}" to v2 }}' for i, value in enumerate(
            ["true", "on", "010", "1e3", "null", ": ", "no", "~"])) + "\nroute d { to v1 }"))
    values = [h["match"][0]["headers"]["h"]["exact"] for h in vs(docs)["http"][:-1]]
    assert values == ["true", "on", "010", "1e3", "null", ": ", "no", "~"]


def test_exposure_on_a_gateway_names_the_port_and_ands_the_match(tmp_path):
    text = (FLEET + "namespace istio-system {\n  gateway edge {\n    hosts *.example.com\n"
            "    https credential cert\n    redirect-http\n  }\n}\n"
            "namespace ns {\n  service svc {\n    port 8080 http\n    port 9090 grpc\n    subsets by version v1 v2\n"
            '    expose via edge host api.example.com port 8080 when path ^= "/api"\n'
            '    route beta { when header beta = "1" to v2 }\n    route main { to v1 }\n  }\n}\n')
    docs = render(tmp_path, text)
    gateway_vs = docs[("VirtualService", "istio-system", "edge-api-example-com")]["spec"]
    assert gateway_vs["gateways"] == ["edge"] and gateway_vs["hosts"] == ["api.example.com"]
    beta, main = gateway_vs["http"]
    assert (beta["name"], main["name"]) == ("svc-beta", "svc-main")
    assert beta["match"] == [{"uri": {"prefix": "/api"}, "headers": {"beta": {"exact": "1"}}}]
    assert main["match"] == [{"uri": {"prefix": "/api"}}]
    assert main["route"] == [{"destination": {"host": HOST, "subset": "v1", "port": {"number": 8080}}}]
    # The mesh VirtualService is the service's own: no gateway port there.
    assert vs(docs)["http"][1]["route"] == [{"destination": {"host": HOST, "subset": "v1"}}]
