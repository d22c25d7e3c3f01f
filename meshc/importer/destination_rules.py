"""DestinationRules read into subsets and destination policy.

Istio and the language inherit differently. Istio replaces whole messages:
a `portLevelSettings` entry replaces the top-level connectionPool,
loadBalancer, outlierDetection and tls, and a subset's policy replaces each
of those it sets (pilot/pkg/networking/util/util.go
`GetPortLevelTrafficPolicy`, `MergeSubsetTrafficPolicy`; the evaluator's
policy.py follows the same code). The language inherits setting by
setting. So the importer computes what Istio applies to every subset and
port, writes at each level only what differs from the level below, and
checks that the language's inheritance gives back exactly what Istio
applied; a setting Istio dropped and the language would keep is reported
(`policy-not-inherited`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from meshc.importer import values as val
from meshc.importer.fields import Fields
from meshc.importer.hosts import fqdn
from meshc.importer.ledger import Ledger
from meshc.importer.model import Settings, difference, least, merge, settings
from meshc.importer.resources import Resource
from meshc.language.ir import TOPOLOGY_LABELS

PORT_FIELDS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")
Grouped = dict[str, dict[str, Any]]
"""Language settings per Istio field (the unit Istio replaces)."""

_SIMPLE = {"ROUND_ROBIN": "round-robin", "RANDOM": "random", "LEAST_REQUEST": "least-request",
           "LEAST_CONN": "least-request", "PASSTHROUGH": "passthrough"}
_TLS = {"DISABLE": "disable", "SIMPLE": "simple", "ISTIO_MUTUAL": "istio-mutual"}
_SHORT_LABELS = {v: k for k, v in TOPOLOGY_LABELS.items()}


@dataclass
class SubsetReading:
    name: str
    labels: tuple[tuple[str, str], ...]
    policy: Optional[Grouped]
    ports: dict[int, Grouped]
    index: int


@dataclass
class DestinationRuleReading:
    resource: Resource
    host: str
    top: Optional[Grouped] = None
    ports: dict[int, Grouped] = field(default_factory=dict)
    subsets: list[SubsetReading] = field(default_factory=list)


@dataclass
class Policies:
    """What a service's DestinationRule becomes in the language."""

    policy: Settings = ()
    ports: dict[int, tuple[Settings, Settings]] = field(default_factory=dict)
    """port -> (what it sets beyond the service, what Istio applies there)"""
    subsets: list[tuple[str, tuple[tuple[str, str], ...], Optional[Settings], Settings]] = field(default_factory=list)
    """(name, labels, what it sets beyond the service or None, what Istio applies to it)"""
    combos: dict[tuple[str, int], Settings] = field(default_factory=dict)
    """What Istio applies to a subset on a port with port-level settings: the
    written policies are checked against it once every cluster is read."""


def read_destination_rule(resource: Resource, ledger: Ledger) -> Optional[DestinationRuleReading]:
    spec = Fields(resource, ledger, resource.spec, ("spec",))
    if "workloadSelector" in spec:
        spec.lose("workloadSelector", "the language has no DestinationRules for some workloads only; the "
                                      "DestinationRule is left out")
        return None
    if spec.get("exportTo") is not None and list(spec.get("exportTo")) != ["*"]:
        ledger.lose("export-to-not-imported", resource, ("spec", "exportTo"),
                    "is not imported: the rendered DestinationRule is visible to every namespace")
    reading = DestinationRuleReading(resource, fqdn(str(spec.get("host", "")), resource.namespace))
    tp = spec.sub("trafficPolicy")
    if tp is not None:
        reading.top, reading.ports = _traffic_policy(tp)
    for i, data in spec.items("subsets"):
        s = Fields(resource, ledger, data, spec.at("subsets", i))
        try:
            name = val.subset_name(s.get("name", ""))
        except val.Inexpressible as err:
            s.bad("name", str(err) + "; the subset is left out")
            continue
        given = s.sub("labels")
        labels = []
        for k, v in given.data.items() if given is not None else ():
            try:
                labels.append(val.subset_label(k, v))
            except val.Inexpressible as err:
                s.bad(("labels", k), str(err))
        if not labels:
            s.bad("labels", "it names no label, so the subset is every endpoint of the service, which a subset "
                            "of the language cannot be; the subset is left out")
            continue
        sub_tp = s.sub("trafficPolicy")
        policy, ports = _traffic_policy(sub_tp) if sub_tp is not None else (None, {})
        s.finish()
        reading.subsets.append(SubsetReading(name, tuple(labels), policy, ports, i))
    spec.finish()
    return reading


def _traffic_policy(tp: Fields) -> tuple[Grouped, dict[int, Grouped]]:
    top = _grouped(tp)
    ports: dict[int, Grouped] = {}
    for i, data in tp.items("portLevelSettings"):
        entry = Fields(tp.resource, tp.ledger, data, tp.at("portLevelSettings", i))
        number = (entry.get("port") or {}).get("number") if isinstance(entry.get("port"), dict) else None
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            entry.bad("port", "a port-level entry needs `port.number`, a port; the entry is left out")
            continue
        ports.setdefault(number, _grouped(entry))
        entry.finish()
    for key, what in (("tunnel", "the language has no tunnel settings"),
                      ("proxyProtocol", "the language has no PROXY protocol settings"),
                      ("retryBudget", "the language has no retry budgets")):
        if key in tp:
            tp.lose(key, what)
    tp.finish()
    return top, ports


def _grouped(tp: Fields) -> Grouped:
    out: Grouped = {}
    for key, read in (("connectionPool", _connection_pool), ("loadBalancer", _load_balancer),
                      ("outlierDetection", _outlier_detection), ("tls", _tls)):
        found = tp.sub(key)
        if found is not None:
            out[key] = read(found)
    return out


def _int(f: Fields, key: str, least: int) -> Optional[int]:
    value = f.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        f.bad(key, f"`{value}` is not a whole number of at least {least}")
        return None
    return value


def _ms(f: Fields, key: str) -> Optional[int]:
    value = f.get(key)
    if value is None:
        return None
    try:
        return val.duration_ms(value)
    except val.Inexpressible as err:
        f.bad(key, str(err))
        return None


def _connection_pool(pool: Fields) -> dict:
    out: dict[str, Any] = {}
    tcp = pool.sub("tcp")
    if tcp is not None:
        out["max-connections"] = _int(tcp, "maxConnections", 1)
        out["connect-timeout"] = _ms(tcp, "connectTimeout")
        for key in ("tcpKeepalive", "maxConnectionDuration", "idleTimeout"):
            if key in tcp:
                tcp.lose(key, "the language's circuit-breaker has no such TCP setting")
        tcp.finish()
    http = pool.sub("http")
    if http is not None:
        out["max-pending"] = _int(http, "http1MaxPendingRequests", 1)
        out["max-requests"] = _int(http, "http2MaxRequests", 1)
        out["max-requests-per-connection"] = _int(http, "maxRequestsPerConnection", 0)
        out["max-retries"] = _int(http, "maxRetries", 0)
        out["idle-timeout"] = _ms(http, "idleTimeout")
        for key in ("h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"):
            if key in http:
                http.lose(key, "the language's circuit-breaker has no such HTTP setting")
        http.finish()
    pool.finish()
    return {k: v for k, v in out.items() if v is not None}


def _load_balancer(lb: Fields) -> dict:
    out: dict[str, Any] = {}
    simple = lb.get("simple")
    if simple is not None:
        if simple in _SIMPLE:
            out["lb"] = ("simple", _SIMPLE[simple])
            if simple == "LEAST_CONN":
                lb.bad("simple", "LEAST_CONN is deprecated; Istio applies LEAST_REQUEST, and so does the import")
        elif simple != "UNSPECIFIED":
            lb.bad("simple", f"`{simple}` is not a load balancer the language has")
    hashing = lb.sub("consistentHash")
    if hashing is not None:
        found = _hash(hashing)
        if found is not None:
            if "lb" in out:
                lb.bad("consistentHash", "`simple` and `consistentHash` are both set; Istio takes one")
            out["lb"] = found
        hashing.finish()
    locality = lb.sub("localityLbSetting")
    if locality is not None:
        out.update(_locality(locality))
        locality.finish()
    for key in ("warmupDurationSecs", "warmup"):
        if key in lb:
            lb.lose(key, "the language has no slow start")
    lb.finish()
    return out


def _hash(h: Fields) -> Optional[tuple]:
    found = None
    if "httpHeaderName" in h:
        found = _hash_name(h, "httpHeaderName", "header")
    elif "httpQueryParameterName" in h:
        found = _hash_name(h, "httpQueryParameterName", "query")
    elif h.get("useSourceIp"):
        found = ("hash", "source-ip", None, None)
    elif "httpCookie" in h:
        cookie = h.sub("httpCookie")
        name = cookie.get("name")
        if not isinstance(name, str) or not val.NAME.fullmatch(name):
            cookie.bad("name", f"the cookie name `{name}` cannot be written in the language")
        else:
            ttl = cookie.get("ttl")
            ttl_ms = None
            if ttl is None:
                cookie.lose("ttl", "without `ttl` Envoy only hashes a cookie the client already has; the language "
                                   "always sets one (a session cookie, `ttl: 0s`)")
            elif not val.is_zero_duration(ttl):
                ttl_ms = _ms(cookie, "ttl")
            found = ("hash", "cookie", name, ttl_ms)
        for key in ("path", "attributes"):
            if key in cookie:
                cookie.lose(key, "the language sets the cookie's name and ttl only")
        cookie.finish()
    for key in ("ringHash", "maglev", "minimumRingSize"):
        if key in h:
            h.lose(key, "the language does not choose the hashing algorithm")
    return found


def _hash_name(h: Fields, key: str, on: str) -> Optional[tuple]:
    name = h.get(key)
    if not isinstance(name, str) or not val.NAME.fullmatch(name):
        h.bad(key, f"`{name}` cannot be written in the language")
        return None
    return ("hash", on, name, None)


def _locality(loc: Fields) -> dict:
    out: dict[str, Any] = {}
    if loc.get("enabled") is False:
        loc.lose("enabled", "the language cannot switch locality load balancing off; it follows the mesh's setting")
        for key in ("failover", "failoverPriority", "distribute"):
            loc.get(key)
        return out
    pairs = []
    for i, item in loc.items("failover"):
        try:
            pairs.append((val.name(item.get("from"), "region"), val.name(item.get("to"), "region")))
        except (val.Inexpressible, AttributeError) as err:
            loc.bad(("failover", i), str(err) if isinstance(err, val.Inexpressible) else "not a failover pair")
    if pairs:
        out["failover"] = tuple(pairs)
    labels = []
    for i, item in loc.items("failoverPriority"):
        key, sep, value = str(item).partition("=")
        try:
            k, v = val.label(key, value)
            labels.append((_SHORT_LABELS.get(k, k), v if sep else None))
        except val.Inexpressible as err:
            loc.bad(("failoverPriority", i), str(err))
    if labels:
        out["failover-priority"] = tuple(labels)
    rules = []
    for i, item in loc.items("distribute"):
        rule = _distribute(loc, i, item)
        if rule is not None:
            rules.append(rule)
    if rules:
        out["distribute"] = tuple(rules)
    return out


def _distribute(loc: Fields, i: int, item: Any) -> Optional[tuple]:
    if not isinstance(item, dict) or not isinstance(item.get("to"), dict):
        loc.bad(("distribute", i), "not a distribution (`from` and `to`)")
        return None
    source = str(item.get("from", ""))
    targets = []
    for locality, weight in item["to"].items():
        try:
            if not val.LOCALITY.fullmatch(str(locality)):
                raise val.Inexpressible(f"`{locality}` is not a locality the language can write")
            targets.append((str(locality), val.whole_percent(weight)))
        except val.Inexpressible as err:
            loc.bad(("distribute", i, "to", locality), str(err))
            return None
    if not val.LOCALITY.fullmatch(source):
        loc.bad(("distribute", i, "from"), f"`{source}` is not a locality the language can write")
        return None
    return source, tuple(targets)


def _outlier_detection(od: Fields) -> dict:
    out: dict[str, Any] = {}
    five = _int(od, "consecutive5xxErrors", 0)
    gateway = _int(od, "consecutiveGatewayErrors", 0)
    if "consecutiveErrors" in od:
        od.lose("consecutiveErrors", "it is deprecated (use consecutive5xxErrors); the language does not write it")
    if five and gateway:
        od.bad("consecutiveGatewayErrors", "the language ejects on one kind of error; consecutive5xxErrors is kept")
        gateway = None
    if five:
        out["eject.consecutive"], out["eject.errors"] = five, "5xx"
    elif gateway:
        out["eject.consecutive"], out["eject.errors"] = gateway, "gateway-errors"
    elif five is None and gateway is None:
        out["eject.consecutive"], out["eject.errors"] = 5, "5xx"
        od.bad("consecutive5xxErrors", "without it Envoy ejects after 5 consecutive 5xx errors, its default; the "
                                       "language writes that out (`eject 5 consecutive 5xx`)")
    else:
        od.bad("consecutive5xxErrors", "0 turns ejection off, which the language says by writing no `eject`")
        for key in ("interval", "baseEjectionTime", "maxEjectionPercent"):
            od.get(key)
        return {}
    out["eject.interval"] = _ms(od, "interval")
    out["eject.base-time"] = _ms(od, "baseEjectionTime")
    if "maxEjectionPercent" in od:
        try:
            out["eject.max"] = val.whole_percent(od.get("maxEjectionPercent"))
        except val.Inexpressible as err:
            od.bad("maxEjectionPercent", str(err))
    for key in ("minHealthPercent", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures"):
        if key in od:
            od.lose(key, "the language's `eject` has no such setting")
    od.finish()
    return {k: v for k, v in out.items() if v is not None}


def _tls(tls: Fields) -> dict:
    mode = tls.get("mode")
    out = {}
    if mode in _TLS:
        out["tls"] = _TLS[mode]
    elif mode is not None:
        tls.bad("mode", f"the language has tls istio-mutual, disable and simple, not `{mode}`")
    tls.finish("the language does not carry TLS origination details (certificates, SNI, SANs)")
    return out


# ------------------------------------------------- Istio's merge, undone
def flat(grouped: Optional[Grouped]) -> Settings:
    out: dict[str, Any] = {}
    for part in (grouped or {}).values():
        out.update(part)
    return settings(out)


def _port_level(grouped: Optional[Grouped], ports: dict[int, Grouped], port: Optional[int]) -> tuple[Optional[Grouped], bool]:
    if port is not None and port in ports:
        return ports[port], True
    return grouped, False


def istio_effective(reading: DestinationRuleReading, subset: Optional[SubsetReading], port: Optional[int]) -> Settings:
    """What Istio applies to (subset, port): util.go `MergeSubsetTrafficPolicy`."""
    original, _ = _port_level(reading.top, reading.ports, port)
    if subset is None or (subset.policy is None and not subset.ports):
        return flat(original)
    own, has_port_level = _port_level(subset.policy, subset.ports, port)
    merged = dict(original or {})
    for f in PORT_FIELDS:
        if own is not None and (f in own or has_port_level):
            if own.get(f) is None:
                merged.pop(f, None)
            else:
                merged[f] = own[f]
    return flat(merged)


def policies(reading: DestinationRuleReading, base: Settings, ledger: Ledger) -> Policies:
    """Settings per level such that the language's inheritance, over `base`
    (the namespace's defaults), gives what Istio applies everywhere."""
    resource = reading.resource
    top = flat(reading.top)
    out = Policies(policy=difference(top, base))
    service = merge(base, out.policy)
    dropped = sorted(set(dict(base)) - set(dict(top)))
    if dropped:
        ledger.lose("policy-not-inherited", resource, ("spec", "trafficPolicy") if reading.top else ("spec", "host"),
                    f"does not set {istio_fields(dropped)}, which the namespace's wildcard DestinationRule sets and "
                    "Istio does not apply to a service with its own rule; the language's `defaults` apply to it")
    ports = sorted(set(reading.ports) | {p for s in reading.subsets for p in s.ports})
    for port in reading.ports:  # in the order written: meshc renders them in the order of the ports
        effective = istio_effective(reading, None, port)
        out.ports[port] = (least(effective, service), effective)
    for s in reading.subsets:
        effective = istio_effective(reading, s, None)
        own = least(effective, service) if s.policy is not None or s.ports else None
        out.subsets.append((s.name, s.labels, own, effective))
    for subset in reading.subsets:
        for port in ports:
            out.combos[(subset.name, port)] = istio_effective(reading, subset, port)
    return out


def istio_fields(keys: list[str]) -> str:
    """The Istio fields that hold these settings."""
    shown = sorted({_FIELD_OF.get(k.split(".")[0], "connectionPool") for k in keys})
    return ", ".join(f"`{k}`" for k in shown)


_FIELD_OF = {"eject": "outlierDetection", "lb": "loadBalancer", "failover": "loadBalancer",
             "failover-priority": "loadBalancer", "distribute": "loadBalancer", "tls": "tls"}
