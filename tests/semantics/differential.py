"""Two readings of one policy, request by request: the evaluator of the
documents the backend rendered (what Istio will do) and the interpreter of
the .mesh source (what docs/language.md says). Any disagreement is a bug in
the backend, the interpreter or the docs.

`serving_disagreements` does the same one step further, for which
clusters' pods take each destination as whole tiers of them fail: the
interpreter's `serving` against tests/multicluster_eval.py, which reads the
rendered DestinationRules and follows pilot's endpoint and locality code."""

from __future__ import annotations

from dataclasses import fields
from typing import Iterable, NamedTuple

from multicluster_eval import Mesh, Pods

from meshc.backends.istio import Rendering
from meshc.backends.targets import DEFAULT_VERSION
from meshc.language import ir
from meshc.model.resolve import Index
from meshc.model.topology import Topology
from meshc.semantics.decision import Decision, Target
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.interpret import Interpreter
from meshc.semantics.interpret.locality import answers
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


class ServingDisagreement(NamedTuple):
    cluster: str
    request: Request
    target: Target
    down: tuple[str, ...]
    rendered: tuple[str, ...]
    meant: tuple[str, ...]

    def __str__(self) -> str:
        r, t = self.request, self.target
        return (f"[{self.cluster}] {r.method} {r.host}{r.path} port {r.port} from cluster {r.source_cluster}: "
                f"{t.host} subset {t.subset} port {t.port} with {list(self.down) or 'no'} clusters' pods down\n"
                f"  rendered: served by {list(self.rendered)}\n  meant:    served by {list(self.meant)}")


def world(policy: ir.MeshPolicy) -> list[Pods]:
    """The pods the interpreter assumes: in every cluster a service runs in,
    pods with each of its subsets' labels (the topology labels come from
    the cluster), or plain pods for a service without subsets."""
    index = Index(policy)
    topology_labels = set(ir.TOPOLOGY_LABELS.values())
    out = []
    for info in index.all_services():
        kinds = sorted({tuple(sorted((label.key, label.value) for label in subset.labels
                                     if label.key not in topology_labels))
                        for subset in info.service.subsets}) or [()]
        out += [Pods(info.host, cluster, labels) for cluster in index.topology.placement(info.service)
                for labels in kinds]
    return out


def serving_disagreements(policy: ir.MeshPolicy, rendering: Rendering, cluster: str,
                          requests: Iterable[Request]) -> list[ServingDisagreement]:
    """For each destination of each request from `cluster`: the clusters
    whose pods take it with none down, then with those down, and so on
    (each tier of the interpreter's failing whole: Envoy spills part of a
    tier's load to the next when only some of its pods fail, which the
    interpreter, at the granularity of clusters, does not model). Where
    the interpreter cannot answer (a `failover priority` label the fleet
    does not give), its answer is the clusters that may hold the first
    tier, and only that is compared."""
    mesh = Mesh(policy, rendering, world(policy))
    interpreter = Interpreter(policy, cluster, default_istio=istio_release(policy, cluster))
    out = []
    for request in requests:
        if request.source_cluster not in (None, cluster):
            continue  # a caller this cluster's configuration does not program
        caller = request.source_cluster or cluster
        decision = interpreter.evaluate(request)
        for k, share in enumerate(decision.destinations):
            target = share.target
            exact = answers(interpreter.index.topology, decision.policy(target), caller)
            down: tuple[str, ...] = ()
            while True:
                _, meant = interpreter.serving(request, down)[k]
                if meant is None:
                    break  # a host the policy does not declare: pods unknown
                outcome = mesh.serve(target.host, target.subset, target.port, source=caller,
                                     source_labels=dict(request.source_labels), down=frozenset(down))
                rendered = tuple(c for c in interpreter.index.topology.names if outcome.shares.get(c))
                if (set(rendered) != set(meant)) if exact else not set(rendered) <= set(meant):
                    out.append(ServingDisagreement(cluster, request, target, down, rendered, meant))
                    break
                if not meant or not exact:
                    break
                down += meant
    return out
