"""Two readings of one policy, request by request: the evaluator of the
documents the backend rendered (what Istio will do) and the interpreter of
the .mesh source (what docs/language.md says). Any disagreement is a bug in
the backend, the interpreter or the docs."""

from __future__ import annotations

from dataclasses import fields
from typing import Iterable, NamedTuple

from meshc.backends.istio import Rendering
from meshc.backends.targets import DEFAULT_VERSION
from meshc.language import ir
from meshc.model.topology import Topology
from meshc.semantics.decision import Decision
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.interpret import Interpreter
from meshc.semantics.registry import registry
from meshc.semantics.request import Request


class Disagreement(NamedTuple):
    cluster: str
    request: Request
    rendered: Decision
    meant: Decision

    def __str__(self) -> str:
        r = self.request
        where = f"gateway {r.gateway} port {r.port}" if r.gateway else f"sidecar port {r.port}"
        lines = [f"[{self.cluster}] {r.method} {r.host}{r.path} at {where}, headers {dict(r.headers)}, "
                 f"from {r.source_namespace} {dict(r.source_labels)} cluster {r.source_cluster}"]
        for f in fields(Decision):
            a, b = getattr(self.rendered, f.name), getattr(self.meant, f.name)
            if a != b:
                lines.append(f"  {f.name}:\n    rendered: {a}\n    meant:    {b}")
        return "\n".join(lines)


def istio_release(policy: ir.MeshPolicy, cluster: str) -> str:
    """The Istio release of the istiod that programs `cluster`'s proxies."""
    topology = Topology(policy)
    spec = topology.clusters.get(topology.primary_of(cluster))
    return spec.istio if spec is not None and spec.istio else DEFAULT_VERSION


def disagreements(policy: ir.MeshPolicy, rendering: Rendering, cluster: str,
                  requests: Iterable[Request]) -> list[Disagreement]:
    """Requests from a workload in `cluster` on which the two readings differ.
    A remote cluster's proxies follow its primary's documents."""
    release = istio_release(policy, cluster)
    documents = [d.body for d in rendering.clusters[Topology(policy).primary_of(cluster)]]
    evaluator = Evaluator(documents, registry(policy, cluster), istio=release)
    assert not evaluator.problems, evaluator.problems
    interpreter = Interpreter(policy, cluster, default_istio=release)
    out = []
    for request in requests:
        rendered, meant = evaluator.evaluate(request), interpreter.evaluate(request)
        if rendered != meant:
            out.append(Disagreement(cluster, request, rendered, meant))
    return out


def report(found: list[Disagreement], limit: int = 5) -> str:
    shown = "\n".join(map(str, found[:limit]))
    more = f"\n... and {len(found) - limit} more" if len(found) > limit else ""
    return f"{len(found)} requests routed differently from what the policy says:\n{shown}{more}"
