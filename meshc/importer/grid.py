"""Requests that exercise an input: a grid built from the matches of its
VirtualServices, as meshc/semantics/grid.py builds one from a policy.

Places: every known service host on each of its ports from a sidecar
(and port 80 of every other host a mesh VirtualService names), with the
match alternatives of the VirtualServices for that host; every server port
of every Gateway with every host it serves or a VirtualService bound to it
names. Match alternatives become the IR conditions the grid reads
(built without validation: a condition the grid cannot use is skipped,
which only makes the grid smaller).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from meshc.importer.hosts import fqdn, gateway_ref
from meshc.language import ir
from meshc.language.source import Span
from meshc.semantics.grid import PER_PLACE, UNSERVED_HOST, place_requests
from meshc.semantics.request import Registry, Request
from meshc.semantics.evaluate.documents import host_matches

_HERE = Span("<input>", 1, 1, 1, 1, 0, 0)
_UNREADABLE = (TypeError, AttributeError, ValueError, KeyError)
_OPS = ("exact", "prefix", "regex")


def input_requests(documents: Iterable[dict], registry: Registry, cluster: str, fleet: tuple[str, ...],
                   per_place: int = PER_PLACE, default_namespace: str = "default") -> set[Request]:
    docs = [d for d in documents if isinstance(d, dict)]
    virtual_services = [d for d in docs if d.get("kind") == "VirtualService" and isinstance(d.get("spec"), dict)]
    out: set[Request] = set()
    mesh_hosts: dict[str, list[tuple]] = {}
    gateway_hosts: dict[str, dict[str, list[tuple]]] = {}
    for vs in virtual_services:
        ns = _namespace(vs, default_namespace)
        spec = vs["spec"]
        try:
            hosts = [fqdn(str(h), ns) for h in spec.get("hosts") or ()]
            gateways = [gateway_ref(str(g), ns) for g in spec.get("gateways") or ()] or ["mesh"]
            alts = [alt for http in spec.get("http") or () if isinstance(http, dict)
                    for alt in _alternatives(http.get("match"))]
        except _UNREADABLE:  # what Istio's webhook refuses, the evaluator leaves out too
            continue
        for host in hosts:
            for gw in gateways:
                target = mesh_hosts if gw == "mesh" else gateway_hosts.setdefault(gw, {})
                target.setdefault(host, []).extend(alts)
    known = dict(registry.services)
    wildcards = [(h, found) for h, found in mesh_hosts.items() if h.startswith("*")]
    for host, ports in sorted(known.items()):
        alts = list(mesh_hosts.get(host, ())) + [a for h, found in wildcards if host_matches(h, host) for a in found]
        # A service whose ports nobody said is tried on port 80, as pilot
        # gives such a host a virtual host there.
        for number in [p.number for p in ports] or [80]:
            out.update(place_requests(host, number, None, alts, cluster, fleet, per_place))
    for host, alts in sorted(mesh_hosts.items()):
        if host not in known and not host.startswith("*"):
            out.update(place_requests(host, 80, None, alts, cluster, fleet, per_place))
    for gw in (d for d in docs if d.get("kind") == "Gateway" and isinstance(d.get("spec"), dict)):
        try:
            out.update(_gateway_requests(gw, gateway_hosts, default_namespace, cluster, fleet, per_place))
        except _UNREADABLE:
            continue
    return out


def _gateway_requests(gw: dict, gateway_hosts: dict[str, dict[str, list[tuple]]], default_namespace: str,
                      cluster: str, fleet: tuple[str, ...], per_place: int) -> set[Request]:
    """The grid of a Gateway's servers, with the alternatives of the
    VirtualServices bound to it."""
    out: set[Request] = set()
    ns = _namespace(gw, default_namespace)
    name = f"{ns}/{(gw.get('metadata') or {}).get('name')}"
    bound = gateway_hosts.get(name, {})
    selector = gw["spec"].get("selector") or {}
    source = {"source_namespace": ns,
              "source_labels": tuple(sorted((str(k), str(v)) for k, v in selector.items()))}
    for server in gw["spec"].get("servers") or ():
        if not isinstance(server, dict):
            continue
        number = (server.get("port") or {}).get("number") if isinstance(server.get("port"), dict) else None
        if isinstance(number, bool) or not isinstance(number, int):
            continue
        served = {_concrete(str(h).split("/")[-1]) for h in server.get("hosts") or ()}
        hosts = sorted(served | {_concrete(h) for h in bound} | {UNSERVED_HOST})
        for host in hosts:
            alts = [a for h, found in bound.items() if host_matches(h, host) for a in found]
            out.update(place_requests(host, number, name, alts, cluster, fleet, per_place, source))
    return out


def _namespace(doc: dict, default: str) -> str:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return str(meta.get("namespace") or default)


def _concrete(host: str) -> str:
    if host == "*":
        return "any.example.invalid"
    return "w" + host[1:] if host.startswith("*.") else host


def _alternatives(matches: Any) -> list[tuple]:
    if not isinstance(matches, list) or not matches:
        return [()]
    return [tuple(c for c in _conditions(m) if c is not None) for m in matches if isinstance(m, dict)]


def _conditions(m: dict) -> Iterable[Optional[Any]]:
    uri = _string(m.get("uri"))
    if uri is not None:
        yield ir.PathCondition.model_construct(span=_HERE, match=uri)
    for name, match in (m.get("headers") or {}).items() if isinstance(m.get("headers"), dict) else ():
        found = _string(match, present=True)
        if found is not None:
            yield ir.HeaderCondition.model_construct(span=_HERE, name=str(name).lower(), match=found)
    for name, match in (m.get("withoutHeaders") or {}).items() if isinstance(m.get("withoutHeaders"), dict) else ():
        yield ir.HeaderAbsentCondition.model_construct(span=_HERE, name=str(name).lower())
    method = _string(m.get("method"))
    if method is not None and method.op == "exact":
        yield ir.MethodCondition.model_construct(span=_HERE, method=method.value)
    for name, match in (m.get("queryParams") or {}).items() if isinstance(m.get("queryParams"), dict) else ():
        found = _string(match, present=True)
        if found is not None:
            yield ir.QueryCondition.model_construct(span=_HERE, name=str(name), match=found)
    for key, value in (m.get("sourceLabels") or {}).items() if isinstance(m.get("sourceLabels"), dict) else ():
        label = ir.LabelPair.model_construct(span=_HERE, key=str(key), value=str(value))
        yield ir.SourceLabelCondition.model_construct(span=_HERE, label=label)
    if m.get("sourceNamespace"):
        name = ir.Name.model_construct(span=_HERE, value=str(m["sourceNamespace"]))
        yield ir.SourceNamespaceCondition.model_construct(span=_HERE, namespace=name)


def _string(match: Any, present: bool = False) -> Optional[ir.StringMatch]:
    if present and (match == {} or match is None):
        return ir.StringMatch.model_construct(op="regex", value=".*")
    if not isinstance(match, dict):
        return None
    for op in _OPS:
        if isinstance(match.get(op), str):
            value = ".*" if op == "regex" and match[op] == "*" else match[op]
            if op == "regex" and not _compiles(value):
                return None
            return ir.StringMatch.model_construct(op=op, value=value)
    return None


def _compiles(pattern: str) -> bool:
    import re2
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
        return True
    except re2.error:
        return False
