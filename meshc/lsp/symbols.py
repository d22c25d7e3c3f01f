"""Where each name of a policy is declared and where it is used, read from
the syntax trees (so navigation works while the policy has semantic errors).

A symbol's key says what it names, scope included: `("subset", NS, SERVICE,
NAME)`, `("service", NS, NAME)`, `("route", NS, SERVICE, NAME)` (for a
route of a gateway's `host` block, `("route", NS, VIRTUALSERVICE, NAME)`
with the name of the gateway VirtualService it renders into),
`("gateway", NAME)`, `("cluster", NAME)`, `("region", NAME)`,
`("namespace", NAME)`, `("test", NAME)`. Occurrences with one key are the same thing, in
whichever file of the policy they are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from meshc.backends.documents import slug
from meshc.language import syntax as s
from meshc.language.source import Span


@dataclass(frozen=True)
class Symbol:
    key: tuple[str, ...]
    span: Span
    declaration: bool

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def name(self) -> str:
        return self.key[-1]


def occurrences(tree: s.File) -> list[Symbol]:
    """Every declaration of and reference to a name in one file, in order."""
    return list(_File().walk(tree))


def at(symbols: Iterable[Symbol], path: str, offset: int) -> Optional[Symbol]:
    """The occurrence under a cursor: the name it is in or just after."""
    for symbol in symbols:
        if symbol.span.file == path and symbol.span.start <= offset <= symbol.span.end:
            return symbol
    return None


class _File:
    """A walk over one file's syntax tree; `ns` and `svc` are the namespace
    and service being walked."""

    ns = ""
    svc = ""

    def walk(self, tree: s.File) -> Iterator[Symbol]:
        for item in tree.items:
            if isinstance(item, s.Fleet):
                yield from self.fleet(item)
            elif isinstance(item, s.PolicyTest):
                yield from self.test(item)
            else:
                yield from self.namespace(item)

    def fleet(self, fleet: s.Fleet) -> Iterator[Symbol]:
        for cluster in fleet.body:
            if not isinstance(cluster, s.Cluster):
                continue
            yield _decl(("cluster", cluster.name.text), cluster.name)
            for attr in cluster.attrs:
                if attr.key == "region":
                    yield _decl(("region", attr.value.text), attr.value)
                elif attr.key == "remote":  # `remote of PRIMARY`
                    yield _ref(("cluster", attr.value.text), attr.value)

    def namespace(self, ns: s.Namespace) -> Iterator[Symbol]:
        self.ns = ns.name.text
        yield _decl(("namespace", self.ns), ns.name)
        for stmt in ns.body:
            if isinstance(stmt, s.Service):
                yield from self.service(stmt)
            elif isinstance(stmt, s.Gateway):
                yield _decl(("gateway", stmt.name.text), stmt.name)
                for block in stmt.body:
                    if isinstance(block, s.GatewayHost):
                        yield from self.gateway_host(stmt, block)
            elif isinstance(stmt, s.Mtls) and stmt.workload is not None:
                yield _ref(("service", self.ns, stmt.workload.text), stmt.workload)
            elif isinstance(stmt, s.Allow):
                yield _ref(("service", self.ns, stmt.workload.text), stmt.workload)
                if stmt.source is not None and stmt.source.kind == "namespace":
                    for word in stmt.source.values:
                        yield _ref(("namespace", word.text), word)
            elif isinstance(stmt, s.Defaults):
                yield from self.policy(stmt.body)

    def service(self, svc: s.Service) -> Iterator[Symbol]:
        self.svc = svc.name.text
        yield _decl(("service", self.ns, self.svc), svc.name)
        for stmt in svc.body:
            if isinstance(stmt, s.SubsetsBy):
                for word in stmt.names:
                    yield _decl(self.subset_key(word), word)
            elif isinstance(stmt, s.Subset):
                yield _decl(self.subset_key(stmt.name), stmt.name)
                for part in stmt.body:
                    if isinstance(part, s.SubsetCluster):  # `in CLUSTER`
                        yield _ref(("cluster", part.cluster.text), part.cluster)
                yield from self.policy(stmt.body)
            elif isinstance(stmt, s.Route):
                yield from self.route(stmt)
            elif isinstance(stmt, s.Expose):
                yield _ref(("gateway", stmt.gateway.text), stmt.gateway)
                yield from self.condition(stmt.condition)
            elif isinstance(stmt, s.Placement):
                for word in stmt.clusters:
                    yield _ref(("cluster", word.text), word)
            elif isinstance(stmt, s.Override):
                yield _ref(("cluster", stmt.cluster.text), stmt.cluster)
                yield from self.policy(stmt.body)
            elif isinstance(stmt, s.Port):
                yield from self.policy(stmt.policy or ())
            else:
                yield from self.policy((stmt,))

    def gateway_host(self, gateway: s.Gateway, block: s.GatewayHost) -> Iterator[Symbol]:
        """Its routes belong to the gateway's VirtualService of the host;
        their targets are in the gateway's namespace unless they say `in`."""
        self.svc = f"{gateway.name.text}-{slug(block.host.text)}"
        for stmt in block.body:
            if isinstance(stmt, s.Route):
                yield from self.route(stmt)

    def route(self, route: s.Route) -> Iterator[Symbol]:
        yield _decl(("route", self.ns, self.svc, route.name.text), route.name)
        for stmt in route.body:
            if isinstance(stmt, s.When):
                yield from self.condition(stmt.condition)
            elif isinstance(stmt, (s.Forward, s.Mirror)):
                yield from self.targets(stmt)
            elif isinstance(stmt, s.Canary):
                yield _ref(self.subset_key(stmt.baseline), stmt.baseline)
                yield _ref(self.subset_key(stmt.candidate), stmt.candidate)
                for wave in stmt.waves:
                    for cluster in wave.clusters:
                        yield _ref(("cluster", cluster.text), cluster)
            elif isinstance(stmt, s.BlueGreen):
                yield _ref(self.subset_key(stmt.active), stmt.active)
                yield _ref(self.subset_key(stmt.preview), stmt.preview)
            elif isinstance(stmt, s.Override):
                yield _ref(("cluster", stmt.cluster.text), stmt.cluster)

    def targets(self, stmt) -> Iterator[Symbol]:
        """The targets of `to ...` or `mirror ...`."""
        if isinstance(stmt, s.Forward):
            for dest in stmt.destinations:
                yield from self.target(dest.target)
        elif isinstance(stmt, s.Mirror):
            yield from self.target(stmt.target)

    def target(self, target: s.Target) -> Iterator[Symbol]:
        if isinstance(target, s.SubsetRef):
            yield _ref(self.subset_key(target.name), target.name)
            return
        ns = target.namespace.text if target.namespace else self.ns
        yield _ref(("service", ns, target.name.text), target.name)
        if target.namespace is not None:
            yield _ref(("namespace", ns), target.namespace)
        if target.subset is not None:
            yield _ref(("subset", ns, target.name.text, target.subset.text), target.subset)

    def condition(self, condition: Optional[s.Disjunction]) -> Iterator[Symbol]:
        for conjunction in condition.alternatives if condition else ():
            for cond in conjunction.conditions:
                if isinstance(cond, s.SourceNamespace):
                    yield _ref(("namespace", cond.namespace.text), cond.namespace)
                elif isinstance(cond, s.SourceCluster):
                    yield _ref(("cluster", cond.cluster.text), cond.cluster)

    def policy(self, stmts) -> Iterator[Symbol]:
        for stmt in stmts:
            if isinstance(stmt, s.Failover):
                for pair in stmt.pairs:
                    yield _ref(("region", pair.source.text), pair.source)
                    yield _ref(("region", pair.target.text), pair.target)
            elif isinstance(stmt, s.FailoverPriority):
                for label in stmt.labels:  # `cluster=NAME`, `region=NAME` pin one
                    if label.value is not None and label.key.text in ("cluster", "region"):
                        yield _ref((label.key.text, label.value.text), label.value)

    def test(self, test: s.PolicyTest) -> Iterator[Symbol]:
        """A test's names; its bare subsets and routes are the service's
        its requests name, when they name one (`request service X in NS`)."""
        yield _decl(("test", test.name.text), test.name)
        requests = [stmt for stmt in test.body if isinstance(stmt, s.PolicyRequest)]
        named = {(r.target.namespace.text, r.target.name.text) for r in requests
                 if isinstance(r.target, s.RequestService) and r.target.namespace is not None}
        self.ns, self.svc = next(iter(named)) if len(named) == 1 else ("", "")
        for stmt in test.body:
            if isinstance(stmt, s.PolicyRequest):
                yield from self.request(stmt)
            elif isinstance(stmt, s.Down):
                yield from (_ref(("cluster", w.text), w) for w in stmt.clusters)
            elif isinstance(stmt, s.Expect):
                yield from self.expectation(stmt.what)

    def request(self, request: s.PolicyRequest) -> Iterator[Symbol]:
        target = request.target
        if isinstance(target, s.RequestService) and target.namespace is not None:
            yield _ref(("service", target.namespace.text, target.name.text), target.name)
            yield _ref(("namespace", target.namespace.text), target.namespace)
        elif isinstance(target, s.RequestHost) and target.gateway is not None:
            yield _ref(("gateway", target.gateway.text), target.gateway)
        if request.attributes is not None:
            yield from self.condition(s.Disjunction(request.attributes.span, (request.attributes,)))

    def expectation(self, what) -> Iterator[Symbol]:
        if isinstance(what, s.ExpectServed):
            yield from (_ref(("cluster", w.text), w) for w in what.clusters)
            return
        if not self.svc:
            return
        if isinstance(what, s.ExpectRoute):
            yield _ref(("route", self.ns, self.svc, what.route.text), what.route)
        else:
            yield from self.targets(what)

    def subset_key(self, word: s.Word) -> tuple[str, ...]:
        return ("subset", self.ns, self.svc, word.text)


def _decl(key: tuple[str, ...], word: s.Word) -> Symbol:
    return Symbol(key, word.span, True)


def _ref(key: tuple[str, ...], word: s.Word) -> Symbol:
    return Symbol(key, word.span, False)
