"""Every construct of docs/language.md lowers to the IR it means."""

from __future__ import annotations

import pytest

from meshc.language import ir
from meshc.language.source import SourceFile
from meshc.pipeline import compile_sources


def lower(text: str) -> ir.MeshPolicy:
    compiled = compile_sources([SourceFile("t.mesh", text)])
    assert compiled.policy is not None, [d.message for d in compiled.diagnostics]
    return compiled.policy


def service(body: str, extra: str = "") -> ir.Service:
    policy = lower(f"{extra}namespace ns {{\n  service svc {{\n{body}\n  }}\n}}\n")
    return next(ns for ns in policy.namespaces if ns.name.value == "ns").services[0]


def route(body: str, head: str = "subsets by version v1 v2 v3") -> ir.Route:
    return service(f"{head}\nroute r {{\n{body}\n}}").routes[0]


def test_fleet_and_cluster_attributes():
    fleet = lower("fleet prod {\n  cluster a region r1 zone z1 network n1 gateway 10.0.0.1 istio 1.20\n"
                  "  cluster b gateway east.example.com\n}\n").fleet
    a, b = fleet.clusters
    assert (fleet.name.value, a.name.value, a.region.value, a.zone.value, a.network.value) == ("prod", "a", "r1", "z1", "n1")
    assert (a.gateway, a.istio) == ("10.0.0.1", "1.20")
    assert (b.region, b.gateway, b.istio) == (None, "east.example.com", None)


def test_fleet_topology():
    fleet = lower("fleet prod {\n  dns-proxying\n  cluster a network n1\n  cluster b remote of a\n}\n").fleet
    a, b = fleet.clusters
    assert fleet.dns_proxying is True
    assert (a.remote_of, b.remote_of.value) == (None, "a")
    assert lower("fleet prod {\n  cluster a\n}\n").fleet.dns_proxying is False


def test_cluster_subsets_placement_and_local():
    fleet = "fleet f {\n  cluster a\n  cluster b\n}\n"
    svc = service('in a b\nlocal\nport 80 http name web\nport 81 http\nsubsets by cluster a\n'
                  'subset v2-b { version = "v2"  in b }\nsubset plain { cluster = "x" }', fleet)
    assert svc.local is not None and [c.value for c in svc.placement] == ["a", "b"]
    assert [(p.number, p.name) for p in svc.ports] == [(80, "web"), (81, None)]
    labels = {s.name.value: [(x.key, x.value) for x in s.labels] for s in svc.subsets}
    assert labels == {"a": [("topology.istio.io/cluster", "a")],
                      "v2-b": [("version", "v2"), ("topology.istio.io/cluster", "b")],
                      "plain": [("cluster", "x")]}  # a label `cluster` as written is a plain label
    assert service("port 80 http").local is None


def test_failover_priority_expands_short_names_and_keeps_pins():
    p = service('port 80 http\nfailover priority cluster=a network region zone subzone node version = "v1" '
                'topology.istio.io/network=n1').policy
    assert [(x.key, x.value) for x in p.failover_priority.labels] == [
        ("topology.istio.io/cluster", "a"), ("topology.istio.io/network", None),
        ("topology.kubernetes.io/region", None), ("topology.kubernetes.io/zone", None),
        ("topology.istio.io/subzone", None), ("kubernetes.io/hostname", None), ("version", "v1"),
        ("topology.istio.io/network", "n1")]


def test_ports_and_subsets():
    svc = service('port 80 http\nport 9090 grpc { lb random }\nsubsets by version v1 v2\n'
                  'subset blue { color = "blue" app.kubernetes.io/track = canary }\nsubset v2 { tls istio-mutual }')
    assert [(p.number, p.protocol) for p in svc.ports] == [(80, "http"), (9090, "grpc")]
    assert svc.ports[1].policy.lb == ir.SimpleLb(span=svc.ports[1].policy.lb.span, algorithm="random")
    subsets = {s.name.value: s for s in svc.subsets}
    assert [(lbl.key, lbl.value) for lbl in subsets["v1"].labels] == [("version", "v1")]
    assert [(lbl.key, lbl.value) for lbl in subsets["blue"].labels] == [("color", "blue"), ("app.kubernetes.io/track", "canary")]
    assert subsets["v2"].policy.tls.mode == "istio-mutual"  # policy attached to the `subsets by` subset
    assert subsets["v1"].policy is None


@pytest.mark.parametrize("condition, expected", [
    ('header x-a = "1"', ("header", {"name": "x-a", "match": {"op": "exact", "value": "1"}})),
    ('header x-a ^= "v1"', ("header", {"name": "x-a", "match": {"op": "prefix", "value": "v1"}})),
    ('header x-a ~ "^[0-9]+$"', ("header", {"name": "x-a", "match": {"op": "regex", "value": "^[0-9]+$"}})),
    ("header x-debug absent", ("header-absent", {"name": "x-debug"})),
    ('cookie canary = "true"', ("cookie", {"name": "canary", "value": "true"})),
    ('path = "/x"', ("path", {"match": {"op": "exact", "value": "/x"}})),
    ('path ^= "/api"', ("path", {"match": {"op": "prefix", "value": "/api"}})),
    ("method = GET", ("method", {"method": "GET"})),
    ('query debug = "1"', ("query", {"name": "debug", "match": {"op": "exact", "value": "1"}})),
    ("port 80", ("port", {"port": 80})),
    ('source version = "v1"', ("source-label", {"label": {"key": "version", "value": "v1"}})),
    ("source version = v1", ("source-label", {"label": {"key": "version", "value": "v1"}})),
    ("from namespace monitoring", ("source-namespace", {"namespace": {"value": "monitoring"}})),
    ("from cluster default", ("source-cluster", {"cluster": {"value": "default"}})),
])
def test_conditions(condition, expected):
    r = route(f"when {condition}\nto v1", head="port 80 http\nsubsets by version v1")
    (match,) = r.matches
    (cond,) = match.conditions
    kind, fields = expected
    dumped = cond.model_dump(exclude={"span"})
    assert dumped.pop("kind") == kind
    assert _without_spans(dumped) == fields


def test_and_binds_tighter_than_or():
    r = route('when header a = "1" and header b = "2" or path ^= "/x"\nto v1')
    assert [len(m.conditions) for m in r.matches] == [2, 1]


def test_string_escapes_keep_regex_backslashes():
    r = route('when header a ~ "^\\d+\\"x\\\\$"\nto v1')
    assert r.matches[0].conditions[0].match.value == '^\\d+"x\\$'


def test_destinations_weights_rest_and_services():
    head = "subsets by version v1 v2"
    forward = route("to v2 10%, v1 rest", head).action
    assert [(d.target.subset.value, d.weight and d.weight.value, d.rest) for d in forward.destinations] == [
        ("v2", 10.0, False), ("v1", None, True)]
    other = route("to service api in edge subset v1 port 8080", head + "\nport 80 http").action.destinations[0].target
    assert (other.service.value, other.namespace.value, other.subset.value, other.port) == ("api", "edge", "v1", 8080)


def test_canary_clause():
    c = route("canary v1 -> v2 steps 5% 10% 100% at 2\n  pause 5m 10m\n  analysis success-rate >= 99% p99 <= 500ms").action
    assert (c.baseline.value, c.candidate.value, [s.value for s in c.steps], c.at) == ("v1", "v2", [5.0, 10.0, 100.0], 2)
    assert [p.ms for p in c.pauses] == [300_000, 600_000]
    rate, latency = c.gates
    assert (rate.minimum.value, latency.quantile, latency.maximum.ms) == (99.0, "p99", 500)
    assert route("canary v1 -> v2 steps 50% 100%").action.at == 0


def test_blue_green_and_mirrors():
    bg = route("blue-green active v1 preview v2").action
    assert (bg.active.value, bg.preview.value) == ("v1", "v2")
    r = route("to v1\nmirror v2 20%\nmirror v3")
    assert [(m.target.subset.value, m.percent and m.percent.value) for m in r.mirrors] == [("v2", 20.0), ("v3", None)]


def test_route_options():
    o = route('to v1\ntimeout 10s\nretry 3 per-try 2s on 5xx connect-failure 503\nfault delay 5s 0.1%\n'
              'fault abort 503 0.01%\nrewrite path "/v2"\n'
              'cors origins "https://a" methods GET POST headers content-type expose-headers x-id max-age 24h credentials'
              ).options
    assert o.timeout.ms == 10_000
    assert (o.retry.attempts, o.retry.per_try.ms, o.retry.on) == (3, 2000, ("5xx", "connect-failure", "503"))
    assert (o.delay.delay.ms, o.delay.percent.value, o.abort.status, o.abort.percent.value) == (5000, 0.1, 503, 0.01)
    assert o.rewrite.path == "/v2"
    assert (o.cors.origins, o.cors.methods, o.cors.headers, o.cors.expose_headers, o.cors.max_age.ms, o.cors.credentials) == (
        ("https://a",), ("GET", "POST"), ("content-type",), ("x-id",), 86_400_000, True)
    assert route("to v1\nretry off").options.retry.attempts == 0


def test_durations_in_every_unit_exactly():
    assert [route(f"to v1\ntimeout {d}").options.timeout.ms for d in ("250ms", "1.001s", "2m", "1h", "0.5s")] == [
        250, 1001, 120_000, 3_600_000, 500]


def test_destination_policy():
    p = service("port 80 http\ncircuit-breaker {\n max-connections 100\n connect-timeout 30ms\n max-pending 10\n"
                " max-requests 20\n max-requests-per-connection 5\n max-retries 3\n idle-timeout 1h\n"
                " eject 7 consecutive 5xx every 5s for 15s max 100%\n}\nlb hash cookie session ttl 1h\n"
                "tls istio-mutual\nfailover a -> b, b -> c").policy
    cb = p.circuit_breaker
    assert (cb.max_connections, cb.connect_timeout.ms, cb.max_pending, cb.max_requests) == (100, 30, 10, 20)
    assert (cb.max_requests_per_connection, cb.max_retries, cb.idle_timeout.ms) == (5, 3, 3_600_000)
    e = cb.eject
    assert (e.consecutive, e.errors, e.interval.ms, e.base_time.ms, e.max_percent.value) == (7, "5xx", 5000, 15000, 100.0)
    assert (p.lb.kind, p.lb.on, p.lb.name, p.lb.ttl.ms) == ("hash", "cookie", "session", 3_600_000)
    assert p.tls.mode == "istio-mutual"
    assert [(x.source.value, x.target.value) for x in p.failover.pairs] == [("a", "b"), ("b", "c")]
    d = service("port 80 http\ndistribute r/z/* -> r/z/* 80%, s/* 20%").policy.distribute[0]
    assert (d.source, [(t.locality, t.percent.value) for t in d.targets]) == ("r/z/*", [("r/z/*", 80.0), ("s/*", 20.0)])
    for text, on in (("lb hash header x-user", "header"), ("lb hash source-ip", "source-ip"), ("lb hash query u", "query")):
        assert service(f"port 80 http\n{text}").policy.lb.on == on


def test_overrides_placement_and_exposure():
    fleet = "fleet f {\n  cluster a gateway 10.0.0.1\n}\nnamespace gw {\n  gateway edge {\n    hosts *.example.com\n" \
            "    https credential cert\n  }\n}\n"
    svc = service('port 80 http\nin a\ntimeout 5s\non a { timeout 20s lb random }\n'
                  'expose via edge host api.example.com when path ^= "/api"\n'
                  'route r {\n  to service svc\n  on a { retry 2 }\n}', fleet)
    assert [c.value for c in svc.placement] == ["a"]
    (over,) = svc.overrides
    assert (over.cluster.value, over.options.timeout.ms, over.policy.lb.algorithm) == ("a", 20_000, "random")
    assert svc.routes[0].overrides[0].options.retry.attempts == 2
    (expose,) = svc.exposes
    assert (expose.gateway.value, expose.host, expose.matches[0].conditions[0].kind) == ("edge", "api.example.com", "path")


@pytest.mark.parametrize("body, port, ports", [
    ("expose via edge host a.example.com\nport 80 http", None, [80]),
    ("expose via edge host a.example.com port 80 # the exposed one\nport 80 http\nport 90 grpc", 80, [80, 90]),
    ("port 80 http\nport 90 grpc\nexpose via edge host a.example.com port 90\nroute r { to service svc }", 90, [80, 90]),
    ("expose via edge host a.example.com port 90 when path ^= \"/a\"\nport 90 http", 90, [90]),
    ("port 90 http\nexpose via edge host a.example.com port 90\ntls istio-mutual", 90, [90]),
    ("port 90 http\nexpose via edge host a.example.com\nport 91 tls\ntls simple", None, [90, 91]),
    ("port 90 http\nexpose via edge host a.example.com port # the exposed one\n90\n", 90, [90]),
])
def test_a_port_statement_after_an_expose_is_not_its_port(body, port, ports):
    """`port N PROTOCOL` is a statement; `port N` without a protocol after
    `expose ... host H` names the exposed port."""
    svc = service(body)
    assert (svc.exposes[0].port, [p.number for p in svc.ports]) == (port, ports)


def test_namespace_statements():
    ns = lower('namespace istio-system {\n  mtls strict\n  gateway main {\n    hosts a.example.com\n'
               '    https port 8443 credential cert\n    http\n    redirect-http\n    selector istio = ingress\n  }\n}\n'
               'namespace p {\n  mtls permissive for api\n  defaults { lb least-request }\n'
               '  allow api from principal "cluster.local/ns/p/sa/x" to GET POST "/v1/*"\n'
               '  allow api from namespace mon ops\n  allow web to "/public"\n'
               '  external api.external.com cdn.external.com port 443 https port 80 http\n}\n').namespaces
    system, p = ns
    assert system.mtls[0].mode == "strict" and system.mtls[0].workload is None
    gw = system.gateways[0]
    assert [(s.protocol, s.port, s.credential, s.redirect) for s in gw.servers] == [
        ("https", 8443, "cert", False), ("http", 80, None, False), ("http", 80, None, True)]
    assert [(x.key, x.value) for x in gw.selector] == [("istio", "ingress")]
    assert (p.mtls[0].mode, p.mtls[0].workload.value, p.defaults.lb.algorithm) == ("permissive", "api", "least-request")
    a, b, c = p.allows
    assert (a.principals, a.methods, a.paths) == (("cluster.local/ns/p/sa/x",), ("GET", "POST"), ("/v1/*",))
    assert [n.value for n in b.namespaces] == ["mon", "ops"]
    assert (c.workload.value, c.paths, c.methods, c.principals) == ("web", ("/public",), (), ())
    ext = p.externals[0]
    assert (ext.hosts, [(x.number, x.protocol) for x in ext.ports]) == (
        ("api.external.com", "cdn.external.com"), [(443, "https"), (80, "http")])


def test_gateway_host_blocks():
    (ns,) = lower('namespace istio-system {\n  gateway edge {\n    hosts a.example.com b.example.com\n    http\n'
                  '    host a.example.com {\n      timeout 5s\n      cors origins "https://a.example.com"\n'
                  '      route one { when path ^= "/one" to service x in web 90%, service y subset v2 port 8080 10% }\n'
                  '      route two {\n        to service z\n        mirror service x in web 5%\n'
                  '        on c1 { retry off }\n      }\n    }\n    host b.example.com {}\n  }\n}\n').namespaces
    gw = ns.gateways[0]
    a, b = gw.host_routes
    assert (a.host, a.options.timeout.ms, a.options.cors.origins) == ("a.example.com", 5000, ("https://a.example.com",))
    one, two = a.routes
    assert [(d.target.service.value, d.target.namespace and d.target.namespace.value,
             d.target.subset and d.target.subset.value, d.target.port, d.weight.value)
            for d in one.action.destinations] == [("x", "web", None, None, 90), ("y", None, "v2", 8080, 10)]
    assert one.matches[0].conditions[0].match.value == "/one"
    assert (two.mirrors[0].percent.value, two.overrides[0].cluster.value, two.overrides[0].options.retry.attempts) \
        == (5, "c1", 0)
    assert (b.host, b.routes, b.options.timeout) == ("b.example.com", (), None)
    assert (a.span.line, a.span.column, a.span.end_line) == (5, 5, 14)


def test_namespace_blocks_of_one_name_merge_across_files():
    compiled = compile_sources([
        SourceFile("b.mesh", "namespace p {\n  service two { port 80 http }\n}\n"),
        SourceFile("a.mesh", "namespace p {\n  service one { port 80 http }\n}\n"),
    ])
    (ns,) = compiled.policy.namespaces
    assert [s.name.value for s in ns.services] == ["one", "two"]  # files in path order
    assert compiled.policy.files == ("a.mesh", "b.mesh")


def test_every_node_carries_its_span():
    policy = lower("namespace ns {\n  service svc {\n    port 80 http\n    route r { to svc-x }\n  }\n}\n".replace(
        "to svc-x", "to service svc"))
    r = policy.namespaces[0].services[0].routes[0]
    assert (r.span.line, r.span.column, r.span.end_line) == (4, 5, 4)
    assert (r.name.span.column, r.name.span.end_column) == (11, 12)
    target = r.action.destinations[0].target
    assert (target.span.line, target.span.column) == (4, 18)


def _without_spans(value):
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items() if k != "span"}
    return value
