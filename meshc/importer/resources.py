"""Kubernetes resources among YAML documents: kinds, versions, namespaces.

A document is a resource when it is a mapping with `apiVersion` and
`kind`; a `List` (what `kubectl get -o yaml` prints) holds resources in
`items`. Resources without `metadata.namespace` are in the namespace
`kubectl apply` would put them in (`--namespace`, default `default`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator, Optional

from meshc.importer.yaml_source import Document, Path
from meshc.language.source import Span

NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"

# What meshc imports, and the versions Istio 1.22-1.30 serve for each group
# (istio/api: v1alpha3, v1beta1 and v1 of networking share one schema, as
# v1beta1 and v1 of security do).
IMPORTED = {
    (NETWORKING, "VirtualService"), (NETWORKING, "DestinationRule"), (NETWORKING, "Gateway"),
    (NETWORKING, "ServiceEntry"), (SECURITY, "PeerAuthentication"), (SECURITY, "AuthorizationPolicy"),
    ("", "Service"),
}
VERSIONS = {NETWORKING: ("v1alpha3", "v1beta1", "v1"), SECURITY: ("v1beta1", "v1"), "": ("v1",)}
# Traffic policy the language has no construct for: reported, never skipped quietly.
TRAFFIC_GROUPS = (".istio.io", "gateway.networking.k8s.io")
PROMETHEUS_RULE = ("monitoring.coreos.com", "PrometheusRule")
MANAGED_BY = ("app.kubernetes.io/managed-by", "meshc")


@dataclass(eq=False)
class Resource:
    """One resource as found in one cluster's input."""

    cluster: str
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    body: dict = field(repr=False)
    document: Document = field(repr=False)
    base: Path = field(default=(), repr=False)
    """Where the resource sits in its document (`items[3]` in a List)."""
    namespace_given: bool = True
    order: int = 0
    """Position among the cluster's resources, in file and document order."""
    refused: Optional[tuple[Path, str]] = field(default=None, repr=False)
    """Why the API server would refuse the resource (`malformed`), None when it would not."""

    @property
    def spec(self) -> dict:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.namespace, self.name

    @property
    def title(self) -> str:
        """`VirtualService shop/cart`."""
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def metadata(self) -> dict:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def labels(self) -> dict:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def created(self) -> str:
        return str(self.metadata.get("creationTimestamp") or "")

    def span(self, *path: Any) -> Span:
        """Where a field of the resource (a path from the resource's root) is written."""
        return self.document.span(self.base + tuple(path))

    def value_span(self, *path: Any) -> Span:
        return self.document.value_span(self.base + tuple(path))


@dataclass(frozen=True)
class Skipped:
    """A document that is no traffic policy (a Deployment, a Kustomization,
    a document without `kind`): counted, not reported."""

    what: str


def resources(document: Document, cluster: str, namespace: str) -> Iterator[Any]:
    """The resources of one document (a List's items), or a Skipped."""
    yield from _resources(document, document.data, (), cluster, namespace)


def _resources(document: Document, data: Any, base: Path, cluster: str, namespace: str) -> Iterator[Any]:
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or not isinstance(
            data.get("apiVersion"), str):
        yield Skipped("documents without `apiVersion` and `kind`")
        return
    kind, api = data["kind"], data["apiVersion"]
    if kind.endswith("List") and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            yield from _resources(document, item, base + ("items", i), cluster, namespace)
        return
    group, _, version = api.rpartition("/")
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    given = meta.get("namespace")
    yield Resource(cluster, group, version, kind, str(given or namespace), str(meta.get("name") or ""),
                   data, document, base, namespace_given=bool(given), refused=malformed(data))


def malformed(body: dict) -> Optional[tuple[Path, str]]:
    """(the field, what is wrong with it) when the API server would refuse
    the resource `body` is outright, so that Istio never reads it: its `metadata` is
    no mapping, its name no DNS-1123 subdomain, its namespace no DNS-1123
    label, or its `spec` no mapping (k8s.io/apimachinery validation.go
    `NameIsDNSSubdomain`, `ValidateNamespaceName`)."""
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        return ("metadata",), "is not a mapping"
    name, namespace = meta.get("name"), meta.get("namespace")
    if name is None:
        return ("metadata", "name"), "is missing"
    if not isinstance(name, str) or not _is_subdomain(name):
        return ("metadata", "name"), "is not a resource name (a DNS-1123 subdomain)"
    if namespace not in (None, "") and (not isinstance(namespace, str) or not _is_label(namespace)):
        return ("metadata", "namespace"), "is not a namespace name (a DNS-1123 label)"
    if body.get("spec") is not None and not isinstance(body["spec"], dict):
        return ("spec",), "is not a mapping"
    return None


@lru_cache(maxsize=4096)
def _is_subdomain(name: str) -> bool:
    """Cached: every cluster's copy of a manifest has the same names."""
    return len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name) is not None


@lru_cache(maxsize=1024)
def _is_label(name: str) -> bool:
    return len(name) <= 63 and _DNS_LABEL.fullmatch(name) is not None


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def category(resource: Resource) -> str:
    """`imported`, `unsupported` (traffic policy the language cannot hold),
    `alerts` (a PrometheusRule meshc wrote for a canary), or `other`."""
    if (resource.group, resource.kind) in IMPORTED:
        return "imported"
    if resource.group.endswith(TRAFFIC_GROUPS):
        return "unsupported"
    if (resource.group, resource.kind) == PROMETHEUS_RULE and resource.labels.get(MANAGED_BY[0]) == MANAGED_BY[1]:
        return "alerts"
    return "other"


def version_problem(resource: Resource) -> Optional[str]:
    """Why the apiVersion of an imported kind is not one Istio serves."""
    served = VERSIONS.get(resource.group, ())
    if resource.version in served:
        return None
    return (f"`{resource.group}/{resource.version}` is not a version Istio 1.22-1.30 serves for "
            f"{resource.kind} ({', '.join(served)})" if resource.group else
            f"`{resource.version}` is not a version of Service")
