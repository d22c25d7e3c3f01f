"""The syntax tree of a .mesh file: what was written, in the order written.

Nodes keep the raw text of every value (`Word`) so that `meshc fmt` can print
the file back without changing its meaning; lowering (lower.py) turns them
into the typed IR. Spans are excluded from equality, so two trees compare
equal when they say the same thing wherever it was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from meshc.language.source import Span

_span = field(compare=False, repr=False)


@dataclass
class Word:
    """One token as written: a name, number, duration, string literal, ..."""

    span: Span = _span
    text: str


@dataclass
class Comment:
    span: Span = _span
    text: str


# ----------------------------------------------------------------- fleet
@dataclass
class ClusterAttr:
    """`region X`, `zone X`, `network X`, `gateway ADDR`, `istio 1.22` or
    `remote of X` (key `remote`, value `X`)."""

    span: Span = _span
    key: str
    value: Word


@dataclass
class Cluster:
    span: Span = _span
    name: Word
    attrs: tuple[ClusterAttr, ...]


@dataclass
class DnsProxying:
    """`dns-proxying`: the fleet's sidecars resolve Services of other clusters."""

    span: Span = _span


@dataclass
class ClusterLabel:
    """`cluster-label NAME`: the Prometheus label that tells the fleet's
    clusters apart in Istio's metrics."""

    span: Span = _span
    name: Word


@dataclass
class Fleet:
    span: Span = _span
    name: Word
    body: tuple[Union[Cluster, DnsProxying, ClusterLabel], ...]


# ---------------------------------------------------------- conditions
@dataclass
class HeaderMatch:
    span: Span = _span
    name: Word
    op: str
    value: Word


@dataclass
class HeaderAbsent:
    span: Span = _span
    name: Word


@dataclass
class CookieMatch:
    span: Span = _span
    name: Word
    value: Word


@dataclass
class PathMatch:
    span: Span = _span
    op: str
    value: Word


@dataclass
class MethodMatch:
    span: Span = _span
    method: Word


@dataclass
class QueryMatch:
    span: Span = _span
    name: Word
    op: str
    value: Word


@dataclass
class PortMatch:
    span: Span = _span
    port: Word


@dataclass
class SourceLabel:
    span: Span = _span
    key: Word
    value: Word


@dataclass
class SourceNamespace:
    span: Span = _span
    namespace: Word


@dataclass
class SourceCluster:
    span: Span = _span
    cluster: Word


Condition = Union[
    HeaderMatch, HeaderAbsent, CookieMatch, PathMatch, MethodMatch, QueryMatch,
    PortMatch, SourceLabel, SourceNamespace, SourceCluster,
]


@dataclass
class Conjunction:
    span: Span = _span
    conditions: tuple[Condition, ...]


@dataclass
class Disjunction:
    span: Span = _span
    alternatives: tuple[Conjunction, ...]


# -------------------------------------------------------- destinations
@dataclass
class SubsetRef:
    span: Span = _span
    name: Word


@dataclass
class ServiceRef:
    span: Span = _span
    name: Word
    namespace: Optional[Word] = None
    subset: Optional[Word] = None
    port: Optional[Word] = None


Target = Union[SubsetRef, ServiceRef]


@dataclass
class Destination:
    """A target and its share: `v1 90%`, `v2 rest` or just `v2`."""

    span: Span = _span
    target: Target
    weight: Optional[Word] = None


# ------------------------------------------------------------ options
@dataclass
class Timeout:
    span: Span = _span
    duration: Word


@dataclass
class Retry:
    span: Span = _span
    attempts: Word
    per_try: Optional[Word]
    on: tuple[Word, ...]


@dataclass
class RetryOff:
    span: Span = _span


@dataclass
class FaultDelay:
    span: Span = _span
    delay: Word
    percent: Word


@dataclass
class FaultAbort:
    span: Span = _span
    status: Word
    percent: Word


@dataclass
class Rewrite:
    span: Span = _span
    path: Word


@dataclass
class CorsPart:
    """`origins "..."+`, `methods GET+`, `headers h+`, `expose-headers h+`,
    `max-age 24h` or `credentials`."""

    span: Span = _span
    key: str
    values: tuple[Word, ...]


@dataclass
class Cors:
    span: Span = _span
    parts: tuple[CorsPart, ...]


Option = Union[Timeout, Retry, RetryOff, FaultDelay, FaultAbort, Rewrite, Cors]


# ---------------------------------------------------- destination policy
@dataclass
class BreakerSetting:
    """`max-connections 100`, `connect-timeout 30ms`, ..."""

    span: Span = _span
    key: str
    value: Word


@dataclass
class Eject:
    span: Span = _span
    count: Word
    errors: Word
    interval: Optional[Word] = None
    base_time: Optional[Word] = None
    max_percent: Optional[Word] = None


@dataclass
class CircuitBreaker:
    span: Span = _span
    settings: tuple[Union[BreakerSetting, Eject], ...]


@dataclass
class LbSimple:
    span: Span = _span
    algorithm: Word


@dataclass
class LbHash:
    """`lb hash header X` | `cookie X [ttl D]` | `source-ip` | `query X`."""

    span: Span = _span
    kind: str
    name: Optional[Word] = None
    ttl: Optional[Word] = None


@dataclass
class Tls:
    span: Span = _span
    mode: Word


@dataclass
class FailoverPair:
    span: Span = _span
    source: Word
    target: Word


@dataclass
class Failover:
    span: Span = _span
    pairs: tuple[FailoverPair, ...]


@dataclass
class PriorityLabel:
    """`region`, `cluster=hangzhou`, `version="v1"`: a key, pinned or not."""

    span: Span = _span
    key: Word
    value: Optional[Word] = None


@dataclass
class FailoverPriority:
    span: Span = _span
    labels: tuple[PriorityLabel, ...]


@dataclass
class LocalityWeight:
    span: Span = _span
    locality: Word
    percent: Word


@dataclass
class Distribute:
    span: Span = _span
    source: Word
    targets: tuple[LocalityWeight, ...]


PolicyStmt = Union[CircuitBreaker, LbSimple, LbHash, Tls, Failover, FailoverPriority, Distribute]


# ------------------------------------------------------------- routes
@dataclass
class When:
    span: Span = _span
    condition: Disjunction


@dataclass
class Forward:
    span: Span = _span
    destinations: tuple[Destination, ...]


@dataclass
class SuccessRateGate:
    span: Span = _span
    threshold: Word


@dataclass
class LatencyGate:
    span: Span = _span
    quantile: Word
    threshold: Word


Gate = Union[SuccessRateGate, LatencyGate]


@dataclass
class Wave:
    """`wave C... [after N] [at N]`: one wave of a fleet canary."""

    span: Span = _span
    clusters: tuple[Word, ...]
    after: Optional[Word]
    at: Optional[Word]


@dataclass
class Canary:
    span: Span = _span
    baseline: Word
    candidate: Word
    steps: tuple[Word, ...]
    at: Optional[Word]
    pauses: tuple[Word, ...]
    gates: tuple[Gate, ...]
    waves: tuple[Wave, ...] = ()


@dataclass
class BlueGreen:
    span: Span = _span
    active: Word
    preview: Word


@dataclass
class Mirror:
    span: Span = _span
    target: Target
    percent: Optional[Word] = None


@dataclass
class Override:
    """`on CLUSTER { ... }`: options (and, in a service, policy) for one cluster."""

    span: Span = _span
    cluster: Word
    body: tuple[Union[Option, PolicyStmt], ...]


RouteStmt = Union[When, Forward, Canary, BlueGreen, Mirror, Option, Override]


@dataclass
class Route:
    span: Span = _span
    name: Word
    body: tuple[RouteStmt, ...]


# ------------------------------------------------------------ services
@dataclass
class Port:
    span: Span = _span
    number: Word
    protocol: Word
    policy: Optional[tuple[PolicyStmt, ...]] = None
    name: Optional[Word] = None


@dataclass
class SubsetsBy:
    span: Span = _span
    key: Word
    names: tuple[Word, ...]


@dataclass
class Label:
    span: Span = _span
    key: Word
    value: Word


@dataclass
class SubsetCluster:
    """`in CLUSTER` inside a subset: its endpoints in that cluster only."""

    span: Span = _span
    cluster: Word


@dataclass
class Subset:
    span: Span = _span
    name: Word
    body: tuple[Union[Label, SubsetCluster, PolicyStmt], ...]


@dataclass
class Placement:
    span: Span = _span
    clusters: tuple[Word, ...]


@dataclass
class Local:
    """`local`: the service's traffic stays in the caller's cluster."""

    span: Span = _span


@dataclass
class Expose:
    span: Span = _span
    gateway: Word
    host: Word
    port: Optional[Word] = None
    condition: Optional[Disjunction] = None


ServiceStmt = Union[Port, SubsetsBy, Subset, Route, Expose, Placement, Local, Option, PolicyStmt, Override]


@dataclass
class Service:
    span: Span = _span
    name: Word
    global_word: Optional[Word]  # `global`, which the language no longer has (MESH006)
    body: tuple[ServiceStmt, ...]


# ------------------------------------------------ namespace statements
@dataclass
class Mtls:
    span: Span = _span
    mode: Word
    workload: Optional[Word] = None


@dataclass
class AllowFrom:
    span: Span = _span
    kind: str  # "principal" | "namespace"
    values: tuple[Word, ...]


@dataclass
class AllowTo:
    span: Span = _span
    methods: tuple[Word, ...]
    paths: tuple[Word, ...]


@dataclass
class Allow:
    span: Span = _span
    workload: Word
    source: Optional[AllowFrom] = None
    to: Optional[AllowTo] = None


@dataclass
class Defaults:
    span: Span = _span
    body: tuple[PolicyStmt, ...]


@dataclass
class GatewayHosts:
    span: Span = _span
    hosts: tuple[Word, ...]


@dataclass
class GatewayServer:
    """`https [port N] credential NAME` or `http [port N]`."""

    span: Span = _span
    protocol: str
    port: Optional[Word] = None
    credential: Optional[Word] = None


@dataclass
class RedirectHttp:
    span: Span = _span


@dataclass
class GatewaySelector:
    span: Span = _span
    key: Word
    value: Word


@dataclass
class GatewayHost:
    """`host HOST { ... }`: routes and route options that exist only at the gateway."""

    span: Span = _span
    host: Word
    body: tuple[Union[Route, Option], ...]


GatewayStmt = Union[GatewayHosts, GatewayServer, RedirectHttp, GatewaySelector, GatewayHost]


@dataclass
class Gateway:
    span: Span = _span
    name: Word
    body: tuple[GatewayStmt, ...]


@dataclass
class PortDecl:
    span: Span = _span
    number: Word
    protocol: Word


@dataclass
class External:
    span: Span = _span
    hosts: tuple[Word, ...]
    ports: tuple[PortDecl, ...]


NamespaceStmt = Union[Mtls, Allow, Defaults, Service, Gateway, External]


@dataclass
class Namespace:
    span: Span = _span
    name: Word
    body: tuple[NamespaceStmt, ...]


# ---------------------------------------------------------------- tests
@dataclass
class RequestService:
    """`service NAME [in NS]`: a request from a sidecar to a declared service."""

    span: Span = _span
    name: Word
    namespace: Optional[Word] = None


@dataclass
class RequestHost:
    """`host HOST [via GATEWAY]`: a request for a host, at a gateway or from a sidecar."""

    span: Span = _span
    host: Word
    gateway: Optional[Word] = None


@dataclass
class PolicyRequest:
    """`request TARGET [with CONDITIONS]`: the conditions are the request's
    attributes, written as the `when` they meet exactly."""

    span: Span = _span
    target: Union[RequestService, RequestHost]
    attributes: Optional[Conjunction] = None


@dataclass
class StepsAt:
    """`at N...`: the canary steps to evaluate the test at."""

    span: Span = _span
    steps: tuple[Word, ...]


@dataclass
class EveryStep:
    span: Span = _span


@dataclass
class Down:
    """`down CLUSTER...`: the clusters whose pods are unhealthy."""

    span: Span = _span
    clusters: tuple[Word, ...]


@dataclass
class ExpectRoute:
    span: Span = _span
    route: Word


@dataclass
class ExpectStatus:
    span: Span = _span
    status: Word


@dataclass
class ExpectServed:
    """`served by CLUSTER...`: the clusters whose pods take the request."""

    span: Span = _span
    clusters: tuple[Word, ...]


@dataclass
class Expect:
    """`expect WHAT`: WHAT is a destination list (`to ...`), a mirror, a
    route option, a destination-policy statement, or one of the
    expectations above."""

    span: Span = _span
    what: Union[Forward, Mirror, ExpectRoute, ExpectStatus, ExpectServed, Option, PolicyStmt]


PolicyTestStmt = Union[PolicyRequest, StepsAt, EveryStep, Down, Expect]


@dataclass
class PolicyTest:
    span: Span = _span
    name: Word
    body: tuple[PolicyTestStmt, ...]


@dataclass
class File:
    span: Span = _span
    path: str
    items: tuple[Union[Fleet, Namespace, PolicyTest], ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
