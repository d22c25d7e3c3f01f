"""What an import found, in the language's terms, before it is written.

Values are already what the language holds (milliseconds, percentages as
decimal text, lower-case names), so that two clusters' readings of one
resource compare equal exactly when they would write the same statements.
Settings are flat, as the language merges them: route options one by one
(`timeout`, `retry`, `delay`, `abort`, `rewrite`, `cors`), destination
policy one by one (each circuit-breaker setting, each `eject` field, `lb`,
`tls`, `failover`, `failover-priority`, `distribute`). Where a construct
came from is kept beside it, out of comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from meshc.importer.resources import Resource

Settings = tuple[tuple[str, Any], ...]
"""Sorted (setting, value) pairs: route options or destination policy."""

OPTION_ORDER = ("timeout", "retry", "delay", "abort", "rewrite", "cors")
POLICY_ORDER = ("circuit-breaker", "lb", "tls", "failover", "failover-priority", "distribute")
BREAKER_ORDER = ("max-connections", "connect-timeout", "max-pending", "max-requests", "max-requests-per-connection",
                 "max-retries", "idle-timeout")
EJECT_FIELDS = ("eject.consecutive", "eject.errors", "eject.interval", "eject.base-time", "eject.max")


def settings(values: dict[str, Any]) -> Settings:
    return tuple(sorted((k, v) for k, v in values.items() if v is not None))


def merge(base: Settings, over: Settings) -> Settings:
    """`over` on `base`, setting by setting (the language's inheritance)."""
    out = dict(base)
    out.update(over)
    return settings(out)


def difference(effective: Settings, base: Settings, whole_eject: bool = True) -> Settings:
    """The settings `effective` sets otherwise than `base`; an `eject`
    field that differs brings the whole `eject` (the statement needs its
    count and errors), unless `whole_eject` is False."""
    have, under = dict(effective), dict(base)
    out = {k: v for k, v in have.items() if under.get(k, _ABSENT) != v}
    if whole_eject and any(k.startswith("eject.") for k in out):
        out.update({k: v for k, v in have.items() if k.startswith("eject.")})
    return settings(out)


_ABSENT = object()


def least(effective: Settings, base: Settings) -> Settings:
    """The fewest settings that, over `base`, give `effective`: each that
    differs (an `eject` field alone, with the count and errors its
    statement needs)."""
    out = dict(difference(effective, base, whole_eject=False))
    if any(k.startswith("eject.") for k in out):
        have = dict(effective)
        for k in ("eject.consecutive", "eject.errors"):
            out.setdefault(k, have.get(k))
    return settings(out)


@dataclass(frozen=True)
class Cond:
    """One condition of a `when` alternative."""

    kind: str
    """header, header-absent, cookie, path, method, query, port, source-label,
    source-namespace, source-cluster"""
    name: str = ""
    op: str = ""
    """exact, prefix or regex (for header, path and query)"""
    value: str = ""


Match = tuple[Cond, ...]


@dataclass(frozen=True)
class Target:
    """A destination: a service (always named) with subset and port."""

    namespace: str
    service: str
    subset: Optional[str] = None
    port: Optional[int] = None


@dataclass(frozen=True)
class Dest:
    target: Target
    weight: Optional[str] = None
    """A percentage as written (`90`, `12.5`), None for a route's only destination."""


@dataclass(frozen=True)
class Forward:
    dests: tuple[Dest, ...]


@dataclass(frozen=True)
class BlueGreen:
    active: str
    preview: str


@dataclass(frozen=True)
class Waves:
    """A canary whose live split differs between clusters: meshc's fleet
    canary (`wave`s), read back from each primary's split."""

    baseline: str
    candidate: str
    steps: tuple[int, ...]
    waves: tuple[tuple[tuple[str, ...], Optional[int], int], ...]
    """(clusters, after, at) of each wave, in order."""


Action = Union[Forward, BlueGreen, Waves, None]


@dataclass(frozen=True)
class Mirror:
    target: Target
    percent: Optional[str] = None


@dataclass(frozen=True)
class Origin:
    """The YAML a construct was read from."""

    resource: Resource
    path: tuple = ()


@dataclass(frozen=True)
class Route:
    name: str
    matches: tuple[Match, ...]
    action: Action
    mirrors: tuple[Mirror, ...]
    options: Settings
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str
    name: Optional[str] = None
    """The Kubernetes port name when it is not `PROTOCOL-NUMBER`."""
    known: bool = True
    """From a Kubernetes Service; False when only a route's use of it says it exists."""


@dataclass(frozen=True)
class Subset:
    name: str
    labels: tuple[tuple[str, str], ...]
    policy: Optional[Settings] = None
    """What the subset sets beyond the service; None: no policy of its own."""
    effective: Settings = field(default=(), compare=False)
    """What Istio applies to the subset, in one cluster's reading (clusters
    merged, the policy written is the one that gives this in each)."""
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass(frozen=True)
class Expose:
    gateway: str
    host: str
    port: Optional[int]
    matches: tuple[Match, ...]
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass
class Service:
    """A service as one cluster's input configures it."""

    namespace: str
    name: str
    ports: dict[int, Port] = field(default_factory=dict)
    subsets: tuple[Subset, ...] = ()
    policy: Settings = ()
    port_policies: tuple[tuple[int, Settings, Settings], ...] = ()
    """(port, what it sets beyond the service, what Istio applies there)."""
    combos: dict[tuple[str, int], Settings] = field(default_factory=dict)
    """What Istio applies to (subset, port) where the port has port-level settings."""
    routes: Optional[tuple[Route, ...]] = None
    """None: no VirtualService; () cannot happen (a VirtualService has a route)."""
    options: Settings = ()
    """Route options of a VirtualService with no route of its own (the
    `default` entry of a service that only sets options)."""
    exposes: tuple[Expose, ...] = ()
    local: Optional[tuple[str, ...]] = None
    """A `local` service: the clusters it runs in."""
    runs_here: Optional[bool] = None
    """From the cluster's Service: a real one (True), meshc's stub (False), none (None)."""
    sources: list[Resource] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def configured(self) -> bool:
        """Whether a primary's configuration mentions it (a VirtualService
        or DestinationRule), rather than only its Service."""
        return self.routes is not None or bool(self.subsets or self.policy or self.port_policies or self.options)


@dataclass(frozen=True)
class Server:
    protocol: str  # https, http, redirect-http
    port: int
    credential: Optional[str] = None


@dataclass(frozen=True)
class Gateway:
    namespace: str
    name: str
    hosts: tuple[str, ...]
    servers: tuple[Server, ...]
    selector: tuple[tuple[str, str], ...]
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass(frozen=True)
class External:
    hosts: tuple[str, ...]
    ports: tuple[tuple[int, str], ...]
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass(frozen=True)
class Mtls:
    mode: str
    workload: Optional[str] = None
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass(frozen=True)
class Allow:
    workload: str
    principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    origin: Optional[Origin] = field(default=None, compare=False)


@dataclass
class Namespace:
    name: str
    defaults: Optional[Settings] = None
    defaults_origin: Optional[Origin] = None
    mtls: list[Mtls] = field(default_factory=list)
    allows: list[Allow] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)
    externals: list[External] = field(default_factory=list)


@dataclass
class ClusterImport:
    """Everything one cluster's input says, in the language's terms."""

    cluster: str
    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    cross_network_gateway: Optional[Resource] = None
    host_routes: dict[tuple[str, str, str], tuple[Route, ...]] = field(default_factory=dict)
    """The routes of a gateway's `host` blocks, by (namespace, gateway, host)."""

    def namespace(self, name: str) -> Namespace:
        found = self.namespaces.get(name)
        if found is None:
            found = self.namespaces[name] = Namespace(name)
        return found

    def service(self, namespace: str, name: str) -> Service:
        found = self.services.get((namespace, name))
        if found is None:
            found = self.services[(namespace, name)] = Service(namespace, name)
        self.namespace(namespace)
        return found
