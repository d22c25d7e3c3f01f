"""The imported policy as .mesh files: syntax trees printed by fmt's printer.

One file per namespace (`NAMESPACE.mesh`) and `fleet.mesh`, each in the
canonical layout by construction. Services come in name order, each after
a comment naming the resources it was read from; inside a service the
statements follow the order of the language reference (placement, ports,
subsets, options, policy, exposures, routes, per-cluster overrides).

Idioms: subsets that select one label by their own name, several in a row
with the same key, are `subsets by KEY NAME...` (the cluster label is
`subsets by cluster`); the label `topology.istio.io/cluster` of a fleet
cluster is `from cluster` in a `when` and `in C` in a subset; the topology
labels of `failover priority` are written by their short names.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from meshc.importer import values as val
from meshc.importer.merge import Merged, Plan
from meshc.importer.model import (BREAKER_ORDER, BlueGreen, Cond, Expose, Forward, Gateway, Match, Mirror,
                                  Settings, Subset, Target, Waves)
from meshc.language import syntax as s
from meshc.language.fmt import print_tree
from meshc.language.ir import CLUSTER_LABEL
from meshc.language.source import Span

_HERE = Span("<import>", 1, 1, 1, 1, 0, 0)
_OPS = {"exact": "=", "prefix": "^=", "regex": "~"}
def W(text: Any) -> s.Word:
    return s.Word(_HERE, str(text))


def Q(text: str) -> s.Word:
    return W(val.quoted(text))


class Writer:
    def __init__(self, merged: Merged, fleet: Optional[s.Fleet], fleet_text: Optional[str] = None):
        self.merged = merged
        self.fleet = fleet
        self.fleet_text = fleet_text
        self.clusters = set(merged.clusters) if fleet is not None else set()
        self.comments: dict[int, list[str]] = {}
        self.trees: dict[str, s.File] = {}
        """The syntax tree each file was printed from (the fleet's when printed)."""
        self._commented: list = []  # keeps the commented nodes alive, so that their ids stay theirs

    def files(self) -> dict[str, str]:
        out = {}
        if self.fleet_text is not None:
            out["fleet.mesh"] = self.fleet_text
        elif self.fleet is not None:
            out["fleet.mesh"] = self._print(s.File(_HERE, "fleet.mesh", (self.fleet,)))
        for name, ns in self.merged.namespaces.items():
            plans = [p for k, p in self.merged.services.items() if k[0] == name]
            body = self.namespace(ns, plans)
            if not body:
                continue
            node = s.Namespace(_HERE, W(name), tuple(body))
            out[f"{name}.mesh"] = self._print(s.File(_HERE, f"{name}.mesh", (node,)))
        return out

    def _print(self, tree: s.File) -> str:
        self.trees[tree.path] = tree
        return print_tree(tree, self.comments)

    # ----------------------------------------------------------- namespace
    def namespace(self, ns, plans: list[Plan]) -> list:
        body: list = []
        body += [s.Mtls(_HERE, W(m.mode), W(m.workload) if m.workload else None) for m in ns.mtls]
        body += [self.allow(a) for a in ns.allows]
        if ns.defaults is not None:
            policy = self.policy(ns.defaults)
            if policy:
                body.append(self.note(s.Defaults(_HERE, tuple(policy)), ns.defaults_origin and [ns.defaults_origin]))
        body += [self.note(self.gateway(g), g.origin and [g.origin]) for g in sorted(ns.gateways, key=lambda g: g.name)]
        body += [s.External(_HERE, tuple(W(h) for h in e.hosts),
                            tuple(s.PortDecl(_HERE, W(n), W(p)) for n, p in e.ports))
                 for e in sorted(ns.externals, key=lambda e: e.hosts)]
        for plan in sorted(plans, key=lambda p: p.service.name):
            body.append(self.service(plan))
        return body

    def note(self, node, origins) -> Any:
        if origins:
            titles = list(dict.fromkeys(o.resource.title for o in origins if o is not None))
            self.comment(node, [f"# from {', '.join(titles)}"])
        return node

    def comment(self, node: Any, lines: list[str]) -> None:
        self.comments[id(node)] = lines
        self._commented.append(node)

    def allow(self, a) -> s.Allow:
        source = None
        if a.principals:
            source = s.AllowFrom(_HERE, "principal", tuple(Q(p) for p in a.principals))
        elif a.namespaces:
            source = s.AllowFrom(_HERE, "namespace", tuple(W(n) for n in a.namespaces))
        to = None
        if a.methods or a.paths:
            to = s.AllowTo(_HERE, tuple(W(m) for m in a.methods), tuple(Q(p) for p in a.paths))
        return s.Allow(_HERE, W(a.workload), source, to)

    def gateway(self, g: Gateway) -> s.Gateway:
        body: list = [s.GatewayHosts(_HERE, tuple(W(h) for h in g.hosts))]
        for server in g.servers:
            if server.protocol == "redirect-http":
                body.append(s.RedirectHttp(_HERE))
            else:
                default = 443 if server.protocol == "https" else 80
                port = None if server.port == default else W(server.port)
                body.append(s.GatewayServer(_HERE, server.protocol, port,
                                            W(server.credential) if server.credential else None))
        body += [s.GatewaySelector(_HERE, W(k), Q(v)) for k, v in g.selector]
        for host in g.hosts:
            block = self.merged.blocks.get((g.namespace, g.name, host))
            if block is not None:
                inner = self.options(block.options) + [
                    self.route(r, (g.namespace, ""), block.route_overrides.get(r.name, {})) for r in block.routes]
                body.append(s.GatewayHost(_HERE, W(host), tuple(inner)))
        return s.Gateway(_HERE, W(g.name), tuple(body))

    # ------------------------------------------------------------- service
    def service(self, plan: Plan) -> s.Service:
        svc = plan.service
        body: list = []
        if plan.placement:
            body.append(s.Placement(_HERE, tuple(W(c) for c in plan.placement)))
        if svc.local is not None:
            body.append(s.Local(_HERE))
        port_policies = {number: own for number, own, _ in svc.port_policies}
        for number, port in svc.ports.items():
            # A port-level entry is a `port` block, empty when it sets what
            # the service does: meshc renders it all the same.
            policy = tuple(self.policy(port_policies[number])) if number in port_policies else None
            body.append(s.Port(_HERE, W(number), W(port.protocol), policy, W(port.name) if port.name else None))
        body += self.subsets(svc.subsets)
        body += self.options(plan.options)
        body += self.policy(svc.policy)
        body += [self.subset_policy(sub) for sub in svc.subsets if sub.policy and self._by_key(sub)]
        body += [self.expose(e) for e in svc.exposes]
        own = (svc.namespace, svc.name)
        body += [self.route(r, own, plan.route_overrides.get(r.name, {})) for r in plan.routes]
        for cluster in sorted(set(plan.option_overrides) | set(plan.policy_overrides), key=self._cluster_order):
            inner = self.options(plan.option_overrides.get(cluster, ())) + self.policy(
                plan.policy_overrides.get(cluster, ()))
            body.append(s.Override(_HERE, W(cluster), tuple(inner)))
        node = s.Service(_HERE, W(svc.name), None, tuple(body))
        titles = list(dict.fromkeys(r.title for r in svc.sources))
        self.comment(node, [f"# from {', '.join(titles)}" if titles else "# a destination of other services' routes"])
        return node

    def _cluster_order(self, cluster: str) -> int:
        order = list(self.merged.clusters)
        return order.index(cluster) if cluster in order else len(order)

    def subsets(self, subsets: Sequence[Subset]) -> list:
        out: list = []
        run: list[Subset] = []

        def flush() -> None:
            if run:
                key = run[0].labels[0][0]
                written = "cluster" if key == CLUSTER_LABEL else key
                out.append(s.SubsetsBy(_HERE, W(written), tuple(W(x.name) for x in run)))
                run.clear()

        for sub in subsets:
            if self._by_key(sub):
                if run and run[0].labels[0][0] != sub.labels[0][0]:
                    flush()
                run.append(sub)
                continue
            flush()
            out.append(self.subset(sub))
        flush()
        return out

    def _by_key(self, sub: Subset) -> bool:
        """Whether `subsets by KEY` can declare the subset."""
        if len(sub.labels) != 1 or sub.name in val.STATEMENT_WORDS:
            return False
        key, value = sub.labels[0]
        if key == CLUSTER_LABEL:
            return value == sub.name and value in self.clusters
        return value == sub.name and key != "cluster" and bool(val.LABEL_KEY.fullmatch(key))

    def subset(self, sub: Subset) -> s.Subset:
        body: list = []
        for key, value in sub.labels:
            if key == CLUSTER_LABEL and value in self.clusters:
                body.append(s.SubsetCluster(_HERE, W(value)))
            else:
                body.append(s.Label(_HERE, W(key), Q(value)))
        body += self.policy(sub.policy or ())
        return s.Subset(_HERE, W(sub.name), tuple(body))

    def subset_policy(self, sub: Subset) -> s.Subset:
        return s.Subset(_HERE, W(sub.name), tuple(self.policy(sub.policy)))

    def expose(self, e: Expose) -> s.Expose:
        return s.Expose(_HERE, W(e.gateway), W(e.host), W(e.port) if e.port is not None else None,
                        self.condition(e.matches) if e.matches else None)

    # -------------------------------------------------------------- routes
    def route(self, route, own: tuple[str, str], overrides: dict[str, Settings]) -> s.Route:
        body: list = []
        if route.matches:
            body.append(s.When(_HERE, self.condition(route.matches)))
        action = route.action
        if isinstance(action, Forward):
            body.append(s.Forward(_HERE, tuple(
                s.Destination(_HERE, self.target(d.target, own), W(f"{d.weight}%") if d.weight is not None else None)
                for d in action.dests)))
        elif isinstance(action, BlueGreen):
            body.append(s.BlueGreen(_HERE, W(action.active), W(action.preview)))
        elif isinstance(action, Waves):
            body.append(s.Canary(_HERE, W(action.baseline), W(action.candidate),
                                 tuple(W(f"{p}%") for p in action.steps), None, (), (), tuple(
                                     s.Wave(_HERE, tuple(W(c) for c in clusters),
                                            W(after) if after is not None else None, W(at) if at else None)
                                     for clusters, after, at in action.waves)))
        body += [self.mirror(m, own) for m in route.mirrors]
        body += self.options(route.options)
        for cluster in sorted(overrides, key=self._cluster_order):
            body.append(s.Override(_HERE, W(cluster), tuple(self.options(overrides[cluster]))))
        return s.Route(_HERE, W(route.name), tuple(body))

    def target(self, t: Target, own: tuple[str, str]):
        if (t.namespace, t.service) == own and t.subset is not None and t.port is None:
            return s.SubsetRef(_HERE, W(t.subset))
        return s.ServiceRef(_HERE, W(t.service), W(t.namespace) if t.namespace != own[0] else None,
                            W(t.subset) if t.subset else None, W(t.port) if t.port is not None else None)

    def mirror(self, m: Mirror, own: tuple[str, str]) -> s.Mirror:
        return s.Mirror(_HERE, self.target(m.target, own), W(f"{m.percent}%") if m.percent is not None else None)

    def condition(self, matches: Sequence[Match]) -> s.Disjunction:
        return s.Disjunction(_HERE, tuple(s.Conjunction(_HERE, tuple(self.cond(c) for c in m)) for m in matches))

    def cond(self, c: Cond):
        if c.kind == "header":
            return s.HeaderMatch(_HERE, W(c.name), _OPS[c.op], Q(c.value))
        if c.kind == "header-absent":
            return s.HeaderAbsent(_HERE, W(c.name))
        if c.kind == "cookie":
            return s.CookieMatch(_HERE, W(c.name), Q(c.value))
        if c.kind == "path":
            return s.PathMatch(_HERE, _OPS[c.op], Q(c.value))
        if c.kind == "method":
            return s.MethodMatch(_HERE, W(c.value))
        if c.kind == "query":
            return s.QueryMatch(_HERE, W(c.name), _OPS[c.op], Q(c.value))
        if c.kind == "port":
            return s.PortMatch(_HERE, W(c.value))
        if c.kind == "source-namespace":
            return s.SourceNamespace(_HERE, W(c.value))
        if c.name == CLUSTER_LABEL and c.value in self.clusters:
            return s.SourceCluster(_HERE, W(c.value))
        return s.SourceLabel(_HERE, W(c.name), Q(c.value))

    # ------------------------------------------------------------- options
    @staticmethod
    def options(settings: Settings) -> list:
        o = dict(settings)
        out: list = []
        if "timeout" in o:
            out.append(s.Timeout(_HERE, W(val.duration_text(o["timeout"]))))
        if "retry" in o:
            attempts, per_try, on = o["retry"]
            if attempts == 0:
                out.append(s.RetryOff(_HERE))
            else:
                out.append(s.Retry(_HERE, W(attempts), W(val.duration_text(per_try)) if per_try else None,
                                   tuple(W(x) for x in on)))
        if "delay" in o:
            ms, share = o["delay"]
            out.append(s.FaultDelay(_HERE, W(val.duration_text(ms)), W(f"{share}%")))
        if "abort" in o:
            status, share = o["abort"]
            out.append(s.FaultAbort(_HERE, W(status), W(f"{share}%")))
        if "rewrite" in o:
            out.append(s.Rewrite(_HERE, Q(o["rewrite"])))
        if "cors" in o:
            cors = _cors(o["cors"])
            if cors is not None:
                out.append(cors)
        return out

    def policy(self, settings: Settings) -> list:
        p = dict(settings)
        out: list = []
        breaker: list = [s.BreakerSetting(_HERE, k, W(val.duration_text(p[k]) if k.endswith("timeout") else p[k]))
                         for k in BREAKER_ORDER if k in p]
        if "eject.consecutive" in p:
            breaker.append(s.Eject(
                _HERE, W(p["eject.consecutive"]), W(p["eject.errors"]),
                W(val.duration_text(p["eject.interval"])) if "eject.interval" in p else None,
                W(val.duration_text(p["eject.base-time"])) if "eject.base-time" in p else None,
                W(f"{p['eject.max']}%") if "eject.max" in p else None))
        if breaker:
            out.append(s.CircuitBreaker(_HERE, tuple(breaker)))
        lb = p.get("lb")
        if lb is not None and lb[0] == "simple":
            out.append(s.LbSimple(_HERE, W(lb[1])))
        elif lb is not None:
            _, on, name, ttl = lb
            out.append(s.LbHash(_HERE, on, W(name) if name else None,
                                W(val.duration_text(ttl)) if ttl else None))
        if "tls" in p:
            out.append(s.Tls(_HERE, W(p["tls"])))
        if "failover" in p:
            out.append(s.Failover(_HERE, tuple(s.FailoverPair(_HERE, W(a), W(b)) for a, b in p["failover"])))
        if "failover-priority" in p:
            out.append(s.FailoverPriority(_HERE, tuple(
                s.PriorityLabel(_HERE, W(k), None if v is None else (W(v) if val.NAME.fullmatch(v) else Q(v)))
                for k, v in p["failover-priority"])))
        for source, targets in p.get("distribute", ()):
            out.append(s.Distribute(_HERE, W(source), tuple(
                s.LocalityWeight(_HERE, W(loc), W(f"{pct}%")) for loc, pct in targets)))
        return out


def _cors(value: tuple) -> Optional[s.Cors]:
    origins, methods, headers, expose, max_age, credentials = value
    parts = []
    if origins:
        parts.append(s.CorsPart(_HERE, "origins", tuple(Q(o) for o in origins)))
    if methods:
        parts.append(s.CorsPart(_HERE, "methods", tuple(W(m) for m in methods)))
    if headers:
        parts.append(s.CorsPart(_HERE, "headers", tuple(W(h) for h in headers)))
    if expose:
        parts.append(s.CorsPart(_HERE, "expose-headers", tuple(W(h) for h in expose)))
    if max_age:
        parts.append(s.CorsPart(_HERE, "max-age", (W(val.duration_text(max_age)),)))
    if credentials:
        parts.append(s.CorsPart(_HERE, "credentials", ()))
    return s.Cors(_HERE, tuple(parts)) if parts else None


def write_fleet(name: str, clusters: Iterable[str], notes: dict[str, str]) -> s.Fleet:
    """A fleet of the given cluster names, for an import without `--fleet`."""
    return s.Fleet(_HERE, W(name), tuple(s.Cluster(_HERE, W(c), ()) for c in clusters))
