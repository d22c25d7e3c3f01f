"""Request tables for the evaluator's matching: which `http` entry takes a
request. Expectations come from istio/api's proto comments
(networking/v1alpha3/virtual_service.proto `HTTPMatchRequest`) and pilot's
route.go, against hand-written YAML."""

from __future__ import annotations

import pytest
from evaluate_support import NS, entry, evaluator, fq, registry, req, single, vs

from meshc.semantics.evaluate import ISTIO_DEFAULT_RETRIES
from meshc.semantics.request import Request

REG = registry(app=[80], api=[80, 9090])
APP = fq("app")


def route(name: str, match: str = "") -> str:
    m = f"\n  match: {match}" if match else ""
    return f"- name: {name}{m}\n  route: [{{destination: {{host: app}}}}]\n"


def table(*entries: str, reg=REG, hosts="[app]", extra=""):
    return evaluator(vs(hosts, "".join(entries), extra=extra), reg)


# ----------------------------------------------------------------- order


def test_first_matching_entry_wins_in_order():
    ev = table(route("a", "[{uri: {prefix: /api}}]"), route("b", "[{uri: {prefix: /api/v2}}]"), route("rest"))
    assert entry(ev, req(APP, 80, path="/api/v2/x")) == "a"
    assert entry(ev, req(APP, 80, path="/other")) == "rest"


def test_an_entry_without_match_ends_the_list():
    # route.go BuildHTTPRoutesForVirtualService: catchall = true; break
    ev = table(route("all"), route("never", "[{uri: {prefix: /x}}]"))
    assert entry(ev, req(APP, 80, path="/x")) == "all"


@pytest.mark.parametrize("catch_all", ["{uri: {prefix: /}}", "{uri: {regex: '.*'}}", "{}", "{name: m}",
                                       "{ignoreUriCase: true}"])
def test_a_catch_all_alternative_ends_the_list_mid_entry(catch_all):
    # the alternatives after it, in the same entry or later ones, are never sent to Envoy
    ev = table(route("first", f"[{catch_all}, {{headers: {{x: {{exact: '1'}}}}}}]"), route("later"))
    assert entry(ev, req(APP, 80, headers={"x": "1"})) == "first"
    assert ev.explain(req(APP, 80)).decision.entry == "first"


def test_a_prefix_slash_with_a_header_is_no_catch_all():
    ev = table(route("h", "[{uri: {prefix: /}, headers: {x: {exact: '1'}}}]"), route("rest"))
    assert entry(ev, req(APP, 80, headers={"x": "1"})) == "h"
    assert entry(ev, req(APP, 80)) == "rest"


def test_no_entry_matching_is_a_404_not_the_plain_service():
    ev = table(route("only", "[{uri: {exact: /a}}]"))
    d = ev.evaluate(req(APP, 80, path="/b"))
    assert (d.kind, d.status, d.virtual_service) == ("respond", 404, f"{NS}/vs")


# -------------------------------------------------------------- uri


@pytest.mark.parametrize("match,path,hit", [
    ("{exact: /a}", "/a", True),
    ("{exact: /a}", "/a/", False),
    ("{exact: /a}", "/a?x=1", True),          # the query string is not part of the path
    ("{prefix: /api}", "/apix", True),        # a plain string prefix, not a path segment
    ("{prefix: /api}", "/api?q=/x", True),
    ("{prefix: /api}", "/ap?i=1", False),
    ("{prefix: /api/}", "/api", False),
    ("{regex: /api}", "/api/x", False),       # RE2 full match
    ("{regex: '/api.*'}", "/api/x", True),
    ("{regex: 'v1'}", "/v1", False),          # no partial match without anchors
    ("{regex: '/v[0-9]+/.*'}", "/v12/users", True),
    ("{regex: '/a|/b'}", "/b", True),         # alternation is anchored as a whole
    ("{regex: '/a|/b'}", "/ab", False),
    ("{regex: '^/x$'}", "/x?y=1", True),      # anchors are harmless, query excluded
])
def test_uri_match_types(match, path, hit):
    ev = table(route("m", f"[{{uri: {match}}}]"), route("rest"))
    assert (entry(ev, req(APP, 80, path=path)) == "m") is hit


@pytest.mark.parametrize("match,path,hit", [
    ("{exact: /Api}", "/aPI", True),
    ("{prefix: /API}", "/api/x", True),
    ("{regex: '/api'}", "/API", False),       # ignoreUriCase does not apply to regex
])
def test_ignore_uri_case(match, path, hit):
    ev = table(route("m", f"[{{uri: {match}, ignoreUriCase: true}}]"), route("rest"))
    assert (entry(ev, req(APP, 80, path=path)) == "m") is hit


# ----------------------------------------------------------- headers


@pytest.mark.parametrize("match,headers,hit", [
    ("{x-env: {exact: prod}}", {"x-env": "prod"}, True),
    ("{x-env: {exact: prod}}", {"x-env": "Prod"}, False),       # values are case-sensitive
    ("{x-env: {exact: prod}}", {"X-Env": "prod"}, True),        # names are not
    ("{x-env: {exact: prod}}", {}, False),
    ("{x-env: {prefix: p}}", {"x-env": "pre"}, True),
    ("{x-env: {regex: 'p.*'}}", {"x-env": "xp"}, False),
    ("{x-env: {regex: 'prod|qa'}}", {"x-env": "qa"}, True),
    ("{x-env: {}}", {"x-env": ""}, True),                       # {} checks presence
    ("{x-env: {}}", {}, False),
    ("{x-env: {regex: '*'}}", {"x-env": "anything"}, True),     # `*` is a presence match
    ("{x-env: {exact: ''}}", {"x-env": ""}, True),
    ("{x-env: {exact: ''}}", {}, False),
    ("{cookie: {regex: '.*(^|;\\s*)tenant=acme(;.*|$)'}}", {"cookie": "a=1; tenant=acme"}, True),
    ("{cookie: {regex: '.*(^|;\\s*)tenant=acme(;.*|$)'}}", {"cookie": "tenant=acmex"}, False),
    ("{'@request.auth.claims.group': {exact: admin}}", {"@request.auth.claims.group": "admin"}, False),
])
def test_header_matches(match, headers, hit):
    ev = table(route("m", f"[{{headers: {match}}}]"), route("rest"))
    assert (entry(ev, req(APP, 80, headers=headers)) == "m") is hit


@pytest.mark.parametrize("match,headers,hit", [
    ("{x-beta: {}}", {}, True),                                 # absent header: matches
    ("{x-beta: {}}", {"x-beta": "1"}, False),
    ("{x-beta: {exact: '1'}}", {}, True),
    ("{x-beta: {exact: '1'}}", {"x-beta": "2"}, True),
    ("{x-beta: {exact: '1'}}", {"x-beta": "1"}, False),
    # treat_missing_header_as_empty: a missing header is "" and "" matches exact "" ...
    ("{x-beta: {exact: ''}}", {}, False),
    ("{x-beta: {regex: '.*'}}", {}, False),                     # ... and matches .*
    ("{x-beta: {prefix: a}}", {}, True),
    ("{'@request.auth.claims.group': {exact: admin}}", {}, True),  # no JWT: the inverted claim holds
])
def test_without_headers(match, headers, hit):
    ev = table(route("m", f"[{{withoutHeaders: {match}}}]"), route("rest"))
    assert (entry(ev, req(APP, 80, headers=headers)) == "m") is hit


@pytest.mark.parametrize("match,kw,hit", [
    ("{method: {exact: GET}}", {"method": "GET"}, True),
    ("{method: {exact: GET}}", {"method": "POST"}, False),
    ("{method: {regex: 'GET|HEAD'}}", {"method": "HEAD"}, True),
    ("{authority: {exact: app}}", {"headers": {"host": "app"}, "source_namespace": NS}, True),
    ("{authority: {exact: 'app.ns:80'}}", {"headers": {"host": "app.ns:80"}}, True),
    ("{authority: {prefix: app}}", {}, True),                   # the dialled host when no Host header
    ("{authority: {exact: other}}", {}, False),
    ("{scheme: {exact: http}}", {}, True),
    ("{scheme: {exact: https}}", {}, False),
])
def test_method_authority_scheme(match, kw, hit):
    ev = table(route("m", f"[{match}]"), route("rest"))
    assert (entry(ev, req(APP, 80, **kw)) == "m") is hit


@pytest.mark.parametrize("match,path,hit", [
    ("{v: {exact: 'true'}}", "/?v=true", True),
    ("{v: {exact: 'true'}}", "/?v=false", False),
    ("{v: {exact: 'true'}}", "/", False),
    ("{v: {exact: ''}}", "/?v", True),                          # ?key is the empty value
    ("{v: {exact: 'a b'}}", "/?v=a%20b", False),                # values are not URL-decoded
    ("{v: {exact: 'a%20b'}}", "/?v=a%20b", True),
    ("{v: {exact: '1'}}", "/?v=1&v=2", True),                   # the first value counts
    ("{v: {exact: '2'}}", "/?v=1&v=2", False),
    ("{v: {prefix: ab}}", "/?v=abx", True),
    ("{v: {regex: '\\d+'}}", "/?v=123", True),
    ("{v: {regex: '\\d+'}}", "/?v=a123", False),
    ("{v: {}}", "/?v=", True),
    ("{v: {}}", "/?w=1", False),
])
def test_query_params(match, path, hit):
    ev = table(route("m", f"[{{queryParams: {match}}}]"), route("rest"))
    assert (entry(ev, req(APP, 80, path=path)) == "m") is hit


def test_short_host_names_are_domains_for_their_own_namespace_only():
    # httproute.go generateAltVirtualHosts: `app` for clients in ns, `app.ns` and `app.ns.svc` for all
    ev = table(route("m"))
    assert entry(ev, req("app", 80, source_namespace=NS)) == "m"
    assert entry(ev, req("app.ns", 80)) == "m"
    assert entry(ev, req("app.ns.svc:80", 80)) == "m"
    assert entry(ev, req(APP + ".", 80)) == "m"
    d = ev.evaluate(req("app", 80, source_namespace="other"))
    assert (d.kind, d.destinations, d.retries.attempts) == ("default", single("app", None, 80), 0)


def test_conditions_of_one_alternative_all_hold_and_alternatives_are_alternatives():
    ev = table(route("m", "[{uri: {prefix: /a}, headers: {x: {exact: '1'}}}, {method: {exact: POST}}]"),
               route("rest"))
    assert entry(ev, req(APP, 80, path="/a", headers={"x": "1"})) == "m"
    assert entry(ev, req(APP, 80, path="/a")) == "rest"
    assert entry(ev, req(APP, 80, path="/b", method="POST")) == "m"


# ------------------------------------------- proxy-dependent conditions


def test_source_labels_and_namespace_select_proxies():
    ev = table(route("canary", "[{sourceLabels: {app: web, version: v2}}]"),
               route("ns-b", "[{sourceNamespace: b}]"), route("rest"))
    assert entry(ev, req(APP, 80, source_labels={"app": "web", "version": "v2", "x": "y"})) == "canary"
    assert entry(ev, req(APP, 80, source_labels={"app": "web"})) == "rest"
    assert entry(ev, req(APP, 80, source_namespace="b")) == "ns-b"


def test_port_selects_the_listener():
    reg = registry(api=[80, 9090])
    ev = evaluator(vs("[api]", route("admin", "[{port: 9090}]") + route("rest")), reg)
    assert entry(ev, req(fq("api"), 9090)) == "admin"
    assert entry(ev, req(fq("api"), 80)) == "rest"


def test_match_gateways_override_source_labels():
    # route.go sourceMatchHTTP: with gateways, sourceLabels are not looked at
    ev = table(route("mesh", "[{gateways: [mesh], sourceLabels: {app: nobody}}]"), route("rest"))
    assert entry(ev, req(APP, 80)) == "mesh"


def test_a_virtual_service_whose_every_entry_is_filtered_out_does_not_apply():
    # the client gets Istio's default route: every endpoint, default retries, no timeout
    reg = registry(api=[80, 9090])
    ev = evaluator(vs("[api]", """
        - name: admin
          match: [{port: 9090}]
          route: [{destination: {host: api, subset: v2}}]
          timeout: 3s
    """), reg)
    d = ev.evaluate(req(fq("api"), 80))
    assert d.kind == "default"
    assert d.destinations == single(fq("api"), None, 80)
    assert d.retries == ISTIO_DEFAULT_RETRIES and d.timeout_ms is None
    assert ev.evaluate(req(fq("api"), 9090)).entry == "admin"
    explained = ev.explain(req(fq("api"), 80))
    assert any("keeps no route" in n for n in explained.notes)


def test_filtered_entries_leave_the_rest_in_place():
    ev = table(route("web-only", "[{sourceLabels: {app: web}}]"), route("exact", "[{uri: {exact: /x}}]"))
    assert entry(ev, req(APP, 80, path="/y")) == "respond:404"
    assert entry(ev, req(APP, 80, path="/y", source_labels={"app": "web"})) == "web-only"


def test_a_catch_all_counts_only_where_it_is_kept():
    # {port: 9090} alone is a catch-all on port 9090 and absent on port 80
    reg = registry(api=[80, 9090])
    ev = evaluator(vs("[api]", route("p", "[{port: 9090}]") + route("b", "[{uri: {prefix: /b}}]")), reg)
    assert entry(ev, req(fq("api"), 9090, path="/b")) == "p"
    assert entry(ev, req(fq("api"), 80, path="/b")) == "b"


# ------------------------------------------------------ explanations


def test_explain_names_every_failed_condition_of_every_route_tried():
    ev = table(route("a", "[{uri: {prefix: /a}, headers: {x: {exact: '1'}}}, {method: {exact: POST}}]"),
               route("b", "[{queryParams: {q: {exact: '1'}}}]"), route("c", "[{sourceNamespace: other}]"),
               route("rest"))
    got = ev.explain(req(APP, 80, path="/b?q=2", headers={"x": "2"}))
    assert got.decision.entry == "rest"
    assert [(m.entry, m.match, m.field, m.expected, m.actual, m.filtered) for m in got.misses] == [
        (0, 0, "uri", "prefix '/a'", "/b", False),
        (0, 0, "headers.x", "exact '1'", "2", False),
        (0, 1, "method", "exact 'POST'", "GET", False),
        (1, 0, "queryParams.q", "exact '1'", "2", False),
        (2, 0, "sourceNamespace", "other", "default", True),
    ]


def test_explain_lists_filtered_alternatives_and_stops_at_the_catch_all():
    ev = table(route("m", "[{uri: {exact: /a}}]"), route("all", "[{uri: {prefix: /}}]"), route("never"))
    got = ev.explain(req(APP, 80, path="/b"))
    assert got.decision.entry == "all"
    assert [m.field for m in got.misses] == ["uri"]
    ev = table(route("m", "[{uri: {exact: /a}}]"), route("p", "[{port: 81}, {uri: {prefix: /}}]"),
               route("never", "[{uri: {exact: /b}}]"))
    assert [m.field for m in ev.explain(req(APP, 80, path="/b")).misses] == ["uri", "port"]


def test_repeated_headers_are_joined_with_commas_and_names_lower_cased():
    ev = table(route("m", "[{headers: {x: {exact: 'a,b'}}}]"), route("rest"))
    assert entry(ev, Request(APP, 80, headers=(("X", "a"), ("x", "b")))) == "m"
