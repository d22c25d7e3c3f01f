"""What changes between two policies, in traffic terms, per service and
merged over the clusters where it is the same (docs/testing.md, "meshc
diff").

Two sources, both from the policies as `meshc render` renders them:

- requests: for every caller cluster, the request grid of both policies
  (meshc/semantics/grid.py) evaluated on both renderings (what Istio will
  do before and after); a request that goes elsewhere, or otherwise, is a
  change of the route that took it (its destinations and weights, timeout,
  retries, fault, mirrors, rewrite, CORS), or of which route takes it;
- structure: routes and exposures added, removed or reordered (the IR),
  and the destination policy of every DestinationRule, subset and port
  (the rendered documents), in the clusters each primary programs.

A cluster whose documents did not change is not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Optional

from meshc.language import ir
from meshc.model.resolve import Index, ServiceInfo, owner_name
from meshc.semantics.decision import Decision
from meshc.semantics.evaluate.hosts import Services
from meshc.semantics.evaluate.policy import merge_subset, port_level
from meshc.semantics.grid import requests_for
from meshc.semantics.request import Request
from meshc.traffic import text
from meshc.traffic.readings import Origin, Readings, Variant

ARROW = "→"
DEFAULT_ROUTE = "Istio's default route"


@dataclass(frozen=True)
class Change:
    """One change: its subject (`NS/NAME` of a service, or a gateway host,
    or `fleet`), what changes, in which caller clusters (fleet order), its
    kind (`service`, `routes`, `route`, `requests`, `exposure`, `policy`,
    `fleet`) and, for changes found by requests, up to three of them."""

    subject: str
    what: str
    clusters: tuple[str, ...]
    kind: str
    examples: tuple[str, ...] = ()


def changes(old: Readings, new: Readings) -> list[Change]:
    found = _Found()
    _fleet(old, new, found)
    _structure(old, new, found)
    _policies(old, new, found)
    _requests(old, new, found)
    return found.merged(new.clusters or old.clusters)


def changed_clusters(old: ir.MeshPolicy, new: ir.MeshPolicy, istio: Optional[str] = None) -> tuple[str, ...]:
    """The caller clusters whose traffic changes from `old` to `new` (for
    fleet waves: the clusters a change reaches)."""
    found = changes(Readings(old, istio), Readings(new, istio))
    clusters = {c for change in found for c in change.clusters}
    names = Readings(new, istio).clusters
    return tuple(c for c in names if c in clusters) + tuple(sorted(clusters - set(names)))


class _Found:
    """Changes as they are found, per (subject, what, kind), with clusters."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, str], tuple[set[str], list[str]]] = {}

    def add(self, subject: str, what: str, kind: str, clusters: Iterable[str], example: Optional[str] = None):
        seen, examples = self.by_key.setdefault((subject, what, kind), (set(), []))
        seen.update(clusters)
        if example is not None and example not in examples and len(examples) < 3:
            examples.append(example)

    def merged(self, order: list[str]) -> list[Change]:
        rank = {c: i for i, c in enumerate(order)}
        out = [Change(subject, what, tuple(sorted(clusters, key=lambda c: (rank.get(c, len(rank)), c))), kind,
                      tuple(examples))
               for (subject, what, kind), (clusters, examples) in self.by_key.items()]
        kinds = ("fleet", "service", "exposure", "routes", "route", "requests", "policy")
        return sorted(out, key=lambda c: (c.subject != "fleet", c.subject, kinds.index(c.kind), c.what))


# ------------------------------------------------------------- structure
def _fleet(old: Readings, new: Readings, found: _Found) -> None:
    before, after = old.clusters, new.clusters
    for c in after:
        if c not in before:
            found.add("fleet", f"cluster {c} added", "fleet", [c])
    for c in before:
        if c not in after:
            found.add("fleet", f"cluster {c} removed", "fleet", [c])
    for c in set(before) & set(after):
        if old.release(c) != new.release(c):
            found.add("fleet", f"Istio {old.release(c)} {ARROW} {new.release(c)}", "fleet", [c])
        if old.topology.primary_of(c) != new.topology.primary_of(c):
            found.add("fleet", f"configured by {old.topology.primary_of(c)} {ARROW} {new.topology.primary_of(c)}",
                      "fleet", [c])


def _owners(readings: Readings) -> dict[tuple, tuple[str, tuple[ir.Route, ...], list[str]]]:
    """Services and gateway `host` blocks by key: name, routes, exposures."""
    out = {("service",) + info.key: (owner_name(info), info.service.routes, _exposures(info))
           for info in readings.index.services.values()}
    for block in readings.index.gateway_hosts():
        out.setdefault(("host",) + block.key, (owner_name(block), block.block.routes, []))
    return out


def _structure(old: Readings, new: Readings, found: _Found) -> None:
    clusters = new.clusters
    before, after = _owners(old), _owners(new)
    for key in after.keys() - before.keys():
        found.add(after[key][0], "service added" if key[0] == "service" else "host block added", "service", clusters)
    for key in before.keys() - after.keys():
        found.add(before[key][0], "service removed" if key[0] == "service" else "host block removed", "service",
                  old.clusters)
    for key in before.keys() & after.keys():
        name, old_list, exposed_before = before[key]
        _, new_list, exposed_after = after[key]
        old_routes = [r.name.value for r in old_list]
        new_routes = [r.name.value for r in new_list]
        _added_removed(found, name, old_routes, new_routes, "routes", clusters, "route {} added", "route {} removed")
        kept_old = [r for r in old_routes if r in new_routes]
        kept_new = [r for r in new_routes if r in old_routes]
        if kept_old != kept_new:
            found.add(name, f"routes reordered: {', '.join(kept_old)} {ARROW} {', '.join(kept_new)}", "routes",
                      clusters)
        routes = {r.name.value: r for r in old_list}
        for r in new_list:
            if r.name.value in routes and _when(routes[r.name.value]) != _when(r):
                found.add(name, f"route {r.name.value}: {_when(routes[r.name.value])} {ARROW} {_when(r)}", "route",
                          clusters)
        _added_removed(found, name, exposed_before, exposed_after, "exposure", clusters,
                       "exposure added: {}", "exposure removed: {}")


def _added_removed(found: _Found, name: str, before: list[str], after: list[str], kind: str, clusters: list[str],
                   added: str, removed: str) -> None:
    """One change per item only in `after` (`added` with `{}` for it) or only in `before`."""
    for x in after:
        if x not in before:
            found.add(name, added.format(x), kind, clusters)
    for x in before:
        if x not in after:
            found.add(name, removed.format(x), kind, clusters)


def _when(route: ir.Route) -> str:
    from meshc.semantics.interpret.entries import ROUTE, alternatives

    if not route.matches:
        return "no when (every request)"
    return "when " + " or ".join(" and ".join(c.text for c in alt.conditions)
                                 for alt in alternatives(route.matches, ROUTE))


def _exposures(info: ServiceInfo) -> list[str]:
    from meshc.semantics.interpret.entries import EXPOSURE, alternatives

    out = []
    for e in info.service.exposes:
        said = f"via {e.gateway.value} host {e.host}" + (f" port {e.port}" if e.port else "")
        if e.matches:
            said += " when " + " or ".join(" and ".join(c.text for c in alt.conditions)
                                           for alt in alternatives(e.matches, EXPOSURE))
        out.append(said)
    return out


# -------------------------------------------------- destination policy
def _policies(old: Readings, new: Readings, found: _Found) -> None:
    """Every DestinationRule's effective policy (top level, per port, per
    subset and port, as Istio merges them) in each primary, before and
    after, for the clusters it programs. A change a level inherits from
    the level above it (the top level's, a port's, a subset's) is said
    once, at the level where it is written."""
    for primary in new.topology.primaries:
        if primary not in old.topology.primaries:
            continue
        before = _rules(old.at(), primary)
        after = _rules(new.at(), primary)
        served = new.topology.served_by(primary)
        for host in sorted(before.keys() | after.keys()):
            a_rule, b_rule = before.get(host), after.get(host)
            if a_rule is None or b_rule is None:
                continue  # the service added or removed says it
            subject = _rule_subject(new.index, old.index, host)
            ports = sorted(a_rule.ports() | b_rule.ports())
            changed: dict[tuple, dict[str, tuple]] = {}
            for subset in [None] + sorted(a_rule.subsets.keys() | b_rule.subsets.keys()):
                for port in [None] + ports:
                    a, b = a_rule.effective(subset, port), b_rule.effective(subset, port)
                    if a is None or b is None:
                        if port is None:  # a subset added or removed changes its service's routes too
                            found.add(subject, f"subset {subset} {'added' if a is None else 'removed'}", "policy",
                                      served)
                        continue
                    here = changed[(subset, port)] = {
                        f: (a.get(f), b.get(f)) for f in a.keys() | b.keys() if a.get(f) != b.get(f)}
                    above = [changed.get(k, {}) for k in ((subset, None), (None, port), (None, None))
                             if k != (subset, port)]
                    where = _scope(subset, port)
                    for field in sorted(here):
                        if any(level.get(field) == here[field] for level in above):
                            continue
                        was, now = (_policy_text(field, v) for v in here[field])
                        found.add(subject, f"destination policy{where}: {field} {was} {ARROW} {now}", "policy",
                                  served)


def _scope(subset: Optional[str], port: Optional[int]) -> str:
    if subset is not None:
        return f" of subset {subset}" + (f" on port {port}" if port is not None else "")
    return f" on port {port}" if port is not None else ""


def _policy_text(field: str, value) -> str:
    if value is None:
        return "unset"
    return text.policy_field(field, value).split(" ", 1)[1]


def _rule_subject(new: Index, old: Index, host: str) -> str:
    info = new.by_host.get(host) or old.by_host.get(host)
    if info is not None:
        return owner_name(info)
    if host.startswith("*."):
        return f"namespace {host[2:].split('.')[0]} defaults"
    return host


@dataclass(frozen=True)
class _Rule:
    """A DestinationRule's top-level policy and its subsets' (policy, labels)."""

    policy: Optional[dict]
    subsets: dict[str, tuple[Optional[dict], dict]]

    def ports(self) -> set[int]:
        found = set()
        for policy in [self.policy] + [p for p, _ in self.subsets.values()]:
            for entry in (policy or {}).get("portLevelSettings") or ():
                number = (entry.get("port") or {}).get("number")
                if number is not None:
                    found.add(number)
        return found

    def effective(self, subset: Optional[str], port: Optional[int]) -> Optional[dict]:
        """The flattened policy of the upstream cluster (subset, port) as
        pilot builds it (evaluate/policy.py: util.go
        `GetPortLevelTrafficPolicy`, `MergeSubsetTrafficPolicy`), a
        subset's labels included; None for a subset the rule lacks."""
        if subset is None:
            return _flat(port_level(self.policy, port)[0] or {})
        if subset not in self.subsets:
            return None
        policy, labels = self.subsets[subset]
        merged = merge_subset(self.policy, policy, port) or {}
        return {**_flat(merged), **({f"labels.{k}": v for k, v in labels.items()} if port is None else {})}


def _rules(variant: Variant, primary: str) -> dict[str, _Rule]:
    """host → its DestinationRule, of every DestinationRule."""
    out: dict[str, _Rule] = {}
    for doc in variant.rendering.clusters.get(primary, ()):
        if doc.kind != "DestinationRule":
            continue
        spec = doc.body.get("spec", {})
        subsets = {subset.get("name"): (subset.get("trafficPolicy"), subset.get("labels") or {})
                   for subset in spec.get("subsets", ()) or ()}
        out[spec.get("host", "")] = _Rule(spec.get("trafficPolicy"), subsets)
    return out


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k != "portLevelSettings":  # what applies to a port is chosen already
                out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list):
        return {prefix[:-1]: tuple(tuple(sorted(_flat(v).items())) if isinstance(v, dict) else v for v in value)}
    return {prefix[:-1]: value}


# ------------------------------------------------------------- requests
def _requests(old: Readings, new: Readings, found: _Found) -> None:
    before, after = old.at(), new.at()
    everything = before.registry != after.registry  # a port added or removed: new places
    for cluster in new.clusters:
        if cluster not in old.clusters:
            continue
        hosts = _touched(before, after, old, new, cluster)
        if hosts is not None and not hosts:
            continue
        if everything:
            hosts = None
        requests = set(requests_for(old.policy, cluster, hosts=hosts)) | \
            set(requests_for(new.policy, cluster, hosts=hosts))
        old_ev, new_ev = _evaluator(before, after, old, cluster), _evaluator(after, before, new, cluster)
        for request in sorted(requests, key=_order):
            a, b = old_ev.evaluate(request), new_ev.evaluate(request)
            if _traffic(a) == _traffic(b):
                continue
            _describe(request, cluster, a, b, before, after, found, (old_ev.services, new_ev.services))


def _evaluator(variant: Variant, other: Variant, readings: Readings, cluster: str):
    """The evaluator of `variant`'s documents for `cluster`, knowing the
    Kubernetes Services of both sides. meshc renders no Service
    (semantics/registry.py: they come from the policy), so a service
    removed from the policy (or not yet in it) still exists for Istio, and
    requests to it change only as the documents meshc renders change; the
    `service removed` line says the rest. External hosts come from the
    ServiceEntries meshc renders, on each side its own."""
    from meshc.semantics.evaluate import Evaluator
    from meshc.semantics.request import Registry

    mine, theirs = variant.registry.services, other.registry.services
    missing = {h: ports for h, ports in theirs.items() if h not in mine and h in other.index.by_host}
    if not missing:
        return variant.evaluator(cluster)
    docs = variant.rendering.clusters[readings.topology.primary_of(cluster)]
    return Evaluator([d.body for d in docs], Registry(dict(sorted({**mine, **missing}.items()))),
                     istio=readings.release(cluster))


def _order(r: Request) -> tuple:
    return (r.gateway or "", r.host, r.port, r.path, r.method, r.headers, r.source_namespace, r.source_labels,
            r.source_cluster or "")


# Kinds whose changes move no request: destination policy is compared
# rule by rule (_policies), and these route nothing.
_NOT_ROUTING = frozenset({"DestinationRule", "PeerAuthentication", "AuthorizationPolicy", "PrometheusRule"})


def _touched(before: Variant, after: Variant, old: Readings, new: Readings, cluster: str) -> Optional[set[str]]:
    """The hosts of the VirtualServices that differ in the documents that
    program `cluster` (empty: no request can change); None when anything
    else that routes differs (a Gateway, a ServiceEntry, the Istio release),
    so that every place is tried."""
    if old.release(cluster) != new.release(cluster):
        return None
    a = {(d.kind, d.namespace, d.name): d.body
         for d in before.rendering.clusters.get(old.topology.primary_of(cluster), ())}
    b = {(d.kind, d.namespace, d.name): d.body
         for d in after.rendering.clusters.get(new.topology.primary_of(cluster), ())}
    hosts: set[str] = set()
    for key in a.keys() | b.keys():
        if a.get(key) == b.get(key) or key[0] in _NOT_ROUTING:
            continue
        if key[0] != "VirtualService":
            return None
        for body in (a.get(key), b.get(key)):
            hosts.update((body or {}).get("spec", {}).get("hosts", ()))
    return hosts


def _traffic(d: Decision) -> Decision:
    """A decision without its destination policy (reported per rule)."""
    from dataclasses import replace

    return replace(d, policies=())


def _describe(request: Request, cluster: str, a: Decision, b: Decision, before: Variant, after: Variant,
              found: _Found, known: tuple) -> None:
    oa = before.origin(cluster, a.virtual_service, a.entry)
    ob = after.origin(cluster, b.virtual_service, b.entry)
    owner = (ob or oa).info if (ob or oa) is not None else \
        after.index.by_host.get(request.host) or before.index.by_host.get(request.host)
    subject = owner_name(owner) if owner is not None else _place(request)
    home = owner if isinstance(owner, ServiceInfo) else None
    example = _example(request, cluster)
    ra, rb = _route(oa), _route(ob)
    if ra is not None and ra == rb and a.kind == b.kind:
        for what in _route_fields(a, b, before, after, home, request):
            found.add(subject, f"route {rb}: {what}", "route", [cluster])
        return
    found.add(subject, f"{_taken(a, oa, before.index, home, known[0])} {ARROW} "
                       f"{_taken(b, ob, after.index, home, known[1])}", "requests", [cluster], example)


def _route(origin: Optional[Origin]) -> Optional[str]:
    return origin.route.name.value if origin is not None and origin.route is not None else None


def _place(r: Request) -> str:
    return f"gateway {r.gateway} host {r.host}" if r.gateway else r.host


def _taken(d: Decision, origin: Optional[Origin], index: Index, home, known: Services) -> str:
    """What took the request, named as `meshc route` names it."""
    outcome = text.outcome(index, d, home)
    if origin is not None and origin.route is not None:
        return f"route {origin.route.name.value} ({outcome})"
    if d.kind == "default":
        passthrough = any(s.target.host.lower() not in known.ports for s in d.destinations)
        return f"{'the PassthroughCluster' if passthrough else DEFAULT_ROUTE} ({outcome})"
    return outcome


def _route_fields(a: Decision, b: Decision, before: Variant, after: Variant, home, request: Request) -> list[str]:
    out = []
    if a.destinations != b.destinations:
        out.append(_shares(a.destinations, b.destinations, before.index, after.index, home))
    if a.status != b.status:
        out.append(f"status {a.status} {ARROW} {b.status}")
    if a.timeout_ms != b.timeout_ms:
        out.append(f"timeout {_timeout(a)} {ARROW} {_timeout(b)}")
    if a.retries != b.retries:
        out.append(f"{text.retries(a.retries)} {ARROW} {text.retries(b.retries)}")
    if a.fault != b.fault:
        out.append(f"{_fault(a)} {ARROW} {_fault(b)}")
    if a.mirrors != b.mirrors:
        out.append(f"mirror {text.shares(before.index, a.mirrors, home) or 'none'} {ARROW} "
                   f"{text.shares(after.index, b.mirrors, home) or 'none'}")
    if a.rewrite != b.rewrite:
        was, now = a.rewrite or request.path, b.rewrite or request.path
        out.append(f"{request.path} reaches the upstream as {was} {ARROW} {now}")
    if a.cors != b.cors:
        out.append("cors changed")
    return out


def _fault(d: Decision) -> str:
    return "; ".join(text.fault(d.fault)) or "no fault"


def _timeout(d: Decision) -> str:
    return text.duration(d.timeout_ms) if d.timeout_ms else "none"


def _shares(a, b, index_a: Index, index_b: Index, home) -> str:
    """`v1 90% → 80%, v2 10% → 20%`: every target of either side, a missing
    one at 0 %, the unchanged ones as they are."""
    before = {text.target(index_a, s.target, home): s.share for s in a}
    after = {text.target(index_b, s.target, home): s.share for s in b}
    out = []
    for t in list(before) + [t for t in after if t not in before]:
        x, y = before.get(t, 0), after.get(t, 0)
        out.append(f"{t} {text.percent(Fraction(x))} {ARROW} {text.percent(Fraction(y))}" if x != y
                   else f"{t} {text.percent(Fraction(y))}")
    return ", ".join(out)


def _example(r: Request, cluster: str) -> str:
    """The request in a few words: what it carries beyond `GET /`."""
    parts = [f"{r.method} {r.path}"]
    parts += [f"{k}: {v}" for k, v in r.headers]
    if r.gateway is not None:
        parts.append(f"at {r.gateway} port {r.port}")
    else:
        if r.source_namespace != "default":
            parts.append(f"from namespace {r.source_namespace}")
        parts += [f"source {k}={v}" for k, v in r.source_labels]
    if r.source_cluster not in (None, cluster):
        parts.append(f"from cluster {r.source_cluster}")
    return ", ".join(parts)
