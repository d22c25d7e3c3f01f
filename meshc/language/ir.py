"""The typed IR: what a policy means, independent of how it was written.

Frozen pydantic models; every node carries the span it came from. Values are
typed (values.py) and validated when the IR is built, so checks and backends
work on names that are DNS labels, regexes RE2 accepts, durations of at least
1 ms and percentages within 0–100. `schemas/meshc-ir.schema.json` is
generated from these models.
"""


from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, model_validator
from pydantic_core import PydanticCustomError

from meshc.language.source import Span
from meshc.language.values import (
    Address,
    CookieName,
    DnsLabel,
    HeaderName,
    Hostname,
    HttpMethod,
    HttpStatus,
    IstioVersion,
    LabelKey,
    LabelValue,
    MetricLabel,
    Milliseconds,
    Percentage,
    PortName,
    PortNumber,
    RetryCondition,
    check_regex,
)


# Labels Istio gives every proxy and endpoint (pilot's
# serviceregistry/util/label/label.go `AugmentLabels`): usable in subset
# selectors, `sourceLabels` and `failoverPriority`. The language's short
# names for them.
CLUSTER_LABEL = "topology.istio.io/cluster"
TOPOLOGY_LABELS = {
    "cluster": CLUSTER_LABEL,
    "network": "topology.istio.io/network",
    "region": "topology.kubernetes.io/region",
    "zone": "topology.kubernetes.io/zone",
    "subzone": "topology.istio.io/subzone",
    "node": "kubernetes.io/hostname",
}


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    # Spans come from the parser, never from users: not worth validating.
    span: SkipValidation[Span]


class Name(Node):
    value: DnsLabel


class Duration(Node):
    ms: Milliseconds


class Percent(Node):
    value: Percentage


class LabelPair(Node):
    key: LabelKey
    value: LabelValue


# ------------------------------------------------------------------ fleet
class Cluster(Node):
    """A cluster of the fleet: a primary (its own istiod) unless it is a
    `remote_of` a primary, whose istiod then programs its proxies."""

    name: Name
    region: Optional[Name] = None
    zone: Optional[Name] = None
    network: Optional[Name] = None
    gateway: Optional[Address] = None
    istio: Optional[IstioVersion] = None
    remote_of: Optional[Name] = None


class ClusterLabel(Node):
    """`cluster-label NAME`: the Prometheus label whose value is the cluster
    a series is about, for the gates and alerts of a canary's waves."""

    name: MetricLabel


class Fleet(Node):
    name: Name
    clusters: tuple[Cluster, ...]
    # Istio DNS proxying is installed fleet-wide: sidecars resolve Services
    # of other clusters themselves, so no cluster needs a Service stub.
    dns_proxying: bool = False
    cluster_label: Optional[ClusterLabel] = None


# ------------------------------------------------------------- matching
class StringMatch(BaseModel):
    """exact (`=`), prefix (`^=`) or RE2 full-match regex (`~`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    op: Literal["exact", "prefix", "regex"]
    value: str

    @model_validator(mode="after")
    def _regex_is_re2(self) -> "StringMatch":
        if self.op == "regex":
            check_regex(self.value)
        return self


class HeaderCondition(Node):
    kind: Literal["header"] = "header"
    name: HeaderName
    match: StringMatch


class HeaderAbsentCondition(Node):
    kind: Literal["header-absent"] = "header-absent"
    name: HeaderName


class CookieCondition(Node):
    kind: Literal["cookie"] = "cookie"
    name: CookieName
    value: str


class PathCondition(Node):
    kind: Literal["path"] = "path"
    match: StringMatch


class MethodCondition(Node):
    kind: Literal["method"] = "method"
    method: HttpMethod


class QueryCondition(Node):
    kind: Literal["query"] = "query"
    name: str
    match: StringMatch


class PortCondition(Node):
    kind: Literal["port"] = "port"
    port: PortNumber


class SourceLabelCondition(Node):
    kind: Literal["source-label"] = "source-label"
    label: LabelPair


class SourceNamespaceCondition(Node):
    kind: Literal["source-namespace"] = "source-namespace"
    namespace: Name


class SourceClusterCondition(Node):
    """`from cluster C`: the calling proxy runs in cluster C (Istio labels
    every proxy `topology.istio.io/cluster`)."""

    kind: Literal["source-cluster"] = "source-cluster"
    cluster: Name


Condition = Annotated[
    Union[
        HeaderCondition, HeaderAbsentCondition, CookieCondition, PathCondition, MethodCondition,
        QueryCondition, PortCondition, SourceLabelCondition, SourceNamespaceCondition, SourceClusterCondition,
    ],
    Field(discriminator="kind"),
]


class Match(Node):
    """Conditions that must all hold (`and`); a route's matches are `or`ed."""

    conditions: tuple[Condition, ...]


# ----------------------------------------------------------- destinations
class SubsetTarget(Node):
    kind: Literal["subset"] = "subset"
    subset: Name


class ServiceTarget(Node):
    """Another service (or this one without a subset): `service NAME [in NS] [subset S] [port N]`."""

    kind: Literal["service"] = "service"
    service: Name
    namespace: Optional[Name] = None
    subset: Optional[Name] = None
    port: Optional[PortNumber] = None


Target = Annotated[Union[SubsetTarget, ServiceTarget], Field(discriminator="kind")]


class Destination(Node):
    target: Target
    weight: Optional[Percent] = None
    rest: bool = False


class Forward(Node):
    kind: Literal["forward"] = "forward"
    destinations: tuple[Destination, ...]


class SuccessRateGate(Node):
    kind: Literal["success-rate"] = "success-rate"
    minimum: Percent


class LatencyGate(Node):
    kind: Literal["latency"] = "latency"
    quantile: Literal["p50", "p75", "p90", "p95", "p99", "p999"]
    maximum: Duration


Gate = Annotated[Union[SuccessRateGate, LatencyGate], Field(discriminator="kind")]


class Wave(Node):
    """`wave C... [after N] [at N]`: clusters that move through a canary's
    steps together. The wave starts once the wave before it is at step
    `after` (None: its last step); `at` is its live step."""

    clusters: tuple[Name, ...]
    after: Optional[int] = Field(default=None, ge=0)
    after_span: Optional[Span] = None
    at: int = Field(default=0, ge=0)
    at_span: Optional[Span] = None


class Canary(Node):
    """Baseline → candidate through `steps`; step `at` (0 = baseline) is
    live, or, with `waves`, each wave's `at` in its clusters."""

    kind: Literal["canary"] = "canary"
    baseline: Name
    candidate: Name
    steps: tuple[Percent, ...]
    at: int = Field(default=0, ge=0)
    at_span: Optional[Span] = None
    pauses: tuple[Duration, ...] = ()
    gates: tuple[Gate, ...] = ()
    waves: tuple[Wave, ...] = ()


class BlueGreen(Node):
    kind: Literal["blue-green"] = "blue-green"
    active: Name
    preview: Name


Action = Annotated[Union[Forward, Canary, BlueGreen], Field(discriminator="kind")]


class Mirror(Node):
    target: Target
    percent: Optional[Percent] = None


# ---------------------------------------------------------- route options
class Retry(Node):
    """`retry N [per-try D] [on ...]`; `retry off` is attempts 0."""

    attempts: int = Field(ge=0)
    per_try: Optional[Duration] = None
    on: tuple[RetryCondition, ...] = ()


class FaultDelay(Node):
    delay: Duration
    percent: Percent


class FaultAbort(Node):
    status: HttpStatus
    percent: Percent


class Rewrite(Node):
    path: str


class Cors(Node):
    origins: tuple[str, ...] = ()
    methods: tuple[HttpMethod, ...] = ()
    headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: Optional[Duration] = None
    credentials: bool = False

    @model_validator(mode="after")
    def _max_age_in_seconds(self) -> "Cors":
        if self.max_age is not None and self.max_age.ms % 1000:
            raise PydanticCustomError("duration-too-small", "CORS max-age {value} ms is not a whole number of seconds",
                                      {"value": int(self.max_age.ms), "help": "Istio counts max-age in whole seconds"})
        return self


class Options(Node):
    """Route options as written in one block (a route, a service, an override)."""

    timeout: Optional[Duration] = None
    retry: Optional[Retry] = None
    delay: Optional[FaultDelay] = None
    abort: Optional[FaultAbort] = None
    rewrite: Optional[Rewrite] = None
    cors: Optional[Cors] = None


# ------------------------------------------------------ destination policy
class Ejection(Node):
    consecutive: int = Field(ge=1)
    errors: Literal["5xx", "gateway-errors"]
    interval: Optional[Duration] = None
    base_time: Optional[Duration] = None
    max_percent: Optional[Percent] = None


class CircuitBreaker(Node):
    max_connections: Optional[int] = Field(default=None, ge=1)
    connect_timeout: Optional[Duration] = None
    max_pending: Optional[int] = Field(default=None, ge=1)
    max_requests: Optional[int] = Field(default=None, ge=1)
    max_requests_per_connection: Optional[int] = Field(default=None, ge=0)
    max_retries: Optional[int] = Field(default=None, ge=0)
    idle_timeout: Optional[Duration] = None
    eject: Optional[Ejection] = None


class SimpleLb(Node):
    kind: Literal["simple"] = "simple"
    algorithm: Literal["round-robin", "random", "least-request", "passthrough"]


class HashLb(Node):
    kind: Literal["hash"] = "hash"
    on: Literal["header", "cookie", "source-ip", "query"]
    name: Optional[str] = None
    ttl: Optional[Duration] = None


LoadBalancer = Annotated[Union[SimpleLb, HashLb], Field(discriminator="kind")]


class Tls(Node):
    mode: Literal["istio-mutual", "disable", "simple"]


class FailoverPair(Node):
    source: Name
    target: Name


class Failover(Node):
    pairs: tuple[FailoverPair, ...]


class PriorityLabel(Node):
    """One entry of `failover priority`: a label key (the short names
    `cluster`, `network`, `region`, `zone`, `subzone`, `node` already
    expanded to Istio's keys), and, for a pin, the value endpoints must have."""

    key: LabelKey
    value: Optional[LabelValue] = None


class FailoverPriority(Node):
    labels: tuple[PriorityLabel, ...]


class LocalityWeight(Node):
    locality: str
    percent: Percent


class Distribute(Node):
    source: str
    targets: tuple[LocalityWeight, ...]


class Policy(Node):
    """Destination policy as written in one block."""

    circuit_breaker: Optional[CircuitBreaker] = None
    lb: Optional[LoadBalancer] = None
    tls: Optional[Tls] = None
    failover: Optional[Failover] = None
    failover_priority: Optional[FailoverPriority] = None
    distribute: tuple[Distribute, ...] = ()


# ---------------------------------------------------------------- routes
class Override(Node):
    """`on CLUSTER { ... }`: what differs in one cluster."""

    cluster: Name
    options: Options
    policy: Optional[Policy] = None


class Route(Node):
    name: Name
    matches: tuple[Match, ...] = ()
    action: Optional[Action] = None
    mirrors: tuple[Mirror, ...] = ()
    options: Options
    overrides: tuple[Override, ...] = ()

    @property
    def is_catch_all(self) -> bool:
        return not self.matches


# -------------------------------------------------------------- services
class Port(Node):
    number: PortNumber
    protocol: Literal["http", "http2", "grpc", "https", "tcp", "tls"]
    # The Kubernetes port name, for Service stubs; None: `PROTOCOL-NUMBER`.
    name: Optional[PortName] = None
    policy: Optional[Policy] = None


class Subset(Node):
    name: Name
    labels: tuple[LabelPair, ...] = ()
    policy: Optional[Policy] = None


class Expose(Node):
    gateway: Name
    host: Hostname
    port: Optional[PortNumber] = None
    matches: tuple[Match, ...] = ()


class Local(Node):
    """`local`: callers reach the service's endpoints in their own cluster only."""


class Service(Node):
    name: Name
    # The clusters that run the service's workloads; () means every cluster.
    placement: tuple[Name, ...] = ()
    local: Optional[Local] = None
    ports: tuple[Port, ...] = ()
    subsets: tuple[Subset, ...] = ()
    options: Options
    policy: Policy
    routes: tuple[Route, ...] = ()
    exposes: tuple[Expose, ...] = ()
    overrides: tuple[Override, ...] = ()


# ------------------------------------------------- namespace and security
class Mtls(Node):
    mode: Literal["strict", "permissive", "disable"]
    workload: Optional[Name] = None


class AllowRule(Node):
    workload: Name
    principals: tuple[str, ...] = ()
    namespaces: tuple[Name, ...] = ()
    methods: tuple[HttpMethod, ...] = ()
    paths: tuple[str, ...] = ()


class GatewayServer(Node):
    protocol: Literal["https", "http"]
    port: PortNumber
    credential: Optional[str] = None
    redirect: bool = False


class GatewayHost(Node):
    """`host HOST { ... }` in a gateway: routes that exist only there, and
    route options for every one of them."""

    host: Hostname
    options: Options
    routes: tuple[Route, ...] = ()


class Gateway(Node):
    name: Name
    hosts: tuple[Hostname, ...] = ()
    servers: tuple[GatewayServer, ...] = ()
    selector: tuple[LabelPair, ...] = ()
    host_routes: tuple[GatewayHost, ...] = ()


class ExternalPort(Node):
    number: PortNumber
    protocol: Literal["http", "http2", "grpc", "https", "tcp", "tls"]


class External(Node):
    hosts: tuple[Hostname, ...]
    ports: tuple[ExternalPort, ...]


class Namespace(Node):
    name: Name
    mtls: tuple[Mtls, ...] = ()
    allows: tuple[AllowRule, ...] = ()
    defaults: Optional[Policy] = None
    services: tuple[Service, ...] = ()
    gateways: tuple[Gateway, ...] = ()
    externals: tuple[External, ...] = ()


# ------------------------------------------------------------------ tests
class RequestHeader(Node):
    name: HeaderName
    value: str


class RequestCookie(Node):
    name: CookieName
    value: str


class RequestQuery(Node):
    name: str
    value: str


class PolicyRequest(Node):
    """A request of a test: to a declared service (`service`, `namespace`;
    namespace None: the one namespace that declares the service), or for a
    `host`, at a `gateway` or from a sidecar. The other fields are what
    its `with` says; None and () are what a request carries when nothing
    is said (docs/testing.md)."""

    service: Optional[Name] = None
    namespace: Optional[Name] = None
    host: Optional[Hostname] = None
    gateway: Optional[Name] = None
    port: Optional[PortNumber] = None
    method: Optional[HttpMethod] = None
    path: Optional[str] = None
    headers: tuple[RequestHeader, ...] = ()
    cookies: tuple[RequestCookie, ...] = ()
    query: tuple[RequestQuery, ...] = ()
    source_labels: tuple[LabelPair, ...] = ()
    source_namespace: Optional[Name] = None
    source_cluster: Optional[Name] = None


class ExpectTo(Node):
    """`expect to ...`: the destinations and their shares, exactly."""

    kind: Literal["to"] = "to"
    destinations: tuple[Destination, ...]


class ExpectRoute(Node):
    kind: Literal["route"] = "route"
    route: Name


class ExpectStatus(Node):
    """`expect status N`: the proxy answers N itself (a 404, a direct
    response, a redirect's status)."""

    kind: Literal["status"] = "status"
    status: HttpStatus


class ExpectMirror(Node):
    """One `expect mirror ...`; together they are the mirrors, exactly."""

    kind: Literal["mirror"] = "mirror"
    mirror: Mirror


class ExpectOption(Node):
    """`expect timeout 10s`, `expect retry 3 ...`, ...: one route option,
    compared on what it says (docs/testing.md)."""

    kind: Literal["option"] = "option"
    options: Options


class ExpectPolicy(Node):
    """`expect lb ...`, `expect circuit-breaker { ... }`, ...: destination
    policy every destination has."""

    kind: Literal["policy"] = "policy"
    policy: Policy


class ExpectServed(Node):
    """`expect served by C...`: the clusters whose pods take the request."""

    kind: Literal["served"] = "served"
    clusters: tuple[Name, ...]


Expectation = Annotated[
    Union[ExpectTo, ExpectRoute, ExpectStatus, ExpectMirror, ExpectOption, ExpectPolicy, ExpectServed],
    Field(discriminator="kind"),
]


class PolicyTest(Node):
    """`test NAME { ... }`: requests and what must happen to each, at the
    live canary steps (`steps` empty, `every_step` false), at the given
    steps, or at every step; `down` clusters' pods unhealthy. Renders
    nothing."""

    name: Name
    requests: tuple[PolicyRequest, ...] = ()
    steps: tuple[int, ...] = ()
    steps_span: Optional[Span] = None
    every_step: bool = False
    down: tuple[Name, ...] = ()
    expectations: tuple[Expectation, ...] = ()


class MeshPolicy(BaseModel):
    """A whole policy: the files of one directory compiled together."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    files: tuple[str, ...]
    fleet: Optional[Fleet] = None
    namespaces: tuple[Namespace, ...] = ()
    tests: tuple[PolicyTest, ...] = ()
