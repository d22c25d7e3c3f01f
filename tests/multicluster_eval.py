"""Where rendered multi-cluster Istio sends one request: the share of
requests each cluster's endpoints serve, and what failover does when some
clusters' endpoints are down.

A focused test helper, not the route evaluator: meshc/semantics/evaluate is
being built on its own branch and had not landed on main when this was
written, so this reads only what multi-cluster needs (a VirtualService's
`http` entries and matches, DestinationRule subsets and traffic policy) and
adds what the evaluator does not model: endpoints with a cluster, network
and locality taken from the fleet. It reads the rendered documents of the
caller's config cluster (its primary's directory) and never the .mesh IR,
except the fleet (where clusters are) and the pods the test declares.

It follows, at istio/istio tag 1.30.0:
- pilot/pkg/serviceregistry/util/label/label.go `AugmentLabels`: every proxy
  and endpoint carries topology.istio.io/cluster, topology.istio.io/network,
  topology.kubernetes.io/region and zone labels;
- pilot/pkg/xds/endpoints/endpoint_builder.go: endpoints of every cluster
  merged, filtered by subset labels; failover only with outlier detection
  (`getOutlierDetectionAndLoadBalancerSettings`); the mesh default
  localityLbSetting is enabled;
- pilot/pkg/xds/endpoints/ep_filters.go `EndpointsByNetworkFilter`: an
  endpoint on another network becomes its network's east-west gateway
  (preferring the endpoint's own cluster's gateway, weight split evenly over
  the gateways), labelled with the gateway's cluster and network only,
  keeping its locality; it is dropped without Istio mutual TLS; with no
  gateway for its network it is kept as is, and unreachable;
- pilot/pkg/networking/core/loadbalancer/loadbalancer.go: `distribute`
  (applyLocalityWeights), `failoverPriority` (applyFailoverPriorities,
  applyFailoverPriorityPerLocality) or region `failover` (applyLocalityFailover,
  networking/util/util.go LbPriority), priorities renumbered without gaps;
- pilot/pkg/networking/core/cluster_traffic_policy.go: locality-weighted
  balancing with failover, priorities or distribute; the panic threshold set
  to 0 with outlier detection (minHealthPercent's default);
- Envoy's priority load (envoyproxy/envoy source/common/upstream/
  load_balancer_impl.cc `distributeLoad`, docs arch_overview/load_balancing/
  priority and overprovisioning): a priority's availability is 1.4 × its
  healthy share, capped at 100 %, normalised when the total is below 100 %.

Simplifications, none of which the tests below depend on: every pod has
weight 1; priority availability counts hosts; traffic through an east-west
gateway reaches the healthy pods it stands for in proportion to their
number (the gateway's own locality balancing is not modelled); every pod
serves every port (a port only picks its port-level traffic policy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Optional

import re2

from meshc.backends.istio import Rendering
from meshc.language import ir
from meshc.model.topology import Topology

CLUSTER, NETWORK = "topology.istio.io/cluster", "topology.istio.io/network"
REGION, ZONE, SUBZONE = "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"
OVERPROVISIONING = Fraction(14, 10)


@dataclass(frozen=True)
class Pods:
    """`count` pods of `host` in `cluster` with `labels` (besides the topology ones)."""

    host: str
    cluster: str
    labels: tuple[tuple[str, str], ...] = ()
    count: int = 1


@dataclass
class _Endpoint:
    """An EDS endpoint as a caller's proxy sees it: a pod, or an east-west
    gateway standing for pods on another network."""

    labels: dict[str, str]
    locality: tuple[str, str, str]
    weight: Fraction
    pods: dict[str, Fraction]          # cluster -> weight of the pods it stands for
    healthy_pods: dict[str, Fraction]  # the same, only those up
    reachable: bool = True
    priority: int = 0

    @property
    def healthy(self) -> bool:
        return self.reachable and sum(self.healthy_pods.values()) > 0


@dataclass(frozen=True)
class Outcome:
    """`shares`: cluster -> the share of requests its pods serve. `failing`:
    the share that fails (no endpoint, or an endpoint that is down, or
    unreachable). `status` is set when the proxy answers itself (404)."""

    entry: Optional[str]
    shares: Mapping[str, Fraction] = field(default_factory=dict)
    failing: Fraction = Fraction(0)
    status: Optional[int] = None


class Mesh:
    """A rendered policy, the fleet it was rendered for, and the pods running."""

    def __init__(self, policy: ir.MeshPolicy, rendering: Rendering, pods: list[Pods]):
        self.topology = Topology(policy)
        self.rendering = rendering
        self.pods = pods

    # ------------------------------------------------------------ caller
    def _cluster_labels(self, cluster: str) -> dict[str, str]:
        c = self.topology.clusters[cluster]
        out = {CLUSTER: cluster}
        for key, value in ((NETWORK, c.network), (REGION, c.region), (ZONE, c.zone)):
            if value is not None:
                out[key] = value.value
        return out

    def _locality(self, cluster: str) -> tuple[str, str, str]:
        labels = self._cluster_labels(cluster)
        return labels.get(REGION, ""), labels.get(ZONE, ""), ""

    def _documents(self, cluster: str, kind: str) -> list[dict]:
        config = self.topology.primary_of(cluster)
        return [d.body for d in self.rendering.clusters[config] if d.kind == kind]

    # ------------------------------------------------------------ routing
    def send(self, host: str, *, source: str, headers: Mapping[str, str] = {}, path: str = "/",
             method: str = "GET", source_labels: Mapping[str, str] = {}, down: frozenset = frozenset()) -> Outcome:
        """A request from a pod in cluster `source` to `host`; the pods of
        the clusters in `down` fail (outlier detection ejects them when the
        destination's policy has it)."""
        proxy = {**source_labels, **self._cluster_labels(source)}
        services = [vs for vs in self._documents(source, "VirtualService")
                    if host in vs["spec"]["hosts"] and "gateways" not in vs["spec"]]
        if not services:
            return self._forward(source, proxy, [({"host": host}, Fraction(1))], None, down)
        request = {"headers": {k.lower(): v for k, v in headers.items()}, "path": path, "method": method}
        for entry in services[0]["spec"]["http"]:
            if "match" in entry and not any(_matches(m, request, proxy) for m in entry["match"]):
                continue
            if "directResponse" in entry:
                return Outcome(entry["name"], status=entry["directResponse"]["status"])
            routes = entry["route"]
            total = sum(r.get("weight", 0) for r in routes) if len(routes) > 1 else 1
            shares = [(r["destination"], Fraction(r.get("weight", 1) if len(routes) > 1 else 1, total))
                      for r in routes]
            return self._forward(source, proxy, [(d, s) for d, s in shares if s], entry["name"], down)
        return Outcome(None, status=404)  # a VirtualService that owns the host and no entry matched

    def serve(self, host: str, subset: Optional[str], port: Optional[int], *, source: str,
              source_labels: Mapping[str, str] = {}, down: frozenset = frozenset()) -> Outcome:
        """One destination of a route (a VirtualService's `destination`),
        from a pod in cluster `source`: which clusters' pods take it."""
        proxy = {**source_labels, **self._cluster_labels(source)}
        destination = {"host": host, **({"subset": subset} if subset else {}),
                       **({"port": {"number": port}} if port else {})}
        return self._forward(source, proxy, [(destination, Fraction(1))], None, down)

    def _forward(self, source: str, proxy: dict, destinations: list[tuple[dict, Fraction]], entry: Optional[str],
                 down: frozenset) -> Outcome:
        shares: dict[str, Fraction] = {}
        failing = Fraction(0)
        for destination, share in destinations:
            served, lost = self._balance(source, proxy, destination, down)
            for cluster, part in served.items():
                shares[cluster] = shares.get(cluster, Fraction(0)) + share * part
            failing += share * lost
        return Outcome(entry, {c: s for c, s in sorted(shares.items()) if s}, failing)

    # -------------------------------------------------------- destination
    def _policy(self, source: str, host: str, subset: Optional[str], port: Optional[int]) -> tuple[dict, dict]:
        """(subset labels, effective trafficPolicy for the port), as
        pilot/pkg/networking/util/util.go `MergeSubsetTrafficPolicy` merges
        them: a port-level entry for the port replaces the policy with its
        own four fields (`GetPortLevelTrafficPolicy`), then each field the
        subset's policy sets (all four when it came from a port-level
        entry) replaces the top-level one whole."""
        rule = next((d["spec"] for d in self._documents(source, "DestinationRule") if d["spec"]["host"] == host), {})
        policy, _ = _port_level(rule.get("trafficPolicy", {}), port)
        if subset is None:
            return {}, policy
        chosen = next((s for s in rule.get("subsets", ()) if s["name"] == subset), None)
        if chosen is None:
            return {"<missing subset>": subset}, policy  # no endpoint: 503
        own, whole = _port_level(chosen.get("trafficPolicy", {}), port)
        policy = {**policy, **own, **({k: own.get(k) for k in _PORT_FIELDS} if whole else {})}
        return chosen["labels"], {k: v for k, v in policy.items() if v is not None}

    def _balance(self, source: str, proxy: dict, destination: dict,
                 down: frozenset) -> tuple[dict[str, Fraction], Fraction]:
        port = destination.get("port", {}).get("number")
        labels, policy = self._policy(source, destination["host"], destination.get("subset"), port)
        endpoints = self._endpoints(source, destination["host"], labels, policy, down)
        outlier = "outlierDetection" in policy
        locality_lb = policy.get("loadBalancer", {}).get("localityLbSetting", {"enabled": True})
        if not locality_lb.get("enabled", True):
            locality_lb = {}
        weighted = bool(locality_lb.get("distribute")) or (outlier and bool(
            locality_lb.get("failover") or locality_lb.get("failoverPriority")))
        if locality_lb.get("distribute"):
            endpoints = _distribute(endpoints, self._locality(source), locality_lb["distribute"])
        elif outlier and locality_lb:
            if locality_lb.get("failoverPriority"):
                _failover_priority(endpoints, proxy, locality_lb["failoverPriority"])
            else:
                _failover(endpoints, self._locality(source), locality_lb.get("failover", []))
        return _envoy(endpoints, outlier, weighted)

    def _endpoints(self, source: str, host: str, subset: dict, policy: dict, down: frozenset) -> list[_Endpoint]:
        """The caller's EDS for one destination, grouped by locality."""
        pods = []
        for p in self.pods:
            labels = {**dict(p.labels), **self._cluster_labels(p.cluster)}
            if p.host == host and all(labels.get(k) == v for k, v in subset.items()):
                pods.append((p, labels))
        caller_network = self._cluster_labels(source).get(NETWORK)
        mtls = policy.get("tls", {}).get("mode", "ISTIO_MUTUAL") == "ISTIO_MUTUAL"
        multi = self.topology.multi_network and any(self.topology.has_gateway(c) for c in self.topology.names)
        out: list[_Endpoint] = []
        behind: dict[tuple, _Endpoint] = {}
        for p, labels in pods:
            weight = Fraction(p.count)
            up = {p.cluster: weight} if p.cluster not in down else {}
            locality = self._locality(p.cluster)
            network = labels.get(NETWORK)
            if not multi or network is None or caller_network is None or network == caller_network:
                # context.go `InNetwork`: no network is every network
                out.append(_Endpoint(labels, locality, weight, {p.cluster: weight}, up))
                continue
            gateways = self._gateways(network, p.cluster)
            if not gateways:
                out.append(_Endpoint(labels, locality, weight, {p.cluster: weight}, up, reachable=False))
                continue
            if not mtls:
                continue  # cross-network traffic needs Istio mutual TLS
            for gw in gateways:
                key = (locality, gw)
                ep = behind.get(key)
                if ep is None:
                    ep = behind[key] = _Endpoint({CLUSTER: gw, NETWORK: network}, locality, Fraction(0), {}, {})
                    out.append(ep)
                part = weight / len(gateways)
                ep.weight += part
                ep.pods[p.cluster] = ep.pods.get(p.cluster, Fraction(0)) + part
                if up:
                    ep.healthy_pods[p.cluster] = ep.healthy_pods.get(p.cluster, Fraction(0)) + part
        return out

    def _gateways(self, network: Optional[str], cluster: str) -> list[str]:
        """selectNetworkGateways: the endpoint's cluster's gateway, else
        every gateway of its network."""
        if self.topology.has_gateway(cluster):
            return [cluster]
        return [c for c in self.topology.names if self.topology.network(c) == network and self.topology.has_gateway(c)]


_PORT_FIELDS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")
"""util.go `shadowCopyPortTrafficPolicy`: what a port-level entry carries."""


def _port_level(policy: dict, port: Optional[int]) -> tuple[dict, bool]:
    """(the policy for `port`, whether a port-level entry replaced it)."""
    entry = next((e for e in policy.get("portLevelSettings", ()) if e.get("port", {}).get("number") == port), None)
    if port is None or entry is None:
        return {k: v for k, v in policy.items() if k != "portLevelSettings"}, False
    return {k: entry[k] for k in _PORT_FIELDS if k in entry}, True


# ------------------------------------------------------------- matching
def _string(spec: dict, value: Optional[str]) -> bool:
    if value is None:
        return False
    if "exact" in spec:
        return value == spec["exact"]
    if "prefix" in spec:
        return value.startswith(spec["prefix"])
    return re2.fullmatch(spec["regex"], value) is not None


def _matches(match: dict, request: dict, proxy: dict) -> bool:
    """One HTTPMatchRequest; the fields meshc's mesh routes use."""
    known = {"headers", "withoutHeaders", "uri", "method", "sourceLabels", "queryParams"}
    if set(match) - known:
        raise NotImplementedError(f"match fields {sorted(set(match) - known)}")
    path, _, query = request["path"].partition("?")
    params = dict(re.findall(r"([^&=]+)=([^&]*)", query))
    return (all(_string(spec, request["headers"].get(name)) for name, spec in match.get("headers", {}).items())
            and all(name not in request["headers"] for name in match.get("withoutHeaders", {}))
            and ("uri" not in match or _string(match["uri"], path))
            and ("method" not in match or _string(match["method"], request["method"]))
            and all(_string(spec, params.get(name)) for name, spec in match.get("queryParams", {}).items())
            and all(proxy.get(k) == v for k, v in match.get("sourceLabels", {}).items()))


# ----------------------------------------------------------- priorities
def _split(locality: str) -> tuple[str, str, str]:
    parts = locality.split("/") + ["", ""]
    return parts[0], parts[1], parts[2]


def _locality_match(caller: tuple[str, str, str], rule: str) -> bool:
    """networking/util/util.go LocalityMatch."""
    region, zone, subzone = _split(rule)
    return (region in ("*", caller[0]) and zone in ("*", "", caller[1]) and subzone in ("*", "", caller[2]))


def _distribute(endpoints: list[_Endpoint], caller: tuple[str, str, str], rules: list[dict]) -> list[_Endpoint]:
    """applyLocalityWeights: the first rule whose `from` matches the caller
    gives each `to` locality its weight, split over the locality groups it
    matches by their weight; groups no `to` matches are removed."""
    rule = next((r for r in rules if _locality_match(caller, r["from"])), None)
    if rule is None:
        return endpoints
    groups: dict[tuple, list[_Endpoint]] = {}
    for ep in endpoints:
        groups.setdefault(ep.locality, []).append(ep)
    unmatched = set(groups)
    weights: dict[tuple, Fraction] = {}
    for target, weight in rule["to"].items():
        matched = [loc for loc in groups if loc in unmatched and _locality_match(loc, target)]
        total = sum(sum(e.weight for e in groups[loc]) for loc in matched)
        for loc in matched:
            unmatched.discard(loc)
            weights[loc] = Fraction(weight) * sum(e.weight for e in groups[loc]) / total
    out = []
    for loc, eps in groups.items():
        if loc in weights:
            size = sum(e.weight for e in eps)
            for e in eps:  # the locality's weight, spread over its endpoints as Envoy does
                e.weight = weights[loc] * e.weight / size
                out.append(e)
    return out


def _renumber(endpoints: list[_Endpoint]) -> None:
    order = sorted({e.priority for e in endpoints})
    for e in endpoints:
        e.priority = order.index(e.priority)


def _failover_priority(endpoints: list[_Endpoint], proxy: dict, keys: list[str]) -> None:
    """applyFailoverPriorityPerLocality: the first label that differs
    between caller (or the pinned value) and endpoint decides the tier."""
    lowest = len(keys)
    for e in endpoints:
        e.priority = 0
        for j, entry in enumerate(keys):
            key, pinned, value = entry.partition("=")
            wanted = value if pinned else proxy.get(key)
            if wanted != e.labels.get(key):
                e.priority = lowest - j
                break
    _renumber(endpoints)


def _failover(endpoints: list[_Endpoint], caller: tuple[str, str, str], pairs: list[dict]) -> None:
    """applyLocalityFailover: same zone and subzone 0, same zone 1, same
    region 2, other regions 3, or 4 when a pair for the caller's region
    names another."""
    for e in endpoints:
        region, zone, subzone = e.locality
        if region == caller[0]:
            e.priority = 0 if (zone, subzone) == caller[1:] else 1 if zone == caller[1] else 2
        else:
            e.priority = 3
            pair = next((p for p in pairs if p["from"] == caller[0]), None)
            if pair is not None and region != pair["to"]:
                e.priority = 4
    _renumber(endpoints)


def _envoy(endpoints: list[_Endpoint], outlier: bool, weighted: bool) -> tuple[dict[str, Fraction], Fraction]:
    """(cluster -> share, failing share) for one upstream cluster. Without
    outlier detection Envoy never learns that pods are down: they keep their
    share, which fails, and priorities do not apply."""
    if not endpoints:
        return {}, Fraction(1)
    if not outlier:
        total = sum(e.weight for e in endpoints)
        shares: dict[str, Fraction] = {}
        failing = Fraction(0)
        for e in endpoints:
            pods = sum(e.pods.values())
            for cluster, w in e.healthy_pods.items():
                if e.reachable:
                    shares[cluster] = shares.get(cluster, Fraction(0)) + e.weight / total * w / pods
            failing += e.weight / total * (1 - (sum(e.healthy_pods.values()) / pods if e.reachable else 0))
        return shares, failing
    levels = sorted({e.priority for e in endpoints})
    availability = []
    for level in levels:
        hosts = [e for e in endpoints if e.priority == level]
        availability.append(min(Fraction(1), OVERPROVISIONING * sum(1 for e in hosts if e.healthy) / len(hosts)))
    total = min(Fraction(1), sum(availability))
    if total == 0:
        return {}, Fraction(1)  # panic threshold 0: no healthy host, 503
    remaining, loads = Fraction(1), []
    for a in availability:
        load = min(remaining, a / total)
        loads.append(load)
        remaining -= load
    shares = {}
    for level, load in zip(levels, loads):
        if not load:
            continue
        for e, part in _within(endpoints, level, weighted):
            for cluster, w in e.healthy_pods.items():
                shares[cluster] = shares.get(cluster, Fraction(0)) + load * part * w / sum(e.healthy_pods.values())
    return shares, Fraction(0)


def _within(endpoints: list[_Endpoint], level: int, weighted: bool) -> list[tuple[_Endpoint, Fraction]]:
    """The healthy endpoints of one priority and their shares of its load:
    by locality weight × availability, then by weight within a locality
    (locality-weighted balancing), or by weight alone."""
    hosts = [e for e in endpoints if e.priority == level]
    healthy = [e for e in hosts if e.healthy]
    if not weighted:
        total = sum(e.weight for e in healthy)
        return [(e, e.weight / total) for e in healthy]
    groups: dict[tuple, list[_Endpoint]] = {}
    for e in hosts:
        groups.setdefault(e.locality, []).append(e)
    effective = {}
    for loc, eps in groups.items():
        available = min(Fraction(1), OVERPROVISIONING * sum(1 for e in eps if e.healthy) / len(eps))
        effective[loc] = sum(e.weight for e in eps) * available
    total = sum(effective.values())
    out = []
    for loc, eps in groups.items():
        up = [e for e in eps if e.healthy]
        size = sum(e.weight for e in up)
        out += [(e, effective[loc] / total * e.weight / size) for e in up]
    return out
