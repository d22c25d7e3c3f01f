"""Every example (examples/, one policy with the fleet) answered request by
request, the expected answers worked out by hand from docs/language.md and
/work/shared/design/scenarios.md, not from meshc's output."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from meshc.pipeline import compile_paths, discover
from meshc.semantics.decision import NO_RETRIES, Cors, Fault, Retries, Target
from meshc.semantics.interpret import Interpreter
from meshc.semantics.registry import registry
from meshc.semantics.request import Request, ServicePort
from test_interpret_support import goes, host, split, where

ISTIO_DEFAULT_RETRIES = Retries(2, None, ("cancelled", "connect-failure", "refused-stream", "retriable-status-codes",
                                         "unavailable"))
# S5's namespace defaults, which S1's user-service (also in `production`) inherits.
PRODUCTION_DEFAULTS = {
    "connectionPool.tcp.maxConnections": 100,
    "connectionPool.tcp.connectTimeout": 30,
    "connectionPool.http.http1MaxPendingRequests": 50,
    "connectionPool.http.maxRequestsPerConnection": 10,
    "connectionPool.http.maxRetries": 3,
    "outlierDetection.consecutive5xxErrors": 3,
    "outlierDetection.interval": 30_000,
    "outlierDetection.baseEjectionTime": 30_000,
    "loadBalancer.simple": "LEAST_REQUEST",
}


@pytest.fixture(scope="module")
def examples():
    (paths,) = discover(["examples"])
    compiled = compile_paths(paths)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    return compiled.policy


@pytest.fixture(scope="module")
def hangzhou(examples):
    return Interpreter(examples, "hangzhou")


def mesh(name: str, namespace: str, port: int, **kw) -> Request:
    return Request.make(host(name, namespace), port, **kw)


def edge(gateway: str, hostname: str, port: int = 443, **kw) -> Request:
    return Request.make(hostname, port, gateway=f"istio-system/{gateway}", **kw)


# ------------------------------------------------------------------- S1
@pytest.mark.parametrize("headers, entry, shares", [
    ({"canary": "true"}, "canary-override", {"v2": 100}),
    ({"canary": "false"}, "primary", {"v1": 90, "v2": 10}),   # at 2: the 10 % step
    ({"canary": "TRUE"}, "primary", {"v1": 90, "v2": 10}),
    ({}, "primary", {"v1": 90, "v2": 10}),
])
def test_s1_canary_with_header_override(hangzhou, headers, entry, shares):
    request = mesh("user-service", "production", 80, headers=headers)
    assert goes(hangzhou, request) == (entry, shares)
    d = hangzhou.evaluate(request)
    assert d.virtual_service == "production/user-service" and d.timeout_ms == 10_000
    assert d.retries == ISTIO_DEFAULT_RETRIES
    for s in d.destinations:
        assert s.target.port == 80
        assert d.policy(s.target) == PRODUCTION_DEFAULTS


def test_s1_every_cluster_runs_the_same_split_and_istio_1_20_retries_503(examples):
    request = mesh("user-service", "production", 80)
    decisions = {c: Interpreter(examples, c).evaluate(request) for c in ("hangzhou", "beijing", "shenzhen")}
    assert len({d.destinations for d in decisions.values()}) == 1
    assert decisions["hangzhou"].retries.statuses == ()
    assert decisions["shenzhen"].retries == Retries(2, None, ISTIO_DEFAULT_RETRIES.retry_on, (503,))


# ------------------------------------------------------------------- S2
@pytest.mark.parametrize("user, entry, subset", [
    ("12", "even-users", "algorithm-a"),
    ("7", "odd-users", "algorithm-b"),
    ("0", "even-users", "algorithm-a"),
    ("12a", "default", "algorithm-a"),   # full match: the trailing `a` fails both
    ("a12", "default", "algorithm-a"),
    ("", "default", "algorithm-a"),
    (None, "default", "algorithm-a"),
])
def test_s2_ab_test_by_user_id(hangzhou, user, entry, subset):
    headers = {} if user is None else {"x-user-id": user}
    assert goes(hangzhou, mesh("recommendation-service", "experiments", 8080, headers=headers)) == (entry, {subset: 100})


# ------------------------------------------------------------------- S3
def test_s3_blue_green_at_the_gateway(hangzhou):
    pay = host("payment-service", "payments")
    preview = hangzhou.evaluate(edge("payment-gateway", "pay.example.com", headers={"x-preview": "true"}))
    assert preview.virtual_service == "istio-system/payment-gateway-pay-example-com"
    assert preview.entry == "payment-service-live-preview"
    assert split(preview) == {(pay, "green", 8080): 100}
    live = hangzhou.evaluate(edge("payment-gateway", "pay.example.com"))
    assert live.entry == "payment-service-live" and split(live) == {(pay, "blue", 8080): 100}
    assert goes(hangzhou, edge("payment-gateway", "pay.example.com", headers={"x-preview": "True"})) == (
        "payment-service-live", {"blue": 100})
    assert goes(hangzhou, edge("payment-gateway", "pay.example.com", port=80)) == (("redirect", 301), {})
    # Not a host of the TLS server (no handshake), and no server at all: no answer.
    assert goes(hangzhou, edge("payment-gateway", "other.example.com")) == (("respond", None), {})
    assert goes(hangzhou, edge("payment-gateway", "pay.example.com", port=8443)) == (("respond", None), {})


def test_s3_mesh_traffic_follows_the_same_routes(hangzhou):
    request = mesh("payment-service", "payments", 8080, headers={"x-preview": "true"})
    assert goes(hangzhou, request) == ("live-preview", {"green": 100})
    assert hangzhou.evaluate(request).virtual_service == "payments/payment-service"
    assert goes(hangzhou, mesh("payment-service", "payments", 8080)) == ("live", {"blue": 100})


# ------------------------------------------------------------------- S4
FLEET = ("hangzhou", "shanghai", "beijing", "shenzhen")


@pytest.fixture(scope="module")
def callers(examples):
    """An interpreter per caller cluster; shanghai is hangzhou's remote."""
    return {c: Interpreter(examples, c) for c in FLEET}


def geo(name: str, port: int = 8080, **kw) -> Request:
    return mesh(name, "geo", port, **kw)


def line_of(span) -> str:
    with open(span.file, encoding="utf-8") as f:
        return f.read().splitlines()[span.line - 1].strip()


def default_retries(caller: str) -> Retries:
    """shenzhen runs Istio 1.20, whose default retries include 503."""
    return replace(ISTIO_DEFAULT_RETRIES, statuses=(503,) if caller == "shenzhen" else ())


@pytest.mark.parametrize("caller, entry, shares", [
    ("hangzhou", "split", {("hangzhou", "hangzhou"): 90, ("beijing", "beijing"): 10}),
    ("beijing", "split", {("hangzhou", "hangzhou"): 90, ("beijing", "beijing"): 10}),
    ("shenzhen", "split", {("hangzhou", "hangzhou"): 90, ("beijing", "beijing"): 10}),
    # shanghai's proxies follow hangzhou's configuration, whose first route
    # matches them by their cluster
    ("shanghai", "shanghai-callers", {("hangzhou", "hangzhou"): 100}),
])
def test_s4_the_seeds_split_between_clusters(callers, caller, entry, shares):
    assert where(callers[caller], geo("user-service")) == (entry, shares)
    d = callers[caller].evaluate(geo("user-service"))
    assert d.virtual_service == "geo/user-service" and d.retries == default_retries(caller)
    assert all(d.policy(s.target) == {} and s.target.port == 8080 for s in d.destinations)


def test_s4_the_caller_cluster_is_the_requests_source_cluster(callers):
    """hangzhou's configuration routes shanghai's callers: the same answer
    from either interpreter once the request says where it comes from."""
    from_shanghai = geo("user-service", source_cluster="shanghai")
    assert callers["hangzhou"].evaluate(from_shanghai) == callers["shanghai"].evaluate(geo("user-service"))
    assert callers["shanghai"].evaluate(geo("user-service", source_cluster="hangzhou")).entry == "split"
    explained = callers["hangzhou"].explain(geo("user-service"))
    (miss,) = explained.tried
    assert miss.entry == "shanghai-callers" and [c.text for c in miss.failures] == ["from cluster shanghai"]
    assert line_of(miss.failures[0].span) == "when from cluster shanghai"
    assert (explained.source_cluster, explained.configuration) == ("hangzhou", "hangzhou")
    remote = callers["shanghai"].explain(geo("user-service"))
    assert (remote.source_cluster, remote.configuration) == ("shanghai", "hangzhou")


def test_s4_a_split_pinned_to_clusters_does_not_fail_over(callers):
    assert where(callers["beijing"], geo("user-service"), down=("hangzhou",)) == (
        "split", {("hangzhou", ""): 90, ("beijing", "beijing"): 10})


GLOBAL_API_POLICY = {
    "loadBalancer.localityLbSetting.enabled": True,
    "loadBalancer.localityLbSetting.failover": ((("from", "cn-east"), ("to", "cn-north")),
                                                (("from", "cn-north"), ("to", "cn-south"))),
    "outlierDetection.consecutiveGatewayErrors": 10,
    "outlierDetection.interval": 30_000,
    "outlierDetection.baseEjectionTime": 300_000,
}


@pytest.mark.parametrize("caller, down, clusters", [
    ("hangzhou", (), "hangzhou"),
    ("hangzhou", ("hangzhou",), "beijing"),                   # cn-east -> cn-north
    ("hangzhou", ("hangzhou", "beijing"), "shenzhen"),        # then what is left
    ("hangzhou", ("hangzhou", "beijing", "shenzhen"), ""),
    ("shanghai", (), "hangzhou"),                             # no pod in shanghai: its region's
    ("shanghai", ("hangzhou",), "beijing"),
    ("beijing", (), "beijing"),
    ("beijing", ("beijing",), "shenzhen"),                    # cn-north -> cn-south, not cn-east
    ("shenzhen", (), "shenzhen"),
    ("shenzhen", ("shenzhen",), "hangzhou beijing"),          # no pair leaves cn-south: one tier
])
def test_s4_region_failover_on_istios_default_route(callers, caller, down, clusters):
    for port in (8080, 8443):
        request = geo("global-api", port)
        assert where(callers[caller], request, down) == (("default", None), {(None, clusters): 100})
        d = callers[caller].evaluate(request)
        # 8443 is an `https` port: proxied as TCP, no HTTP retries
        assert d.timeout_ms is None and d.retries == (default_retries(caller) if port == 8080 else NO_RETRIES)
        assert d.policy(Target(host("global-api", "geo"), None, port)) == GLOBAL_API_POLICY


@pytest.mark.parametrize("caller", FLEET)
def test_s4_a_canary_confined_to_one_cluster(callers, caller):
    """v1 runs wherever profile does, v2-beijing only in beijing; profile has
    no outlier detection, so nothing keeps callers in their region."""
    assert where(callers[caller], geo("profile")) == (
        "primary", {("v1", "hangzhou beijing"): 90, ("v2-beijing", "beijing"): 10})
    assert where(callers[caller], geo("profile"), down=("beijing",)) == (
        "primary", {("v1", "hangzhou"): 90, ("v2-beijing", ""): 10})


# ------------------------------------------------------------------- S5
def test_s5_defaults_reach_services_meshc_does_not_manage(hangzhou):
    d = hangzhou.evaluate(mesh("inventory", "production", 8080))
    assert d.kind == "default"
    assert d.policy(Target(host("inventory", "production"), None, 8080)) == PRODUCTION_DEFAULTS
    other = hangzhou.evaluate(mesh("inventory", "elsewhere", 8080))
    assert other.policy(Target(host("inventory", "elsewhere"), None, 8080)) == {}


# ------------------------------------------------------------------- S6
@pytest.mark.parametrize("kw, entry, shares", [
    ({"headers": {"x-user-type": "internal"}}, "internal", {"v1": 90, "v2": 10}),
    ({"source_labels": {"version": "v1"}}, "internal", {"v1": 90, "v2": 10}),
    ({"source_labels": {"version": "v2"}}, "default", {"v1": 100}),
    ({"headers": {"x-user-type": "external"}}, "default", {"v1": 100}),
    ({}, "default", {"v1": 100}),
])
def test_s6_internal_canary(hangzhou, kw, entry, shares):
    request = mesh("reviews", "bookinfo", 9080, **kw)
    assert goes(hangzhou, request) == (entry, shares)
    d = hangzhou.evaluate(request)
    for s in d.destinations:
        assert d.policy(s.target) == {"tls.mode": "ISTIO_MUTUAL", "loadBalancer.simple": "LEAST_REQUEST"}


# ------------------------------------------------------------------- S7
def test_s7_service_options_without_routes_make_one_default_entry(hangzhou):
    d = hangzhou.evaluate(mesh("payment", "payments", 8080, method="POST", path="/charge"))
    assert (d.kind, d.virtual_service, d.entry) == ("route", "payments/payment", "default")
    assert split(d) == {(host("payment", "payments"), None, 8080): 100}
    assert d.timeout_ms == 10_000
    assert d.retries == Retries(3, 2_000, ("cancelled", "connect-failure", "refused-stream", "resource-exhausted",
                                           "unavailable"))
    assert d.fault == Fault(abort_status=503, abort_share=Fraction(1, 1000))
    assert d.policy(Target(host("payment", "payments"), None, 8080)) == {
        "connectionPool.tcp.maxConnections": 100,
        "connectionPool.tcp.connectTimeout": 30,
        "connectionPool.http.http1MaxPendingRequests": 1024,
        "connectionPool.http.maxRequestsPerConnection": 1024,
        "connectionPool.http.maxRetries": 3,
        "outlierDetection.consecutive5xxErrors": 7,
        "outlierDetection.interval": 5_000,
        "outlierDetection.baseEjectionTime": 15_000,
        "outlierDetection.maxEjectionPercent": 100,
    }


# ------------------------------------------------------------------- S8
def test_s8_sticky_sessions_on_the_default_route(hangzhou):
    d = hangzhou.evaluate(mesh("api", "storefront", 8080, headers={"x-user-id": "42"}))
    assert d.kind == "default"
    assert d.policy(Target(host("api", "storefront"), None, 8080)) == {
        "loadBalancer.consistentHash.httpHeaderName": "x-user-id",
        "outlierDetection.consecutive5xxErrors": 5,
        "outlierDetection.interval": 30_000,
        "outlierDetection.baseEjectionTime": 60_000,
    }


# ------------------------------------------------------------------ S10
@pytest.mark.parametrize("kw, entry, shares", [
    ({"headers": {"user-agent": "canary"}}, "canary-users", {"v2": 100}),
    ({"headers": {"user-agent": "Mozilla"}}, "shift", {"v1": 50, "v2": 50}),
    ({"cookies": {"canary": "true"}}, "canary-users", {"v2": 100}),
    ({"headers": {"cookie": "a=1; canary=true; b=2"}}, "canary-users", {"v2": 100}),
    ({"headers": {"cookie": "a=1;canary=true"}}, "canary-users", {"v2": 100}),
    ({"headers": {"cookie": "notcanary=true"}}, "shift", {"v1": 50, "v2": 50}),
    ({"headers": {"cookie": "xcanary=true"}}, "shift", {"v1": 50, "v2": 50}),
    ({"headers": {"cookie": "canary=truex"}}, "shift", {"v1": 50, "v2": 50}),
    ({"headers": {"cookie": "canary=false; other=true"}}, "shift", {"v1": 50, "v2": 50}),
    ({}, "shift", {"v1": 50, "v2": 50}),
])
def test_s10_cookie_canary(hangzhou, kw, entry, shares):
    assert goes(hangzhou, mesh("reviews", "bookstore", 9080, **kw)) == (entry, shares)


# ------------------------------------------------------------------ S11
S11_USER = {(host("user-service", "web"), None, 8080): 90, (host("user-service-v2", "web"), None, 8080): 10}


S11_CORS = Cors(origins=("https://app.example.com",), methods=("DELETE", "GET", "POST", "PUT"),
                headers=("authorization", "content-type", "x-request-id"), max_age_s=86_400)


@pytest.mark.parametrize("kw, entry", [
    ({"path": "/api/v1/users"}, "users"),
    ({"path": "/api/v1/users/42", "query": {"page": "2"}}, "users"),
    ({"path": "/api/v1/usersx"}, "users"),   # a prefix is a string prefix
    ({"path": "/api/v2/orders"}, "api-v2"),
    # the host block's routes are tried in the order written: `users` first
    ({"path": "/api/v2/orders", "headers": {"x-api-version": "v1"}}, "users"),
    ({"path": "/web", "headers": {"x-api-version": "v1"}}, "users"),
    ({"path": "/api/v1/user"}, None),
    ({"path": "/", "headers": {"x-api-version": "v2"}}, None),
])
def test_s11_gateway_paths(hangzhou, kw, entry):
    d = hangzhou.evaluate(edge("main-gateway", "api.example.com", **kw))
    if entry is None:
        assert (d.kind, d.status) == ("respond", 404)
        return
    assert (d.virtual_service, d.entry) == ("istio-system/main-gateway-api-example-com", entry)
    if entry == "users":
        assert split(d) == S11_USER
    else:
        assert split(d) == {(host("api-gateway", "web"), None, 8080): 100}
    assert d.cors == S11_CORS  # the host block's, on each of its routes


def test_s11_edge_options_and_port_policy(hangzhou):
    d = hangzhou.evaluate(edge("main-gateway", "api.example.com", path="/api/v1/users"))
    assert d.timeout_ms == 30_000
    assert d.retries == Retries(3, 10_000, ("5xx", "connect-failure", "refused-stream", "reset"))
    assert d.fault == Fault(5_000, Fraction(1, 1000), 503, Fraction(1, 10_000))
    assert d.policy(Target(host("user-service", "web"), None, 8080)) == {
        "connectionPool.tcp.maxConnections": 200,
        "connectionPool.http.http1MaxPendingRequests": 100,
        "outlierDetection.consecutive5xxErrors": 5,
        "outlierDetection.interval": 10_000,
        "outlierDetection.baseEjectionTime": 30_000,
    }
    assert d.policy(Target(host("user-service-v2", "web"), None, 8080)) == {}
    api = hangzhou.evaluate(edge("main-gateway", "api.example.com", path="/api/v2"))
    assert (api.timeout_ms, api.fault, api.retries) == (None, None, ISTIO_DEFAULT_RETRIES)


@pytest.mark.parametrize("name", ["user-service", "user-service-v2", "api-gateway"])
def test_s11_mesh_callers_get_istios_default_route(hangzhou, name):
    """The edge's split, fault, retries and CORS exist only at the gateway."""
    d = hangzhou.evaluate(mesh(name, "web", 8080, path="/api/v1/users", headers={"x-api-version": "v1"}))
    assert (d.kind, d.destinations[0].target, d.destinations[0].share) == (
        "default", Target(host(name, "web"), None, 8080), 1)
    assert (d.timeout_ms, d.fault, d.cors, d.retries) == (None, None, None, ISTIO_DEFAULT_RETRIES)


@pytest.mark.parametrize("gateway_host, port, answer", [
    ("api.example.com", 80, ("redirect", 301)),
    ("app.example.com", 80, ("redirect", 301)),     # every host of the gateway redirects
    ("app.example.com", 443, ("respond", 404)),     # served, but nothing is exposed there
    ("www.example.com", 443, ("respond", None)),    # not a host of the TLS server: no handshake
    ("www.example.com", 80, ("respond", 404)),
])
def test_s11_gateway_servers(hangzhou, gateway_host, port, answer):
    d = hangzhou.evaluate(edge("main-gateway", gateway_host, port=port, path="/api/v2"))
    assert (d.kind, d.status) == answer


@pytest.mark.parametrize("headers, entry, shares", [
    ({"x-canary": "true"}, "canary", {"v2": 100}),
    ({"x-canary": "true", "x-user-type": "premium"}, "canary", {"v2": 100}),
    ({"x-user-type": "premium"}, "premium", {"v1": 70, "v2": 30}),
    ({}, "default", {"v1": 95, "v2": 5}),
])
def test_s11_recommendation_service(hangzhou, headers, entry, shares):
    d = hangzhou.evaluate(mesh("recommendation-service", "web", 8080, headers=headers))
    assert goes(hangzhou, mesh("recommendation-service", "web", 8080, headers=headers)) == (entry, shares)
    assert d.timeout_ms == 10_000
    assert d.retries == Retries(2, 5_000, ISTIO_DEFAULT_RETRIES.retry_on)
    pools = {"v1": (100, 50), "v2": (50, 25)}
    for s in d.destinations:
        assert d.policy(s.target) == {"connectionPool.tcp.maxConnections": pools[s.target.subset][0],
                                      "connectionPool.http.http1MaxPendingRequests": pools[s.target.subset][1]}


def test_s11_external_hosts(hangzhou, examples):
    d = hangzhou.evaluate(Request.make("cdn.external.com", 443))
    assert d.kind == "default" and d.policies == ((Target("cdn.external.com", None, 443), ()),)
    assert d.retries == NO_RETRIES   # https: proxied as TCP
    services = registry(examples, "hangzhou").services
    assert services["api.external.com"] == services["cdn.external.com"] == (ServicePort(443, "https"),)
    assert services[host("user-service", "web")] == (ServicePort(8080, "http"),)
    # every service is known in every cluster, where it runs or not: Istio
    # merges endpoints across the fleet (global-api does not run in shanghai)
    for cluster in FLEET:
        assert registry(examples, cluster).services == services
    assert services[host("global-api", "geo")] == (ServicePort(8080, "http"), ServicePort(8443, "https"))


# ------------------------------------------------------------------ S12
def test_s12_mirror_percentage(hangzhou):
    d = hangzhou.evaluate(mesh("order-service", "orders", 8080, method="POST"))
    assert d.entry == "primary"
    assert split(d) == {(host("order-service", "orders"), "v1", 8080): 100}
    assert [(m.target.subset, m.share) for m in d.mirrors] == [("v2", Fraction(1, 5))]
    assert {t.subset for t, _ in d.policies} == {"v1", "v2"}


# ------------------------------------------------------------------ S13
def test_s13_canary_first_step(hangzhou):
    assert goes(hangzhou, mesh("checkout", "delivery", 8080)) == ("primary", {"v1": 90, "v2": 10})


# ------------------------------------------------------------------ S14
ORDER_POLICY = {
    "loadBalancer.localityLbSetting.enabled": True,
    "loadBalancer.localityLbSetting.failover": ((("from", "cn-east"), ("to", "cn-north")),
                                                (("from", "cn-north"), ("to", "cn-east"))),
    "outlierDetection.consecutive5xxErrors": 5,
    "outlierDetection.interval": 10_000,
    "outlierDetection.baseEjectionTime": 30_000,
}


@pytest.mark.parametrize("caller", FLEET)
def test_s14_drill_requests_split_70_30_and_lose_the_pinned_share(callers, caller):
    drill = geo("order-service", headers={"x-failover-drill": "true"})
    assert where(callers[caller], drill) == ("drill", {("hangzhou", "hangzhou"): 70, ("beijing", "beijing"): 30})
    assert where(callers[caller], drill, down=("hangzhou",)) == (
        "drill", {("hangzhou", ""): 70, ("beijing", "beijing"): 30})
    d = callers[caller].evaluate(drill)
    assert d.fault == Fault(delay_ms=5_000, delay_share=Fraction(1)) and d.retries == default_retries(caller)
    assert all(d.policy(s.target) == ORDER_POLICY for s in d.destinations)


@pytest.mark.parametrize("caller, down, clusters", [
    ("hangzhou", (), "hangzhou"),
    ("shanghai", (), "hangzhou"),                 # same region, other zone
    ("beijing", (), "beijing"),
    ("shenzhen", (), "hangzhou beijing"),         # no pair leaves cn-south
    # the drill takes hangzhou down: cn-east fails over to cn-north
    ("hangzhou", ("hangzhou",), "beijing"),
    ("shanghai", ("hangzhou",), "beijing"),
    ("shenzhen", ("hangzhou",), "beijing"),
    ("beijing", ("beijing",), "hangzhou"),        # and back
    ("beijing", ("hangzhou", "beijing"), ""),
])
def test_s14_live_traffic_is_not_pinned_and_fails_over(callers, caller, down, clusters):
    for headers in ({}, {"x-failover-drill": "True"}, {"x-failover-drill": "false"}):
        request = geo("order-service", headers=headers)
        assert where(callers[caller], request, down) == ("live", {(None, clusters): 100})
    d = callers[caller].evaluate(geo("order-service"))
    assert d.fault is None and d.retries == Retries(2, 2_000, ("connect-failure", "retriable-status-codes"), (503,))
    assert d.policy(Target(host("order-service", "geo"), None, 8080)) == ORDER_POLICY


# ------------------------------------------------------------------ S15
@pytest.mark.parametrize("caller, down, clusters", [
    # the caller's network, region and zone; then network and region; then network
    ("hangzhou", (), "hangzhou"),
    ("hangzhou", ("hangzhou",), "shanghai"),
    ("hangzhou", ("hangzhou", "shanghai"), "shenzhen"),
    ("hangzhou", ("hangzhou", "shanghai", "shenzhen"), "beijing"),
    ("shanghai", (), "shanghai"),
    ("shanghai", ("shanghai",), "hangzhou"),
    ("shenzhen", (), "shenzhen"),
    ("shenzhen", ("shenzhen",), "hangzhou shanghai"),
    ("beijing", (), "beijing"),
    # alone on net-2: every other cluster is one tier
    ("beijing", ("beijing",), "hangzhou shanghai shenzhen"),
])
def test_s15_inventory_by_network_then_region_then_zone(callers, caller, down, clusters):
    request = geo("inventory")
    assert where(callers[caller], request, down) == (("default", None), {(None, clusters): 100})
    assert callers[caller].evaluate(request).policy(Target(host("inventory", "geo"), None, 8080)) == {
        "loadBalancer.localityLbSetting.enabled": True,
        "loadBalancer.localityLbSetting.failoverPriority": (
            "topology.istio.io/network", "topology.kubernetes.io/region", "topology.kubernetes.io/zone"),
        "outlierDetection.consecutive5xxErrors": 5,
        "outlierDetection.interval": 10_000,
        "outlierDetection.baseEjectionTime": 30_000,
    }


@pytest.mark.parametrize("caller, down, clusters", [
    ("hangzhou", (), "hangzhou"),
    ("shanghai", (), "hangzhou"),
    ("beijing", (), "hangzhou"),
    ("shenzhen", (), "hangzhou"),
    # without hangzhou no pod matches the pinned first entry, so `network`
    # no longer counts: the caller's network is not preferred
    ("hangzhou", ("hangzhou",), "beijing shenzhen"),
    ("shenzhen", ("hangzhou",), "beijing shenzhen"),
    ("beijing", ("hangzhou",), "beijing shenzhen"),
    ("beijing", ("hangzhou", "beijing"), "shenzhen"),
])
def test_s15_ledger_prefers_the_pinned_cluster(callers, caller, down, clusters):
    request = geo("ledger")
    assert where(callers[caller], request, down) == (("default", None), {(None, clusters): 100})
    policy = callers[caller].evaluate(request).policy(Target(host("ledger", "geo"), None, 8080))
    assert policy["loadBalancer.localityLbSetting.failoverPriority"] == (
        "topology.istio.io/cluster=hangzhou", "topology.istio.io/network")


# ------------------------------------------------------------------ S16
@pytest.mark.parametrize("caller, entry", [
    # hangzhou's configuration serves its remote shanghai: one entry per
    # cluster, matching the caller's cluster
    ("hangzhou", "default-hangzhou"),
    ("shanghai", "default-shanghai"),
    # beijing and shenzhen serve only themselves: no match needed
    ("beijing", "default"),
    ("shenzhen", "default"),
])
def test_s16_a_local_service_is_served_in_the_callers_cluster_only(callers, caller, entry):
    request = mesh("session-cache", "edge", 8080)
    assert where(callers[caller], request) == (entry, {(caller, caller): 100})
    assert where(callers[caller], request, down=(caller,)) == (entry, {(caller, ""): 100})
    d = callers[caller].evaluate(request)
    assert d.virtual_service == "edge/session-cache" and d.timeout_ms == 200
    assert d.policies == ((Target(host("session-cache", "edge"), caller, 8080), ()),)


def test_s16_explain_names_the_cluster_match_local_adds(callers):
    explained = callers["shanghai"].explain(mesh("session-cache", "edge", 8080))
    (miss,) = explained.tried
    assert miss.entry == "default-hangzhou" and [(c.text, c.origin) for c in miss.failures] == [
        ("from cluster hangzhou", "local")]
    assert line_of(miss.failures[0].span) == "local"
