"""Syntax trees → IR.

Lowering gathers the statements of each block into the fields of its IR node
and converts literal text (`10s`, `90%`, `"..."`) into values. Whatever the
IR cannot hold is reported here: a statement that may appear once appearing
twice, and values the IR types reject (names, regexes, ranges). The whole
policy is validated in one `model_validate` call; its errors come back as
diagnostics at the span of the innermost node they concern.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any, Iterable, Optional, Sequence

from pydantic import ValidationError

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import BY_NAME, diagnostic
from meshc.language import ir
from meshc.language import syntax as s
from meshc.language.source import Span

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_OPS = {"=": "exact", "^=": "prefix", "~": "regex"}


def lower(files: Sequence[s.File]) -> tuple[Optional[ir.MeshPolicy], list[Diagnostic]]:
    """Lower the files of one policy; files are taken in path order, so the
    result does not depend on the order they were given in."""
    lowering = _Lowering()
    data = lowering.policy(sorted(files, key=lambda f: f.path))
    if lowering.diagnostics:
        return None, lowering.diagnostics
    try:
        return ir.MeshPolicy.model_validate(data), []
    except ValidationError as err:
        # One value can fail twice (a subset named in `subsets by` is its
        # name and its label value): report each place once.
        found = {}
        for e in err.errors(include_url=False):
            d = _validation_diagnostic(data, e)
            found.setdefault(d.span, d)
        return None, list(found.values())


# ----------------------------------------------------------- literals
def string(word: s.Word) -> str:
    """A string literal's value: `\\"` and `\\\\` are the only escapes, so
    regexes such as `"\\d+"` reach RE2 as written."""
    body = word.text[1:-1]
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def duration_ms(text: str) -> float:
    """Milliseconds, computed in decimal so that `1.001s` is exactly 1001."""
    unit = "ms" if text.endswith("ms") else text[-1]
    return float(Decimal(text[: -len(unit)]) * _UNITS_MS[unit])


def percent(text: str) -> float:
    return float(text[:-1])


def _value(word: s.Word) -> str:
    return string(word) if word.text.startswith('"') else word.text


def _name(word: s.Word) -> dict:
    return {"span": word.span, "value": word.text}


def _duration(word: Optional[s.Word]) -> Optional[dict]:
    return None if word is None else {"span": word.span, "ms": duration_ms(word.text)}


def _percent(word: Optional[s.Word]) -> Optional[dict]:
    return None if word is None else {"span": word.span, "value": percent(word.text)}


def _label(span: Span, key: s.Word, value: s.Word) -> dict:
    return {"span": span, "key": key.text, "value": _value(value)}


class _Lowering:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    # ------------------------------------------------------- once-only
    def _once(self, seen: dict, key: str, node: Any, what: str, where: str) -> bool:
        """Record `node` as the one `key` statement of a block; report a repeat."""
        if key in seen:
            self.diagnostics.append(diagnostic(
                "duplicate-setting",
                f"{what} is set twice in {where}",
                node.span,
                labels=[Label(seen[key].span, "first set here")],
                help="keep one of them",
            ))
            return False
        seen[key] = node
        return True

    # --------------------------------------------------------- top level
    def policy(self, files: Sequence[s.File]) -> dict:
        fleet = None
        namespaces: dict[str, list[s.Namespace]] = defaultdict(list)
        tests = []
        for file in files:
            for item in file.items:
                if isinstance(item, s.PolicyTest):
                    tests.append(self.policy_test(item))
                elif isinstance(item, s.Fleet):
                    if fleet is not None:
                        self.diagnostics.append(diagnostic(
                            "duplicate-name", "a policy has one fleet; this is a second",
                            item.span, labels=[Label(fleet.span, "the first fleet")],
                            help="list every cluster in one `fleet` block"))
                        continue
                    fleet = item
                else:
                    namespaces[item.name.text].append(item)
        return {
            "files": tuple(f.path for f in files),
            "fleet": None if fleet is None else self.fleet(fleet),
            "namespaces": tuple(self.namespace(blocks) for blocks in namespaces.values()),
            "tests": tuple(tests),
        }

    def fleet(self, node: s.Fleet) -> dict:
        clusters = []
        seen_fleet: dict = {}
        for c in node.body:
            if isinstance(c, s.DnsProxying):
                self._once(seen_fleet, "dns-proxying", c, "`dns-proxying`", f"fleet `{node.name.text}`")
                continue
            if isinstance(c, s.ClusterLabel):
                self._once(seen_fleet, "cluster-label", c, "`cluster-label`", f"fleet `{node.name.text}`")
                continue
            seen: dict = {}
            fields: dict = {"span": c.span, "name": _name(c.name)}
            for attr in c.attrs:
                what = "`remote of`" if attr.key == "remote" else f"`{attr.key}`"
                if self._once(seen, attr.key, attr, what, f"cluster `{c.name.text}`"):
                    is_name = attr.key in ("region", "zone", "network", "remote")
                    field = "remote_of" if attr.key == "remote" else attr.key
                    fields[field] = _name(attr.value) if is_name else attr.value.text
            clusters.append(fields)
        label = seen_fleet.get("cluster-label")
        return {"span": node.span, "name": _name(node.name), "clusters": tuple(clusters),
                "dns_proxying": "dns-proxying" in seen_fleet,
                "cluster_label": label and {"span": label.name.span, "name": label.name.text}}

    def namespace(self, blocks: list[s.Namespace]) -> dict:
        first = blocks[0]
        out: dict = {"span": first.span, "name": _name(first.name)}
        mtls, allows, services, gateways, externals = [], [], [], [], []
        seen: dict = {}
        for block in blocks:
            for stmt in block.body:
                if isinstance(stmt, s.Mtls):
                    mtls.append({"span": stmt.span, "mode": stmt.mode.text,
                                 "workload": stmt.workload and _name(stmt.workload)})
                elif isinstance(stmt, s.Allow):
                    allows.append(self.allow(stmt))
                elif isinstance(stmt, s.Defaults):
                    if self._once(seen, "defaults", stmt, "`defaults`", f"namespace `{first.name.text}`"):
                        out["defaults"] = self.policy_block(stmt.span, stmt.body, "`defaults`")
                elif isinstance(stmt, s.Service):
                    services.append(self.service(stmt, first.name.text))
                elif isinstance(stmt, s.Gateway):
                    gateways.append(self.gateway(stmt))
                else:
                    externals.append({
                        "span": stmt.span,
                        "hosts": tuple(h.text for h in stmt.hosts),
                        "ports": tuple({"span": p.span, "number": int(p.number.text), "protocol": p.protocol.text}
                                       for p in stmt.ports),
                    })
        out.update(mtls=tuple(mtls), allows=tuple(allows), services=tuple(services),
                   gateways=tuple(gateways), externals=tuple(externals))
        return out

    def allow(self, node: s.Allow) -> dict:
        out: dict = {"span": node.span, "workload": _name(node.workload)}
        if node.source is not None:
            if node.source.kind == "principal":
                out["principals"] = tuple(string(w) for w in node.source.values)
            else:
                out["namespaces"] = tuple(_name(w) for w in node.source.values)
        if node.to is not None:
            out["methods"] = tuple(w.text for w in node.to.methods)
            out["paths"] = tuple(string(w) for w in node.to.paths)
        return out

    def gateway(self, node: s.Gateway) -> dict:
        out: dict = {"span": node.span, "name": _name(node.name)}
        seen: dict = {}
        servers, selector, host_routes = [], [], []
        where = f"gateway `{node.name.text}`"
        for stmt in node.body:
            if isinstance(stmt, s.GatewayHost):
                host_routes.append(self.gateway_host(stmt))
            elif isinstance(stmt, s.GatewayHosts):
                if self._once(seen, "hosts", stmt, "`hosts`", where):
                    out["hosts"] = tuple(h.text for h in stmt.hosts)
            elif isinstance(stmt, s.GatewayServer):
                default_port = 443 if stmt.protocol == "https" else 80
                servers.append({
                    "span": stmt.span, "protocol": stmt.protocol,
                    "port": int(stmt.port.text) if stmt.port else default_port,
                    "credential": stmt.credential and stmt.credential.text,
                })
            elif isinstance(stmt, s.RedirectHttp):
                servers.append({"span": stmt.span, "protocol": "http", "port": 80, "redirect": True})
            else:
                selector.append(_label(stmt.span, stmt.key, stmt.value))
        out.update(servers=tuple(servers), selector=tuple(selector), host_routes=tuple(host_routes))
        return out

    def gateway_host(self, node: s.GatewayHost) -> dict:
        routes = [self.route(x) for x in node.body if isinstance(x, s.Route)]
        options = [x for x in node.body if not isinstance(x, s.Route)]
        return {"span": node.span, "host": node.host.text, "routes": tuple(routes),
                "options": self.options(node.span, options, f"host `{node.host.text}`")}

    # ----------------------------------------------------------- service
    def service(self, node: s.Service, namespace: str) -> dict:
        where = f"service `{node.name.text}`"
        if node.global_word is not None:
            self.diagnostics.append(diagnostic(
                "global-removed",
                f"`global` is gone: service `{node.name.text}` keeps the name "
                f"`{node.name.text}.{namespace}.svc.cluster.local` in every cluster of the fleet",
                node.global_word.span,
                help="remove `global`; `in CLUSTER...` says which clusters run it (every cluster when left "
                     "out), and callers everywhere reach it through Istio's multi-cluster endpoint discovery",
            ))
        seen: dict = {}
        ports, routes, exposes, overrides, subsets, subset_policies = [], [], [], [], [], []
        options: list = []
        policy: list = []
        placement: tuple = ()
        local = None
        for stmt in node.body:
            if isinstance(stmt, s.Port):
                ports.append({
                    "span": stmt.span, "number": int(stmt.number.text), "protocol": stmt.protocol.text,
                    "name": stmt.name and stmt.name.text,
                    "policy": None if stmt.policy is None else self.policy_block(
                        stmt.span, stmt.policy, f"port {stmt.number.text}"),
                })
            elif isinstance(stmt, s.SubsetsBy):
                # `subsets by cluster` selects Istio's cluster label, not a label `cluster`.
                key = ir.CLUSTER_LABEL if stmt.key.text == "cluster" else stmt.key.text
                subsets.extend({"span": value.span, "name": _name(value),
                                "labels": ({"span": value.span, "key": key, "value": value.text},)}
                               for value in stmt.names)
            elif isinstance(stmt, s.Subset):
                labels = tuple(
                    _label(x.span, x.key, x.value) if isinstance(x, s.Label)
                    else {"span": x.span, "key": ir.CLUSTER_LABEL, "value": x.cluster.text}
                    for x in stmt.body if isinstance(x, (s.Label, s.SubsetCluster)))
                body = [x for x in stmt.body if not isinstance(x, (s.Label, s.SubsetCluster))]
                entry = {"span": stmt.span, "name": _name(stmt.name), "labels": labels,
                         "policy": self.policy_block(stmt.span, body, f"subset `{stmt.name.text}`") if body else None}
                (subsets if labels else subset_policies).append(entry)
            elif isinstance(stmt, s.Route):
                routes.append(self.route(stmt))
            elif isinstance(stmt, s.Expose):
                exposes.append({"span": stmt.span, "gateway": _name(stmt.gateway), "host": stmt.host.text,
                                "port": stmt.port and int(stmt.port.text),
                                "matches": self.matches(stmt.condition)})
            elif isinstance(stmt, s.Placement):
                if self._once(seen, "in", stmt, "`in`", where):
                    placement = tuple(_name(c) for c in stmt.clusters)
            elif isinstance(stmt, s.Local):
                if self._once(seen, "local", stmt, "`local`", where):
                    local = {"span": stmt.span}
            elif isinstance(stmt, s.Override):
                overrides.append(self.override(stmt, allow_policy=True))
            elif isinstance(stmt, _POLICY_TYPES):
                policy.append(stmt)
            else:
                options.append(stmt)
        return {
            "span": node.span,
            "name": _name(node.name),
            "placement": placement,
            "local": local,
            "ports": tuple(ports),
            "subsets": _attach_subset_policies(subsets, subset_policies),
            "options": self.options(node.span, options, where),
            "policy": self.policy_block(node.span, policy, where),
            "routes": tuple(routes),
            "exposes": tuple(exposes),
            "overrides": tuple(overrides),
        }

    def override(self, node: s.Override, allow_policy: bool) -> dict:
        where = f"`on {node.cluster.text}`"
        options = [x for x in node.body if not isinstance(x, _POLICY_TYPES)]
        policy = [x for x in node.body if isinstance(x, _POLICY_TYPES)]
        return {
            "span": node.span,
            "cluster": _name(node.cluster),
            "options": self.options(node.span, options, where),
            "policy": self.policy_block(node.span, policy, where) if allow_policy and policy else None,
        }

    # ------------------------------------------------------------- route
    def route(self, node: s.Route) -> dict:
        where = f"route `{node.name.text}`"
        seen: dict = {}
        out: dict = {"span": node.span, "name": _name(node.name)}
        options, mirrors, overrides = [], [], []
        action_node = None
        for stmt in node.body:
            if isinstance(stmt, s.When):
                if self._once(seen, "when", stmt, "`when`", where):
                    out["matches"] = self.matches(stmt.condition)
            elif isinstance(stmt, (s.Forward, s.Canary, s.BlueGreen)):
                if action_node is not None:
                    self.diagnostics.append(diagnostic(
                        "multiple-actions",
                        f"{where} says twice where its traffic goes",
                        stmt.span,
                        labels=[Label(action_node.span, "first said here")],
                        help="keep one of `to`, `canary` and `blue-green`",
                    ))
                    continue
                action_node = stmt
                out["action"] = self.action(stmt)
            elif isinstance(stmt, s.Mirror):
                mirrors.append({"span": stmt.span, "target": self.target(stmt.target),
                                "percent": _percent(stmt.percent)})
            elif isinstance(stmt, s.Override):
                overrides.append(self.override(stmt, allow_policy=False))
            else:
                options.append(stmt)
        out.update(mirrors=tuple(mirrors), overrides=tuple(overrides),
                   options=self.options(node.span, options, where))
        return out

    def matches(self, node: Optional[s.Disjunction]) -> tuple:
        if node is None:
            return ()
        return tuple(
            {"span": conj.span, "conditions": tuple(self.condition(c) for c in conj.conditions)}
            for conj in node.alternatives
        )

    def condition(self, c) -> dict:
        span = c.span
        if isinstance(c, s.HeaderMatch):
            return {"span": span, "kind": "header", "name": c.name.text,
                    "match": {"op": _OPS[c.op], "value": string(c.value)}}
        if isinstance(c, s.HeaderAbsent):
            return {"span": span, "kind": "header-absent", "name": c.name.text}
        if isinstance(c, s.CookieMatch):
            return {"span": span, "kind": "cookie", "name": c.name.text, "value": string(c.value)}
        if isinstance(c, s.PathMatch):
            return {"span": span, "kind": "path", "match": {"op": _OPS[c.op], "value": string(c.value)}}
        if isinstance(c, s.MethodMatch):
            return {"span": span, "kind": "method", "method": c.method.text}
        if isinstance(c, s.QueryMatch):
            return {"span": span, "kind": "query", "name": c.name.text,
                    "match": {"op": _OPS[c.op], "value": string(c.value)}}
        if isinstance(c, s.PortMatch):
            return {"span": span, "kind": "port", "port": int(c.port.text)}
        if isinstance(c, s.SourceLabel):
            return {"span": span, "kind": "source-label", "label": _label(span, c.key, c.value)}
        if isinstance(c, s.SourceCluster):
            return {"span": span, "kind": "source-cluster", "cluster": _name(c.cluster)}
        return {"span": span, "kind": "source-namespace", "namespace": _name(c.namespace)}

    def target(self, t) -> dict:
        if isinstance(t, s.SubsetRef):
            return {"span": t.span, "kind": "subset", "subset": _name(t.name)}
        return {
            "span": t.span, "kind": "service", "service": _name(t.name),
            "namespace": t.namespace and _name(t.namespace),
            "subset": t.subset and _name(t.subset),
            "port": t.port and int(t.port.text),
        }

    def action(self, stmt) -> dict:
        if isinstance(stmt, s.Forward):
            return {"span": stmt.span, "kind": "forward", "destinations": tuple(
                {"span": d.span, "target": self.target(d.target),
                 "weight": None if d.weight is None or d.weight.text == "rest" else _percent(d.weight),
                 "rest": d.weight is not None and d.weight.text == "rest"}
                for d in stmt.destinations)}
        if isinstance(stmt, s.Canary):
            return {
                "span": stmt.span, "kind": "canary",
                "baseline": _name(stmt.baseline), "candidate": _name(stmt.candidate),
                "steps": tuple(_percent(w) for w in stmt.steps),
                "at": int(stmt.at.text) if stmt.at else 0,
                "at_span": stmt.at.span if stmt.at else None,
                "pauses": tuple(_duration(w) for w in stmt.pauses),
                "gates": tuple(self.gate(g) for g in stmt.gates),
                "waves": tuple({
                    "span": w.span, "clusters": tuple(_name(c) for c in w.clusters),
                    "after": int(w.after.text) if w.after else None, "after_span": w.after.span if w.after else None,
                    "at": int(w.at.text) if w.at else 0, "at_span": w.at.span if w.at else None,
                } for w in stmt.waves),
            }
        return {"span": stmt.span, "kind": "blue-green",
                "active": _name(stmt.active), "preview": _name(stmt.preview)}

    @staticmethod
    def gate(g) -> dict:
        if isinstance(g, s.SuccessRateGate):
            return {"span": g.span, "kind": "success-rate", "minimum": _percent(g.threshold)}
        return {"span": g.span, "kind": "latency", "quantile": g.quantile.text, "maximum": _duration(g.threshold)}

    # ----------------------------------------------------------- options
    def options(self, span: Span, stmts: Iterable, where: str) -> dict:
        out: dict = {"span": span}
        seen: dict = {}
        for stmt in stmts:
            if isinstance(stmt, s.Timeout):
                if self._once(seen, "timeout", stmt, "`timeout`", where):
                    out["timeout"] = _duration(stmt.duration)
            elif isinstance(stmt, (s.Retry, s.RetryOff)):
                if self._once(seen, "retry", stmt, "`retry`", where):
                    out["retry"] = {"span": stmt.span, "attempts": 0} if isinstance(stmt, s.RetryOff) else {
                        "span": stmt.span, "attempts": int(stmt.attempts.text),
                        "per_try": _duration(stmt.per_try), "on": tuple(w.text for w in stmt.on)}
            elif isinstance(stmt, s.FaultDelay):
                if self._once(seen, "delay", stmt, "`fault delay`", where):
                    out["delay"] = {"span": stmt.span, "delay": _duration(stmt.delay),
                                    "percent": _percent(stmt.percent)}
            elif isinstance(stmt, s.FaultAbort):
                if self._once(seen, "abort", stmt, "`fault abort`", where):
                    out["abort"] = {"span": stmt.span, "status": int(stmt.status.text),
                                    "percent": _percent(stmt.percent)}
            elif isinstance(stmt, s.Rewrite):
                if self._once(seen, "rewrite", stmt, "`rewrite`", where):
                    out["rewrite"] = {"span": stmt.span, "path": string(stmt.path)}
            elif isinstance(stmt, s.Cors):
                if self._once(seen, "cors", stmt, "`cors`", where):
                    out["cors"] = self.cors(stmt)
        return out

    def cors(self, node: s.Cors) -> dict:
        out: dict = {"span": node.span}
        seen: dict = {}
        fields = {"origins": "origins", "methods": "methods", "headers": "headers",
                  "expose-headers": "expose_headers"}
        for part in node.parts:
            if not self._once(seen, part.key, part, f"`{part.key}`", "`cors`"):
                continue
            if part.key in fields:
                out[fields[part.key]] = tuple(_value(w) for w in part.values)
            elif part.key == "max-age":
                out["max_age"] = _duration(part.values[0])
            else:
                out["credentials"] = True
        return out

    # ------------------------------------------------------------ policy
    def policy_block(self, span: Span, stmts: Iterable, where: str) -> dict:
        out: dict = {"span": span}
        seen: dict = {}
        distribute = []
        for stmt in stmts:
            if isinstance(stmt, s.CircuitBreaker):
                if self._once(seen, "circuit-breaker", stmt, "`circuit-breaker`", where):
                    out["circuit_breaker"] = self.circuit_breaker(stmt)
            elif isinstance(stmt, (s.LbSimple, s.LbHash)):
                first = seen.get("lb")
                if first is not None and type(first) is not type(stmt):
                    self.diagnostics.append(diagnostic(
                        "conflicting-load-balancers",
                        f"two load-balancer kinds in {where}: `{_lb_text(first)}` and `{_lb_text(stmt)}`",
                        stmt.span,
                        labels=[Label(first.span, "the other kind")],
                        help="Istio takes a simple algorithm or a consistent hash, not both; keep one",
                    ))
                elif self._once(seen, "lb", stmt, "`lb`", where):
                    out["lb"] = self.lb(stmt)
            elif isinstance(stmt, s.Tls):
                if self._once(seen, "tls", stmt, "`tls`", where):
                    out["tls"] = {"span": stmt.span, "mode": stmt.mode.text}
            elif isinstance(stmt, s.Failover):
                if self._once(seen, "failover", stmt, "`failover`", where):
                    out["failover"] = {"span": stmt.span, "pairs": tuple(
                        {"span": p.span, "source": _name(p.source), "target": _name(p.target)} for p in stmt.pairs)}
            elif isinstance(stmt, s.FailoverPriority):
                if self._once(seen, "failover priority", stmt, "`failover priority`", where):
                    out["failover_priority"] = {"span": stmt.span, "labels": tuple(
                        {"span": x.span, "key": ir.TOPOLOGY_LABELS.get(x.key.text, x.key.text),
                         "value": x.value and _value(x.value)} for x in stmt.labels)}
            else:
                distribute.append({"span": stmt.span, "source": stmt.source.text, "targets": tuple(
                    {"span": t.span, "locality": t.locality.text, "percent": _percent(t.percent)}
                    for t in stmt.targets)})
        out["distribute"] = tuple(distribute)
        return out

    def circuit_breaker(self, node: s.CircuitBreaker) -> dict:
        out: dict = {"span": node.span}
        seen: dict = {}
        for setting in node.settings:
            if isinstance(setting, s.Eject):
                if self._once(seen, "eject", setting, "`eject`", "`circuit-breaker`"):
                    out["eject"] = {
                        "span": setting.span, "consecutive": int(setting.count.text), "errors": setting.errors.text,
                        "interval": _duration(setting.interval), "base_time": _duration(setting.base_time),
                        "max_percent": _percent(setting.max_percent),
                    }
            elif self._once(seen, setting.key, setting, f"`{setting.key}`", "`circuit-breaker`"):
                field = setting.key.replace("-", "_")
                text = setting.value.text
                out[field] = _duration(setting.value) if not text.isdigit() else int(text)
        return out

    @staticmethod
    def lb(stmt) -> dict:
        if isinstance(stmt, s.LbSimple):
            return {"span": stmt.span, "kind": "simple", "algorithm": stmt.algorithm.text}
        return {"span": stmt.span, "kind": "hash", "on": stmt.kind,
                "name": stmt.name and stmt.name.text, "ttl": _duration(stmt.ttl)}


    # ------------------------------------------------------------- tests
    def policy_test(self, node: s.PolicyTest) -> dict:
        where = f"test `{node.name.text}`"
        out: dict = {"span": node.span, "name": _name(node.name)}
        seen: dict = {}
        requests, expectations = [], []
        for stmt in node.body:
            if isinstance(stmt, s.PolicyRequest):
                requests.append(self.request(stmt, where))
            elif isinstance(stmt, (s.StepsAt, s.EveryStep)):
                if self._once(seen, "steps", stmt, "the canary steps (`at`, `every step`)", where):
                    out["steps_span"] = stmt.span
                    if isinstance(stmt, s.StepsAt):
                        out["steps"] = tuple(int(w.text) for w in stmt.steps)
                    else:
                        out["every_step"] = True
            elif isinstance(stmt, s.Down):
                if self._once(seen, "down", stmt, "`down`", where):
                    out["down"] = tuple(_name(w) for w in stmt.clusters)
            else:
                found = self.expectation(stmt, seen, where)
                if found is not None:
                    expectations.append(found)
        out.update(requests=tuple(requests), expectations=tuple(expectations))
        return out

    def request(self, node: s.PolicyRequest, where: str) -> dict:
        out: dict = {"span": node.span}
        target = node.target
        if isinstance(target, s.RequestService):
            out.update(service=_name(target.name), namespace=target.namespace and _name(target.namespace))
        else:
            out.update(host=target.host.text, gateway=target.gateway and _name(target.gateway))
        seen: dict = {}
        headers, cookies, query, labels = [], [], [], []
        for c in node.attributes.conditions if node.attributes is not None else ():
            if not self._request_value(c):
                continue
            if isinstance(c, s.HeaderMatch) and self._once(seen, f"header {c.name.text.lower()}", c,
                                                          f"header `{c.name.text}`", "the request"):
                headers.append({"span": c.span, "name": c.name.text, "value": string(c.value)})
            elif isinstance(c, s.CookieMatch) and self._once(seen, f"cookie {c.name.text}", c,
                                                             f"cookie `{c.name.text}`", "the request"):
                cookies.append({"span": c.span, "name": c.name.text, "value": string(c.value)})
            elif isinstance(c, s.QueryMatch) and self._once(seen, f"query {c.name.text}", c,
                                                            f"query parameter `{c.name.text}`", "the request"):
                query.append({"span": c.span, "name": c.name.text, "value": string(c.value)})
            elif isinstance(c, s.SourceLabel) and self._once(seen, f"source {c.key.text}", c,
                                                             f"source label `{c.key.text}`", "the request"):
                labels.append(_label(c.span, c.key, c.value))
            elif isinstance(c, s.PathMatch) and self._once(seen, "path", c, "`path`", "the request"):
                out["path"] = string(c.value)
            elif isinstance(c, s.MethodMatch) and self._once(seen, "method", c, "`method`", "the request"):
                out["method"] = c.method.text
            elif isinstance(c, s.PortMatch) and self._once(seen, "port", c, "`port`", "the request"):
                out["port"] = int(c.port.text)
            elif isinstance(c, s.SourceNamespace) and self._once(seen, "from namespace", c, "`from namespace`",
                                                                 "the request"):
                out["source_namespace"] = _name(c.namespace)
            elif isinstance(c, s.SourceCluster) and self._once(seen, "from cluster", c, "`from cluster`",
                                                               "the request"):
                out["source_cluster"] = _name(c.cluster)
        out.update(headers=tuple(headers), cookies=tuple(cookies), query=tuple(query), source_labels=tuple(labels))
        return out

    def _request_value(self, c) -> bool:
        """Whether a condition of a request's `with` states a value (`=`);
        a match (`^=`, `~`) or `absent` says what a request may be, not
        what this one is."""
        if isinstance(c, s.HeaderAbsent):
            self.diagnostics.append(diagnostic(
                "request-not-a-value", f"`header {c.name.text} absent` does not say what the request sends",
                c.span, help="leave the header out: a request sends only the headers its `with` lists"))
            return False
        op = getattr(c, "op", "=")
        if op != "=":
            self.diagnostics.append(diagnostic(
                "request-not-a-value", f"`{op}` matches values; a request sends one",
                c.span, help="write `=` and the value the request sends"))
            return False
        return True

    def expectation(self, stmt: s.Expect, seen: dict, where: str) -> Optional[dict]:
        what = stmt.what
        key, keyword = _expect_key(what)
        if not self._once(seen, f"expect {key}", stmt, f"`expect {keyword}`", where):
            return None
        span = stmt.span
        if isinstance(what, s.Forward):
            return {"span": span, "kind": "to", "destinations": self.action(what)["destinations"]}
        if isinstance(what, s.ExpectRoute):
            return {"span": span, "kind": "route", "route": _name(what.route)}
        if isinstance(what, s.ExpectStatus):
            return {"span": span, "kind": "status", "status": int(what.status.text)}
        if isinstance(what, s.ExpectServed):
            return {"span": span, "kind": "served", "clusters": tuple(_name(w) for w in what.clusters)}
        if isinstance(what, s.Mirror):
            return {"span": span, "kind": "mirror", "mirror": {
                "span": what.span, "target": self.target(what.target), "percent": _percent(what.percent)}}
        if isinstance(what, _POLICY_TYPES):
            return {"span": span, "kind": "policy", "policy": self.policy_block(span, [what], where)}
        return {"span": span, "kind": "option", "options": self.options(span, [what], where)}


def _expect_key(what) -> tuple[str, str]:
    """What an expectation is about (each at most once per test, mirrors
    aside) and the keyword that says it."""
    if isinstance(what, s.Mirror):
        return f"mirror {id(what)}", "mirror"
    keyword = {s.Forward: "to", s.ExpectRoute: "route", s.ExpectStatus: "status", s.ExpectServed: "served by",
               s.Timeout: "timeout", s.Retry: "retry", s.RetryOff: "retry", s.FaultDelay: "fault delay",
               s.FaultAbort: "fault abort", s.Rewrite: "rewrite", s.Cors: "cors",
               s.CircuitBreaker: "circuit-breaker", s.LbSimple: "lb", s.LbHash: "lb", s.Tls: "tls",
               s.Failover: "failover", s.FailoverPriority: "failover priority",
               s.Distribute: "distribute"}[type(what)]
    return keyword, keyword


def _attach_subset_policies(declared: list[dict], policies: list[dict]) -> tuple:
    """A label-less `subset X { policy }` gives policy to the subset X declared
    with labels (here or by `subsets by`). One that cannot attach (no such
    subset, or it has a policy already) stays an entry of its own, so that
    the name checks report it."""
    by_name = {}
    for entry in declared:
        by_name.setdefault(entry["name"]["value"], entry)
    leftover = []
    for entry in policies:
        target = by_name.get(entry["name"]["value"])
        if target is not None and target.get("policy") is None:
            target["policy"] = entry["policy"]
        else:
            leftover.append(entry)
    return tuple(declared) + tuple(leftover)


_POLICY_TYPES = (s.CircuitBreaker, s.LbSimple, s.LbHash, s.Tls, s.Failover, s.FailoverPriority, s.Distribute)


def _lb_text(stmt) -> str:
    if isinstance(stmt, s.LbSimple):
        return f"lb {stmt.algorithm.text}"
    return f"lb hash {stmt.kind}"


# --------------------------------------------------- validation errors
def _validation_diagnostic(data: dict, error: dict) -> Diagnostic:
    span = _innermost_span(data, error["loc"])
    ctx = error.get("ctx") or {}
    code = BY_NAME.get(error["type"])
    if code is not None:
        return diagnostic(code.name, error["msg"], span, help=ctx.get("help"))
    field = next((str(x) for x in reversed(error["loc"]) if isinstance(x, str)), "value").replace("_", "-")
    bounds = {"greater_than_equal": "at least {ge}", "less_than_equal": "at most {le}",
              "greater_than": "more than {gt}", "less_than": "less than {lt}"}
    if error["type"] in bounds:
        message = f"`{field}` must be " + bounds[error["type"]].format(**ctx)
    else:
        message = f"`{field}`: " + error["msg"][0].lower() + error["msg"][1:]
    return diagnostic("value-out-of-range", message, span)


def _innermost_span(data: Any, loc: tuple) -> Span:
    node, span = data, None
    for key in loc:
        if isinstance(node, dict) and "span" in node and node["span"] is not None:
            span = node["span"]
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, (list, tuple)) and isinstance(key, int) and key < len(node):
            node = node[key]
        elif isinstance(node, dict):
            continue  # a union's tag in the location, not a key of the data
        else:
            break
    if isinstance(node, dict) and node.get("span") is not None:
        span = node["span"]
    if span is None:
        span = Span(data["files"][0] if data.get("files") else "<policy>", 1, 1, 1, 1, 0, 0)
    return span
