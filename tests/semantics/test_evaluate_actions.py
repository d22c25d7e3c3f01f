"""Request tables for what the evaluator says a taken entry does:
destinations and weights, ports, DestinationRule policies, retries,
timeouts, faults, mirrors, rewrites, redirects. Expectations from
istio/api's proto comments and pilot (route.go, retry.go, util.go)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from evaluate_support import NS, evaluator, fq, registry, req, shares, single, vs

from meshc.semantics.decision import NO_RETRIES, Cors, Fault, Retries, Share, Target
from meshc.semantics.evaluate import ISTIO_DEFAULT_RETRIES

REG = registry(app=[80], api=[80, 9090], db=[5432], one=[8080], ratings__other=[9080])
APP = fq("app")


def decide(http: str, request=None, reg=REG, docs: str = "", hosts="[app]"):
    return evaluator(vs(hosts, http) + docs, reg).evaluate(request or req(APP, 80))


# ----------------------------------------------------------- weights


@pytest.mark.parametrize("weights,expected", [
    ((90, 20), (Fraction(9, 11), Fraction(2, 11))),      # relative since Istio 1.15
    ((50, 50), (Fraction(1, 2), Fraction(1, 2))),
    ((100, None), (Fraction(1),)),                        # no weight is 0 with several destinations
    ((1, 3), (Fraction(1, 4), Fraction(3, 4))),
])
def test_weights_are_relative(weights, expected):
    route = "".join(f"\n    - {{destination: {{host: app, subset: v{i}}}{'' if w is None else f', weight: {w}'}}}"
                    for i, w in enumerate(weights))
    d = decide(f"- name: m\n  route:{route}")
    assert tuple(s.share for s in d.destinations) == expected
    assert all(s.share > 0 for s in d.destinations)


@pytest.mark.parametrize("weight", ["", ", weight: 0", ", weight: 10"])
def test_a_single_destination_takes_everything_whatever_its_weight(weight):
    d = decide(f"- route: [{{destination: {{host: app, subset: v1}}{weight}}}]")
    assert d.destinations == single(APP, "v1", 80)


def test_shares_of_the_same_target_add_up():
    d = decide("""
        - route:
          - {destination: {host: app}, weight: 30}
          - {destination: {host: app}, weight: 20}
          - {destination: {host: app, subset: v2}, weight: 50}
    """)
    assert shares(d) == {("app", None, 80): Fraction(1, 2), ("app", "v2", 80): Fraction(1, 2)}


# ------------------------------------------------------------- ports


def test_destination_port_defaults_to_the_listener_port_at_a_sidecar():
    # GetDestinationCluster looks the service up in the listener's table, where it has
    # exactly the listener port or is absent: `one` only has 8080, yet the cluster is port 80
    d = decide("- route: [{destination: {host: one}}]")
    assert d.destinations == single(fq("one"), None, 80)
    assert d.policies == ((Target(fq("one"), None, 80), ()),)  # no such cluster


def test_destination_port_on_a_multi_port_service_is_the_listener_port():
    request = req(fq("api"), 9090)
    d = decide("- route: [{destination: {host: api}}]", request, hosts="[api]")
    assert d.destinations == single(fq("api"), None, 9090)


def test_an_explicit_destination_port_is_kept():
    d = decide("- route: [{destination: {host: api, port: {number: 9090}}}]")
    assert d.destinations == single(fq("api"), None, 9090)


# ------------------------------------------------------ short names


def test_short_names_resolve_in_the_virtual_service_namespace():
    d = decide("- route: [{destination: {host: ratings}}]")
    assert d.destinations == single(fq("ratings", NS), None, 80)
    d = decide("- route: [{destination: {host: ratings.other}}]")  # taken literally, not expanded
    assert d.destinations == single("ratings.other", None, 80)
    d = decide("- route: [{destination: {host: ratings.other.svc.cluster.local, port: {number: 9080}}}]")
    assert d.destinations == single(fq("ratings", "other"), None, 9080)


def test_virtual_service_hosts_resolve_in_their_namespace():
    ev = evaluator(vs("[app]", "- route: [{destination: {host: app}}]", ns="other"),
                   registry(app=[80], app__other=[80]))
    assert ev.evaluate(req(fq("app", "other"), 80)).kind == "route"
    assert ev.evaluate(req(APP, 80)).kind == "default"


# ---------------------------------------------------------- policies

DR = """
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: app, namespace: ns}
spec:
  host: app
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 1024}}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5s, baseEjectionTime: 15s}
    loadBalancer: {simple: LEAST_REQUEST}
    tunnel: {protocol: CONNECT, targetHost: proxy, targetPort: 8080}
    portLevelSettings:
    - port: {number: 9090}
      connectionPool: {tcp: {maxConnections: 10}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      outlierDetection: {consecutive5xxErrors: 1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
      portLevelSettings:
      - port: {number: 9090}
        connectionPool: {http: {http2MaxRequests: 5}}
  - name: v3
    labels: {version: v3}
"""
TOP = {"connectionPool.tcp.maxConnections": 100, "connectionPool.http.http1MaxPendingRequests": 1024,
       "outlierDetection.consecutive5xxErrors": 7, "outlierDetection.interval": 5000,
       "outlierDetection.baseEjectionTime": 15000, "loadBalancer.simple": "LEAST_REQUEST",
       "tunnel.protocol": "CONNECT", "tunnel.targetHost": "proxy", "tunnel.targetPort": 8080}


def policy(subset, port):
    reg = registry(app=[80, 9090])
    d = decide(f"- route: [{{destination: {{host: app, {'subset: ' + subset + ', ' if subset else ''}"
               f"port: {{number: {port}}}}}}}]", reg=reg, docs=DR)
    return d.policy(Target(APP, subset, port))


def test_top_level_policy_applies_to_the_plain_cluster():
    assert policy(None, 80) == TOP


def test_a_subset_replaces_whole_top_level_fields():
    # util.go mergeTrafficPolicy: the subset's outlierDetection replaces the whole message
    assert policy("v1", 80) == {**{k: v for k, v in TOP.items() if not k.startswith("outlierDetection")},
                                "outlierDetection.consecutive5xxErrors": 1}
    assert policy("v3", 80) == TOP


def test_port_level_settings_replace_without_inheriting():
    # GetPortLevelTrafficPolicy: only the port entry's own fields; even tunnel is dropped
    assert policy(None, 9090) == {"connectionPool.tcp.maxConnections": 10}


def test_a_subset_over_the_port_level_policy():
    # subset v1 sets outlierDetection only: the port-level connectionPool stays
    assert policy("v1", 9090) == {"connectionPool.tcp.maxConnections": 10, "outlierDetection.consecutive5xxErrors": 1}


def test_a_subset_port_level_entry_replaces_all_four_fields():
    # hasPortLevel: connectionPool, loadBalancer, outlierDetection and tls all come from
    # the subset's port entry, unset ones included
    assert policy("v2", 9090) == {"connectionPool.http.http2MaxRequests": 5}
    assert policy("v2", 80) == {**TOP, "loadBalancer.simple": "ROUND_ROBIN"}


def test_a_subset_no_rule_defines_has_no_cluster():
    d = decide("- route: [{destination: {host: app, subset: nope}}]", docs=DR)
    assert d.policy(Target(APP, "nope", 80)) == {}


def test_a_rule_in_the_client_namespace_wins_over_the_service_namespace():
    local = DR.replace("namespace: ns}", "namespace: client}").replace("host: app\n", f"host: {APP}\n") \
        .replace("maxConnections: 100", "maxConnections: 1")
    ev = evaluator(vs("[app]", "- route: [{destination: {host: app}}]") + DR + local, REG)
    assert ev.evaluate(req(APP, 80)).policy(Target(APP, None, 80))["connectionPool.tcp.maxConnections"] == 100
    from_client = ev.evaluate(req(APP, 80, source_namespace="client")).policy(Target(APP, None, 80))
    assert from_client["connectionPool.tcp.maxConnections"] == 1


def test_a_private_rule_is_not_seen_from_other_namespaces():
    private = DR.replace("  host: app\n", "  host: app\n  exportTo: ['.']\n")
    ev = evaluator(vs("[app]", "- route: [{destination: {host: app}}]") + private, REG)
    assert ev.evaluate(req(APP, 80, source_namespace=NS)).policy(Target(APP, None, 80)) == TOP
    assert ev.evaluate(req(APP, 80, source_namespace="elsewhere")).policy(Target(APP, None, 80)) == {}


def test_two_rules_for_one_host_merge_subsets_and_keep_the_first_policy():
    second = """
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: zz-app, namespace: ns}
spec:
  host: app
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets: [{name: v9, labels: {version: v9}}]
"""
    d = decide("- route: [{destination: {host: app, subset: v9}}]", docs=second + DR)
    assert d.policy(Target(APP, "v9", 80)) == TOP


def test_the_default_route_carries_the_policy_too():
    ev = evaluator(DR, registry(app=[80, 9090]))
    d = ev.evaluate(req(APP, 9090))
    assert d.kind == "default" and d.policy(Target(APP, None, 9090)) == {"connectionPool.tcp.maxConnections": 10}


# ----------------------------------------------------------- retries


@pytest.mark.parametrize("retries,expected", [
    ("", ISTIO_DEFAULT_RETRIES),
    ("retries: {attempts: 0}", NO_RETRIES),
    ("retries: {}", NO_RETRIES),                       # retries without attempts disable them
    ("retries: {attempts: 3}", Retries(3, None, ISTIO_DEFAULT_RETRIES.retry_on, ())),
    ("retries: {attempts: 3, perTryTimeout: 2s, retryOn: 'connect-failure,5xx'}",
     Retries(3, 2000, ("5xx", "connect-failure"), ())),
    ("retries: {attempts: 2, retryOn: '503,504'}", Retries(2, None, ("retriable-status-codes",), (503, 504))),
    ("retries: {attempts: 2, retryOn: 'gateway-error, 503 ,retriable-status-codes'}",
     Retries(2, None, ("gateway-error", "retriable-status-codes"), (503,))),
    ("retries: {attempts: 2, retryOn: '599,5xx'}", Retries(2, None, ("599", "5xx"), ())),  # unknown to Go's StatusText
])
def test_retries(retries, expected):
    d = decide(f"- route: [{{destination: {{host: app}}}}]\n  {retries}")
    assert d.retries == expected


def test_istio_default_retry_policy():
    assert ISTIO_DEFAULT_RETRIES == Retries(2, None, ("cancelled", "connect-failure", "refused-stream",
                                                      "retriable-status-codes", "unavailable"), ())


# ---------------------------------------------------------- timeouts


@pytest.mark.parametrize("timeout,ms", [("", None), ("timeout: 0s", None), ("timeout: 1.5s", 1500),
                                        ("timeout: 250ms", 250), ("timeout: 1m", 60000)])
def test_timeouts(timeout, ms):
    assert decide(f"- route: [{{destination: {{host: app}}}}]\n  {timeout}").timeout_ms == ms


# ------------------------------------------------------------ faults


@pytest.mark.parametrize("fault,expected", [
    ("{abort: {httpStatus: 503, percentage: {value: 0.57}}}",
     Fault(abort_status=503, abort_share=Fraction(5699, 1_000_000))),      # float64 truncation, not 5700
    ("{abort: {httpStatus: 503}}", Fault(abort_status=503, abort_share=Fraction(0))),
    ("{delay: {fixedDelay: 2s, percentage: {value: 12.5}}}", Fault(2000, Fraction(1, 8))),
    ("{delay: {fixedDelay: 2s, percent: 30}}", Fault(2000, Fraction(3, 10))),
    ("{delay: {fixedDelay: 1s}}", Fault(1000, Fraction(0))),
    ("{delay: {exponentialDelay: 1s, percentage: {value: 50}}}", None),  # not supported: dropped
    ("{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}", Fault(abort_share=Fraction(1))),
])
def test_faults(fault, expected):
    assert decide(f"- route: [{{destination: {{host: app}}}}]\n  fault: {fault}").fault == expected


# ----------------------------------------------------------- mirrors


@pytest.mark.parametrize("mirror,expected", [
    ("mirror: {host: api}", ((fq("api"), 80, Fraction(1)),)),
    ("mirror: {host: api}\n  mirrorPercentage: {value: 10}", ((fq("api"), 80, Fraction(1, 10)),)),
    ("mirror: {host: api}\n  mirrorPercentage: {value: 0}", ()),
    ("mirror: {host: api}\n  mirrorPercent: 25", ((fq("api"), 80, Fraction(1, 4)),)),
    ("mirrors: [{destination: {host: api, port: {number: 9090}}, percentage: {value: 0.1}},"
     " {destination: {host: db}}]",
     ((fq("api"), 9090, Fraction(1, 1000)), (fq("db"), 80, Fraction(1)))),
])
def test_mirrors(mirror, expected):
    d = decide(f"- route: [{{destination: {{host: app}}}}]\n  {mirror}")
    assert tuple((m.target.host, m.target.port, m.share) for m in d.mirrors) == expected


# ---------------------------------------------------------- rewrites


@pytest.mark.parametrize("match,rewrite,path,upstream", [
    ("[{uri: {prefix: /api}}]", "{uri: /v2}", "/api/users?q=1", "/v2/users?q=1"),
    ("[{uri: {prefix: /api/}}]", "{uri: /}", "/api/users", "/users"),
    ("[{uri: {prefix: /API}, ignoreUriCase: true}]", "{uri: /v2}", "/api/x", "/v2/x"),
    ("[{uri: {exact: /old}}]", "{uri: /new}", "/old?x=1", "/new?x=1"),
    ("[{uri: {regex: '/u/[0-9]+'}}]", "{uri: /user}", "/u/42?a=b", "/user?a=b"),
    ("", "{uri: /v2}", "/foo", "/v2foo"),                  # no uri match: only the leading `/` is replaced
    ("[{headers: {x: {}}}]", "{uri: /v2/}", "/foo", "/v2/foo"),
    ("", "{uriRegexRewrite: {match: '^/service/([^/]+)(/.*)$', rewrite: '/customprefix\\2/\\1'}}",
     "/service/update/v1/api?x=1", "/customprefix/v1/api/update?x=1"),
    ("", "{uriRegexRewrite: {match: '(?i)/xxx/', rewrite: /yyy/}}", "/aaa/XxX/bbb", "/aaa/yyy/bbb"),
    ("", "{authority: other}", "/foo", None),
])
def test_rewrites(match, rewrite, path, upstream):
    m = f"\n  match: {match}" if match else ""
    d = decide(f"- name: r{m}\n  rewrite: {rewrite}\n  route: [{{destination: {{host: app}}}}]",
               req(APP, 80, path=path, headers={"x": "1"}))
    assert d.entry == "r" and d.rewrite == upstream


# ------------------------------------------ redirects and answers


def test_redirect_and_direct_response():
    d = decide("- redirect: {uri: /new}")
    assert (d.kind, d.status, d.destinations, d.retries) == ("redirect", 301, (), NO_RETRIES)
    assert decide("- redirect: {uri: /new, redirectCode: 308}").status == 308
    d = decide("- directResponse: {status: 418, body: {string: teapot}}")
    assert (d.kind, d.status) == ("respond", 418)
    # a redirect takes precedence over a route in the same entry
    assert decide("- redirect: {uri: /n}\n  route: [{destination: {host: app}}]").kind == "redirect"


def test_cors_policy():
    d = decide("""
        - route: [{destination: {host: app}}]
          corsPolicy:
            allowOrigins: [{exact: 'https://a.example'}, {regex: 'https://.*\\.b\\.example'}]
            allowMethods: [GET, POST]
            allowHeaders: [x-a]
            exposeHeaders: [x-b]
            maxAge: 24h
            allowCredentials: true
    """)
    assert d.cors == Cors(("https://a.example", "regex:https://.*\\.b\\.example"), ("GET", "POST"), ("x-a",),
                          ("x-b",), 86400, True)


def test_every_target_of_destinations_and_mirrors_has_its_policy_sorted():
    d = decide("""
        - route:
          - {destination: {host: app, subset: v1}, weight: 50}
          - {destination: {host: app}, weight: 50}
          mirror: {host: api}
    """, docs=DR)
    assert [t for t, _ in d.policies] == [Target(fq("api"), None, 80), Target(APP, None, 80), Target(APP, "v1", 80)]
    assert dict(d.policies)[Target(APP, None, 80)] == tuple(sorted(TOP.items()))
    assert d.destinations[0] == Share(Target(APP, None, 80), Fraction(1, 2))
