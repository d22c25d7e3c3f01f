"""Request tables for a sidecar's choice of virtual host: which
VirtualService (if any) routes a host, exportTo, wildcards, ServiceEntries,
hosts outside the registry, non-HTTP ports. From pilot's httproute.go,
route.go and sidecar.go."""

from __future__ import annotations

from evaluate_support import NS, document, entry, evaluator, fq, registry, req, single, vs

from meshc.semantics.decision import NO_RETRIES
from meshc.semantics.evaluate import ISTIO_DEFAULT_RETRIES, Evaluator, load_yaml

REG = registry(app=[80], api=[80, 9090], db=[(5432, "tcp")], web=[8080])
APP = fq("app")


def named(name: str) -> str:
    return f"- name: {name}\n  route: [{{destination: {{host: app}}}}]\n"


SERVICE_ENTRY = document("ServiceEntry", "ext", NS, """
    hosts: [api.external.com]
    ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8080, name: http, protocol: HTTP}]
    location: MESH_EXTERNAL
    resolution: DNS
""")


def test_a_host_without_virtual_service_gets_the_default_route():
    ev = evaluator(vs("[api]", named("x")), REG)
    d = ev.evaluate(req(APP, 80))
    assert (d.kind, d.destinations, d.retries, d.timeout_ms) == ("default", single(APP, None, 80),
                                                                 ISTIO_DEFAULT_RETRIES, None)


def test_the_first_virtual_service_by_name_wins_for_one_host():
    # pilot's order: creation time (equal here), then name; the later one's vhost is a duplicate
    ev = evaluator(vs("[app]", named("from-b"), name="b") + vs("[app]", named("from-a"), name="a"), REG)
    assert entry(ev, req(APP, 80)) == "from-a"


def test_a_private_virtual_service_comes_before_public_ones_for_its_namespace():
    ev = evaluator(vs("[app]", named("public"), name="a") +
                   vs("[app]", named("private"), name="b", extra="exportTo: ['.']"), REG)
    assert entry(ev, req(APP, 80, source_namespace=NS)) == "private"
    assert entry(ev, req(APP, 80, source_namespace="elsewhere")) == "public"


def test_export_to_hides_a_virtual_service():
    ev = evaluator(vs("[app]", named("only-b"), extra="exportTo: [b]"), REG)
    assert entry(ev, req(APP, 80, source_namespace="b")) == "only-b"
    assert entry(ev, req(APP, 80, source_namespace=NS)) == "default:None"


def test_a_virtual_service_bound_to_a_gateway_only_does_not_apply_to_sidecars():
    ev = evaluator(vs("[app]", named("gw"), extra="gateways: [ns/gw]"), REG)
    assert entry(ev, req(APP, 80)) == "default:None"


def test_an_exact_host_beats_a_wildcard_whatever_the_order():
    ev = evaluator(vs("['*.ns.svc.cluster.local']", named("wild"), name="a")
                   + vs("[app]", named("exact"), name="b"), REG)
    assert entry(ev, req(APP, 80)) == "exact"
    assert entry(ev, req(fq("api"), 80)) == "wild"


def test_the_most_specific_wildcard_wins():
    ev = evaluator(vs("['*.svc.cluster.local']", named("wide"), name="a")
                   + vs("['*.ns.svc.cluster.local']", named("narrow"), name="b"), REG)
    assert entry(ev, req(APP, 80)) == "narrow"


def test_service_entry_hosts_are_services():
    ev = evaluator(SERVICE_ENTRY + vs("[api.external.com]", named("ext")), REG)
    assert entry(ev, req("api.external.com", 8080)) == "ext"
    d = ev.evaluate(req("api.external.com", 443))   # HTTPS: TLS is proxied, not routed
    assert (d.kind, d.destinations, d.retries) == ("default", single("api.external.com", None, 443), NO_RETRIES)


def test_a_host_outside_the_registry_is_routed_on_port_80_only():
    # httproute.go: "hack to keep consistent with previous behavior" (port 80)
    ev = evaluator(vs("[api.external.com]", named("ext")), REG)
    assert entry(ev, req("api.external.com", 80)) == "ext"
    d = ev.evaluate(req("api.external.com", 8080))
    assert (d.kind, d.destinations, d.retries) == ("default", single("api.external.com", None, 8080), NO_RETRIES)


def test_a_host_outside_the_registry_is_routed_beside_a_service_of_its_virtual_service():
    ev = evaluator(vs("[web, www.example.org]", named("both")), REG)
    assert entry(ev, req("www.example.org", 8080)) == "both"


def test_a_tcp_port_is_not_routed():
    ev = evaluator(vs("[db]", named("never")), REG)
    d = ev.evaluate(req(fq("db"), 5432))
    assert (d.kind, d.destinations, d.retries) == ("default", single(fq("db"), None, 5432), NO_RETRIES)


def test_a_port_the_service_does_not_have_goes_to_the_passthrough_cluster():
    ev = evaluator(vs("[app]", named("m")), REG)
    d = ev.evaluate(req(APP, 9090))
    assert (d.kind, d.retries, d.policies) == ("default", NO_RETRIES, ((d.destinations[0].target, ()),))


def test_the_host_header_chooses_the_virtual_host():
    ev = evaluator(vs("[api]", named("api")), REG)
    assert entry(ev, req(APP, 80, headers={"host": f"api.{NS}:80"})) == "api"


def test_documents_the_webhook_would_reject_are_left_out_and_listed():
    bad = vs("[app]", "- route: [{destination: {host: app}}]\n  timeout: soon", name="bad-timeout") \
        + vs("[api]", "- match: [{uri: {regex: '('}}]\n  route: [{destination: {host: api}}]", name="bad-regex")
    ev = Evaluator(load_yaml(bad), REG)
    assert [p.split(":")[0] for p in ev.problems] == ["VirtualService ns/bad-regex", "VirtualService ns/bad-timeout"]
    assert ev.evaluate(req(APP, 80)).kind == "default"
