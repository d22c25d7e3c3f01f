"""DestinationRules: subsets and traffic policy per service, and the
namespace-wide defaults.

Istio's subset and port-level policies replace whole messages of the
top-level policy (a subset's outlierDetection drops the top-level interval;
a port's settings drop failover). meshc renders every subset and port policy
fully merged (resolve.merge), and a subset's policy per port too, so each
says exactly what applies there. Precedence, weakest first: namespace
defaults, service, `on CLUSTER`, port, subset.
"""

from __future__ import annotations

from typing import Iterator, Optional

from meshc.backends.documents import Document, document, duration, number
from meshc.backends.targets import IstioTarget
from meshc.language import ir
from meshc.model.resolve import CLUSTER_DOMAIN, ServiceInfo, merge

DEFAULTS_NAME = "defaults"
_TLS = {"istio-mutual": "ISTIO_MUTUAL", "disable": "DISABLE", "simple": "SIMPLE"}
_SIMPLE_LB = {"round-robin": "ROUND_ROBIN", "random": "RANDOM", "least-request": "LEAST_REQUEST",
              "passthrough": "PASSTHROUGH"}


def service_destination_rule(info: ServiceInfo, cluster: str, target: IstioTarget,
                             placement: tuple[str, ...]) -> Optional[Document]:
    """The DestinationRule of a service, if it has subsets or policy. Its
    subsets are the same in every cluster: an east-west gateway routes a
    subset's SNI only if its own istiod knows the subset."""
    svc = info.service
    base = info.policy(cluster)
    spec: dict = {"host": info.host}
    policy = traffic_policy(base)
    # Istio rejects a port entry that sets nothing; an empty port block adds nothing.
    ports = [
        {"port": {"number": p.number}, **settings}
        for p in svc.ports if p.policy is not None
        for settings in [traffic_policy(merge(base, p.policy))] if settings
    ]
    if ports:
        policy["portLevelSettings"] = ports
    if policy:
        spec["trafficPolicy"] = policy
    if svc.local is not None:
        subsets = [_subset(s, base, svc.ports) for s in local_subsets(svc, placement)]
    else:
        subsets = [_subset(s, base, svc.ports) for s in svc.subsets if s.labels]
    if subsets:
        spec["subsets"] = subsets
    if len(spec) == 1:
        return None
    return document(target.networking, "DestinationRule", info.namespace.name.value, svc.name.value, spec,
                    [svc, info.namespace.defaults])


def defaults_destination_rule(ns: ir.Namespace, target: IstioTarget) -> Optional[Document]:
    """A wildcard DestinationRule carrying a namespace's `defaults` to the
    services meshc does not manage (those it does inherit them already)."""
    if ns.defaults is None:
        return None
    policy = traffic_policy(ns.defaults)
    if not policy:
        return None
    spec = {"host": f"*.{ns.name.value}.{CLUSTER_DOMAIN}", "trafficPolicy": policy}
    return document(target.networking, "DestinationRule", ns.name.value, DEFAULTS_NAME, spec, [ns.defaults])


def local_subset_name(cluster: str, subset: Optional[str]) -> str:
    """The subset a `local` service's traffic from `cluster` goes to: the
    cluster's share of `subset`, or of the whole service (Istio's own
    naming, docs/ops/configuration/traffic-management/multicluster)."""
    return cluster if subset is None else f"{cluster}-{subset}"


def local_subsets(svc: ir.Service, placement: tuple[str, ...]) -> Iterator[ir.Subset]:
    """A `local` service's subsets: for each cluster it runs in, the whole
    service there and each declared subset there."""
    for cluster in placement:
        here = ir.LabelPair(span=svc.span, key=ir.CLUSTER_LABEL, value=cluster)
        yield ir.Subset(span=svc.span, name=ir.Name(span=svc.span, value=local_subset_name(cluster, None)),
                        labels=(here,))
        for s in svc.subsets:
            if s.labels:
                yield s.model_copy(update={"name": ir.Name(span=s.name.span,
                                                           value=local_subset_name(cluster, s.name.value)),
                                           "labels": s.labels + (here,)})


def version_gaps(info: ServiceInfo, cluster: str, target: IstioTarget) -> list[tuple[str, ir.Node]]:
    """(feature, node) for every field the service's policies in `cluster`
    need that the cluster's Istio release lacks."""
    base = info.policy(cluster)
    policies = [base] + [merge(base, x.policy) for x in (*info.service.subsets, *info.service.ports)
                         if x.policy is not None]
    return policy_gaps(policies, target)


def policy_gaps(policies: list[ir.Policy], target: IstioTarget) -> list[tuple[str, ir.Node]]:
    out: dict[int, tuple[str, ir.Node]] = {}
    for p in policies:
        priority = p.failover_priority
        if priority is None:
            continue
        pins = [x for x in priority.labels if x.value is not None]
        if not target.supports("failover-priority"):
            out.setdefault(id(priority), ("failover-priority", priority))
        elif pins and not target.supports("failover-priority-pin"):
            out.setdefault(id(priority), ("failover-priority-pin", pins[0]))
    return list(out.values())


def _subset(subset: ir.Subset, base: ir.Policy, ports: tuple[ir.Port, ...]) -> dict:
    """A subset, with its policy for every port that has one: Istio applies
    a subset's top-level fields over the port's (MergeSubsetTrafficPolicy in
    pilot's networking/util/util.go), so without its own port entries a
    subset would lose what its ports set. A subset wins over a port."""
    out: dict = {"name": subset.name.value, "labels": {lbl.key: lbl.value for lbl in subset.labels}}
    if subset.policy is not None:
        policy = traffic_policy(merge(base, subset.policy))
        port_level = [
            {"port": {"number": p.number}, **settings}
            for p in ports if p.policy is not None
            for settings in [traffic_policy(merge(merge(base, p.policy), subset.policy))] if settings
        ]
        if port_level:
            policy["portLevelSettings"] = port_level
        if policy:
            out["trafficPolicy"] = policy
    return out


def traffic_policy(p: ir.Policy) -> dict:
    """A TrafficPolicy (without portLevelSettings) in output order."""
    out: dict = {}
    cb = p.circuit_breaker
    if cb is not None:
        pool = _connection_pool(cb)
        if pool:
            out["connectionPool"] = pool
    lb = _load_balancer(p)
    if lb:
        out["loadBalancer"] = lb
    if cb is not None and cb.eject is not None:
        out["outlierDetection"] = _outlier_detection(cb.eject)
    if p.tls is not None:
        out["tls"] = {"mode": _TLS[p.tls.mode]}
    return out


def _connection_pool(cb: ir.CircuitBreaker) -> dict:
    tcp: dict = {}
    if cb.max_connections is not None:
        tcp["maxConnections"] = cb.max_connections
    if cb.connect_timeout is not None:
        tcp["connectTimeout"] = duration(cb.connect_timeout)
    http: dict = {}
    if cb.max_pending is not None:
        http["http1MaxPendingRequests"] = cb.max_pending
    if cb.max_requests is not None:
        http["http2MaxRequests"] = cb.max_requests
    if cb.max_requests_per_connection is not None:
        http["maxRequestsPerConnection"] = cb.max_requests_per_connection
    if cb.max_retries is not None:
        http["maxRetries"] = cb.max_retries
    if cb.idle_timeout is not None:
        http["idleTimeout"] = duration(cb.idle_timeout)
    out: dict = {}
    if tcp:
        out["tcp"] = tcp
    if http:
        out["http"] = http
    return out


def _load_balancer(p: ir.Policy) -> dict:
    out: dict = {}
    lb = p.lb
    if isinstance(lb, ir.SimpleLb):
        out["simple"] = _SIMPLE_LB[lb.algorithm]
    elif isinstance(lb, ir.HashLb):
        out["consistentHash"] = _consistent_hash(lb)
    locality: dict = {}
    if p.failover is not None:
        locality = {"enabled": True, "failover": [{"from": x.source.value, "to": x.target.value}
                                                  for x in p.failover.pairs]}
    elif p.failover_priority is not None:
        locality = {"enabled": True, "failoverPriority": [
            x.key if x.value is None else f"{x.key}={x.value}" for x in p.failover_priority.labels]}
    elif p.distribute:
        locality = {"enabled": True, "distribute": [
            {"from": d.source, "to": {t.locality: number(t.percent.value) for t in d.targets}}
            for d in p.distribute]}
    if locality:
        out["localityLbSetting"] = locality
    return out


def _consistent_hash(lb: ir.HashLb) -> dict:
    if lb.on == "header":
        return {"httpHeaderName": lb.name}
    if lb.on == "query":
        return {"httpQueryParameterName": lb.name}
    if lb.on == "source-ip":
        return {"useSourceIp": True}
    # Istio releases before 1.22 reject a cookie without a ttl in their
    # webhook; `0s` makes Envoy set a session cookie, which is what leaving
    # out `ttl` means.
    return {"httpCookie": {"name": lb.name, "ttl": duration(lb.ttl) if lb.ttl is not None else "0s"}}


def _outlier_detection(e: ir.Ejection) -> dict:
    key = "consecutive5xxErrors" if e.errors == "5xx" else "consecutiveGatewayErrors"
    out: dict = {key: e.consecutive}
    if e.interval is not None:
        out["interval"] = duration(e.interval)
    if e.base_time is not None:
        out["baseEjectionTime"] = duration(e.base_time)
    if e.max_percent is not None:
        out["maxEjectionPercent"] = number(e.max_percent.value)
    return out
