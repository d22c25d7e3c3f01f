"""One policy read both ways for route questions, tests and diffs: the
evaluator over its rendered documents (what Istio will do) and the
interpreter over its IR (what the .mesh says, with where each part came
from), per caller cluster, at the live canary steps or at other steps.

A caller in a remote cluster is routed by its primary's documents
(model/topology.py). Documents are rendered in memory, never written; a
canary at another step is the policy copied with that `at` changed.
Everything is built on first use and kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Optional

from meshc.backends.istio import Rendering, render
from meshc.backends.targets import DEFAULT_VERSION
from meshc.language import ir
from meshc.language.source import Span
from meshc.model.resolve import Index, RouteOwner, ServiceInfo
from meshc.model.topology import Topology

# A canary by (namespace, service, route), and steps to set canaries at.
CanaryKey = tuple[str, str, str]
Steps = tuple[tuple[CanaryKey, int], ...]


@dataclass(frozen=True)
class Origin:
    """What produced an `http` entry: a route of a service or of a
    gateway's `host` block (`route` set), an exposure's 404 or default
    entry (`expose` set), or a service's own 404 or default entry."""

    info: RouteOwner
    route: Optional[ir.Route] = None
    expose: Optional[ir.Expose] = None

    @property
    def service(self) -> Optional[ServiceInfo]:
        return self.info if isinstance(self.info, ServiceInfo) else None


def routable(compiled) -> tuple[Optional[ir.MeshPolicy], list]:
    """The policy of a `pipeline.Compiled` for questions about traffic, and
    the errors that stop them. An error inside a `test` block changes no
    traffic, so it does not stop `meshc route` or `meshc diff` (`meshc
    check`, `render` and `test` still refuse it)."""
    errors = [d for d in compiled.diagnostics if d.is_error]
    policy = compiled.policy
    if policy is None:
        return None, errors
    tests = [t.span for t in policy.tests]
    errors = [d for d in errors if not any(s.file == d.span.file and s.start <= d.span.start < s.end for s in tests)]
    return (None if errors else policy), errors


def canary_key(info: ServiceInfo, route: ir.Route) -> CanaryKey:
    return info.namespace.name.value, info.service.name.value, route.name.value


def at_step(canary: ir.Canary, step: int) -> ir.Canary:
    """The canary at `step` in every cluster (each of its waves too)."""
    waves = tuple(w.model_copy(update={"at": step}) for w in canary.waves)
    return canary.model_copy(update={"at": step, "waves": waves})


def with_steps(policy: ir.MeshPolicy, steps: Mapping[CanaryKey, int]) -> ir.MeshPolicy:
    """The policy with the named canaries at other steps, in every cluster
    (a fleet canary's waves all at that step); spans unchanged."""
    if not steps:
        return policy
    namespaces = []
    for ns in policy.namespaces:
        services = []
        for svc in ns.services:
            routes = tuple(
                r.model_copy(update={"action": at_step(r.action, steps[key])})
                if isinstance(r.action, ir.Canary) and (key := (ns.name.value, svc.name.value, r.name.value)) in steps
                else r
                for r in svc.routes)
            services.append(svc.model_copy(update={"routes": routes}) if routes != svc.routes else svc)
        namespaces.append(ns.model_copy(update={"services": tuple(services)}))
    return policy.model_copy(update={"namespaces": tuple(namespaces)})


class Readings:
    """A compiled policy, ready to answer requests. `istio` is the release
    of clusters whose fleet entry names none (`--istio-version`)."""

    def __init__(self, policy: ir.MeshPolicy, istio: Optional[str] = None):
        self.policy = policy
        self.istio = istio or DEFAULT_VERSION
        self.index = Index(policy)
        self.topology: Topology = self.index.topology
        self._variants: dict[Steps, Variant] = {}

    @property
    def clusters(self) -> list[str]:
        return self.topology.names

    def release(self, cluster: str) -> str:
        """The Istio release of the istiod that programs `cluster`'s proxies."""
        spec = self.topology.clusters.get(self.topology.primary_of(cluster))
        return spec.istio if spec is not None and spec.istio else self.istio

    def at(self, steps: Steps = ()) -> "Variant":
        """The policy with canaries at `steps` (the live steps for ())."""
        key = tuple(sorted(steps))
        found = self._variants.get(key)
        if found is None:
            found = self._variants[key] = Variant(self, with_steps(self.policy, dict(key)), key)
        return found


class Variant:
    """The policy at one choice of canary steps: its rendering, one
    evaluator per primary, one interpreter per caller cluster."""

    def __init__(self, readings: Readings, policy: ir.MeshPolicy, steps: Steps):
        self.readings = readings
        self.policy = policy
        self.steps = steps
        self._evaluators: dict[tuple, object] = {}
        self._for_cluster: dict[str, object] = {}
        self._origins: dict[str, dict[tuple[str, str], Origin]] = {}
        self._interpreters: dict[str, object] = {}

    @cached_property
    def rendering(self) -> Rendering:
        return render(self.policy, self.readings.istio)

    @cached_property
    def index(self) -> Index:
        return Index(self.policy)

    def evaluator(self, cluster: str):
        """The evaluator of the documents that program `cluster`'s proxies
        (one for primaries whose documents are the same ones)."""
        found = self._for_cluster.get(cluster)
        if found is None:
            from meshc.semantics.evaluate import Evaluator

            readings = self.readings
            docs = self.rendering.clusters[readings.topology.primary_of(cluster)]
            release = readings.release(cluster)
            key = (tuple(map(id, docs)), release)
            found = self._evaluators.get(key)
            if found is None:
                found = self._evaluators[key] = Evaluator([d.body for d in docs], self.registry, istio=release)
            self._for_cluster[cluster] = found
        return found

    @cached_property
    def registry(self):
        from meshc.semantics.registry import registry

        return registry(self.policy, self.readings.clusters[0])

    def interpreter(self, cluster: str):
        from meshc.semantics.interpret import Interpreter

        found = self._interpreters.get(cluster)
        if found is None:
            found = self._interpreters[cluster] = Interpreter(self.policy, cluster, self.readings.release(cluster))
        return found

    def origin(self, cluster: str, virtual_service: Optional[str], entry: Optional[str]) -> Optional[Origin]:
        """What produced the entry `entry` of the VirtualService `NS/NAME`
        in the documents that program `cluster`'s proxies."""
        if virtual_service is None or entry is None:
            return None
        return self._entries(self.readings.topology.primary_of(cluster)).get((virtual_service, entry))

    def _entries(self, primary: str) -> dict[tuple[str, str], Origin]:
        found = self._origins.get(primary)
        if found is None:
            found = {}
            for doc in self.rendering.clusters[primary]:
                if doc.kind != "VirtualService":
                    continue
                key = f"{doc.namespace}/{doc.name}"
                for entry, span in zip(doc.body["spec"].get("http", ()), doc.entry_spans):
                    made = self._by_span.get(span)
                    if made is not None:
                        found[(key, entry.get("name", ""))] = made
            self._origins[primary] = found
        return found

    @cached_property
    def _by_span(self) -> dict[Span, Origin]:
        """The constructs entries come from, by the span the backend records
        (backends/routes.py `_name_span`: a route's or a service's name, an
        exposure)."""
        out: dict[Span, Origin] = {}
        for info in self.index.all_services():
            out.setdefault(info.service.name.span, Origin(info))
            for route in info.service.routes:
                out.setdefault(route.name.span, Origin(info, route))
            for expose in info.service.exposes:
                out.setdefault(expose.span, Origin(info, expose=expose))
        for block in self.index.gateway_hosts():
            for route in block.block.routes:
                out.setdefault(route.name.span, Origin(block, route))
        return out
