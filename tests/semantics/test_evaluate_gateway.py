"""Request tables for ingress gateways: servers by port, host matching,
`ns/host` forms, httpsRedirect, VirtualService binding, 404s. From
istio/api gateway.proto / virtual_service.proto comments and pilot's
gateway.go, model/gateway.go."""

from __future__ import annotations

from evaluate_support import document, entry, evaluator, fq, indented, registry, req, single, vs

REG = registry(web=[8080], api=[80, 9090], shop__prod=[80])
GW = "istio-system/public"


def gateway(name: str = "public", ns: str = "istio-system", servers: str = "", selector: str = "ingressgateway"):
    return document("Gateway", name, ns, f"selector: {{istio: {selector}}}\nservers:\n{indented(servers, 2)}")


HTTP80 = gateway(servers="""
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ['*.example.com', 'prod/shop.example.org']
""")


def bound(hosts: str, http: str, name: str = "vs", ns: str = "ns", gateways: str = f"[{GW}]") -> str:
    return vs(hosts, http, name=name, ns=ns, extra=f"gateways: {gateways}")


def at(host: str, port: int = 80, **kw):
    return req(host, port, gateway=GW, source_namespace="istio-system", **kw)


ROUTE_WEB = "- name: web\n  route: [{destination: {host: web}}]"


def test_a_virtual_service_bound_to_the_gateway_takes_its_hosts():
    ev = evaluator(HTTP80 + bound("[app.example.com]", ROUTE_WEB), REG)
    d = ev.evaluate(at("app.example.com"))
    assert (d.kind, d.entry) == ("route", "web")
    # a single-port service gives its port to a destination without one (not the server's 80)
    assert d.destinations == single(fq("web"), None, 8080)


def test_destination_without_port_on_a_multi_port_service_takes_the_server_port():
    ev = evaluator(HTTP80 + bound("[app.example.com]", "- route: [{destination: {host: api}}]"), REG)
    assert ev.evaluate(at("app.example.com")).destinations == single(fq("api"), None, 80)


def test_host_matching_with_wildcards_and_ports():
    ev = evaluator(HTTP80 + bound("['*.example.com']", ROUTE_WEB), REG)
    assert entry(ev, at("a.example.com")) == "web"
    assert entry(ev, at("A.Example.COM:80")) == "web"          # case-insensitive, port ignored
    assert entry(ev, at("example.com")) == "respond:404"        # `*.x` needs something before `.x`
    assert entry(ev, at("a.example.org")) == "respond:404"


def test_the_more_specific_of_server_and_virtual_service_hosts_is_used():
    ev = evaluator(HTTP80 + bound("['api.example.com']", ROUTE_WEB, name="a")
                   + bound("['*.example.com']", "- name: wild\n  route: [{destination: {host: api}}]", name="b"),
                   REG)
    assert entry(ev, at("api.example.com")) == "web"
    assert entry(ev, at("www.example.com")) == "wild"


def test_namespace_qualified_server_hosts():
    # `prod/shop.example.org` admits VirtualServices of namespace prod only
    ev = evaluator(HTTP80 + bound("[shop.example.org]", ROUTE_WEB, ns="ns")
                   + bound("[shop.example.org]", "- name: prod\n  route: [{destination: {host: shop}}]", ns="prod",
                           name="p"), REG)
    d = ev.evaluate(at("shop.example.org"))
    assert (d.entry, d.virtual_service, d.destinations) == ("prod", "prod/p", single(fq("shop", "prod"), None, 80))


def test_dot_slash_means_the_gateway_namespace():
    gw = gateway(servers="- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['./a.example.com']")
    ev = evaluator(gw + bound("[a.example.com]", ROUTE_WEB, ns="ns"), REG)
    assert entry(ev, at("a.example.com")) == "respond:404"
    ev = evaluator(gw + bound("[a.example.com]", ROUTE_WEB, ns="istio-system"), REG)
    assert entry(ev, at("a.example.com")) == "web"


def test_no_virtual_service_for_a_host_is_a_404():
    ev = evaluator(HTTP80 + bound("[app.example.com]", ROUTE_WEB), REG)
    assert entry(ev, at("other.example.com")) == "respond:404"
    ev = evaluator(HTTP80, REG)
    assert entry(ev, at("app.example.com")) == "respond:404"


def test_a_request_no_route_takes_is_a_404():
    ev = evaluator(HTTP80 + bound("[app.example.com]", "- match: [{uri: {prefix: /api}}]\n"
                                                         "  route: [{destination: {host: web}}]"), REG)
    assert entry(ev, at("app.example.com", path="/")) == "respond:404"


def test_a_port_without_server_gets_no_http_answer():
    ev = evaluator(HTTP80 + bound("[app.example.com]", ROUTE_WEB), REG)
    d = ev.evaluate(at("app.example.com", 8443))
    assert (d.kind, d.status) == ("respond", None)


def test_virtual_services_not_bound_to_the_gateway_do_not_apply():
    ev = evaluator(HTTP80 + vs("[app.example.com]", ROUTE_WEB), REG)  # mesh only
    assert entry(ev, at("app.example.com")) == "respond:404"
    other = gateway("private", servers="- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['*']",
                    selector="private-gw")
    ev = evaluator(HTTP80 + other + bound("[app.example.com]", ROUTE_WEB, gateways="[istio-system/private]"), REG)
    assert entry(ev, at("app.example.com")) == "respond:404"


def test_gateways_selecting_the_same_pods_share_port_80():
    # push_context.go mergeGateways: both Gateways apply to the pod; their HTTP servers on
    # port 80 share one route configuration, so a VirtualService bound to the *other*
    # Gateway answers requests that arrive "at" this one
    other = gateway("other", servers="- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['b.example.net']")
    ev = evaluator(HTTP80 + other + bound("[b.example.net]", ROUTE_WEB, gateways="[istio-system/other]"), REG)
    assert entry(ev, at("b.example.net")) == "web"


def test_gateway_short_names_resolve_in_the_virtual_service_namespace():
    ev = evaluator(HTTP80 + bound("[app.example.com]", ROUTE_WEB, ns="istio-system", gateways="[public]"), REG)
    assert entry(ev, at("app.example.com")) == "web"
    ev = evaluator(HTTP80 + bound("[app.example.com]", ROUTE_WEB, ns="ns", gateways="[public]"), REG)
    assert entry(ev, at("app.example.com")) == "respond:404"


def test_match_level_gateways():
    http = f"""
        - name: public-only
          match: [{{gateways: [{GW}], uri: {{prefix: /pub}}}}]
          route: [{{destination: {{host: web}}}}]
        - name: mesh-only
          match: [{{gateways: [mesh]}}]
          route: [{{destination: {{host: api}}}}]
        - name: rest
          route: [{{destination: {{host: web}}}}]
    """
    ev = evaluator(HTTP80 + bound("[app.example.com]", http, gateways=f"[{GW}, mesh]"), REG)
    assert entry(ev, at("app.example.com", path="/pub")) == "public-only"
    assert entry(ev, at("app.example.com", path="/x")) == "rest"


def test_https_redirect():
    gw = gateway(servers="""
        - port: {number: 80, name: http, protocol: HTTP}
          hosts: ['*.example.com']
          tls: {httpsRedirect: true}
        - port: {number: 443, name: https, protocol: HTTPS}
          hosts: ['*.example.com']
          tls: {mode: SIMPLE, credentialName: cert}
    """)
    ev = evaluator(gw + bound("[app.example.com]", ROUTE_WEB), REG)
    d = ev.evaluate(at("app.example.com"))
    assert (d.kind, d.status) == ("redirect", 301)
    assert entry(ev, at("nothing.example.com")) == "redirect:301"   # even without VirtualService
    assert entry(ev, at("app.example.com", 443)) == "web"


def test_https_servers_are_chosen_by_sni_and_see_scheme_https():
    gw = gateway(servers="""
        - port: {number: 443, name: https-a, protocol: HTTPS}
          hosts: [a.example.com]
          tls: {mode: SIMPLE, credentialName: a}
        - port: {number: 443, name: https-b, protocol: HTTPS}
          hosts: ['*.example.com']
          tls: {mode: SIMPLE, credentialName: b}
    """)
    http = "- name: tls\n  match: [{scheme: {exact: https}}]\n  route: [{destination: {host: web}}]"
    ev = evaluator(gw + bound("['*.example.com']", http), REG)
    assert entry(ev, at("a.example.com", 443)) == "tls"
    assert entry(ev, at("b.example.com", 443)) == "tls"
    assert ev.evaluate(at("c.example.org", 443)).status is None     # no server name: no handshake


def test_catch_all_routes_move_after_other_virtual_services_routes():
    # route.go SortVHostRoutes: with two VirtualServices for one host, the first one's
    # catch-all goes to the end, after the second one's specific routes
    first = bound("[app.example.com]", "- name: all\n  route: [{destination: {host: web}}]", name="a")
    second = bound("[app.example.com]", "- name: api\n  match: [{uri: {prefix: /api}}]\n"
                                        "  route: [{destination: {host: api}}]", name="b")
    ev = evaluator(HTTP80 + first + second, REG)
    assert entry(ev, at("app.example.com", path="/api/x")) == "api"
    assert entry(ev, at("app.example.com", path="/x")) == "all"
    got = ev.explain(at("app.example.com", path="/x"))
    assert [(m.virtual_service, m.entry, m.field) for m in got.misses] == [("ns/b", 0, "uri")]


def test_conflicting_protocols_on_one_port_drop_the_later_server():
    gw = gateway(servers="""
        - port: {number: 80, name: http, protocol: HTTP}
          hosts: [a.example.com]
        - port: {number: 80, name: tcp, protocol: TCP}
          hosts: [b.example.com]
    """)
    ev = evaluator(gw + bound("['*.example.com']", ROUTE_WEB), REG)
    assert entry(ev, at("a.example.com")) == "web"
    assert entry(ev, at("b.example.com")) == "respond:404"
    assert any("conflicts" in n for n in ev.explain(at("b.example.com")).notes)


def test_unknown_gateway():
    ev = evaluator(HTTP80, REG)
    d = ev.evaluate(req("a.example.com", 80, gateway="istio-system/nope"))
    assert (d.kind, d.status) == ("respond", None)
