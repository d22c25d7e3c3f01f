"""The interpreter on small policies, one rule at a time: the rules of
docs/language.md and those issue 7 pins down (numbered as there)."""

from __future__ import annotations

import pytest

from meshc.semantics.decision import NO_RETRIES, Fault, Retries, percent_share
from meshc.semantics.interpret import Interpreter
from meshc.semantics.request import Request
from test_interpret_support import goes, host, one_route, policy_of, split, target

GATEWAY = """
namespace istio-system {
  gateway gw {
    hosts h.example.com
    https credential cert
    redirect-http
    http port 8080
  }
}
"""


def at_gateway(port: int = 443, **kw) -> Request:
    return Request.make("h.example.com", port, gateway="istio-system/gw", **kw)


def mesh(name: str = "s", port: int = 80, **kw) -> Request:
    return Request.make(host(name), port, **kw)


def interpreter(text: str, cluster: str = "default", errors_ok: bool = False) -> Interpreter:
    return Interpreter(policy_of(text, errors_ok=errors_ok), cluster)


# ----------------------------------------- 1: exposure AND route, never overwritten
@pytest.mark.parametrize("expose, route, request_kw, answer", [
    ('header x-env = "prod"', 'header x-env ^= "p"', {"headers": {"x-env": "prod"}}, "s-canary"),
    ('header x-env = "prod"', 'header x-env ^= "p"', {"headers": {"x-env": "pre"}}, 404),
    ('cookie tenant = "acme"', 'header x-b = "1"', {"cookies": {"tenant": "acme"}, "headers": {"x-b": "1"}},
     "s-canary"),
    ('cookie tenant = "acme"', 'header x-b = "1"', {"cookies": {"tenant": "acme2"}, "headers": {"x-b": "1"}}, 404),
    ('cookie tenant = "acme"', 'header x-b = "1"', {"cookies": {"tenant": "acme"}}, "s-rest"),
    ('header x-b ~ "[0-9]"', 'header x-b = "1"', {"headers": {"x-b": "1"}}, "s-canary"),
    ('header x-b ~ "[0-9]"', 'header x-b = "1"', {"headers": {"x-b": "2"}}, "s-rest"),
    ('method = GET', 'header x-b = "1"', {"method": "POST", "headers": {"x-b": "1"}}, 404),
    ('method = GET', 'header x-b = "1"', {"method": "GET", "headers": {"x-b": "1"}}, "s-canary"),
    ('query t = "1"', 'header x-b = "1"', {"query": {"t": "2"}, "headers": {"x-b": "1"}}, 404),
    ('query t = "1"', 'header x-b = "1"', {"query": {"t": "1"}}, "s-rest"),
])
def test_1_exposure_and_route_conditions_both_hold(expose, route, request_kw, answer):
    it = interpreter(GATEWAY + f"""
namespace ns {{
  service s {{
    port 80 http
    subsets by version v1 v2
    expose via gw host h.example.com when {expose}
    route canary {{ when {route} to v2 }}
    route rest {{ to v1 }}
  }}
}}""")
    d = it.evaluate(at_gateway(**request_kw))
    assert (d.entry if d.kind == "route" else d.status) == answer


def test_1_a_get_only_exposure_keeps_post_out_even_when_a_route_wants_post():
    it = interpreter(GATEWAY + """
namespace ns {
  service s {
    port 80 http
    subsets by version v1 v2
    expose via gw host h.example.com when method = GET
    route writes { when method = POST to v2 }
    route rest { to v1 }
  }
}""")  # the impossible pairing of `writes` with the exposure is only a warning
    assert goes(it, at_gateway(method="POST")) == (("respond", 404), {})
    assert goes(it, at_gateway(method="GET")) == ("s-rest", {"v1": 100})
    assert goes(it, mesh(method="POST")) == ("writes", {"v2": 100})


# ------------------------------------------------------- 2: exposure order
def two_services(a: str, b: str) -> Interpreter:
    return interpreter(GATEWAY + f"""
namespace ns {{
  service a {{ port 80 http  expose via gw host h.example.com when {a} }}
  service b {{ port 80 http  expose via gw host h.example.com when {b} }}
}}""")


@pytest.mark.parametrize("a, b, request_kw, answer", [
    # catch-alls go last, whatever their spelling
    ('path ^= "/"', 'header x-b = "1"', {"path": "/foo", "headers": {"x-b": "1"}}, "b-default"),
    ('path ~ ".*"', 'header x-b = "1"', {"path": "/foo", "headers": {"x-b": "1"}}, "b-default"),
    ('path ^= "/"', 'header x-b = "1"', {"path": "/foo"}, "a-default"),
    # same path rank: more conditions first, though `a` comes first by name
    ('path ^= "/api"', 'path ^= "/api" and header x-beta = "1"', {"path": "/api/x", "headers": {"x-beta": "1"}},
     "b-default"),
    ('path ^= "/api"', 'path ^= "/api" and header x-beta = "1"', {"path": "/api/x"}, "a-default"),
    # longer prefix first
    ('path ^= "/a"', 'path ^= "/ab"', {"path": "/abc"}, "b-default"),
    ('path ^= "/a"', 'path ^= "/ab"', {"path": "/ax"}, "a-default"),
    # exact before prefix before regex before other conditions
    ('path ^= "/x"', 'path = "/x/y"', {"path": "/x/y"}, "b-default"),
    ('path ^= "/x"', 'path = "/x/y"', {"path": "/x/z"}, "a-default"),
    ('path ~ "/x/.*"', 'path ^= "/x"', {"path": "/x/1"}, "b-default"),
    ('header x-a = "1"', 'path ~ "/x/.*"', {"path": "/x/1", "headers": {"x-a": "1"}}, "b-default"),
    # equal ranks: by service
    ('header x-a = "1"', 'header x-b = "1"', {"headers": {"x-a": "1", "x-b": "1"}}, "a-default"),
])
def test_2_exposures_of_one_host_most_specific_first(a, b, request_kw, answer):
    d = two_services(a, b).evaluate(at_gateway(**request_kw))
    assert d.entry == answer


def test_2_equal_ranks_go_by_namespace_then_service_name():
    it = interpreter(GATEWAY + """
namespace zz { service a { port 80 http  expose via gw host h.example.com when header x-a = "1" } }
namespace aa { service z { port 80 http  expose via gw host h.example.com when header x-z = "1" } }
""")
    d = it.evaluate(at_gateway(headers={"x-a": "1", "x-z": "1"}))
    assert d.entry == "z-default" and split(d) == {(host("z", "aa"), None, 80): 100}


def test_2_each_alternative_ranks_on_its_own():
    it = two_services('path ^= "/abc" or path ^= "/a"', 'path ^= "/ab"')
    assert goes(it, at_gateway(path="/abc/1")) == ("a-default", {host("a"): 100})
    assert goes(it, at_gateway(path="/abz")) == ("b-default", {host("b"): 100})
    assert goes(it, at_gateway(path="/ax")) == ("a-default-2", {host("a"): 100})


# ------------------------------------------------------ 3: gateway entry names
def blue_green_exposed(exposes: str, others: str = "") -> Interpreter:
    """Service `s` with one blue-green route `main`, exposed as `exposes` says."""
    return interpreter(GATEWAY + f"""
namespace ns {{
  service s {{
    port 80 http
    subset blue {{ color = "blue" }}
    subset green {{ color = "green" }}
    {exposes}
    route main {{ blue-green active blue preview green }}
  }}
  {others}
}}""")


def test_3_one_service_exposing_one_host_twice_gets_unique_entry_names():
    it = blue_green_exposed('expose via gw host h.example.com when path ^= "/a"\n'
                            '    expose via gw host h.example.com when path ^= "/b"')
    assert goes(it, at_gateway(path="/a")) == ("s-main", {"blue": 100})
    assert goes(it, at_gateway(path="/a", headers={"x-preview": "true"})) == ("s-main-preview", {"green": 100})
    assert goes(it, at_gateway(path="/b")) == ("s-main-2", {"blue": 100})
    assert goes(it, at_gateway(path="/b", headers={"x-preview": "true"})) == ("s-main-2-preview", {"green": 100})
    assert goes(it, at_gateway(path="/c")) == (("respond", 404), {})


# ------------------------------------------------ 4: destination policy order
POLICY_LAYERS = """
fleet f {
  cluster c1 region r1
  cluster c2 region r1
}
namespace ns {
  defaults {
    circuit-breaker { max-connections 1 max-pending 1 max-requests 1 max-retries 1 connect-timeout 1ms }
    lb random
  }
  service s {
    port 80 http { circuit-breaker { max-connections 10 max-requests 10 } }
    port 81 http
    subsets by version v1 v2
    circuit-breaker {
      max-connections 2 max-pending 2 max-requests 2 max-retries 2
      eject 5 consecutive 5xx every 10s for 30s
    }
    on c1 { circuit-breaker { max-connections 3 max-pending 3 max-requests 3 } }
    subset v1 { circuit-breaker { max-pending 5 max-requests 5 eject 3 consecutive gateway-errors } }
    route r { to v1 50%, v2 50% }
  }
}
"""


@pytest.mark.parametrize("cluster, port, subset, expected", [
    ("c1", 80, "v1", {"maxConnections": 10, "http1MaxPendingRequests": 5, "http2MaxRequests": 5, "maxRetries": 2}),
    ("c1", 80, "v2", {"maxConnections": 10, "http1MaxPendingRequests": 3, "http2MaxRequests": 10, "maxRetries": 2}),
    ("c2", 80, "v2", {"maxConnections": 10, "http1MaxPendingRequests": 2, "http2MaxRequests": 10, "maxRetries": 2}),
    ("c1", 81, "v2", {"maxConnections": 3, "http1MaxPendingRequests": 3, "http2MaxRequests": 3, "maxRetries": 2}),
    ("c2", 81, "v1", {"maxConnections": 2, "http1MaxPendingRequests": 5, "http2MaxRequests": 5, "maxRetries": 2}),
])
def test_4_defaults_service_cluster_port_subset(cluster, port, subset, expected):
    d = interpreter(POLICY_LAYERS, cluster).evaluate(mesh(port=port))
    policy = d.policy(target("s", subset, port))
    pool = {k.rsplit(".", 1)[1]: v for k, v in policy.items() if k.startswith("connectionPool.")}
    assert pool == {**expected, "connectTimeout": 1}
    assert policy["loadBalancer.simple"] == "RANDOM"
    outlier = {k: v for k, v in policy.items() if k.startswith("outlierDetection.")}
    if subset == "v1":  # its own `eject` replaces the count and kind, and inherits `every` and `for`
        assert outlier == {"outlierDetection.consecutiveGatewayErrors": 3, "outlierDetection.interval": 10_000,
                           "outlierDetection.baseEjectionTime": 30_000}
    else:
        assert outlier == {"outlierDetection.consecutive5xxErrors": 5, "outlierDetection.interval": 10_000,
                           "outlierDetection.baseEjectionTime": 30_000}


def test_4_a_subset_keeps_the_port_level_settings():
    it = interpreter("""
namespace ns {
  service s {
    port 80 http { circuit-breaker { max-connections 10 } }
    subsets by version v1
    subset v1 { circuit-breaker { max-pending 5 } }
    route r { to v1 }
  }
}""")
    d = it.evaluate(mesh())
    assert d.policy(target("s", "v1", 80)) == {"connectionPool.tcp.maxConnections": 10,
                                               "connectionPool.http.http1MaxPendingRequests": 5}


def test_4_explain_names_the_level_of_each_setting():
    it = interpreter(POLICY_LAYERS, "c1")
    explained = it.explain(mesh(port=80))
    origins = dict(explained.policies)[target("s", "v1", 80)]
    level = {o.setting.rsplit(".", 1)[1]: o.level for o in origins}
    assert level == {"maxConnections": "port 80", "http1MaxPendingRequests": "subset v1",
                     "http2MaxRequests": "subset v1", "maxRetries": "service", "connectTimeout": "namespace defaults",
                     "simple": "namespace defaults", "consecutiveGatewayErrors": "subset v1",
                     "interval": "service", "baseEjectionTime": "service"}


# ----------------------------------------- 5: `service X` without a port
PORTS = """
namespace ns {
  service s {
    port 80 http
    port 8080 http
    route r { to service x  mirror service y 10% }
  }
  service x { port 9090 http }
  service y { port 80 http  port 8080 http }
}
"""


@pytest.mark.parametrize("dialled", [80, 8080])
def test_5_destination_port_of_another_service(dialled):
    d = interpreter(PORTS).evaluate(mesh(port=dialled))
    assert split(d) == {(host("x"), None, 9090): 100}   # x has one port
    assert [(m.target, m.share) for m in d.mirrors] == [(target("y", None, dialled), percent_share(10))]


def test_5_at_a_gateway_another_service_gets_the_gateway_port():
    it = interpreter("""
namespace istio-system { gateway gw { hosts h.example.com  http port 8080 } }
""" + PORTS.replace("route r", "expose via gw host h.example.com port 80\n    route r"))
    d = it.evaluate(Request.make("h.example.com", 8080, gateway="istio-system/gw"))
    assert split(d) == {(host("x"), None, 9090): 100}
    assert d.mirrors[0].target == target("y", None, 8080)   # the port the request arrived on
    assert d.policy(target("x", None, 9090)) == {}


# ---------------------------------------- 6: every route has a `when` → 404
@pytest.mark.parametrize("when, request_kw, routed", [
    ("port 9090", {"port": 9090}, True),
    ("port 9090", {"port": 8080}, False),
    ("from namespace ops", {"port": 8080, "source_namespace": "ops"}, True),
    ("from namespace ops", {"port": 8080, "source_namespace": "dev"}, False),
    ('source app = "admin"', {"port": 8080, "source_labels": {"app": "admin"}}, True),
    ('source app = "admin"', {"port": 8080, "source_labels": {"app": "web"}}, False),
])
def test_6_routes_that_all_have_a_when_answer_404_to_the_rest(when, request_kw, routed):
    it = interpreter(f"""
namespace ns {{
  service s {{
    port 8080 http
    port 9090 http
    subsets by version v1 v2
    timeout 3s
    route admin {{ when {when} to v2 }}
  }}
}}""")
    d = it.evaluate(mesh(**request_kw))
    if routed:
        assert d.entry == "admin" and d.timeout_ms == 3000
        assert split(d) == {(host("s"), "v2", request_kw["port"]): 100}
    else:
        assert (d.kind, d.status, d.virtual_service, d.entry) == ("respond", 404, "ns/s", "not-found")


def test_6_mesh_only_conditions_never_match_at_a_gateway():
    it = interpreter(GATEWAY + """
namespace ns {
  service s {
    port 443 http
    subsets by version v1 v2
    expose via gw host h.example.com
    route admin { when port 443 or from namespace istio-system or source istio = "ingressgateway" to v2 }
    route rest { to v1 }
  }
}""")
    request = at_gateway(source_namespace="istio-system", source_labels={"istio": "ingressgateway"})
    assert goes(it, request) == ("s-rest", {"v1": 100})
    assert goes(it, mesh(port=443)) == ("admin", {"v2": 100})


def test_6_at_a_gateway_a_service_without_a_default_route_answers_404():
    it = interpreter(GATEWAY + """
namespace ns {
  service a {
    port 80 http
    expose via gw host h.example.com when path ^= "/a"
    route beta { when header x-beta = "1" to service a }
  }
  service b { port 80 http  expose via gw host h.example.com }
}""")
    assert goes(it, at_gateway(path="/a", headers={"x-beta": "1"}))[0] == "a-beta"
    assert goes(it, at_gateway(path="/a")) == (("respond", 404), {})
    assert goes(it, at_gateway(path="/b"))[0] == "b-default"


# --------------------------------------------------------- 7: blue-green
def test_7_preview_needs_the_route_when_and_the_preview_header():
    it = interpreter("""
namespace ns {
  service s {
    port 80 http
    subset blue { color = "blue" }
    subset green { color = "green" }
    route staff { when header x-staff = "1" blue-green active blue preview green }
    route rest { to blue }
  }
}""")
    assert goes(it, mesh(headers={"x-staff": "1", "x-preview": "true"})) == ("staff-preview", {"green": 100})
    assert goes(it, mesh(headers={"x-staff": "1", "x-preview": "yes"})) == ("staff", {"blue": 100})
    assert goes(it, mesh(headers={"x-preview": "true"})) == ("rest", {"blue": 100})


# --------------------------------------------- 8: options but no routes
def test_8_route_options_without_routes_in_the_mesh_and_at_a_gateway():
    it = interpreter(GATEWAY + """
namespace ns {
  service s {
    port 80 http
    timeout 5s
    expose via gw host h.example.com
  }
}""")
    for request, vs, entry in ((mesh(), "ns/s", "default"),
                               (at_gateway(), "istio-system/gw-h-example-com", "s-default")):
        d = it.evaluate(request)
        assert (d.kind, d.virtual_service, d.entry, d.timeout_ms) == ("route", vs, entry, 5000)
        assert split(d) == {(host("s"), None, 80): 100}


def test_8_options_set_in_one_cluster_only():
    text = """
fleet f {
  cluster c1 region r1
  cluster c2 region r1
}
namespace ns { service s { port 80 http  on c1 { timeout 5s } } }
"""
    one = interpreter(text, "c1").evaluate(mesh())
    assert (one.kind, one.entry, one.timeout_ms) == ("route", "default", 5000)
    two = interpreter(text, "c2").evaluate(mesh())
    assert (two.kind, two.timeout_ms) == ("default", None)


# ------------------------------------------- 9: cookies, regexes, paths
@pytest.mark.parametrize("kw, matches", [
    ({"cookies": {"canary": "true"}}, True),
    ({"headers": {"cookie": "a=1; canary=true; b=2"}}, True),
    ({"headers": {"cookie": "canary=true;b=2"}}, True),
    ({"headers": {"cookie": "xcanary=true"}}, False),
    ({"headers": {"cookie": "canary=truex"}}, False),
    ({"headers": {"cookie": "canary=tru"}}, False),
    ({"headers": {"cookie": "a=canary=true"}}, False),
    ({}, False),
])
def test_9_cookie_is_exactly_that_cookie(kw, matches):
    it = Interpreter(one_route('cookie canary = "true"'), "default")
    assert it.evaluate(mesh(**kw)).entry == ("c" if matches else "rest")


@pytest.mark.parametrize("when, kw, matches", [
    ('header x ~ "ab"', {"headers": {"x": "ab"}}, True),
    ('header x ~ "ab"', {"headers": {"x": "xaby"}}, False),   # full match
    ('header x ~ "^a.*$"', {"headers": {"x": "abc"}}, True),
    ('header x ^= "ab"', {"headers": {"x": "abc"}}, True),
    ('header x ^= "ab"', {"headers": {"x": "a"}}, False),
    ('header x absent', {"headers": {"x": ""}}, False),
    ('header x absent', {}, True),
    ('header x = ""', {"headers": {"x": ""}}, True),
    ('path = "/a"', {"path": "/a?b=1"}, True),                 # the query is not part of the path
    ('path ~ "/a"', {"path": "/a?b=1"}, True),
    ('path ^= "/a"', {"path": "/ab"}, True),
    ('query q = "1"', {"path": "/?q=1&q=2"}, True),            # the first occurrence
    ('query q = "1"', {"path": "/?q=2&q=1"}, False),
    ('query q ^= "1"', {"path": "/?p=1"}, False),
    ('query q ~ "[0-9]+"', {"query": {"q": "42"}}, True),
    ('method = POST', {"method": "post"}, False),
])
def test_9_string_matches(when, kw, matches):
    it = Interpreter(one_route(when), "default")
    assert it.evaluate(mesh(**kw)).entry == ("c" if matches else "rest")


# ------------------------------------------------- 10: gateway servers
@pytest.mark.parametrize("port, hostname, answer, status", [
    (443, "h.example.com", "route", None),
    (8080, "h.example.com", "route", None),       # a plain `http port 8080` server
    (80, "h.example.com", "redirect", 301),
    (80, "x.example.com", "respond", 404),
    (443, "x.example.com", "respond", None),      # a TLS server for other hosts: no handshake, no answer
    (9443, "h.example.com", "respond", None),     # no server on that port: nothing listens
])
def test_10_gateway_servers(port, hostname, answer, status):
    it = interpreter(GATEWAY + "namespace ns { service s { port 80 http  expose via gw host h.example.com } }")
    d = it.evaluate(Request.make(hostname, port, gateway="istio-system/gw"))
    assert (d.kind, d.status) == (answer, status)
    assert it.evaluate(Request.make("h.example.com", 443, gateway="other-ns/gw")).status is None


# --------------------------------------------------- options and overrides
OVERRIDES = """
fleet f {
  cluster c1 region r1
  cluster c2 region r1
  cluster c3 region r1 istio 1.22
}
namespace ns {
  service s {
    port 80 http
    subsets by version v1 v2
    timeout 10s
    fault abort 503 1%
    on c1 { timeout 20s  retry 5 }
    route fast { when header x = "1" to v2 }
    route r {
      to v1
      timeout 30s
      fault delay 1s 50%
      retry off
      on c2 { timeout 40s  rewrite path "/v2/" }
    }
  }
}
"""


@pytest.mark.parametrize("cluster, headers, timeout, retries", [
    ("c1", {"x": "1"}, 20_000, Retries(5, None, ("cancelled", "connect-failure", "refused-stream",
                                                 "retriable-status-codes", "unavailable"))),
    ("c2", {"x": "1"}, 10_000, Retries(2, None, ("cancelled", "connect-failure", "refused-stream",
                                                 "retriable-status-codes", "unavailable"))),
    ("c3", {"x": "1"}, 10_000, Retries(2, None, ("cancelled", "connect-failure", "refused-stream",
                                                 "retriable-status-codes", "unavailable"), (503,))),
    ("c1", {}, 30_000, NO_RETRIES),
    ("c2", {}, 40_000, NO_RETRIES),
    ("c3", {}, 30_000, NO_RETRIES),
])
def test_route_options_by_cluster(cluster, headers, timeout, retries):
    d = interpreter(OVERRIDES, cluster).evaluate(mesh(headers=headers, path="/a/b?c=1"))
    assert (d.timeout_ms, d.retries) == (timeout, retries)
    if headers:
        assert d.fault == Fault(abort_status=503, abort_share=percent_share(1)) and d.rewrite is None
    else:  # fault delay and fault abort are separate settings
        assert d.fault == Fault(1000, percent_share(50), 503, percent_share(1))
        assert d.rewrite == ("/v2/a/b?c=1" if cluster == "c2" else None)  # no path match: the leading `/`


def test_explain_tried_routes_and_option_origins():
    it = interpreter(OVERRIDES, "c2")
    explained = it.explain(mesh(headers={"x": "2"}))
    assert explained.decision.entry == "r"
    (miss,) = explained.tried
    assert miss.entry == "fast" and (miss.route.line, miss.when.line) == (14, 14)
    (failed,) = miss.failures
    assert failed.text == 'header x = "1"' and (failed.span.line, failed.span.column) == (14, 23)
    assert explained.route.line == 15 and explained.when is None
    origins = {o.setting: (o.level, o.span.line) for o in explained.options}
    assert origins == {"timeout": ("route r on c2", 20), "fault abort": ("service", 12),
                       "fault delay": ("route r", 18), "retry": ("route r", 19), "rewrite": ("route r on c2", 20)}


@pytest.mark.parametrize("when, path, rewritten", [
    ('path ^= "/api/"', "/api/users?x=1", "/v2/users?x=1"),
    ('path = "/api"', "/api?x=1", "/v2/?x=1"),
    ('path ~ "/a.*"', "/api/users?x=1", "/v2/?x=1"),
])
def test_rewrite_replaces_the_matched_path(when, path, rewritten):
    it = interpreter(f"""
namespace ns {{
  service s {{
    port 80 http
    route r {{ when {when} rewrite path "/v2/" }}
    route rest {{ }}
  }}
}}""")
    d = it.evaluate(mesh(path=path))
    assert (d.entry, d.rewrite) == ("r", rewritten)
    assert split(d) == {(host("s"), None, 80): 100}


def test_explain_at_a_gateway_names_exposure_and_preview_conditions():
    it = blue_green_exposed('expose via gw host h.example.com when path ^= "/s"',
                            "service t { port 80 http  expose via gw host h.example.com }")
    explained = it.explain(at_gateway(path="/t"))
    assert explained.decision.entry == "t-default" and explained.route is None
    assert [(m.entry, [(f.origin, f.text) for f in m.failures]) for m in explained.tried] == [
        ("s-main-preview", [("exposure", 'path ^= "/s"')]),
        ("s-main", [("exposure", 'path ^= "/s"')]),
    ]
    explained = it.explain(at_gateway(path="/s"))
    assert explained.decision.entry == "s-main"
    ((failure,),) = [m.failures for m in explained.tried]
    assert (failure.origin, failure.text, failure.span.line) == ("preview", 'header x-preview = "true"', 17)
    assert it.evaluate(at_gateway(path="/s")) == explained.decision
