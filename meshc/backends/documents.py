"""The unit backends produce: one Kubernetes document and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from meshc.language import ir

MANAGED_BY = {"app.kubernetes.io/managed-by": "meshc"}

# Output order of kinds within a namespace, and their file-name prefix.
KINDS = (
    "Service", "Gateway", "VirtualService", "DestinationRule", "ServiceEntry",
    "PeerAuthentication", "AuthorizationPolicy", "PrometheusRule",
)


@dataclass(eq=False)
class Document:
    """A resource: `body` is plain data in output key order; `sources` are
    the .mesh files that produced it and `span` the construct it renders. Documents are compared by identity so
    that one shared by several clusters is serialised once."""

    kind: str
    namespace: str
    name: str
    body: dict
    sources: tuple[str, ...] = field(default=())
    span: Optional[ir.Span] = None
    # For a VirtualService: the construct each `http` entry comes from, in order.
    entry_spans: tuple[ir.Span, ...] = ()

    @property
    def path(self) -> str:
        """Where the document lives inside its cluster's directory."""
        return f"{self.namespace}/{self.kind.lower()}-{self.name}.yaml"

    @property
    def sort_key(self) -> tuple:
        return (self.namespace, KINDS.index(self.kind), self.name)


def document(api_version: str, kind: str, namespace: str, name: str, spec: dict,
             nodes: Iterable[Optional[ir.Node]]) -> Document:
    """A document with meshc's standard metadata; `nodes` name the IR it came from."""
    body = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }
    nodes = [n for n in nodes if n is not None]
    return Document(kind, namespace, name, body, sources_of(nodes), nodes[0].span if nodes else None)


def sources_of(nodes: Iterable[Optional[ir.Node]]) -> tuple[str, ...]:
    return tuple(sorted({n.span.file.rsplit("/", 1)[-1] for n in nodes if n is not None}))


def duration(d: ir.Duration) -> str:
    """The largest whole unit: `1h`, `5m`, `10s`, `500ms` (Istio reads them all)."""
    ms = int(d.ms)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def number(value: float):
    """An int when whole, so `10%` renders as `10` and `0.1%` as `0.1`."""
    return int(value) if value == int(value) else value


def slug(host: str) -> str:
    """A host as a DNS label, for resource names: `api.example.com` → `api-example-com`."""
    return host.replace("*", "wildcard").replace(".", "-")[:63].strip("-")
