"""The routing picture of a service, read from the resolved policy: what
`meshc graph` draws, independent of the drawing format.

Per service: the gateways and hosts that expose it (with their conditions)
or whose `host` blocks route to it (with the route's share and options),
its routes in the order they are tried (first match wins) with their
conditions and options, and each route's destinations with their weights:
a canary at its live step, blue-green's active and preview, mirrors. Across
clusters: the clusters that run it (`in`), whether callers stay in their
own cluster (`local`), and its failover.
Options (`on CLUSTER`) and a canary's step (its waves) can differ per
cluster; the picture shows one cluster's, or every cluster's where they
differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

from meshc.backends.documents import duration, number
from meshc.language import ir
from meshc.model.resolve import (
    PREVIEW_HEADER,
    GatewayHostInfo,
    Index,
    RouteOwner,
    ServiceInfo,
    canary_split,
    clusters,
    weights,
)
from meshc.model.topology import Topology
from meshc.model.waves import live_step


@dataclass(frozen=True)
class Target:
    """Where traffic goes: a subset of the service, the service as a whole,
    or another service (and maybe its subset)."""

    key: tuple[str, ...]
    label: str
    detail: str = ""


@dataclass(frozen=True)
class Edge:
    target: Target
    label: str
    primary: bool = True  # False: a mirror copy, the preview, or a 0 % share


@dataclass(frozen=True)
class Route:
    index: int
    name: str
    when: tuple[str, ...]  # alternatives (`or`); empty: every request
    note: str              # `canary step 2 of 5`, `blue-green`, ...
    options: str
    edges: tuple[Edge, ...]
    implicit: bool = False  # no route written: every request to the service


@dataclass(frozen=True)
class Entrance:
    gateway: str  # NS/NAME
    host: str
    when: tuple[str, ...]
    route: str = ""  # a route of the gateway's `host` block: its name, the share it sends here, its options


@dataclass(frozen=True)
class ServiceGraph:
    namespace: str
    name: str
    host: str
    ports: tuple[str, ...]
    placement: tuple[str, ...] = ()  # `CLUSTER (REGION)`, when `in` names some clusters only
    local: bool = False
    failover: tuple[str, ...] = ()  # `FROM → TO` pairs, or the priority's labels
    entrances: tuple[Entrance, ...] = ()
    routes: tuple[Route, ...] = ()
    targets: tuple[Target, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def build(policy: ir.MeshPolicy, cluster: Optional[str] = None) -> list[ServiceGraph]:
    """Every service of the policy, in declaration order, with the options
    of `cluster` (of every cluster, where they differ, when None)."""
    index = Index(policy)
    shown = [cluster] if cluster is not None else clusters(policy)
    return [_service(index, info, shown) for info in index.all_services()]


def _service(index: Index, info: ServiceInfo, shown: list[str]) -> ServiceGraph:
    svc = info.service
    targets: dict[tuple[str, ...], Target] = {}

    def add(found: Target) -> Target:
        return targets.setdefault(found.key, found)

    def target(t: ir.Target) -> Target:
        return add(_target(index, info, t))

    whole = Target(("self", ""), svc.name.value,
                   "the caller's cluster's endpoints" if svc.local is not None else "every endpoint")
    routes = []
    for n, route in enumerate(svc.routes, start=1):
        note, edges = _action(route.action, target, lambda: add(whole), index.topology, shown)
        edges += [Edge(target(m.target), f"mirror {_percent(m.percent.value) if m.percent else '100%'}", False)
                  for m in route.mirrors]
        routes.append(Route(n, route.name.value, _alternatives(route.matches), note,
                            _options(info, route, shown), tuple(edges)))
    if not routes:
        routes.append(Route(1, "default", (), "", _options(info, None, shown), (Edge(add(whole), "100%"),), True))
    entrances = tuple(
        Entrance(f"{index.gateways[e.gateway.value][0].name.value}/{e.gateway.value}"
                 if e.gateway.value in index.gateways else e.gateway.value, e.host, _alternatives(e.matches))
        for e in svc.exposes
    ) + tuple(_gateway_routes(index, info, shown))
    placement = tuple(_cluster_text(index, name) for name in index.topology.placement(svc)) \
        if svc.placement else ()
    return ServiceGraph(
        namespace=info.namespace.name.value,
        name=svc.name.value,
        host=info.host,
        ports=tuple(f"{p.number} {p.protocol}" for p in svc.ports),
        placement=placement,
        local=svc.local is not None,
        failover=_failover(info.policy(shown[0])),
        entrances=entrances,
        routes=tuple(routes),
        targets=tuple(sorted(targets.values(), key=_target_order(info))),
    )


def _gateway_routes(index: Index, info: ServiceInfo, shown: list[str]) -> Iterator[Entrance]:
    """The routes of gateways' `host` blocks that send (or mirror) traffic
    to the service."""
    def here(block: GatewayHostInfo, t: ir.Target) -> bool:
        other = index.target_service(block, t)
        return other is not None and other.key == info.key

    for block in index.gateway_hosts():
        gateway = f"{block.namespace.name.value}/{block.gateway.name.value}"
        for route in block.block.routes:
            action = route.action
            sent = zip(action.destinations, weights(action)) if isinstance(action, ir.Forward) else ()
            parts = [f"{share}%" + (f" to {d.target.subset.value}" if d.target.subset else "")
                     for d, share in sent if here(block, d.target)]  # service targets only (MESH326)
            parts += [f"mirror {_percent(m.percent.value) if m.percent else '100%'}"
                      for m in route.mirrors if here(block, m.target)]
            if parts:
                options = _options(block, route, shown)
                yield Entrance(gateway, block.block.host, _alternatives(route.matches),
                               " · ".join([f"route {route.name.value}", *parts] + ([options] if options else [])))


def _action(action: Optional[ir.Action], target, whole, topology: Topology,
            shown: list[str]) -> tuple[str, list[Edge]]:
    """The route's note and its destinations (`whole()`: the service without
    a subset, where a route with no action sends traffic). A canary with
    waves shows the step of each wave of the clusters shown, when they
    differ."""
    if action is None:
        return "", [Edge(whole(), "100%")]
    if isinstance(action, ir.Canary):
        steps = " ".join(_percent(s.value) for s in action.steps)
        by_step: dict[int, list[str]] = {}
        for cluster in shown:
            by_step.setdefault(live_step(action, topology, cluster), []).append(cluster)
        if len(by_step) == 1:
            (step,) = by_step
            baseline, candidate = canary_split(action, step)
            note = f"canary step {step} of {len(action.steps)} ({steps})"
            return note, [
                Edge(target(_subset(action.baseline)), f"{baseline}%", baseline > 0),
                Edge(target(_subset(action.candidate)), f"{candidate}%", candidate > 0),
            ]
        splits = [(canary_split(action, step), names) for step, names in by_step.items()]
        note = "canary in waves, " + "; ".join(f"step {step} in {', '.join(names)}" for step, names in by_step.items())
        note += f" (of {len(action.steps)}: {steps})"
        return note, [
            Edge(target(_subset(name)), "; ".join(f"{split[i]}% in {', '.join(names)}" for split, names in splits),
                 any(split[i] > 0 for split, _ in splits))
            for i, name in enumerate((action.baseline, action.candidate))
        ]
    if isinstance(action, ir.BlueGreen):
        return "blue-green", [
            Edge(target(_subset(action.active)), "100% (active)"),
            Edge(target(_subset(action.preview)), f"preview: {PREVIEW_HEADER}: true", False),
        ]
    shares = weights(action)
    return "", [Edge(target(d.target), f"{share}%", share > 0) for d, share in zip(action.destinations, shares)]


def _subset(name: ir.Name) -> ir.SubsetTarget:
    return ir.SubsetTarget(span=name.span, subset=name)


def _target(index: Index, info: ServiceInfo, t: ir.Target) -> Target:
    if isinstance(t, ir.SubsetTarget):
        subset = info.subset(t.subset.value)
        labels = ", ".join(_label(lbl.key, lbl.value) for lbl in subset.labels) if subset else ""
        return Target(("subset", t.subset.value), t.subset.value, labels)
    other = index.target_service(info, t)
    ns = t.namespace.value if t.namespace else info.namespace.name.value
    subset = t.subset.value if t.subset else None
    port = f":{t.port}" if t.port else ""
    if other is not None and other.key == info.key and subset is None and not port:
        return Target(("self", ""), info.service.name.value, "every endpoint")
    label = f"{t.service.value}{port}" + (f" / {subset}" if subset else "")
    detail = other.host if other else f"{t.service.value}.{ns}"
    return Target(("service", ns, t.service.value, subset or "", port), label, detail)


def _target_order(info: ServiceInfo):
    """Subsets in declaration order, then the service itself, then others."""
    declared = [s.name.value for s in info.service.subsets]

    def key(t: Target):
        if t.key[0] == "subset":
            return (0, declared.index(t.label) if t.label in declared else len(declared), t.label)
        return (1 if t.key[0] == "self" else 2, 0, t.label)
    return key


def _failover(policy: ir.Policy) -> tuple[str, ...]:
    if policy.failover is not None:
        return tuple(f"{p.source.value} → {p.target.value}" for p in policy.failover.pairs)
    if policy.failover_priority is not None:
        return ("priority " + ", ".join(_label(lbl.key, lbl.value) for lbl in policy.failover_priority.labels),)
    return ()


# Istio's topology labels by the short names the language gives them.
_SHORT_LABELS = {key: short for short, key in ir.TOPOLOGY_LABELS.items()}


def _label(key: str, value) -> str:
    short = _SHORT_LABELS.get(key, key)
    return short if value is None else f"{short}={value}"


def _cluster_text(index: Index, name: str) -> str:
    spec = index.clusters.get(name)
    return f"{name} ({spec.region.value})" if spec is not None and spec.region is not None else name


# ----------------------------------------------------------------- text
def _alternatives(matches: tuple[ir.Match, ...]) -> tuple[str, ...]:
    return tuple(" and ".join(_condition(c) for c in m.conditions) for m in matches)


_OPS = {"exact": "=", "prefix": "^=", "regex": "~"}


def _quoted(value: str) -> str:
    """A string literal as the language reads it back: `"` escaped, and a
    backslash only where it would otherwise start an escape (lower.string)."""
    out = []
    for i, ch in enumerate(value):
        if ch == '"':
            out.append('\\"')
        elif ch == "\\" and value[i + 1:i + 2] in ("", '"', "\\"):
            out.append("\\\\")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _match(m: ir.StringMatch) -> str:
    return f"{_OPS[m.op]} {_quoted(m.value)}"


_CONDITIONS = {
    ir.HeaderCondition: lambda c: f"header {c.name} {_match(c.match)}",
    ir.HeaderAbsentCondition: lambda c: f"header {c.name} absent",
    ir.CookieCondition: lambda c: f"cookie {c.name} = {_quoted(c.value)}",
    ir.PathCondition: lambda c: f"path {_match(c.match)}",
    ir.MethodCondition: lambda c: f"method = {c.method}",
    ir.QueryCondition: lambda c: f"query {c.name} {_match(c.match)}",
    ir.PortCondition: lambda c: f"port {c.port}",
    ir.SourceLabelCondition: lambda c: f"source {c.label.key} = {_quoted(c.label.value)}",
    ir.SourceNamespaceCondition: lambda c: f"from namespace {c.namespace.value}",
    ir.SourceClusterCondition: lambda c: f"from cluster {c.cluster.value}",
}


def _condition(c: ir.Condition) -> str:
    """A condition as the language writes it."""
    return _CONDITIONS[type(c)](c)


def _percent(value: float) -> str:
    return f"{number(value)}%"


def _options(info: RouteOwner, route: Optional[ir.Route], shown: list[str]) -> str:
    """The route's options in the clusters shown: once when they agree,
    else per group of clusters."""
    by_text: dict[str, list[str]] = {}
    for cluster in shown:
        by_text.setdefault(_options_text(info.options(route, cluster)), []).append(cluster)
    if len(by_text) == 1:
        return next(iter(by_text))
    return "; ".join(f"{', '.join(where)}: {text or 'no options'}" for text, where in by_text.items())


def _options_text(o: ir.Options) -> str:
    parts = []
    if o.timeout is not None:
        parts.append(f"timeout {duration(o.timeout)}")
    if o.retry is not None:
        retry = "no retries" if o.retry.attempts == 0 else f"retry {o.retry.attempts}"
        if o.retry.per_try is not None:
            retry += f" × {duration(o.retry.per_try)}"
        parts.append(retry)
    if o.delay is not None:
        parts.append(f"delay {duration(o.delay.delay)} on {_percent(o.delay.percent.value)}")
    if o.abort is not None:
        parts.append(f"abort {o.abort.status} on {_percent(o.abort.percent.value)}")
    if o.rewrite is not None:
        parts.append(f'rewrite "{o.rewrite.path}"')
    if o.cors is not None:
        parts.append("cors")
    return " · ".join(parts)
