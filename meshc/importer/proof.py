"""The proof: the written policy, compiled and rendered, against the input.

1. The files must compile cleanly (`meshc check` accepts them) and be in
   fmt's layout; otherwise MESH852.
2. Per cluster, the rendered documents and the input's are put in a normal
   form (normalise.py) and compared. For the kinds the route evaluator does
   not read (Gateway, ServiceEntry, PeerAuthentication, AuthorizationPolicy,
   Service stubs) a difference is MESH851, unless the loss report already
   names that input resource.
3. Per cluster, in every case, the evaluator of rendered Istio
   (meshc/semantics/evaluate) reads both sides, with the same registry of
   services, and routes a grid of requests: the grid of the input's matches
   (grid.py) and the grid of the imported policy's (semantics/grid.py).
   Decisions are compared but for the names of the VirtualService and the
   entry that took the request. A request routed differently is MESH850, at
   the input entry that took it (one per entry, with one example request).
   When both sides give the evaluator the same resources (kind, namespace,
   name, creation time and spec equal as data: meshc's own output imported
   back), they are one evaluation: each request is routed once, and alike
   on both sides by construction.

A remote cluster's callers are routed by its primary's configuration, on
both sides. Clusters whose inputs and renders are the same objects, and
whose configuration never tests the caller's cluster, route alike: they are
evaluated once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence

from meshc.diagnostics import Diagnostic, Label, sanitize
from meshc.diagnostics.codes import diagnostic
from meshc.importer.grid import input_requests
from meshc.importer.hosts import fqdn
from meshc.importer.ledger import Ledger
from meshc.importer.normalise import ROUTING, normal_forms
from meshc.importer.resources import Resource, category
from meshc.language.ir import CLUSTER_LABEL
from meshc.language import ir
from meshc.language import syntax as s
from meshc.language.source import SourceFile, Span
from meshc.language.strings import suspect
from meshc.pipeline import Compiled, compile_sources
from meshc.semantics.decision import Decision
from meshc.semantics.request import Request


@dataclass
class Proof:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    compiled: Optional[Compiled] = None
    clusters: int = 0
    requests: int = 0
    differing: int = 0
    documents: int = 0
    alike: int = 0

    @property
    def complete(self) -> bool:
        return self.compiled is not None and self.compiled.ok


def prove(files: dict[str, str], trees: dict[str, s.File], directory: str, inputs: dict[str, list[Resource]],
          primaries: dict[str, str], istio: dict[str, str], ledger: Ledger, default_namespace: str) -> Proof:
    """`files` as written into `directory` (shown as given), printed from
    `trees`; `inputs` the resources of each cluster, `primaries` each
    cluster's primary, `istio` each cluster's Istio release.

    The policy is compiled from the trees the files were printed from
    (fmt's printer is faithful: tests/importer check that every file they
    import parses back to its tree), which spares parsing thousands of
    lines again; when something must be located in the files (a compile
    error, a difference found only on the rendered side), they are parsed."""
    from meshc.backends.istio import render
    from meshc.semantics.registry import registry

    proof = Proof()
    sources = [SourceFile(_shown(directory, name), text) for name, text in sorted(files.items())]
    proof.sources = {s.path: s for s in sources}
    by_path = {_shown(directory, name): tree for name, tree in trees.items()}
    compiled = compile_sources(sources, parse_file=lambda source: _tree(source, by_path))
    if not sources:  # nothing could be imported: the empty policy, which renders nothing
        compiled.policy = ir.MeshPolicy(files=())
    elif not compiled.ok:
        compiled = compile_sources(sources)  # again from the text, to say where
    proof.compiled = compiled
    proof.diagnostics += [_not_compiled(d) for d in compiled.diagnostics if d.is_error]
    if not compiled.ok:
        return proof
    default_version = next(iter(istio.values()), "1.30")
    rendering = render(compiled.policy, default_version)
    errors = [d for d in rendering.diagnostics if d.is_error]
    proof.diagnostics += [_not_compiled(d) for d in errors]
    if errors:
        return proof
    located = _Locator(sources, default_version)
    # Clusters whose input and render are alike, and whose configuration
    # never tests the caller's cluster, route alike: one evaluation each.
    alike: dict[tuple, tuple[list[str], tuple]] = {}
    memo: dict[tuple, tuple] = {}  # per document or pair of documents, which clusters share (_same, _forms)
    for cluster, primary in primaries.items():
        found = _latest(inputs.get(primary, []))
        documents = [_with_namespace(r, default_namespace) for r in found]
        rendered = [d.body for d in rendering.clusters.get(primary, [])]
        reg = registry(compiled.policy, cluster)
        ports = {h: tuple(p.number for p in ps) for h, ps in reg.services.items()}
        if primary == cluster:
            _compare_documents(proof, found, documents, rendered, ports, ledger, default_namespace, cluster, memo)
        # (the reader shares one body among clusters whose files hold the
        # same document, as the backend shares rendered documents)
        key = (cluster,) if _tests_cluster(documents + rendered) else (
            tuple(map(id, documents)), tuple(map(id, rendered)), istio[cluster])
        group = alike.setdefault(key, ([], (found, documents, rendered, reg, istio[cluster])))
        group[0].append(cluster)
    for clusters, (found, documents, rendered, reg, version) in alike.values():
        one = _read_alike(documents, rendered, memo)
        served = tuple(c for c, p in primaries.items() if p in {primaries[k] for k in clusters})
        # what another cluster's input says locates what the import took from it
        mine = set(map(id, found))
        elsewhere = [r for c in dict.fromkeys(primaries.values()) for r in inputs.get(c, []) if id(r) not in mine]
        _compare_routing(proof, clusters, served, found, documents, rendered, reg, version, compiled,
                         located, tuple(primaries), default_namespace, found + elsewhere, one)
    proof.clusters = len(primaries)
    proof.diagnostics = sanitize(proof.diagnostics)
    return proof


def _tree(source: SourceFile, printed: dict[str, s.File]) -> tuple:
    """The tree a file was printed from; parsed from its text when it holds
    a string literal the compile checks (an empty one, a control character):
    those checks locate literals by their place in the text, which printed
    trees do not have."""
    if suspect(source.text):
        from meshc.language.parse import parse

        return parse(source)
    return printed[source.path], []


def _shown(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


class _Locator:
    """The rendering of the files parsed from their text, made on first
    use: where in the files an entry of a rendered VirtualService comes from."""

    def __init__(self, sources: list[SourceFile], version: str):
        self.sources = sources
        self.version = version
        self._rendering = None

    def entry(self, decision: Decision) -> Optional[Span]:
        from meshc.backends.istio import render

        if decision.virtual_service is None:
            return None
        if self._rendering is None:
            compiled = compile_sources(self.sources)
            self._rendering = render(compiled.policy, self.version) if compiled.ok else False
        if not self._rendering:
            return None
        ns, _, name = decision.virtual_service.partition("/")
        for docs in self._rendering.clusters.values():
            for doc in docs:
                if doc.kind == "VirtualService" and (doc.namespace, doc.name) == (ns, name):
                    names = [e.get("name") for e in doc.body["spec"].get("http") or ()]
                    if decision.entry in names and len(doc.entry_spans) == len(names):
                        return doc.entry_spans[names.index(decision.entry)]
                    return doc.span
        return None


def _not_compiled(d: Diagnostic) -> Diagnostic:
    return diagnostic("import-not-compiled", f"the imported policy does not compile: {d.code} {d.message}", d.span,
                      labels=d.labels, help="this is a bug in meshc import; fix the file by hand")


def _latest(found: list[Resource]) -> list[Resource]:
    """The resources `kubectl apply` would leave: the last of each name
    among those the API server accepts."""
    last: dict[tuple, Resource] = {}
    for res in found:
        if category(res) != "other" and res.refused is not None:
            continue
        last[(res.group, res.kind, res.namespace, res.name)] = res
    return list(last.values())


def _with_namespace(res: Resource, default: str) -> dict:
    if res.namespace_given or default == "default":
        return res.body
    meta = dict(res.body.get("metadata") or {})
    meta["namespace"] = res.namespace
    return {**res.body, "metadata": meta}


def _tests_cluster(documents: list[dict]) -> bool:
    """Whether a VirtualService tests the caller's cluster (then clusters differ)."""
    for doc in documents:
        spec = doc.get("spec")
        if doc.get("kind") != "VirtualService" or not isinstance(spec, dict):
            continue
        for http in _list(spec.get("http")):
            for m in _list(http.get("match")) if isinstance(http, dict) else ():
                labels = m.get("sourceLabels") if isinstance(m, dict) else None
                if isinstance(labels, dict) and CLUSTER_LABEL in labels:
                    return True
    return False


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


# --------------------------------------------------------------- documents
def _compare_documents(proof: Proof, found: list[Resource], documents: list[dict], rendered: list[dict],
                       ports: dict, ledger: Ledger, default_namespace: str, cluster: str, cache: dict) -> None:
    """Documents equal as written (meshc's own output, imported back) need
    no normal form; the others are compared by what they configure."""
    same = {}
    for doc in rendered:
        meta = doc.get("metadata") or {}
        same[(doc.get("kind"), meta.get("namespace"), meta.get("name"))] = doc
    before, after, by_key = {}, {}, {}
    matched = set()
    known = _known_ports(ports, cache)
    for res, doc in zip(found, documents):
        twin = same.get((res.kind, res.namespace, res.name))
        if twin is not None and _equal(twin, doc, cache):
            proof.documents += 1
            proof.alike += 1
            matched.add(id(twin))
            continue
        for key, form in _forms(doc, default_namespace, ports, known, cache).items():
            before[key] = form
            by_key[key] = res
    for doc in rendered:
        if id(doc) not in matched:
            after.update(_forms(doc, default_namespace, ports, known, cache))
    keys = set(before) | set(after)
    differing = [k for k in keys if not _same(after.get(k), before.get(k), cache)]
    proof.documents += len(keys)
    proof.alike += len(keys) - len(differing)
    for key in sorted(differing, key=repr):
        if key[0] in ROUTING:
            continue
        res = by_key.get(key)
        if res is not None and ledger.has_losses(res):
            continue
        what = f"{key[0]} for {', '.join(map(str, key[1:]))}"
        if key not in after:
            message = f"the imported policy renders no {what} in cluster `{cluster}`"
        elif key not in before:
            message = f"the imported policy renders a {what} the input does not have in cluster `{cluster}`"
        else:
            message = f"the imported policy renders the {what} otherwise than the input in cluster `{cluster}`"
        span = res.span("spec") if res is not None else _anywhere(proof, found)
        proof.diagnostics.append(diagnostic("import-document-differs", message, span))


def _equal(rendered: dict, given: dict, cache: dict) -> bool:
    """Whether a rendered document configures what the input's does as
    written (same spec, same API group)."""
    return _same(rendered.get("spec"), given.get("spec"), cache) and _group(rendered) == _group(given)


def _same(rendered: Any, given: Any, cache: dict) -> bool:
    """`rendered == given`, once per pair of objects (clusters share
    documents, and both comparisons ask). The entry holds both, so that
    neither id is reused while the cache lives."""
    key = ("same", id(rendered), id(given))
    found = cache.get(key)
    if found is None:
        found = cache[key] = (rendered == given, rendered, given)
    return found[0]


def _group(doc: dict) -> str:
    return str(doc.get("apiVersion", "")).rpartition("/")[0]


def _forms(doc: dict, default_namespace: str, ports: dict, known: frozenset, cache: dict) -> dict:
    """A document's normal forms, once per document and registry of ports
    (`known`: `ports` as _known_ports keeps it; clusters share both, and
    the entries hold the document, so that its id is not reused)."""
    key = ("forms", id(doc), id(known))
    found = cache.get(key)
    if found is None:
        found = cache[key] = (normal_forms([doc], default_namespace, ports), doc)
    return found[0]


def _known_ports(ports: dict, cache: dict) -> frozenset:
    """One object per registry of ports, kept by the cache: its id names it."""
    seen = frozenset(ports.items())
    return cache.setdefault(("ports", seen), (seen,))[0]


# ----------------------------------------------------------------- routing
def _compare_routing(proof: Proof, clusters: list[str], served: tuple[str, ...], found: list[Resource],
                     documents: list[dict], rendered: list[dict], reg, istio: str, compiled: Compiled,
                     located: "_Locator", fleet: tuple[str, ...], default_namespace: str,
                     anywhere: list[Resource], one: bool) -> None:
    """Requests from callers in `clusters` (alike; a grid tries callers of
    other clusters too, where a match tests the caller's cluster: only
    those this configuration serves are real). `anywhere`: every cluster's
    input, this one's first, to say where a difference comes from. `one`:
    both sides give the evaluator the same resources."""
    from meshc.semantics.evaluate import Evaluator
    from meshc.semantics.grid import requests_for

    cluster = clusters[0]
    requests = input_requests(documents, reg, cluster, fleet, default_namespace=default_namespace)
    reg = _assumed_ports(reg)
    before = Evaluator(documents, reg, istio=istio)
    after = before if one else Evaluator(rendered, reg, istio=istio)
    requests |= set(requests_for(compiled.policy, cluster))
    requests = {r for r in requests if r.source_cluster is None or r.source_cluster in served}
    proof.requests += len(requests)
    reported: set = set()
    for request in sorted(requests, key=_order):
        a = before.evaluate(request)
        b = a if after is before else after.evaluate(request)
        if a == b or _comparable(a) == _comparable(b):
            continue
        proof.differing += 1
        where, key = _input_entry(before, request, a, found)
        if _policies_only(a, b):
            where = _policy_rule(a, b, anywhere, default_namespace) or where
            # once per rule and change, not per subset or route taking it
            key = (where, frozenset(tuple(changed) for _, changed in _policy_changes(a, b)))
        if where is None:
            where = _where_unrouted(request, anywhere, default_namespace) or located.entry(b) or \
                _anywhere(proof, found)
        if key in reported:
            continue
        reported.add(key)
        proof.diagnostics.append(diagnostic(
            "import-routes-differently",
            f"in cluster{'s' if len(clusters) > 1 else ''} {', '.join(f'`{c}`' for c in clusters)}, "
            f"{describe_request(request)}: {_difference(a, b)}",
            where, help="the loss report says what the import could not carry; or route it by hand"))


def _read_alike(documents: list[dict], rendered: list[dict], cache: dict) -> bool:
    """Whether the evaluator reads the same resources from both sides."""
    from meshc.semantics.evaluate.documents import DocumentError, resources

    def read(side: list[dict]) -> list:
        return sorted(resources(side), key=lambda r: (r.kind, r.namespace, r.name))

    try:
        before, after = read(documents), read(rendered)
    except (DocumentError, AttributeError, TypeError):  # malformed: the evaluator says what it makes of it
        return False
    return len(before) == len(after) and all(
        (a.kind, a.namespace, a.name, a.created) == (b.kind, b.namespace, b.name, b.created)
        and _same(b.spec, a.spec, cache) for a, b in zip(before, after))


def _assumed_ports(reg):
    """A service whose ports neither side says (no Kubernetes Service in
    the input, no `port` in the policy) is given port 80, where the grid
    tries it: with no port, Istio builds no cluster for it, and the
    evaluator would compare no DestinationRule policy."""
    from meshc.semantics.request import Registry, ServicePort

    http = (ServicePort(80, "http"),)
    return Registry({host: ports or http for host, ports in reg.services.items()})


def _anywhere(proof: Proof, found: list[Resource]) -> Span:
    """Where to report what neither side can locate: the first written file,
    else the first input resource."""
    if proof.sources:
        return next(iter(proof.sources.values())).span_at(0)
    return found[0].span() if found else Span("<input>", 1, 1, 1, 1, 0, 0)


def _order(r: Request) -> tuple:
    return (r.gateway or "", r.host, r.port, r.path, r.method, r.headers, r.source_namespace, r.source_labels,
            r.source_cluster or "")


def _comparable(d: Decision) -> Decision:
    """A decision without the names of what took the request; Istio's
    default route and a route doing exactly what it does are alike, and
    so are policies pilot makes the same cluster of."""
    return replace(d, entry=None, virtual_service=None, kind="route" if d.kind == "default" else d.kind,
                   policies=tuple((t, _as_applied(p)) for t, p in d.policies))


def _as_applied(flat: tuple) -> tuple:
    """A flattened policy as pilot applies it
    (pilot/pkg/networking/core/cluster_traffic_policy.go): LEAST_CONN is
    LEAST_REQUEST (`applyLoadBalancer`); `outlierDetection.consecutiveErrors`
    is read by nothing, and an `outlierDetection` without
    `consecutive5xxErrors` leaves Envoy's default, 5 (`applyOutlierDetection`)."""
    out = {k: v for k, v in flat if k != "outlierDetection.consecutiveErrors"}
    if out.get("loadBalancer.simple") == "LEAST_CONN":
        out["loadBalancer.simple"] = "LEAST_REQUEST"
    if any(k.startswith("outlierDetection.") for k, _ in flat):
        out.setdefault("outlierDetection.consecutive5xxErrors", 5)
    return tuple(sorted(out.items()))


def _input_entry(evaluator, request: Request, decision: Decision, found: list[Resource]) -> tuple[Optional[Span], Any]:
    """The input `http` entry that took the request, when one did."""
    if decision.virtual_service is None:
        return None, (decision.kind, decision.status, request.host, request.port, request.gateway)
    ns, _, name = decision.virtual_service.partition("/")
    res = next((r for r in found if r.kind == "VirtualService" and r.namespace == ns and r.name == name), None)
    if res is None:
        return None, decision.virtual_service
    missed = {(m.entry, m.match) for m in evaluator.explain(request).misses if m.virtual_service == decision.virtual_service}
    for i, http in enumerate(res.spec.get("http") or ()):
        matches = http.get("match") if isinstance(http, dict) else None
        for j in (range(len(matches)) if isinstance(matches, list) and matches else [None]):
            if (i, j) not in missed:
                return res.span("spec", "http", i), (decision.virtual_service, i)
    return res.span("metadata", "name"), decision.virtual_service


def _where_unrouted(request: Request, found: list[Resource], default_namespace: str) -> Optional[Span]:
    """A VirtualService of the input for the request's host that did not
    take it (its `exportTo` hides it from the caller's namespace, or it is
    bound to gateways only): where the imported route comes from; at a
    gateway, else, the gateway's servers."""
    for res in found:
        hosts = res.spec.get("hosts") if res.kind == "VirtualService" else None
        if isinstance(hosts, list) and any(
                isinstance(h, str) and fqdn(h, res.namespace or default_namespace) == request.host for h in hosts):
            return res.span("spec", "exportTo") if "exportTo" in res.spec else res.span("metadata", "name")
    if request.gateway is not None:  # a request no VirtualService took at a gateway: the gateway's servers
        ns, _, name = request.gateway.partition("/")
        gateway = next((r for r in found if r.kind == "Gateway" and (r.namespace, r.name) == (ns, name)), None)
        if gateway is not None:
            return gateway.span("spec", "servers")
    return None


def describe_request(r: Request) -> str:
    text = f"{r.method} {r.host}:{r.port}{r.path}"
    if r.gateway:
        text += f" at gateway {r.gateway}"
    extras = [f"{k}: {v}" for k, v in r.headers]
    if r.source_labels:
        extras.append("from a workload labelled " + ", ".join(f"{k}={v}" for k, v in r.source_labels))
    if r.gateway is None and r.source_namespace != "default":
        extras.append(f"from namespace {r.source_namespace}")
    return text + (f" ({'; '.join(extras)})" if extras else "")


def _difference(a: Decision, b: Decision) -> str:
    ca, cb = _comparable(a), _comparable(b)
    fields = [f for f in ("kind", "status", "destinations", "timeout_ms", "retries", "fault", "mirrors", "rewrite",
                          "cors", "policies") if getattr(ca, f) != getattr(cb, f)]
    if "kind" in fields or "status" in fields or "destinations" in fields:
        return f"the input {describe(a)}; the imported policy {describe(b)}"
    parts = [_policy_text(a, b) if f == "policies" else
             f"{f.replace('_ms', '')} {_value(f, getattr(a, f))} in the input, {_value(f, getattr(b, f))} imported"
             for f in fields]
    return f"both send it to {_shares(b)}; " + "; ".join(parts)


def _policies_only(a: Decision, b: Decision) -> bool:
    return replace(_comparable(a), policies=()) == replace(_comparable(b), policies=())


def _policy_rule(a: Decision, b: Decision, found: list[Resource], default_namespace: str) -> Optional[Span]:
    """The input DestinationRule of the first destination whose policy
    differs (the policy, not the route, is what changed)."""
    for target, _ in _policy_changes(a, b):
        for res in found:
            if res.kind == "DestinationRule" and isinstance(res.spec.get("host"), str) and fqdn(
                    res.spec["host"], res.namespace or default_namespace) == target.host:
                return res.span("spec", "trafficPolicy") if "trafficPolicy" in res.spec else res.span("spec", "host")
    return None


def _policy_changes(a: Decision, b: Decision) -> list[tuple[Any, list[tuple[str, Any, Any]]]]:
    """(target, [(setting, the input's value, the import's)]) for each
    destination whose policy differs."""
    before, after = dict(_comparable(a).policies), dict(_comparable(b).policies)
    out = []
    for target in dict.fromkeys([*before, *after]):
        mine, theirs = dict(before.get(target, ())), dict(after.get(target, ()))
        changed = [(k, mine.get(k), theirs.get(k)) for k in sorted(mine.keys() | theirs.keys())
                   if mine.get(k) != theirs.get(k)]
        if changed:
            out.append((target, changed))
    return out


def _policy_text(a: Decision, b: Decision) -> str:
    return "; ".join(f"{_target(t)}'s policy has " + ", ".join(
        f"{k} {'none' if x is None else x} in the input, {'none' if y is None else y} imported" for k, x, y in changed)
        for t, changed in _policy_changes(a, b))


def describe(d: Decision) -> str:
    if d.kind == "respond":
        return f"answers {d.status}" if d.status is not None else "gives no HTTP answer"
    if d.kind == "redirect":
        return f"redirects ({d.status})"
    how = "takes Istio's default route to" if d.kind == "default" else "routes it to"
    return f"{how} {_shares(d)}"


def _shares(d: Decision) -> str:
    return ", ".join(f"{_target(s.target)} {float(s.share) * 100:g}%" for s in d.destinations)


def _target(t) -> str:
    text = t.host + (f" subset {t.subset}" if t.subset else "")
    return text + (f" port {t.port}" if t.port else "")


def _value(field: str, value: Any) -> str:
    if value is None or value == ():
        return "none"
    if field == "timeout_ms":
        return f"{value} ms"
    if field == "retries":
        if not value.attempts:
            return "none"
        on = ",".join(value.retry_on + tuple(map(str, value.statuses)))
        return f"{value.attempts} attempt{'s' if value.attempts != 1 else ''}" + (f" on {on}" if on else "")
    if field == "fault":
        parts = [f"delay {value.delay_ms} ms for {float(value.delay_share) * 100:g}%"] if value.delay_ms else []
        if value.abort_status is not None:
            parts.append(f"abort {value.abort_status} for {float(value.abort_share) * 100:g}%")
        return ", ".join(parts) or "none"
    if field == "mirrors":
        return ", ".join(f"{_target(m.target)} {float(m.share) * 100:g}%" for m in value)
    if field == "cors":
        said = [f"{k.replace('_', ' ')} {', '.join(v) if isinstance(v, tuple) else v}"
                for k, v in vars(value).items() if v not in (None, ())]
        return "{" + "; ".join(said) + "}"
    return str(value)
