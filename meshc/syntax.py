"""The syntax tree of a .mesh file: what was written, in the order written.

Nodes keep the raw text of every value (`Word`) so that `meshc fmt` can print
the file back without changing its meaning; lowering (lower.py) turns them
into the typed IR. Spans are excluded from equality, so two trees compare
equal when they say the same thing wherever it was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from .source import Span

_span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Word:
    """One token as written: a name, number, duration, string literal, ..."""

    span: Span = _span
    text: str


@dataclass(frozen=True)
class Comment:
    span: Span = _span
    text: str


# ----------------------------------------------------------------- fleet
@dataclass(frozen=True)
class ClusterAttr:
    """`region X`, `zone X`, `network X`, `gateway ADDR` or `istio 1.22`."""

    span: Span = _span
    key: str
    value: Word


@dataclass(frozen=True)
class Cluster:
    span: Span = _span
    name: Word
    attrs: tuple[ClusterAttr, ...]


@dataclass(frozen=True)
class Fleet:
    span: Span = _span
    name: Word
    clusters: tuple[Cluster, ...]


# ---------------------------------------------------------- conditions
@dataclass(frozen=True)
class HeaderMatch:
    span: Span = _span
    name: Word
    op: str
    value: Word


@dataclass(frozen=True)
class HeaderAbsent:
    span: Span = _span
    name: Word


@dataclass(frozen=True)
class CookieMatch:
    span: Span = _span
    name: Word
    value: Word


@dataclass(frozen=True)
class PathMatch:
    span: Span = _span
    op: str
    value: Word


@dataclass(frozen=True)
class MethodMatch:
    span: Span = _span
    method: Word


@dataclass(frozen=True)
class QueryMatch:
    span: Span = _span
    name: Word
    op: str
    value: Word


@dataclass(frozen=True)
class PortMatch:
    span: Span = _span
    port: Word


@dataclass(frozen=True)
class SourceLabel:
    span: Span = _span
    key: Word
    value: Word


@dataclass(frozen=True)
class SourceNamespace:
    span: Span = _span
    namespace: Word


Condition = Union[
    HeaderMatch, HeaderAbsent, CookieMatch, PathMatch, MethodMatch, QueryMatch,
    PortMatch, SourceLabel, SourceNamespace,
]


@dataclass(frozen=True)
class Conjunction:
    span: Span = _span
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Disjunction:
    span: Span = _span
    alternatives: tuple[Conjunction, ...]


# -------------------------------------------------------- destinations
@dataclass(frozen=True)
class SubsetRef:
    span: Span = _span
    name: Word


@dataclass(frozen=True)
class ServiceRef:
    span: Span = _span
    name: Word
    namespace: Optional[Word] = None
    subset: Optional[Word] = None
    port: Optional[Word] = None


Target = Union[SubsetRef, ServiceRef]


@dataclass(frozen=True)
class Destination:
    """A target and its share: `v1 90%`, `v2 rest` or just `v2`."""

    span: Span = _span
    target: Target
    weight: Optional[Word] = None


# ------------------------------------------------------------ options
@dataclass(frozen=True)
class Timeout:
    span: Span = _span
    duration: Word


@dataclass(frozen=True)
class Retry:
    span: Span = _span
    attempts: Word
    per_try: Optional[Word]
    on: tuple[Word, ...]


@dataclass(frozen=True)
class RetryOff:
    span: Span = _span


@dataclass(frozen=True)
class FaultDelay:
    span: Span = _span
    delay: Word
    percent: Word


@dataclass(frozen=True)
class FaultAbort:
    span: Span = _span
    status: Word
    percent: Word


@dataclass(frozen=True)
class Rewrite:
    span: Span = _span
    path: Word


@dataclass(frozen=True)
class CorsPart:
    """`origins "..."+`, `methods GET+`, `headers h+`, `expose-headers h+`,
    `max-age 24h` or `credentials`."""

    span: Span = _span
    key: str
    values: tuple[Word, ...]


@dataclass(frozen=True)
class Cors:
    span: Span = _span
    parts: tuple[CorsPart, ...]


Option = Union[Timeout, Retry, RetryOff, FaultDelay, FaultAbort, Rewrite, Cors]


# ---------------------------------------------------- destination policy
@dataclass(frozen=True)
class BreakerSetting:
    """`max-connections 100`, `connect-timeout 30ms`, ..."""

    span: Span = _span
    key: str
    value: Word


@dataclass(frozen=True)
class Eject:
    span: Span = _span
    count: Word
    errors: Word
    interval: Optional[Word] = None
    base_time: Optional[Word] = None
    max_percent: Optional[Word] = None


@dataclass(frozen=True)
class CircuitBreaker:
    span: Span = _span
    settings: tuple[Union[BreakerSetting, Eject], ...]


@dataclass(frozen=True)
class LbSimple:
    span: Span = _span
    algorithm: Word


@dataclass(frozen=True)
class LbHash:
    """`lb hash header X` | `cookie X [ttl D]` | `source-ip` | `query X`."""

    span: Span = _span
    kind: str
    name: Optional[Word] = None
    ttl: Optional[Word] = None


@dataclass(frozen=True)
class Tls:
    span: Span = _span
    mode: Word


@dataclass(frozen=True)
class FailoverPair:
    span: Span = _span
    source: Word
    target: Word


@dataclass(frozen=True)
class Failover:
    span: Span = _span
    pairs: tuple[FailoverPair, ...]


@dataclass(frozen=True)
class LocalityWeight:
    span: Span = _span
    locality: Word
    percent: Word


@dataclass(frozen=True)
class Distribute:
    span: Span = _span
    source: Word
    targets: tuple[LocalityWeight, ...]


PolicyStmt = Union[CircuitBreaker, LbSimple, LbHash, Tls, Failover, Distribute]


# ------------------------------------------------------------- routes
@dataclass(frozen=True)
class When:
    span: Span = _span
    condition: Disjunction


@dataclass(frozen=True)
class Forward:
    span: Span = _span
    destinations: tuple[Destination, ...]


@dataclass(frozen=True)
class SuccessRateGate:
    span: Span = _span
    threshold: Word


@dataclass(frozen=True)
class LatencyGate:
    span: Span = _span
    quantile: Word
    threshold: Word


Gate = Union[SuccessRateGate, LatencyGate]


@dataclass(frozen=True)
class Canary:
    span: Span = _span
    baseline: Word
    candidate: Word
    steps: tuple[Word, ...]
    at: Optional[Word]
    pauses: tuple[Word, ...]
    gates: tuple[Gate, ...]


@dataclass(frozen=True)
class BlueGreen:
    span: Span = _span
    active: Word
    preview: Word


@dataclass(frozen=True)
class Mirror:
    span: Span = _span
    target: Target
    percent: Optional[Word] = None


@dataclass(frozen=True)
class Override:
    """`on CLUSTER { ... }`: options (and, in a service, policy) for one cluster."""

    span: Span = _span
    cluster: Word
    body: tuple[Union[Option, PolicyStmt], ...]


RouteStmt = Union[When, Forward, Canary, BlueGreen, Mirror, Option, Override]


@dataclass(frozen=True)
class Route:
    span: Span = _span
    name: Word
    body: tuple[RouteStmt, ...]


# ------------------------------------------------------------ services
@dataclass(frozen=True)
class Port:
    span: Span = _span
    number: Word
    protocol: Word
    policy: Optional[tuple[PolicyStmt, ...]] = None


@dataclass(frozen=True)
class SubsetsBy:
    span: Span = _span
    key: Word
    names: tuple[Word, ...]


@dataclass(frozen=True)
class Label:
    span: Span = _span
    key: Word
    value: Word


@dataclass(frozen=True)
class Subset:
    span: Span = _span
    name: Word
    body: tuple[Union[Label, PolicyStmt], ...]


@dataclass(frozen=True)
class Placement:
    span: Span = _span
    clusters: tuple[Word, ...]


@dataclass(frozen=True)
class Expose:
    span: Span = _span
    gateway: Word
    host: Word
    condition: Optional[Disjunction] = None


ServiceStmt = Union[Port, SubsetsBy, Subset, Route, Expose, Placement, Option, PolicyStmt, Override]


@dataclass(frozen=True)
class Service:
    span: Span = _span
    name: Word
    is_global: bool
    body: tuple[ServiceStmt, ...]


# ------------------------------------------------ namespace statements
@dataclass(frozen=True)
class Mtls:
    span: Span = _span
    mode: Word
    workload: Optional[Word] = None


@dataclass(frozen=True)
class AllowFrom:
    span: Span = _span
    kind: str  # "principal" | "namespace"
    values: tuple[Word, ...]


@dataclass(frozen=True)
class AllowTo:
    span: Span = _span
    methods: tuple[Word, ...]
    paths: tuple[Word, ...]


@dataclass(frozen=True)
class Allow:
    span: Span = _span
    workload: Word
    source: Optional[AllowFrom] = None
    to: Optional[AllowTo] = None


@dataclass(frozen=True)
class Defaults:
    span: Span = _span
    body: tuple[PolicyStmt, ...]


@dataclass(frozen=True)
class GatewayHosts:
    span: Span = _span
    hosts: tuple[Word, ...]


@dataclass(frozen=True)
class GatewayServer:
    """`https [port N] credential NAME` or `http [port N]`."""

    span: Span = _span
    protocol: str
    port: Optional[Word] = None
    credential: Optional[Word] = None


@dataclass(frozen=True)
class RedirectHttp:
    span: Span = _span


@dataclass(frozen=True)
class GatewaySelector:
    span: Span = _span
    key: Word
    value: Word


GatewayStmt = Union[GatewayHosts, GatewayServer, RedirectHttp, GatewaySelector]


@dataclass(frozen=True)
class Gateway:
    span: Span = _span
    name: Word
    body: tuple[GatewayStmt, ...]


@dataclass(frozen=True)
class PortDecl:
    span: Span = _span
    number: Word
    protocol: Word


@dataclass(frozen=True)
class External:
    span: Span = _span
    hosts: tuple[Word, ...]
    ports: tuple[PortDecl, ...]


NamespaceStmt = Union[Mtls, Allow, Defaults, Service, Gateway, External]


@dataclass(frozen=True)
class Namespace:
    span: Span = _span
    name: Word
    body: tuple[NamespaceStmt, ...]


@dataclass(frozen=True)
class File:
    span: Span = _span
    path: str
    items: tuple[Union[Fleet, Namespace], ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
