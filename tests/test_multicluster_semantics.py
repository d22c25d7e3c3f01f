"""What the rendered examples do across the fleet, request by request: for
each service and caller cluster, which clusters' pods serve the requests
and in what shares, and what failover does when clusters' pods are down.

The readings come from tests/multicluster_eval.py, which follows pilot's
endpoint and load-balancer code and Envoy's priority load (named there);
the expected tables follow Istio's documentation of `failover`
(tasks/traffic-management/locality-load-balancing/failover) and
`failoverPriority` (istio/api destination_rule.proto), and docs/language.md
for the routing. A property at the end checks the two readings against each
other on generated fleets.
"""

from __future__ import annotations

import functools
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multicluster_eval import Mesh, Pods

from meshc.backends.istio import render
from meshc.language.source import SourceFile
from meshc.pipeline import compile_paths, compile_sources, discover

CLUSTERS = ("hangzhou", "shanghai", "beijing", "shenzhen")


def geo(name: str) -> str:
    return f"{name}.geo.svc.cluster.local"


# One pod per cluster a service runs in (its `in`), with the labels its subsets select.
PODS = (
    [Pods(geo("user-service"), c) for c in ("hangzhou", "beijing")]
    + [Pods(geo("order-service"), c) for c in ("hangzhou", "beijing")]
    + [Pods(geo("global-api"), c) for c in ("hangzhou", "beijing", "shenzhen")]
    + [Pods(geo("inventory"), c) for c in CLUSTERS]
    + [Pods(geo("ledger"), c) for c in ("hangzhou", "beijing", "shenzhen")]
    + [Pods(geo("profile"), c, (("version", "v1"),)) for c in ("hangzhou", "beijing")]
    + [Pods(geo("profile"), "beijing", (("version", "v2"),))]
    + [Pods("session-cache.edge.svc.cluster.local", c) for c in CLUSTERS]
    + [Pods("api.storefront.svc.cluster.local", c, (("version", "v1"),)) for c in CLUSTERS]
)


@functools.cache
def examples() -> Mesh:
    (files,) = discover(["examples"])
    compiled = compile_paths(files)
    assert compiled.ok
    return Mesh(compiled.policy, render(compiled.policy), PODS)


def shares(host: str, source: str, down: tuple[str, ...] = (), **request) -> tuple[dict, F]:
    outcome = examples().send(host, source=source, down=frozenset(down), **request)
    return dict(outcome.shares), outcome.failing


ALL = {"hangzhou": F(1)}


# ------------------------------------------------ S4: the seeds' split
@pytest.mark.parametrize("source, expected", [
    ("hangzhou", {"hangzhou": F(9, 10), "beijing": F(1, 10)}),
    ("beijing", {"hangzhou": F(9, 10), "beijing": F(1, 10)}),
    ("shenzhen", {"hangzhou": F(9, 10), "beijing": F(1, 10)}),
    # shanghai's proxies follow hangzhou's configuration, whose first route
    # matches them by their cluster label.
    ("shanghai", {"hangzhou": F(1)}),
])
def test_user_service_splits_90_10_between_clusters(in_repo, source, expected):
    assert shares(geo("user-service"), source) == (expected, 0)


def test_a_split_pinned_to_clusters_does_not_fail_over(in_repo):
    """With hangzhou's pods down, its 90 % fails: the subset `hangzhou` has
    no other endpoints (and user-service has no outlier detection)."""
    assert shares(geo("user-service"), "beijing", down=("hangzhou",)) == ({"beijing": F(1, 10)}, F(9, 10))


# ------------------------------------------- S4: region failover (pairs)
@pytest.mark.parametrize("source, down, expected", [
    ("hangzhou", (), {"hangzhou": F(1)}),
    ("hangzhou", ("hangzhou",), {"beijing": F(1)}),                    # cn-east -> cn-north
    ("hangzhou", ("hangzhou", "beijing"), {"shenzhen": F(1)}),          # then anywhere left
    ("shanghai", (), {"hangzhou": F(1)}),                               # same region, other zone
    ("shanghai", ("hangzhou",), {"beijing": F(1)}),
    ("beijing", (), {"beijing": F(1)}),
    ("beijing", ("beijing",), {"shenzhen": F(1)}),                      # cn-north -> cn-south, not cn-east
    ("shenzhen", (), {"shenzhen": F(1)}),
    # No pair from cn-south: both other regions are one tier, split by
    # endpoint weight (hangzhou's pod directly, beijing's through its gateway).
    ("shenzhen", ("shenzhen",), {"hangzhou": F(1, 2), "beijing": F(1, 2)}),
])
def test_global_api_fails_over_region_by_region(in_repo, source, down, expected):
    assert shares(geo("global-api"), source, down) == (expected, 0)


def test_global_api_fails_when_every_region_is_down(in_repo):
    assert shares(geo("global-api"), "hangzhou", ("hangzhou", "beijing", "shenzhen")) == ({}, 1)


# ------------------------------------------------- S14: the drill
@pytest.mark.parametrize("source, down, expected", [
    ("hangzhou", (), {"hangzhou": F(1)}),
    ("shanghai", (), {"hangzhou": F(1)}),
    ("beijing", (), {"beijing": F(1)}),
    ("shenzhen", (), {"hangzhou": F(1, 2), "beijing": F(1, 2)}),  # no pair from cn-south
    # The drill takes hangzhou down: callers in cn-east fail over to cn-north.
    ("hangzhou", ("hangzhou",), {"beijing": F(1)}),
    ("shanghai", ("hangzhou",), {"beijing": F(1)}),
    ("beijing", ("beijing",), {"hangzhou": F(1)}),
])
def test_order_service_live_traffic_fails_over_between_regions(in_repo, source, down, expected):
    assert shares(geo("order-service"), source, down) == (expected, 0)


@pytest.mark.parametrize("source", CLUSTERS)
def test_drill_requests_split_70_30_and_the_pinned_share_is_lost_when_a_cluster_is_down(in_repo, source):
    drill = {"headers": {"x-failover-drill": "true"}}
    assert shares(geo("order-service"), source, **drill) == ({"hangzhou": F(7, 10), "beijing": F(3, 10)}, 0)
    assert shares(geo("order-service"), source, ("hangzhou",), **drill) == ({"beijing": F(3, 10)}, F(7, 10))


# -------------------------------------------- S15: failover priority
@pytest.mark.parametrize("source, down, expected", [
    # same network, region and zone; then same region; then same network; then the rest
    ("hangzhou", (), {"hangzhou": F(1)}),
    ("hangzhou", ("hangzhou",), {"shanghai": F(1)}),
    ("hangzhou", ("hangzhou", "shanghai"), {"shenzhen": F(1)}),
    ("hangzhou", ("hangzhou", "shanghai", "shenzhen"), {"beijing": F(1)}),
    ("shenzhen", ("shenzhen",), {"hangzhou": F(1, 2), "shanghai": F(1, 2)}),
    ("beijing", (), {"beijing": F(1)}),
    # Across networks the caller sees east-west gateways labelled with a
    # cluster and network only: region and zone never match, so the other
    # network is one tier, shared by locality.
    ("beijing", ("beijing",), {"hangzhou": F(1, 3), "shanghai": F(1, 3), "shenzhen": F(1, 3)}),
])
def test_inventory_fails_over_by_network_then_region_then_zone(in_repo, source, down, expected):
    assert shares(geo("inventory"), source, down) == (expected, 0)


@pytest.mark.parametrize("source, down, expected", [
    # hangzhou's endpoints first for every caller, the caller's network next
    ("hangzhou", (), {"hangzhou": F(1)}),
    ("shanghai", (), {"hangzhou": F(1)}),
    ("beijing", (), {"hangzhou": F(1)}),
    ("shenzhen", (), {"hangzhou": F(1)}),
    ("hangzhou", ("hangzhou",), {"beijing": F(1, 2), "shenzhen": F(1, 2)}),
    ("beijing", ("hangzhou",), {"beijing": F(1, 2), "shenzhen": F(1, 2)}),
])
def test_ledger_prefers_the_pinned_cluster(in_repo, source, down, expected):
    assert shares(geo("ledger"), source, down) == (expected, 0)


# ------------------------------------------------ S16: cluster-local
@pytest.mark.parametrize("source", CLUSTERS)
def test_a_local_service_is_served_in_the_callers_cluster_only(in_repo, source):
    host = "session-cache.edge.svc.cluster.local"
    assert shares(host, source) == ({source: F(1)}, 0)
    # and never elsewhere, even with every pod of its cluster down
    assert shares(host, source, (source,)) == ({}, 1)


# ---------------------------------------------------- without routing
def test_a_canary_confined_to_one_cluster(in_repo):
    """profile: v1 runs in hangzhou and beijing, v2 only in beijing; no
    outlier detection, so v1's 90 % spreads over both clusters."""
    assert shares(geo("profile"), "hangzhou") == ({"hangzhou": F(9, 20), "beijing": F(11, 20)}, 0)


def test_failover_by_locality_needs_no_rule_only_outlier_detection(in_repo):
    """storefront/api has outlier detection and no failover rule: Istio's
    default locality balancing keeps callers in their zone."""
    host = "api.storefront.svc.cluster.local"
    assert shares(host, "shanghai") == ({"shanghai": F(1)}, 0)
    assert shares(host, "shanghai", ("shanghai",)) == ({"hangzhou": F(1)}, 0)  # same region first


# ------------------------------------------------ differential property
@st.composite
def fleets(draw):
    """2-4 clusters on 1-2 networks, some remotes, every cluster with an
    east-west gateway (so every network reaches every other)."""
    n = draw(st.integers(2, 4))
    names = [f"c{i}" for i in range(n)]
    lines, primaries = [], []
    for i, name in enumerate(names):
        network = draw(st.sampled_from(["n1", "n2"]))
        remote = draw(st.sampled_from([None] + primaries)) if primaries else None
        head = f"  cluster {name}" + (f" remote of {remote}" if remote else "")
        lines.append(f"{head} region r{draw(st.integers(1, 2))} network {network} gateway 10.0.{i}.1")
        if remote is None:
            primaries.append(name)
    return names, "fleet f {\n" + "\n".join(lines) + "\n}\n"


@st.composite
def cases(draw):
    """A fleet, a service written one of three ways, and a caller, with
    what docs/language.md says the caller's requests do."""
    names, fleet = draw(fleets())
    placed = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    placed.sort(key=names.index)
    kind = draw(st.sampled_from(["split", "local", "plain"]))
    source = draw(st.sampled_from(placed if kind == "local" else names))
    body = f"    in {' '.join(placed)}\n    port 80 http\n"
    if kind == "split":
        weights = draw(st.lists(st.integers(1, 98), min_size=len(placed) - 1, max_size=len(placed) - 1))
        weights = [w * 100 // max(100, sum(weights) + 1) or 1 for w in weights]
        weights.append(100 - sum(weights))
        body += f"    subsets by cluster {' '.join(placed)}\n"
        body += "    route r { to " + ", ".join(f"{c} {w}%" for c, w in zip(placed, weights)) + " }\n"
        expected = {c: F(w, 100) for c, w in zip(placed, weights) if w}
    elif kind == "local":
        body += "    local\n"
        expected = {source: F(1)}
    else:  # no routing, no outlier detection: every pod an equal share
        expected = {c: F(1, len(placed)) for c in placed}
    text = fleet + f"namespace ns {{\n  service svc {{\n{body}  }}\n}}\n"
    return text, placed, source, expected


@settings(max_examples=60, deadline=None)
@given(cases())
def test_rendered_routing_does_what_the_policy_says_across_clusters(case):
    """Two readings agree: the shares evaluated from the rendered documents
    of the caller's primary, and the shares the .mesh says."""
    text, placed, source, expected = case
    compiled = compile_sources([SourceFile("p.mesh", text)])
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    rendering = render(compiled.policy)
    assert not rendering.diagnostics
    mesh = Mesh(compiled.policy, rendering, [Pods("svc.ns.svc.cluster.local", c) for c in placed])
    outcome = mesh.send("svc.ns.svc.cluster.local", source=source)
    assert (dict(outcome.shares), outcome.failing) == (expected, 0), text
