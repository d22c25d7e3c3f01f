"""The syntax tree of a .mesh file: what was written, in the order written.

Nodes keep the raw text of every value (`Word`) so that `meshc fmt` can print
the file back without changing its meaning; lowering (lower.py) turns them
into the typed IR. Spans are excluded from equality, so two trees compare
equal when they say the same thing wherever it was written.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from operator import attrgetter
from typing import Optional, Union

from meshc.language.source import Span

_span = field(compare=False, repr=False)


class _Node:
    """Equality and repr as a dataclass would generate them, written once;
    the classes' __init__s are generated together at the end of the module.
    Generating the three methods class by class (an exec each) was a tenth
    of a cold `meshc check`. Each class compares the fields `_compared`
    gets (set below)."""

    __slots__ = ()
    _compared: attrgetter

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._compared(self) == other._compared(other)
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{self.__class__.__qualname__}({shown})"


def node(cls):
    """A syntax node class: a dataclass with _Node's equality and repr.
    One without a docstring gets a plain one, as dataclass would otherwise
    compute one from inspect.signature (a third of this module's import)."""
    if not cls.__doc__:
        cls.__doc__ = f"The syntax node {cls.__name__}."
    return dataclass(init=False, eq=False, repr=False)(cls)


@node
class Word(_Node):
    """One token as written: a name, number, duration, string literal, ..."""

    span: Span = _span
    text: str


@node
class Comment(_Node):
    span: Span = _span
    text: str


# ----------------------------------------------------------------- fleet
@node
class ClusterAttr(_Node):
    """`region X`, `zone X`, `network X`, `gateway ADDR`, `istio 1.22` or
    `remote of X` (key `remote`, value `X`)."""

    span: Span = _span
    key: str
    value: Word


@node
class Cluster(_Node):
    span: Span = _span
    name: Word
    attrs: tuple[ClusterAttr, ...]


@node
class DnsProxying(_Node):
    """`dns-proxying`: the fleet's sidecars resolve Services of other clusters."""

    span: Span = _span


@node
class ClusterLabel(_Node):
    """`cluster-label NAME`: the Prometheus label that tells the fleet's
    clusters apart in Istio's metrics."""

    span: Span = _span
    name: Word


@node
class Fleet(_Node):
    span: Span = _span
    name: Word
    body: tuple[Union[Cluster, DnsProxying, ClusterLabel], ...]


# ---------------------------------------------------------- conditions
@node
class HeaderMatch(_Node):
    span: Span = _span
    name: Word
    op: str
    value: Word


@node
class HeaderAbsent(_Node):
    span: Span = _span
    name: Word


@node
class CookieMatch(_Node):
    span: Span = _span
    name: Word
    value: Word


@node
class PathMatch(_Node):
    span: Span = _span
    op: str
    value: Word


@node
class MethodMatch(_Node):
    span: Span = _span
    method: Word


@node
class QueryMatch(_Node):
    span: Span = _span
    name: Word
    op: str
    value: Word


@node
class PortMatch(_Node):
    span: Span = _span
    port: Word


@node
class SourceLabel(_Node):
    span: Span = _span
    key: Word
    value: Word


@node
class SourceNamespace(_Node):
    span: Span = _span
    namespace: Word


@node
class SourceCluster(_Node):
    span: Span = _span
    cluster: Word


Condition = Union[
    HeaderMatch, HeaderAbsent, CookieMatch, PathMatch, MethodMatch, QueryMatch,
    PortMatch, SourceLabel, SourceNamespace, SourceCluster,
]


@node
class Conjunction(_Node):
    span: Span = _span
    conditions: tuple[Condition, ...]


@node
class Disjunction(_Node):
    span: Span = _span
    alternatives: tuple[Conjunction, ...]


# -------------------------------------------------------- destinations
@node
class SubsetRef(_Node):
    span: Span = _span
    name: Word


@node
class ServiceRef(_Node):
    span: Span = _span
    name: Word
    namespace: Optional[Word] = None
    subset: Optional[Word] = None
    port: Optional[Word] = None


Target = Union[SubsetRef, ServiceRef]


@node
class Destination(_Node):
    """A target and its share: `v1 90%`, `v2 rest` or just `v2`."""

    span: Span = _span
    target: Target
    weight: Optional[Word] = None


# ------------------------------------------------------------ options
@node
class Timeout(_Node):
    span: Span = _span
    duration: Word


@node
class Retry(_Node):
    span: Span = _span
    attempts: Word
    per_try: Optional[Word]
    on: tuple[Word, ...]


@node
class RetryOff(_Node):
    span: Span = _span


@node
class FaultDelay(_Node):
    span: Span = _span
    delay: Word
    percent: Word


@node
class FaultAbort(_Node):
    span: Span = _span
    status: Word
    percent: Word


@node
class Rewrite(_Node):
    span: Span = _span
    path: Word


@node
class CorsPart(_Node):
    """`origins "..."+`, `methods GET+`, `headers h+`, `expose-headers h+`,
    `max-age 24h` or `credentials`."""

    span: Span = _span
    key: str
    values: tuple[Word, ...]


@node
class Cors(_Node):
    span: Span = _span
    parts: tuple[CorsPart, ...]


Option = Union[Timeout, Retry, RetryOff, FaultDelay, FaultAbort, Rewrite, Cors]


# ---------------------------------------------------- destination policy
@node
class BreakerSetting(_Node):
    """`max-connections 100`, `connect-timeout 30ms`, ..."""

    span: Span = _span
    key: str
    value: Word


@node
class Eject(_Node):
    span: Span = _span
    count: Word
    errors: Word
    interval: Optional[Word] = None
    base_time: Optional[Word] = None
    max_percent: Optional[Word] = None


@node
class CircuitBreaker(_Node):
    span: Span = _span
    settings: tuple[Union[BreakerSetting, Eject], ...]


@node
class LbSimple(_Node):
    span: Span = _span
    algorithm: Word


@node
class LbHash(_Node):
    """`lb hash header X` | `cookie X [ttl D]` | `source-ip` | `query X`."""

    span: Span = _span
    kind: str
    name: Optional[Word] = None
    ttl: Optional[Word] = None


@node
class Tls(_Node):
    span: Span = _span
    mode: Word


@node
class FailoverPair(_Node):
    span: Span = _span
    source: Word
    target: Word


@node
class Failover(_Node):
    span: Span = _span
    pairs: tuple[FailoverPair, ...]


@node
class PriorityLabel(_Node):
    """`region`, `cluster=hangzhou`, `version="v1"`: a key, pinned or not."""

    span: Span = _span
    key: Word
    value: Optional[Word] = None


@node
class FailoverPriority(_Node):
    span: Span = _span
    labels: tuple[PriorityLabel, ...]


@node
class LocalityWeight(_Node):
    span: Span = _span
    locality: Word
    percent: Word


@node
class Distribute(_Node):
    span: Span = _span
    source: Word
    targets: tuple[LocalityWeight, ...]


PolicyStmt = Union[CircuitBreaker, LbSimple, LbHash, Tls, Failover, FailoverPriority, Distribute]


# ------------------------------------------------------------- routes
@node
class When(_Node):
    span: Span = _span
    condition: Disjunction


@node
class Forward(_Node):
    span: Span = _span
    destinations: tuple[Destination, ...]


@node
class SuccessRateGate(_Node):
    span: Span = _span
    threshold: Word


@node
class LatencyGate(_Node):
    span: Span = _span
    quantile: Word
    threshold: Word


Gate = Union[SuccessRateGate, LatencyGate]


@node
class Wave(_Node):
    """`wave C... [after N] [at N]`: one wave of a fleet canary."""

    span: Span = _span
    clusters: tuple[Word, ...]
    after: Optional[Word]
    at: Optional[Word]


@node
class Canary(_Node):
    span: Span = _span
    baseline: Word
    candidate: Word
    steps: tuple[Word, ...]
    at: Optional[Word]
    pauses: tuple[Word, ...]
    gates: tuple[Gate, ...]
    waves: tuple[Wave, ...] = ()


@node
class BlueGreen(_Node):
    span: Span = _span
    active: Word
    preview: Word


@node
class Mirror(_Node):
    span: Span = _span
    target: Target
    percent: Optional[Word] = None


@node
class Override(_Node):
    """`on CLUSTER { ... }`: options (and, in a service, policy) for one cluster."""

    span: Span = _span
    cluster: Word
    body: tuple[Union[Option, PolicyStmt], ...]


RouteStmt = Union[When, Forward, Canary, BlueGreen, Mirror, Option, Override]


@node
class Route(_Node):
    span: Span = _span
    name: Word
    body: tuple[RouteStmt, ...]


# ------------------------------------------------------------ services
@node
class Port(_Node):
    span: Span = _span
    number: Word
    protocol: Word
    policy: Optional[tuple[PolicyStmt, ...]] = None
    name: Optional[Word] = None


@node
class SubsetsBy(_Node):
    span: Span = _span
    key: Word
    names: tuple[Word, ...]


@node
class Label(_Node):
    span: Span = _span
    key: Word
    value: Word


@node
class SubsetCluster(_Node):
    """`in CLUSTER` inside a subset: its endpoints in that cluster only."""

    span: Span = _span
    cluster: Word


@node
class Subset(_Node):
    span: Span = _span
    name: Word
    body: tuple[Union[Label, SubsetCluster, PolicyStmt], ...]


@node
class Placement(_Node):
    span: Span = _span
    clusters: tuple[Word, ...]


@node
class Local(_Node):
    """`local`: the service's traffic stays in the caller's cluster."""

    span: Span = _span


@node
class Expose(_Node):
    span: Span = _span
    gateway: Word
    host: Word
    port: Optional[Word] = None
    condition: Optional[Disjunction] = None


ServiceStmt = Union[Port, SubsetsBy, Subset, Route, Expose, Placement, Local, Option, PolicyStmt, Override]


@node
class Service(_Node):
    span: Span = _span
    name: Word
    global_word: Optional[Word]  # `global`, which the language no longer has (MESH006)
    body: tuple[ServiceStmt, ...]


# ------------------------------------------------ namespace statements
@node
class Mtls(_Node):
    span: Span = _span
    mode: Word
    workload: Optional[Word] = None


@node
class AllowFrom(_Node):
    span: Span = _span
    kind: str  # "principal" | "namespace"
    values: tuple[Word, ...]


@node
class AllowTo(_Node):
    span: Span = _span
    methods: tuple[Word, ...]
    paths: tuple[Word, ...]


@node
class Allow(_Node):
    span: Span = _span
    workload: Word
    source: Optional[AllowFrom] = None
    to: Optional[AllowTo] = None


@node
class Defaults(_Node):
    span: Span = _span
    body: tuple[PolicyStmt, ...]


@node
class GatewayHosts(_Node):
    span: Span = _span
    hosts: tuple[Word, ...]


@node
class GatewayServer(_Node):
    """`https [port N] credential NAME` or `http [port N]`."""

    span: Span = _span
    protocol: str
    port: Optional[Word] = None
    credential: Optional[Word] = None


@node
class RedirectHttp(_Node):
    span: Span = _span


@node
class GatewaySelector(_Node):
    span: Span = _span
    key: Word
    value: Word


@node
class GatewayHost(_Node):
    """`host HOST { ... }`: routes and route options that exist only at the gateway."""

    span: Span = _span
    host: Word
    body: tuple[Union[Route, Option], ...]


GatewayStmt = Union[GatewayHosts, GatewayServer, RedirectHttp, GatewaySelector, GatewayHost]


@node
class Gateway(_Node):
    span: Span = _span
    name: Word
    body: tuple[GatewayStmt, ...]


@node
class PortDecl(_Node):
    span: Span = _span
    number: Word
    protocol: Word


@node
class External(_Node):
    span: Span = _span
    hosts: tuple[Word, ...]
    ports: tuple[PortDecl, ...]


NamespaceStmt = Union[Mtls, Allow, Defaults, Service, Gateway, External]


@node
class Namespace(_Node):
    span: Span = _span
    name: Word
    body: tuple[NamespaceStmt, ...]


# ---------------------------------------------------------------- tests
@node
class RequestService(_Node):
    """`service NAME [in NS]`: a request from a sidecar to a declared service."""

    span: Span = _span
    name: Word
    namespace: Optional[Word] = None


@node
class RequestHost(_Node):
    """`host HOST [via GATEWAY]`: a request for a host, at a gateway or from a sidecar."""

    span: Span = _span
    host: Word
    gateway: Optional[Word] = None


@node
class PolicyRequest(_Node):
    """`request TARGET [with CONDITIONS]`: the conditions are the request's
    attributes, written as the `when` they meet exactly."""

    span: Span = _span
    target: Union[RequestService, RequestHost]
    attributes: Optional[Conjunction] = None


@node
class StepsAt(_Node):
    """`at N...`: the canary steps to evaluate the test at."""

    span: Span = _span
    steps: tuple[Word, ...]


@node
class EveryStep(_Node):
    span: Span = _span


@node
class Down(_Node):
    """`down CLUSTER...`: the clusters whose pods are unhealthy."""

    span: Span = _span
    clusters: tuple[Word, ...]


@node
class ExpectRoute(_Node):
    span: Span = _span
    route: Word


@node
class ExpectStatus(_Node):
    span: Span = _span
    status: Word


@node
class ExpectServed(_Node):
    """`served by CLUSTER...`: the clusters whose pods take the request."""

    span: Span = _span
    clusters: tuple[Word, ...]


@node
class Expect(_Node):
    """`expect WHAT`: WHAT is a destination list (`to ...`), a mirror, a
    route option, a destination-policy statement, or one of the
    expectations above."""

    span: Span = _span
    what: Union[Forward, Mirror, ExpectRoute, ExpectStatus, ExpectServed, Option, PolicyStmt]


PolicyTestStmt = Union[PolicyRequest, StepsAt, EveryStep, Down, Expect]


@node
class PolicyTest(_Node):
    span: Span = _span
    name: Word
    body: tuple[PolicyTestStmt, ...]


@node
class File(_Node):
    span: Span = _span
    path: str
    items: tuple[Union[Fleet, Namespace, PolicyTest], ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)


def _finish(classes: list[type]) -> None:
    """Give every node class its comparison and the __init__ dataclass would
    write (fields in order, each assigned; defaults are plain values), all
    __init__s from one exec."""
    source, defaults = [], {}
    for i, cls in enumerate(classes):
        names = [f.name for f in fields(cls) if f.compare]
        cls._compared = attrgetter(*names) if names else staticmethod(lambda node: ())
        params, body = [], []
        for f in fields(cls):
            if f.default is MISSING:
                params.append(f.name)
            else:
                defaults[f"_default_{i}_{f.name}"] = f.default
                params.append(f"{f.name}=_default_{i}_{f.name}")
            body.append(f"self.{f.name} = {f.name}")
        source.append(f"def _init_{i}(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]))
    made: dict = {}
    exec("\n".join(source), defaults, made)
    for i, cls in enumerate(classes):
        init = made[f"_init_{i}"]
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init


_finish(_Node.__subclasses__())
