"""Multi-cluster rendering (docs/multicluster.md): which cluster gets which
resources, Service stubs, cluster subsets, `from cluster`, failover
priorities, `local` services, the east-west gateway and the version gates.
What the rendered routing does to requests is tested in
test_multicluster_semantics.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meshc.backends.destinations import policy_gaps
from meshc.backends.istio import render
from meshc.backends.targets import FEATURES, IstioTarget
from meshc.cli import cli
from meshc.language import ir
from meshc.language.source import SourceFile
from meshc.pipeline import compile_sources

# hangzhou and beijing are primaries on two networks; shanghai is a remote
# of hangzhou; shenzhen a primary on hangzhou's network without a gateway.
FLEET = """fleet prod {
  cluster hangzhou region cn-east zone cn-east-a network net-1 gateway 10.0.0.1
  cluster shanghai remote of hangzhou region cn-east zone cn-east-b network net-1
  cluster beijing region cn-north zone cn-north-a network net-2 gateway 10.1.0.1
  cluster shenzhen region cn-south zone cn-south-a network net-1
}
"""


def compile_text(text: str):
    compiled = compile_sources([SourceFile("p.mesh", text)])
    return compiled


def render_text(text: str) -> dict[str, dict[tuple[str, str, str], dict]]:
    """{cluster: {(kind, namespace, name): body}} of a policy that must be clean."""
    compiled = compile_text(text)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    rendering = render(compiled.policy)
    assert not rendering.diagnostics, [d.message for d in rendering.diagnostics]
    return {c: {(d.kind, d.namespace, d.name): d.body for d in docs} for c, docs in rendering.clusters.items()}


def codes(text: str) -> list[tuple[str, str]]:
    """(code, help) of every diagnostic `check` gives (render's included)."""
    compiled = compile_text(text)
    found = list(compiled.diagnostics)
    if compiled.ok:
        found += render(compiled.policy).diagnostics
    return [(d.code, d.help or "") for d in found]


def ns(body: str) -> str:
    return FLEET + f"namespace shop {{\n{body}\n}}\n"


# ------------------------------------------------------------ topology
def test_a_remote_gets_only_stubs_and_its_primary_gets_the_configuration():
    out = render_text(ns("  mtls strict\n  service cart {\n    in beijing\n    port 80 http\n"
                         "    route r { timeout 2s }\n  }"))
    assert set(out["shanghai"]) == {("Service", "shop", "cart")}
    for primary in ("hangzhou", "beijing", "shenzhen"):
        assert ("VirtualService", "shop", "cart") in out[primary]
        assert ("PeerAuthentication", "shop", "default") in out[primary]
    assert ("Service", "shop", "cart") in out["hangzhou"] and ("Service", "shop", "cart") not in out["beijing"]


def test_every_primary_gets_the_same_routing():
    text = ns("  service cart {\n    in hangzhou beijing\n    port 80 http\n    subsets by cluster hangzhou beijing\n"
              "    route r { to hangzhou 90%, beijing 10% }\n  }")
    out = render_text(text)
    bodies = [out[c][(kind, "shop", "cart")] for c in ("hangzhou", "beijing", "shenzhen")
              for kind in ("VirtualService", "DestinationRule")]
    assert bodies[0] == bodies[2] == bodies[4] and bodies[1] == bodies[3] == bodies[5]


def test_the_east_west_gateway_goes_to_primaries_whose_clusters_have_one():
    out = render_text(ns("  service cart { port 80 http }"))
    gateway = ("Gateway", "istio-system", "cross-network-gateway")
    assert {c for c, docs in out.items() if gateway in docs} == {"hangzhou", "beijing"}
    spec = out["hangzhou"][gateway]["spec"]
    assert spec == {"selector": {"istio": "eastwestgateway"}, "servers": [{
        "port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "tls": {"mode": "AUTO_PASSTHROUGH"},
        "hosts": ["*.local"]}]}
    # A primary without a gateway configures its remote's east-west gateway.
    remote_gw = FLEET.replace("network net-1 gateway 10.0.0.1", "network net-1").replace(
        "cn-east-b network net-1", "cn-east-b network net-1 gateway 10.0.0.2")
    out = render_text(remote_gw + "namespace shop {\n  service cart { port 80 http }\n}\n")
    assert gateway in out["hangzhou"] and gateway not in out["shanghai"]
    # One network: no east-west gateway anywhere.
    single = FLEET.replace("net-2", "net-1")
    out = render_text(single + "namespace shop {\n  service cart { port 80 http }\n}\n")
    assert not [c for c, docs in out.items() if gateway in docs]


# --------------------------------------------------------------- stubs
def test_stubs_where_a_service_does_not_run_with_its_ports():
    out = render_text(ns("  service cart {\n    in hangzhou\n    port 8080 http name web\n    port 9090 grpc\n  }"))
    stubs = {c for c, docs in out.items() if ("Service", "shop", "cart") in docs}
    assert stubs == {"shanghai", "beijing", "shenzhen"}
    assert out["beijing"][("Service", "shop", "cart")] == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "cart", "namespace": "shop", "labels": {"app.kubernetes.io/managed-by": "meshc"}},
        "spec": {"selector": {"app": "cart"}, "ports": [
            {"name": "web", "port": 8080, "protocol": "TCP", "appProtocol": "http"},
            {"name": "grpc-9090", "port": 9090, "protocol": "TCP", "appProtocol": "grpc"}]}}


def test_no_stubs_with_dns_proxying_or_for_local_services_or_services_everywhere():
    text = ns("  service cart {\n    in hangzhou\n    port 80 http\n  }\n  service cache {\n    local\n"
              "    in hangzhou beijing\n    port 80 http\n  }\n  service web { port 80 http }")
    out = render_text(text.replace("fleet prod {\n", "fleet prod {\n  dns-proxying\n"))
    assert not [key for docs in out.values() for key in docs if key[0] == "Service"]
    out = render_text(text)
    assert {key[2] for docs in out.values() for key in docs if key[0] == "Service"} == {"cart"}


# ----------------------------------------------------- cluster routing
def test_cluster_subsets_source_clusters_and_combined_subsets():
    out = render_text(ns(
        "  service cart {\n    in hangzhou beijing\n    port 80 http\n    subsets by cluster hangzhou beijing\n"
        '    subset v2-north {\n      version = "v2"\n      in beijing\n    }\n'
        "    route remote {\n      when from cluster shanghai\n      to hangzhou\n    }\n"
        "    route r { to hangzhou 80%, beijing 10%, v2-north 10% }\n  }"))
    dr = out["beijing"][("DestinationRule", "shop", "cart")]["spec"]
    assert dr["subsets"] == [
        {"name": "hangzhou", "labels": {"topology.istio.io/cluster": "hangzhou"}},
        {"name": "beijing", "labels": {"topology.istio.io/cluster": "beijing"}},
        {"name": "v2-north", "labels": {"version": "v2", "topology.istio.io/cluster": "beijing"}}]
    http = out["hangzhou"][("VirtualService", "shop", "cart")]["spec"]["http"]
    assert http[0]["match"] == [{"sourceLabels": {"topology.istio.io/cluster": "shanghai"}}]
    assert [(d["destination"]["subset"], d["weight"]) for d in http[1]["route"]] == [
        ("hangzhou", 80), ("beijing", 10), ("v2-north", 10)]


def test_failover_priority_renders_istio_keys_and_pins():
    out = render_text(ns("  service cart {\n    port 80 http\n"
                         '    failover priority cluster=hangzhou network region zone version="v1"\n'
                         "    circuit-breaker { eject 5 consecutive 5xx }\n  }"))
    lb = out["hangzhou"][("DestinationRule", "shop", "cart")]["spec"]["trafficPolicy"]["loadBalancer"]
    assert lb == {"localityLbSetting": {"enabled": True, "failoverPriority": [
        "topology.istio.io/cluster=hangzhou", "topology.istio.io/network", "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone", "version=v1"]}}


# ------------------------------------------------------------- local
LOCAL = ("  service cache {\n    local\n    port 80 http\n    subsets by version v1 v2\n"
         "    route r { to v1 90%, v2 10% }\n  }\n"
         "  service cart {\n    port 80 http\n    route r { to service cache subset v2 }\n  }")


def test_local_service_in_a_primary_without_remotes_routes_to_its_own_cluster():
    out = render_text(ns(LOCAL))
    (entry,) = out["beijing"][("VirtualService", "shop", "cache")]["spec"]["http"]
    assert "match" not in entry
    assert [(d["destination"]["subset"], d["weight"]) for d in entry["route"]] == [("beijing-v1", 90),
                                                                                   ("beijing-v2", 10)]
    (cart,) = out["beijing"][("VirtualService", "shop", "cart")]["spec"]["http"]
    assert cart["route"] == [{"destination": {"host": "cache.shop.svc.cluster.local", "subset": "beijing-v2",
                                              "port": {"number": 80}}}]


def test_local_service_in_a_primary_with_a_remote_matches_each_cluster_s_callers():
    out = render_text(ns(LOCAL))
    http = out["hangzhou"][("VirtualService", "shop", "cache")]["spec"]["http"]
    assert [(e["name"], e["match"], [d["destination"]["subset"] for d in e["route"]]) for e in http] == [
        ("r-hangzhou", [{"sourceLabels": {"topology.istio.io/cluster": "hangzhou"}}], ["hangzhou-v1", "hangzhou-v2"]),
        ("r-shanghai", [{"sourceLabels": {"topology.istio.io/cluster": "shanghai"}}], ["shanghai-v1", "shanghai-v2"])]


def test_local_service_subsets_are_the_same_in_every_primary():
    out = render_text(ns(LOCAL))
    subsets = {c: out[c][("DestinationRule", "shop", "cache")]["spec"]["subsets"]
               for c in ("hangzhou", "beijing", "shenzhen")}
    assert subsets["hangzhou"] == subsets["beijing"] == subsets["shenzhen"]
    assert [s["name"] for s in subsets["hangzhou"]] == [
        f"{c}{s}" for c in ("hangzhou", "shanghai", "beijing", "shenzhen") for s in ("", "-v1", "-v2")]
    assert subsets["hangzhou"][1] == {"name": "hangzhou-v1", "labels": {
        "version": "v1", "topology.istio.io/cluster": "hangzhou"}}


def test_a_local_service_that_runs_nowhere_a_primary_serves_answers_404_there():
    """Without its VirtualService, callers there would get Istio's default
    route to the pods in beijing (with DNS proxying, which needs no stub)."""
    out = render_text(ns("  service cache {\n    in beijing\n    local\n    port 80 http\n  }"))
    for cluster in ("hangzhou", "shenzhen"):
        assert out[cluster][("VirtualService", "shop", "cache")]["spec"]["http"] == [
            {"name": "not-found", "directResponse": {"status": 404}}]
    assert [e["name"] for e in out["beijing"][("VirtualService", "shop", "cache")]["spec"]["http"]] == ["default"]


def test_no_404_entry_after_a_local_services_route_that_sends_elsewhere_and_takes_everything(tmp_path):
    """The route is rendered as written, so it also takes the callers of
    clusters the service does not run in: a `not-found` after it would be
    dead (`meshc check`: MESH323 on an entry the user never wrote)."""
    text = ns("  service api {\n    port 80 http\n  }\n"
              "  service cache {\n    in beijing\n    local\n    port 80 http\n    route a { to service api }\n  }")
    (tmp_path / "p.mesh").write_text(text)
    checked = CliRunner().invoke(cli, ["check", str(tmp_path), "--output-format", "concise"])
    assert (checked.exit_code, checked.stderr + checked.stdout) == (0, "All checks passed (1 file).\n")
    out = render_text(text)
    for cluster in ("hangzhou", "beijing", "shenzhen"):
        assert [e["name"] for e in out[cluster][("VirtualService", "shop", "cache")]["spec"]["http"]] == ["a"]


# ------------------------------------------------------------- checks
@pytest.mark.parametrize("statement, code", [
    ("in hangzou", "MESH202"),
    ("subsets by cluster bejing", "MESH202"),
    ("route r {\n      when from cluster shangai\n      timeout 1s\n    }\n    route d {}", "MESH202"),
    ("failover priority cluster=shenzen\n    circuit-breaker { eject 1 consecutive 5xx }", "MESH202"),
    ("failover cn-east -> cn-nort\n    circuit-breaker { eject 1 consecutive 5xx }", "MESH409"),
    ("failover priority zone=cn-east-c\n    circuit-breaker { eject 1 consecutive 5xx }", "MESH409"),
])
def test_misspelt_clusters_and_localities_get_a_did_you_mean(statement, code):
    found = codes(ns(f"  service cart {{\n    port 80 http\n    {statement}\n  }}"))
    assert [c for c, _ in found] == [code]
    assert found[0][1].startswith("did you mean `")


def test_a_remote_of_an_unknown_cluster():
    found = codes(FLEET.replace("remote of hangzhou", "remote of hangzou"))
    assert found == [("MESH202", "did you mean `hangzhou`?")]


def test_an_override_for_a_remote_names_its_primary_in_the_fix():
    ((code, help_),) = codes(ns("  service cart {\n    port 80 http\n    on shanghai { timeout 2s }\n  }"))
    assert code == "MESH902" and "`on hangzhou`" in help_ and "when from cluster shanghai" in help_


@pytest.mark.parametrize("placement, found", [
    ("", ["MESH408"]),         # everywhere: a's callers get b's pod addresses
    ("in a b", ["MESH408"]),
    ("in b", ["MESH408"]),     # and nothing else serves them
    ("in a", []),              # b's callers come in through a's gateway
    ("local", []),             # every caller stays in its own cluster
])
def test_a_network_without_a_gateway_fails_what_runs_there_for_the_other_networks(placement, found):
    """pilot's ep_filters.go keeps an endpoint whose network has no
    east-west gateway as is: callers on n1 get b's pods' own addresses."""
    fleet = "fleet prod {\n  cluster a network n1 gateway 10.0.0.1\n  cluster b network n2\n}\n"
    service = f"namespace shop {{\n  service cart {{\n    port 80 http\n    {placement}\n  }}\n}}\n"
    assert [c for c, _ in codes(fleet + service)] == found


def test_a_cluster_without_a_network_in_a_fleet_on_several():
    fleet = "fleet prod {\n  cluster a network n1 gateway 10.0.0.1\n  cluster b network n2 gateway 10.1.0.1\n" \
            "  cluster c\n}\n"
    assert codes(fleet) == [("MESH901", "add `network NAME` to `c`: the network its Istio install declares "
                                        "(`values.global.network`)")]
    assert codes(fleet.replace("network n2", "network n1")) == codes(fleet.replace("  cluster c\n", "")) == []


def test_an_empty_fleet_places_everything_nowhere():
    assert [c for c, _ in codes("fleet prod {}\nnamespace shop {\n  service cart { port 80 http }\n}\n")] == [
        "MESH903"]


# ------------------------------------------------------- version gates
def test_every_multi_cluster_field_is_in_the_version_table_with_its_release():
    assert FEATURES["failover-priority"][0] == (1, 12)
    assert FEATURES["failover-priority-pin"][0] == (1, 18)
    assert all(IstioTarget("1.18").supports(f) for f in ("failover-priority", "failover-priority-pin"))


def test_the_gates_hold_for_releases_before_them():
    """meshc renders for 1.18 and later, where both have shipped; the gates
    are checked with the releases before them."""
    policy = compile_text(ns('  service cart {\n    port 80 http\n    failover priority region version=v1\n'
                             "    circuit-breaker { eject 1 consecutive 5xx }\n  }")).policy
    p = policy.namespaces[0].services[0].policy
    assert [f for f, _ in policy_gaps([p], IstioTarget("1.17"))] == ["failover-priority-pin"]
    assert [f for f, _ in policy_gaps([p], IstioTarget("1.11"))] == ["failover-priority"]
    assert policy_gaps([p], IstioTarget("1.18")) == []
    assert isinstance(policy_gaps([p], IstioTarget("1.17"))[0][1], ir.PriorityLabel)


# ---------------------------------------------------------------- CLI
def test_explain_says_a_retired_code_is_retired():
    result = CliRunner().invoke(cli, ["explain", "MESH407"])
    assert result.exit_code == 0
    assert result.output.startswith("## MESH407 placement-misuse (retired)")
