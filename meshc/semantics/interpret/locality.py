"""Which clusters' pods take a target's requests from a caller's cluster,
with some clusters' pods down: locality load balancing at the granularity
of clusters, as docs/multicluster.md ("What the routing does, and what it
does not", "Constructs") and docs/language.md ("Destination policy")
describe it.

- A target's pods are in the clusters its subset selects: those that run
  the service (`in`), of them the subset's cluster (`subsets by cluster`,
  `in C`), for a `local` subset the caller's own.
- `distribute`: the first rule whose `from` takes the caller's locality
  sends to the localities its `to` names with a weight above 0, none other
  ("localities not listed get nothing"); no rule for the caller: no
  weights. It needs no outlier detection.
- Otherwise tiers apply only with outlier detection in the target's policy
  (MESH402: nothing marks a pod unhealthy, so Istio does not fail over);
  without it every pod is in one tier. The first tier with a pod up takes
  everything (the docs: a tier keeps what its healthy pods can take, which
  is all of it when they are all up and nothing when they are all down).
  - `failover priority K...`: a pod's tier is how many leading entries it
    matches ("an entry only counts while every entry before it matches");
    `K=V` matches a pod whose label K is V, `K` one whose label K is the
    caller's. Pods on another network are seen as their east-west
    gateway's, labelled with a cluster and a network only, so region and
    zone entries never match them (a cluster that declares no network is
    on every network, as Istio takes a proxy or endpoint without one).
  - `failover R1 -> R2` and, with outlier detection alone, Istio's default
    (mesh `localityLbSetting` is enabled by default; the docs say nothing
    here): the caller's zone, then its region, then, when a pair leaves
    the caller's region, that pair's region, then the rest. A locality is
    kept across networks.

Simplifications (clusters, not pods): every pod of a cluster shares the
cluster's region and zone (the fleet gives no subzone, so a rule or entry
naming one matches nothing); a `failover priority` entry the fleet cannot
answer (`node`, `version`, any other label) ends the comparison, so the
answer is the clusters that may hold the first tier (`answers` says when);
a cluster whose pods another network sees through several gateways is in
the best tier of their endpoints; how the shares split between the clusters
of one tier depends on the number of pods, which the policy does not give.
"""

from __future__ import annotations

from typing import Collection, Mapping, Optional

from meshc.language import ir
from meshc.model.topology import Topology
from meshc.semantics.decision import PolicyValue

_LB = "loadBalancer.localityLbSetting."
NETWORK, REGION, ZONE = (ir.TOPOLOGY_LABELS[k] for k in ("network", "region", "zone"))


def serving(topology: Topology, pods: tuple[str, ...], policy: Mapping[str, PolicyValue], caller: str,
            down: Collection[str]) -> tuple[str, ...]:
    """The clusters, in fleet order, whose pods take the requests (none: 503)."""
    up = [c for c in pods if c not in down]
    rules = policy.get(_LB + "distribute")
    if rules:
        rule = next((dict(r) for r in rules if _locality_match(topology, caller, str(dict(r)["from"]))), None)
        if rule is None:
            return tuple(up)
        return tuple(c for c in up if any(_locality_match(topology, c, key[len("to."):])
                                           for key, weight in rule.items() if key.startswith("to.") and weight))
    if not up or not any(k.startswith("outlierDetection.") for k in policy):
        return tuple(up)
    priority = policy.get(_LB + "failoverPriority")
    if priority:
        rank = {c: -_matched(topology, tuple(map(str, priority)), caller, c) for c in up}
    else:
        rank = {c: _region_tier(topology, policy.get(_LB + "failover") or (), caller, c) for c in up}
    best = min(rank.values())
    return tuple(c for c in up if rank[c] == best)


def _locality(topology: Topology, cluster: str) -> tuple[str, str]:
    c = topology.clusters.get(cluster)
    if c is None:
        return "", ""
    return (c.region.value if c.region else ""), (c.zone.value if c.zone else "")


def _locality_match(topology: Topology, cluster: str, rule: str) -> bool:
    """Istio's `LocalityMatch`: `*` or a missing part matches anything; the
    fleet's clusters have no subzone."""
    parts = (rule.split("/") + ["", ""])[:3]
    for want, have in zip(parts, _locality(topology, cluster) + ("",)):
        if want not in ("*", "") and want != have:
            return False
    return True


def _labels(topology: Topology, cluster: str, caller: str) -> list[dict[str, Optional[str]]]:
    """A cluster's pods' topology labels as a proxy in `caller` sees them:
    on another network, as the endpoints of the east-west gateways that
    stand for them (its own cluster's, else every one of its network's;
    pilot/pkg/xds/endpoints/ep_filters.go `selectNetworkGateways`), each
    labelled with the gateway's cluster and network only (`AugmentLabels`
    with no locality); with no gateway there (MESH408), as they are."""
    network = topology.network(cluster)
    gateways = [cluster] if topology.has_gateway(cluster) else [
        c for c in topology.names if topology.network(c) == network and topology.has_gateway(c)]
    if not topology.same_network(caller, cluster) and gateways:
        return [{ir.CLUSTER_LABEL: g, NETWORK: network} for g in gateways]
    region, zone = _locality(topology, cluster)
    return [{ir.CLUSTER_LABEL: cluster, NETWORK: network, REGION: region or None, ZONE: zone or None}]


def _matched(topology: Topology, entries: tuple[str, ...], caller: str, cluster: str) -> int:
    """How many leading `failoverPriority` entries the cluster's pods match
    (through the gateway endpoint that matches most)."""
    (mine,) = _labels(topology, caller, caller)
    best = 0
    for theirs in _labels(topology, cluster, caller):
        count = 0
        for entry in entries:
            key, pinned, value = entry.partition("=")
            if key not in mine:  # a label the fleet does not give
                break
            want = value if pinned else mine[key]
            if want is None or theirs.get(key) != want:
                break
            count += 1
        best = max(best, count)
    return best


def answers(topology: Topology, policy: Mapping[str, PolicyValue], caller: str) -> bool:
    """Whether `serving` says exactly which clusters take the requests, not
    only which may hold the first tier: no `failover priority` entry (with
    outlier detection) names a label the fleet does not give, or, not
    pinned, one the caller's cluster lacks."""
    priority = policy.get(_LB + "failoverPriority")
    if not priority or not any(k.startswith("outlierDetection.") for k in policy):
        return True
    (mine,) = _labels(topology, caller, caller)
    for entry in map(str, priority):
        key, pinned, _ = entry.partition("=")
        if key not in mine or (not pinned and mine[key] is None):
            return False
    return True


def _region_tier(topology: Topology, pairs: tuple, caller: str, cluster: str) -> int:
    """Pilot's `LbPriority` with `failover` pairs (`applyLocalityFailover`)."""
    (region, zone), (their_region, their_zone) = _locality(topology, caller), _locality(topology, cluster)
    if region == their_region:
        return 0 if zone == their_zone else 2
    pair = next((dict(p) for p in pairs if dict(p)["from"] == region), None)
    return 4 if pair is not None and pair["to"] != their_region else 3
