"""Multi-cluster disagreements the differential test over `fleet_policies()`
found, each stated as requests and where they must go: read both from the
documents the caller's primary renders (the evaluator: what Istio does) and
from the policy (the interpreter: what docs/language.md says). Both
readings must give the answer stated here."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from differential import istio_release
from multicluster_eval import Mesh, Pods

from meshc.backends.istio import render
from meshc.language.source import SourceFile
from meshc.model.topology import Topology
from meshc.pipeline import compile_sources
from meshc.semantics.decision import Decision
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.interpret import Interpreter
from meshc.semantics.registry import registry
from meshc.semantics.request import Request

# c0 and c1 are primaries; c2 is a remote of c1.
FLEET = """fleet f {
  cluster c0
  cluster c1
  cluster c2 remote of c1
}
"""
CACHE = "cache.ns.svc.cluster.local"


def readings(text: str, caller: str, request: Request) -> tuple[Decision, Decision]:
    """(what the rendered documents do, what the policy says) to a request
    from a workload in `caller`."""
    compiled = compile_sources([SourceFile("p.mesh", FLEET + text)])
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    policy = compiled.policy
    rendering = render(policy)
    assert not [d for d in rendering.diagnostics if d.is_error]
    primary = Topology(policy).primary_of(caller)
    release = istio_release(policy, caller)
    evaluator = Evaluator([d.body for d in rendering.clusters[primary]], registry(policy, caller), istio=release)
    interpreter = Interpreter(policy, caller, default_istio=release)
    request = replace(request, source_cluster=request.source_cluster or caller)
    return evaluator.evaluate(request), interpreter.evaluate(request)


def goes(decision: Decision) -> tuple:
    """(entry, status, {subset: share}) in a few words."""
    return decision.entry, decision.status, {s.target.subset: s.share for s in decision.destinations}


def both(text: str, caller: str, request: Request) -> tuple:
    rendered, meant = readings(text, caller, request)
    assert rendered == meant, f"rendered: {rendered}\nmeant:    {meant}"
    return goes(rendered)


def call(method: str = "GET", source_cluster: Optional[str] = None) -> Request:
    return Request.make(CACHE, 80, method=method, source_cluster=source_cluster)


NOT_FOUND = ("not-found", 404, {})


def test_a_local_service_whose_every_route_tests_another_cluster_answers_404():
    """In c1's configuration (c1 and its remote c2) every copy of `a`
    contradicts itself (`from cluster c0` and `from cluster c1`/`c2`), so
    no route entry is left: the VirtualService still ends with `not-found`,
    as for any service whose routes all have a `when`, instead of vanishing
    and leaving c1's and c2's callers to Istio's default route, which sends
    them to every cluster's pods."""
    text = """namespace ns {
  service cache {
    local
    port 80 http
    route a { when from cluster c0 and method = POST }
  }
}"""
    for caller in ("c1", "c2"):
        assert both(text, caller, call("POST")) == NOT_FOUND
        assert both(text, caller, call("GET")) == NOT_FOUND
    assert both(text, "c0", call("POST")) == ("a", None, {"c0": 1})
    assert both(text, "c0", call("GET")) == NOT_FOUND


def test_callers_in_a_served_cluster_where_a_local_service_does_not_run_get_404():
    """c1 serves itself and c2, and cache runs in c2 only: c2's callers go
    to c2's pods, c1's get 404 (there is no subset `c1`, and `local` never
    sends them to another cluster)."""
    text = """namespace ns {
  service cache {
    in c0 c2
    local
    port 80 http
    route all { timeout 1s }
  }
}"""
    assert both(text, "c2", call()) == ("all-c2", None, {"c2": 1})
    assert both(text, "c1", call()) == NOT_FOUND


def test_callers_of_a_primary_where_a_local_service_runs_nowhere_get_404():
    """cache runs in c0 only; c1's configuration serves c1 and c2, where it
    does not run. c1 still renders its VirtualService, only `not-found`:
    without it c1's and c2's callers (with DNS proxying, which resolves the
    name without a stub) would get Istio's default route to c0's pods."""
    text = """namespace ns {
  service cache {
    in c0
    local
    port 80 http
  }
}"""
    for caller in ("c1", "c2"):
        assert both(text, caller, call()) == NOT_FOUND
    assert both(text, "c0", call()) == ("default", None, {"c0": 1})


def test_a_local_services_route_to_another_service_takes_every_clusters_callers():
    """A route of a local service that sends only to another service is
    rendered as written, not once per cluster: its requests never reach the
    local service's endpoints, so callers in c1 and c2 (where cache does
    not run) take it like c0's."""
    text = """namespace ns {
  service api {
    port 80 http
  }
  service cache {
    in c0
    local
    port 80 http
    route a { to service api }
  }
}"""
    for caller in ("c0", "c1", "c2"):
        rendered, meant = readings(text, caller, call())
        assert rendered == meant
        assert (rendered.entry, [s.target.host for s in rendered.destinations]) == ("a", ["api.ns.svc.cluster.local"])


# ------------------------------------------- which clusters' pods serve
def serving(text: str, caller: str, down: tuple[str, ...] = ()) -> tuple[set, set]:
    """(clusters whose pods serve `cache` by the rendered documents, by the
    policy) for a request from `caller`, with the pods of `down` failing:
    tests/multicluster_eval.py reads the caller's primary's documents with
    pods of `cache` wherever it runs; the interpreter reads the policy."""
    compiled = compile_sources([SourceFile("p.mesh", text)])
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    policy = compiled.policy
    topology = Topology(policy)
    pods = [Pods(CACHE, c) for c in topology.placement(policy.namespaces[0].services[0])]
    outcome = Mesh(policy, render(policy), pods).send(CACHE, source=caller, down=frozenset(down))
    (_, clusters), = Interpreter(policy, caller).serving(call(), down)
    return {c for c, share in outcome.shares.items() if share}, set(clusters)


def test_a_cluster_without_a_network_is_on_every_network():
    """b declares no network on a fleet whose other clusters are on n1:
    Istio takes a proxy or endpoint without a network to be on the same
    network as any (pilot/pkg/model/context.go `InNetwork`:
    `identifier.IsSameOrEmpty`), so a's callers see b's pods directly, with
    their region and zone labels: b is the second tier of `failover
    priority region zone` (same region, another zone), c (another region)
    the third. Seen through an east-west gateway, b's pods would have lost
    their region and shared c's tier."""
    text = """fleet f {
  cluster a region r1 zone r1-a network n1
  cluster b region r1 zone r1-b
  cluster c region r2 network n1
}
namespace ns {
  service cache {
    port 80 http
    circuit-breaker { eject 5 consecutive 5xx }
    failover priority region zone
  }
}"""
    assert serving(text, "a") == ({"a"}, {"a"})
    assert serving(text, "a", down=("a",)) == ({"b"}, {"b"})
    assert serving(text, "a", down=("a", "b")) == ({"c"}, {"c"})


def test_pods_behind_another_clusters_east_west_gateway_carry_that_clusters_label():
    """p has no east-west gateway of its own: a's callers (network n1)
    reach its pods through g's, its network's one, and pilot gives such an
    endpoint the gateway's cluster and network as labels
    (pilot/pkg/xds/endpoints/ep_filters.go `EndpointsByNetworkFilter`,
    `selectNetworkGateways`: the endpoint's own cluster's gateways, else
    its network's). So `failover priority cluster=g` puts p's pods in g's
    tier, ahead of a's."""
    text = """fleet f {
  cluster a network n1 gateway 10.0.0.1
  cluster g network n2 gateway 10.1.0.1
  cluster p network n2
}
namespace ns {
  service cache {
    port 80 http
    circuit-breaker { eject 5 consecutive 5xx }
    failover priority cluster=g
  }
}"""
    assert serving(text, "a") == ({"g", "p"}, {"g", "p"})
    assert serving(text, "a", down=("g", "p")) == ({"a"}, {"a"})
