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

from typing import Optional

from meshc.backends.documents import Document, document, duration, number
from meshc.backends.targets import IstioTarget
from meshc.language import ir
from meshc.model.resolve import CLUSTER_DOMAIN, ServiceInfo, merge

DEFAULTS_NAME = "defaults"
_TLS = {"istio-mutual": "ISTIO_MUTUAL", "disable": "DISABLE", "simple": "SIMPLE"}
_SIMPLE_LB = {"round-robin": "ROUND_ROBIN", "random": "RANDOM", "least-request": "LEAST_REQUEST",
              "passthrough": "PASSTHROUGH"}


def service_destination_rule(info: ServiceInfo, cluster: str, target: IstioTarget) -> Optional[Document]:
    """The DestinationRule of a service, if it has subsets or policy."""
    svc = info.service
    base = info.policy(cluster)
    if svc.is_global and base.tls is None:
        # Global hosts are reached through east-west gateways in
        # AUTO_PASSTHROUGH mode, which only carry Istio mutual TLS.
        base = base.model_copy(update={"tls": ir.Tls(span=svc.span, mode="istio-mutual")})
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
