"""The interpreter across the clusters of a fleet, one rule at a time, as
docs/language.md ("Fleet", "Services across clusters", "Destination
policy") and docs/multicluster.md say: a remote's callers follow their
primary's configuration, `from cluster`, cluster subsets, `local`,
`failover priority`, and which clusters' pods take the traffic."""

from __future__ import annotations

import pytest

from meshc.semantics.decision import NO_RETRIES, Target
from meshc.semantics.grid import requests_for
from meshc.semantics.interpret import Interpreter
from meshc.semantics.registry import registry
from meshc.semantics.request import Request, ServicePort
from test_interpret_support import goes, host, policy_of, where

# a and c are primaries on two networks; b is a's remote, in a's region.
FLEET = """
fleet f {
  cluster a region r1 zone z1 network n1 gateway 10.0.0.1 istio 1.22
  cluster b remote of a region r1 zone z2 network n1
  cluster c region r2 zone z3 network n2 gateway 10.0.0.3
}
"""
GATEWAY = """
namespace istio-system {
  gateway gw {
    hosts h.example.com
    https credential cert
  }
}
"""


def mesh(name: str = "s", namespace: str = "ns", port: int = 80, **kw) -> Request:
    return Request.make(host(name, namespace), port, **kw)


def at_gateway(**kw) -> Request:
    return Request.make("h.example.com", 443, gateway="istio-system/gw", **kw)


def interpreters(text: str) -> dict[str, Interpreter]:
    policy = policy_of(FLEET + text)
    return {c: Interpreter(policy, c) for c in "abc"}


# ------------------------------------------------------ remotes, from cluster
FROM_B = """
namespace ns {
  service s {
    port 80 http
    subsets by version v1 v2
    on a { timeout 3s }
    route from-b { when from cluster b to v2 }
    route from-label { when source topology.istio.io/cluster = "c" to v2 }
    route rest { to v1 }
  }
}
"""


def test_a_remote_follows_its_primarys_configuration():
    it = interpreters(FROM_B)
    assert goes(it["a"], mesh()) == ("rest", {"v1": 100})
    assert goes(it["b"], mesh()) == ("from-b", {"v2": 100})
    assert goes(it["c"], mesh()) == ("from-label", {"v2": 100})
    # a's `on a` and a's Istio release (1.22: default retries include 503) apply to b's callers
    for caller, timeout, statuses in (("a", 3_000, (503,)), ("b", 3_000, (503,)), ("c", None, ())):
        d = it[caller].evaluate(mesh())
        assert (d.timeout_ms, d.retries.statuses) == (timeout, statuses)


def test_the_request_source_cluster_is_the_caller():
    it = interpreters(FROM_B)
    assert it["a"].evaluate(mesh(source_cluster="b")) == it["b"].evaluate(mesh())
    assert goes(it["b"], mesh(source_cluster="a")) == ("rest", {"v1": 100})
    # c's own configuration would treat b's callers the same way
    assert goes(it["c"], mesh(source_cluster="b")) == ("from-b", {"v2": 100})


def test_the_cluster_label_is_the_proxys_cluster_whatever_the_pod_says():
    it = interpreters(FROM_B)
    pretending = mesh(source_labels={"topology.istio.io/cluster": "c"})
    assert goes(it["a"], pretending) == ("rest", {"v1": 100})


def test_explain_reports_the_cluster_condition_that_failed():
    explained = interpreters(FROM_B)["a"].explain(mesh())
    assert [(m.entry, [c.text for c in m.failures]) for m in explained.tried] == [
        ("from-b", ["from cluster b"]), ("from-label", ['source topology.istio.io/cluster = "c"'])]


def test_from_cluster_holds_at_a_gateway_running_in_that_cluster():
    it = interpreters(GATEWAY + """
namespace ns {
  service s {
    port 80 http
    subsets by version v1 v2
    expose via gw host h.example.com
    route from-c { when from cluster c to v2 }
    route label-b { when source topology.istio.io/cluster = "b" to v2 }
    route rest { to v1 }
  }
}""")
    assert goes(it["c"], at_gateway()) == ("s-from-c", {"v2": 100})
    assert goes(it["a"], at_gateway()) == ("s-rest", {"v1": 100})
    assert goes(it["a"], at_gateway(source_cluster="c")) == ("s-from-c", {"v2": 100})
    # the label is a `source` condition: about mesh callers, never a gateway's
    assert goes(it["b"], at_gateway()) == ("s-rest", {"v1": 100})
    assert goes(it["b"], mesh()) == ("label-b", {"v2": 100})


# ------------------------------------------------------------- cluster subsets
def test_cluster_subsets_are_subsets_and_select_their_clusters_pods():
    it = interpreters("""
namespace ns {
  service s {
    in a c
    port 80 http
    subset v1 { version = "v1" }
    subset v2-c {
      version = "v2"
      in c
      circuit-breaker { max-connections 5 }
    }
    route r { to v1 80%, v2-c 20% }
  }
}""")
    for caller in "abc":
        assert where(it[caller], mesh()) == ("r", {("v1", "a c"): 80, ("v2-c", "c"): 20})
    d = it["b"].evaluate(mesh())
    assert {s.target.subset: d.policy(s.target) for s in d.destinations} == {
        "v1": {}, "v2-c": {"connectionPool.tcp.maxConnections": 5}}


# -------------------------------------------------------------------- local
LOCAL = """
namespace ns {
  service cache {
    local
    port 80 http
    subsets by version v1 v2
    subset v2 { circuit-breaker { max-pending 5 } }
    route canary { when header x = "1" to v2 }
    route bg { blue-green active v1 preview v2 }
  }
  service api {
    port 80 http
    route r {
      to service cache
      mirror service cache subset v2 50%
    }
  }
}
"""


@pytest.mark.parametrize("caller, request_kw, entry, subset", [
    # a serves its remote b: each route once per cluster, matching it
    ("a", {"headers": {"x": "1"}}, "canary-a", "a-v2"),
    ("b", {"headers": {"x": "1"}}, "canary-b", "b-v2"),
    ("a", {"headers": {"x-preview": "true"}}, "bg-a-preview", "a-v2"),
    ("b", {"headers": {"x-preview": "true"}}, "bg-b-preview", "b-v2"),
    ("b", {}, "bg-b", "b-v1"),
    # c serves only itself: the routes keep their names
    ("c", {"headers": {"x": "1"}}, "canary", "c-v2"),
    ("c", {}, "bg", "c-v1"),
])
def test_a_local_services_routes_go_to_the_callers_cluster(caller, request_kw, entry, subset):
    it = interpreters(LOCAL)
    assert where(it[caller], mesh("cache", **request_kw)) == (entry, {(subset, caller): 100})


def test_routes_of_other_services_to_a_local_service_go_to_the_callers_cluster_too():
    it = interpreters(LOCAL)
    for caller, entry in (("a", "r-a"), ("b", "r-b"), ("c", "r")):
        d = it[caller].evaluate(mesh("api"))
        assert d.entry == entry
        assert [(s.target.host, s.target.subset) for s in d.destinations] == [(host("cache"), caller)]
        assert [(m.target.subset, m.share * 100) for m in d.mirrors] == [(f"{caller}-v2", 50)]
        assert d.policy(d.mirrors[0].target) == {"connectionPool.http.http1MaxPendingRequests": 5}
    explained = it["b"].explain(mesh("api"))
    (miss,) = explained.tried
    assert miss.entry == "r-a" and [(c.text, c.origin) for c in miss.failures] == [("from cluster a", "local")]


def test_a_configuration_does_not_cover_callers_of_clusters_it_does_not_serve():
    """a's copies of `r` match a's and b's callers only: a proxy in c (which
    a never programs) would find no entry for it, so no VirtualService, and
    get Istio's default route ("Routes"); `not-found` is rendered only for
    a service whose routes all have a `when`."""
    it = interpreters(LOCAL + """
namespace other {
  service guarded {
    local
    port 80 http
    route only { when header x = "1" }
  }
  service half {
    port 80 http
    route plain { when header x = "1" }
    route cached { to service cache in ns }
  }
}""")
    d = it["a"].evaluate(mesh("api", source_cluster="c"))
    assert (d.kind, d.retries.attempts) == ("default", 2) and d.destinations[0].target == Target(host("api"), None, 80)
    d = it["a"].evaluate(mesh("guarded", "other", source_cluster="c"))
    assert (d.kind, d.status, d.entry) == ("respond", 404, "not-found")
    # `plain` applies to every proxy, so the VirtualService covers c's: no route, 404
    d = it["a"].evaluate(mesh("half", "other", source_cluster="c"))
    assert (d.kind, d.status, d.entry) == ("respond", 404, None)
    assert goes(it["a"], mesh("half", "other", source_cluster="b")) == ("cached-b", {"b": 100})


def test_tcp_tls_and_https_ports_take_no_http_route():
    it = interpreters("""
namespace ns {
  service s {
    port 80 http
    port 443 https
    port 5432 tcp
    subsets by version v1 v2
    route r { to v2 }
  }
}""")
    assert goes(it["a"], mesh()) == ("r", {"v2": 100})
    for port in (443, 5432):
        d = it["a"].evaluate(mesh(port=port))
        assert (d.kind, d.retries, d.destinations[0].target) == ("default", NO_RETRIES, Target(host("s"), None, port))


def test_a_local_service_without_routes_still_routes_per_cluster():
    it = interpreters("""
namespace ns {
  service cache {
    local
    in a c
    port 80 http
  }
}""")
    assert where(it["a"], mesh("cache")) == ("default-a", {("a", "a"): 100})
    assert where(it["c"], mesh("cache")) == ("default", {("c", "c"): 100})
    # b does not run it: no copy for b, whose callers get the 404 of `not-found`, never a's pods
    d = it["b"].evaluate(mesh("cache"))
    assert (d.kind, d.status, d.entry) == ("respond", 404, "not-found")


def test_an_exposed_local_service_routes_by_the_gateways_cluster():
    it = interpreters(GATEWAY + """
namespace ns {
  service cache {
    local
    port 80 http
    subsets by version v1 v2
    expose via gw host h.example.com
    route r { to v1 }
  }
}""")
    assert where(it["a"], at_gateway()) == ("cache-r-a", {("a-v1", "a"): 100})
    assert where(it["b"], at_gateway()) == ("cache-r-b", {("b-v1", "b"): 100})
    assert where(it["c"], at_gateway()) == ("cache-r", {("c-v1", "c"): 100})


def test_at_a_gateway_a_local_services_copies_let_other_clusters_through_to_later_exposures():
    """A gateway a's configuration does not program (one in c) matches none
    of cache's copies; cache's routes end with a catch-all, so there is no
    404 entry, and the host's next exposure takes the request."""
    it = interpreters(GATEWAY + """
namespace ns {
  service cache {
    local
    port 80 http
    expose via gw host h.example.com when path ^= "/c"
    route r { }
  }
  service web {
    port 80 http
    expose via gw host h.example.com
  }
}""")
    assert goes(it["a"], at_gateway(path="/c")) == ("cache-r-a", {"a": 100})
    assert goes(it["a"], at_gateway(path="/c", source_cluster="c")) == ("web-default", {host("web"): 100})


# ------------------------------------------------------------ locality policy
def policy_of_s(caller: str, body: str) -> tuple:
    it = Interpreter(policy_of(FLEET + f"namespace ns {{\n service s {{\n  port 80 http\n{body}\n }}\n}}"), caller)
    (share, clusters), = it.serving(mesh())
    return it.evaluate(mesh()).policy(share.target), clusters


EJECT = "circuit-breaker { eject 5 consecutive 5xx }"


def test_failover_priority_is_istios_list_with_short_names_expanded_and_pins_as_written():
    policy, _ = policy_of_s("a", f'failover priority cluster=a network version="v1" zone\n{EJECT}')
    assert policy["loadBalancer.localityLbSetting.failoverPriority"] == (
        "topology.istio.io/cluster=a", "topology.istio.io/network", "version=v1", "topology.kubernetes.io/zone")
    assert policy["loadBalancer.localityLbSetting.enabled"] is True


def test_distribute_is_a_list_of_rules_each_flattened():
    policy, clusters = policy_of_s("a", "distribute r1/* -> r1/* 80%, r2/* 20%")
    assert policy["loadBalancer.localityLbSetting.distribute"] == (
        (("from", "r1/*"), ("to.r1/*", 80), ("to.r2/*", 20)),)
    assert clusters == ("a", "b", "c")


@pytest.mark.parametrize("caller, body, down, clusters", [
    # distribute: the localities of the caller's rule, none other; no rule, no weights
    ("a", "distribute r1/* -> r1/* 100%", (), ("a", "b")),
    ("a", "distribute r1/* -> r1/* 100%", ("a", "b"), ()),
    ("c", "distribute r1/* -> r1/* 100%", (), ("a", "b", "c")),
    ("b", "distribute r1/z2 -> r2/* 100%", (), ("c",)),
    # outlier detection alone: Istio's default locality tiers, zone then region
    ("b", EJECT, (), ("b",)),
    ("b", EJECT, ("b",), ("a",)),
    ("c", EJECT, ("c",), ("a", "b")),
    # no outlier detection: no tiers
    ("b", "", (), ("a", "b", "c")),
    # across networks only the cluster and network labels count, and b's
    # pods come through a's gateway, labelled `a` (ep_filters.go)
    ("c", f"failover priority cluster=a\n{EJECT}", (), ("a", "b")),
    ("c", f"failover priority network region\n{EJECT}", ("c",), ("a", "b")),
    # a label the fleet does not give ends the comparison
    ("a", f"failover priority network version\n{EJECT}", (), ("a", "b")),
    ("a", f"failover r1 -> r2\n{EJECT}", ("a", "b"), ("c",)),
])
def test_which_clusters_pods_take_the_traffic(caller, body, down, clusters):
    it = Interpreter(policy_of(FLEET + f"namespace ns {{\n service s {{\n  port 80 http\n{body}\n }}\n}}"), caller)
    assert [c for _, c in it.serving(mesh(), down)] == [clusters]


# --------------------------------------------------------------- registry, grid
def test_every_cluster_knows_every_service_where_it_runs_or_not():
    policy = policy_of(FLEET + """
namespace ns {
  service s {
    in c
    port 8080 http name web
  }
}""")
    assert {c: registry(policy, c).services for c in "abc"} == {
        c: {host("s"): (ServicePort(8080, "http"),)} for c in "abc"}


def test_the_grid_tries_every_cluster_where_a_route_tests_the_callers():
    policy = policy_of(FLEET + FROM_B)
    requests = requests_for(policy, "c")
    assert {r.source_cluster for r in requests} == {"a", "b", "c"}
    entries = {Interpreter(policy, "c").evaluate(r).entry for r in requests if r.host == host("s")}
    assert entries == {"from-b", "from-label", "rest"}


@pytest.mark.parametrize("cluster, entries", [
    # (None: a caller in c, which a's configuration does not cover)
    ("a", {"canary-a", "canary-b", "bg-a-preview", "bg-a", "bg-b-preview", "bg-b", None}),
    ("b", {"canary-a", "canary-b", "bg-a-preview", "bg-a", "bg-b-preview", "bg-b", None}),
    ("c", {"canary", "bg-preview", "bg"}),
])
def test_the_grid_reaches_the_per_cluster_entries_of_local_services(cluster, entries):
    policy = policy_of(FLEET + LOCAL)
    interpreter = Interpreter(policy, cluster)
    reached = {interpreter.evaluate(r).entry for r in requests_for(policy, cluster) if r.host == host("cache")}
    assert reached == entries
