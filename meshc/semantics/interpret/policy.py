"""The destination policy that applies to one upstream (service, subset,
port) in one cluster, flattened to Istio field paths, and where each
setting came from (docs/language.md, "Destination policy").

Settings are inherited one by one, circuit-breaker settings each on its
own, weakest first: namespace `defaults`, the service, the service's `on
CLUSTER`, the port, the subset (the order issue 7 pins down). The
cluster is the primary whose configuration applies: a remote's callers get
their primary's `on PRIMARY` policy.

Lists are tuples, a list of messages a tuple of each message flattened
(`failover: ((("from", "cn-east"), ("to", "cn-north")),)`), as Istio
writes them. `failover priority` is `failoverPriority`, a tuple of label
keys with the short names expanded (`topology.istio.io/network`) and pins
as `KEY=VALUE` ("Destination policy"). A `local` service's subsets `C` and
`C-S` have the policy of the service and of its subset S.

A setting is one statement of the language; it may fill several Istio
fields (`eject 5 consecutive 5xx` is the count and the error kind), and a
stronger level replaces all of them: `eject 3 consecutive gateway-errors`
in a subset drops the service's `consecutive5xxErrors`.
"""

from __future__ import annotations

from typing import Optional

from meshc.language import ir
from meshc.language.source import Span
from meshc.model.resolve import CLUSTER_DOMAIN, ServiceInfo
from meshc.semantics.decision import PolicyValue
from meshc.semantics.interpret.options import Origin, override

_POOL = {
    "max_connections": "connectionPool.tcp.maxConnections",
    "connect_timeout": "connectionPool.tcp.connectTimeout",
    "max_pending": "connectionPool.http.http1MaxPendingRequests",
    "max_requests": "connectionPool.http.http2MaxRequests",
    "max_requests_per_connection": "connectionPool.http.maxRequestsPerConnection",
    "max_retries": "connectionPool.http.maxRetries",
    "idle_timeout": "connectionPool.http.idleTimeout",
}
_EJECT = {
    "interval": "outlierDetection.interval",
    "base_time": "outlierDetection.baseEjectionTime",
    "max_percent": "outlierDetection.maxEjectionPercent",
}
_CONSECUTIVE = {"5xx": "outlierDetection.consecutive5xxErrors",
                "gateway-errors": "outlierDetection.consecutiveGatewayErrors"}
_SIMPLE = {"round-robin": "ROUND_ROBIN", "random": "RANDOM", "least-request": "LEAST_REQUEST",
           "passthrough": "PASSTHROUGH"}
_HASH = "loadBalancer.consistentHash."
_LOCALITY = "loadBalancer.localityLbSetting."
_TLS = {"istio-mutual": "ISTIO_MUTUAL", "disable": "DISABLE", "simple": "SIMPLE"}

Fields = dict[str, PolicyValue]


def _value(v) -> PolicyValue:
    """Durations in ms, percentages as whole numbers, the rest as written."""
    if isinstance(v, ir.Duration):
        return int(v.ms)
    if isinstance(v, ir.Percent):
        return int(v.value)
    return v


Settings = dict[str, tuple[Fields, Span]]


def settings(policy: ir.Policy) -> Settings:
    """Setting name → (the Istio fields it fills, where it is said)."""
    out: Settings = {}
    cb = policy.circuit_breaker
    if cb is not None:
        for name, path in _POOL.items():
            value = getattr(cb, name)
            if value is not None:
                out[f"circuit-breaker {name}"] = ({path: _value(value)}, cb.span)
        if cb.eject is not None:
            out["eject"] = ({_CONSECUTIVE[cb.eject.errors]: cb.eject.consecutive}, cb.eject.span)
            for name, path in _EJECT.items():
                value = getattr(cb.eject, name)
                if value is not None:
                    out[f"eject {name}"] = ({path: _value(value)}, cb.eject.span)
    if policy.lb is not None:
        out["lb"] = (_lb(policy.lb), policy.lb.span)
    if policy.tls is not None:
        out["tls"] = ({"tls.mode": _TLS[policy.tls.mode]}, policy.tls.span)
    if policy.failover is not None:
        pairs = tuple((("from", p.source.value), ("to", p.target.value)) for p in policy.failover.pairs)
        out["failover"] = ({_LOCALITY + "enabled": True, _LOCALITY + "failover": pairs}, policy.failover.span)
    if policy.failover_priority is not None:
        keys = tuple(x.key if x.value is None else f"{x.key}={x.value}" for x in policy.failover_priority.labels)
        out["failover priority"] = ({_LOCALITY + "enabled": True, _LOCALITY + "failoverPriority": keys},
                                    policy.failover_priority.span)
    if policy.distribute:
        rules = tuple(
            tuple(sorted((("from", d.source),) + tuple((f"to.{w.locality}", int(w.percent.value)) for w in d.targets)))
            for d in policy.distribute
        )
        out["distribute"] = ({_LOCALITY + "enabled": True, _LOCALITY + "distribute": rules}, policy.distribute[0].span)
    return out


def _lb(lb: ir.Node) -> Fields:
    if isinstance(lb, ir.SimpleLb):
        return {"loadBalancer.simple": _SIMPLE[lb.algorithm]}
    if lb.on == "header":
        return {_HASH + "httpHeaderName": lb.name}
    if lb.on == "query":
        return {_HASH + "httpQueryParameterName": lb.name}
    if lb.on == "source-ip":
        return {_HASH + "useSourceIp": True}
    # A cookie without `ttl` is a session cookie: `ttl: 0s`.
    return {_HASH + "httpCookie.name": lb.name, _HASH + "httpCookie.ttl": int(lb.ttl.ms) if lb.ttl else 0}


def levels(info: ServiceInfo, subset: Optional[str], port: Optional[int], cluster: str) -> list[tuple[str, Settings]]:
    """The settings of each level that applies, weakest first, with the level's name."""
    out: list[tuple[str, Settings]] = []
    if info.namespace.defaults is not None:
        out.append(("namespace defaults", settings(info.namespace.defaults)))
    out.append(("service", settings(info.service.policy)))
    over = override(info.service.overrides, cluster)
    if over is not None and over.policy is not None:
        out.append((f"on {cluster}", settings(over.policy)))
    for p in info.service.ports:
        if p.number == port and p.policy is not None:
            out.append((f"port {port}", settings(p.policy)))
    for s in info.service.subsets:
        if s.name.value == subset and s.policy is not None:
            out.append((f"subset {subset}", settings(s.policy)))
    return out


def unmanaged_levels(policy: ir.MeshPolicy, host: str) -> list[tuple[str, Settings]]:
    """A host the policy does not declare gets its namespace's `defaults`
    through the wildcard DestinationRule `*.NS.svc.cluster.local`."""
    for ns in policy.namespaces:
        if ns.defaults is not None and host.endswith(f".{ns.name.value}.{CLUSTER_DOMAIN}"):
            return [("namespace defaults", settings(ns.defaults))]
    return []


def destination_policy(blocks: list[tuple[str, Settings]]) -> tuple[tuple[tuple[str, PolicyValue], ...],
                                                                   tuple[Origin, ...]]:
    """The flattened policy of `blocks`, weakest first (sorted by field), and
    the origin of each field."""
    in_force: dict[str, tuple[Fields, Origin]] = {}
    for level, found in blocks:
        for setting, (fields, span) in found.items():
            in_force[setting] = (fields, Origin(setting, level, span))
    flat: Fields = {}
    origins: dict[str, Origin] = {}
    for fields, origin in in_force.values():
        for path, value in fields.items():
            flat[path] = value
            origins[path] = Origin(path, origin.level, origin.span)
    return tuple(sorted(flat.items())), tuple(origins[p] for p in sorted(origins))
