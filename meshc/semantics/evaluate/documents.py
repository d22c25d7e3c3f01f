"""Rendered Istio documents as the control plane reads them.

Loading (YAML text or a rendered cluster directory, ruamel's safe loader),
the resources the evaluator uses (VirtualService, DestinationRule, Gateway,
ServiceEntry of any `networking.istio.io` version) and the name resolution
pilot applies before it builds routes:

- short host names resolve in the resource's namespace
  (pilot/pkg/model/config.go `ResolveShortnameToFQDN`: a name without a dot
  becomes `NAME.NS.svc.cluster.local`; `reviews.prod` is taken literally);
- gateway names resolve to `NS/NAME` (config.go `resolveGatewayName`:
  a short name is in the VirtualService's namespace, a legacy
  `NAME.NS.svc.cluster.local` becomes `NS/NAME`);
- resources sort by creation time, then name, then namespace
  (config.go `sortConfigByCreationTime`); rendered documents carry no
  creation time, so the order is by name then namespace, as for resources
  applied within the same second.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Iterator, Optional, Union


KINDS = ("VirtualService", "DestinationRule", "Gateway", "ServiceEntry")
MESH_GATEWAY = "mesh"
"""The reserved gateway name of every sidecar (constants.IstioMeshGateway)."""
DEFAULT_NAMESPACE = "default"
"""Where a document without `metadata.namespace` lands with `kubectl apply`."""


class DocumentError(ValueError):
    """A document or a file the evaluator cannot read."""


def load_yaml(text: str, origin: str = "<text>") -> list[dict]:
    """Every mapping document of a YAML stream (ruamel's safe loader)."""
    try:
        from ruamel.yaml import YAML  # only for reading files: the analysis of rendered documents never needs it

        documents = list(YAML(typ="safe").load_all(text))
    except Exception as err:  # ruamel raises many unrelated classes
        raise DocumentError(f"{origin}: not valid YAML: {err}") from None
    return [d for d in documents if isinstance(d, dict)]


def load_directory(path: Union[str, Path]) -> list[dict]:
    """Every document under a rendered cluster directory (`out/<cluster>/`),
    in file-name order; `kustomization.yaml` files are not resources."""
    root = Path(path)
    if not root.is_dir():
        raise DocumentError(f"{root}: not a directory")
    documents: list[dict] = []
    for file in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        if file.name in ("kustomization.yaml", "kustomization.yml"):
            continue
        documents.extend(load_yaml(file.read_text(encoding="utf-8"), str(file)))
    return documents


@dataclass(frozen=True)
class Resource:
    """One Istio resource: kind, namespace, name, spec and its sort key."""

    kind: str
    namespace: str
    name: str
    spec: dict
    created: str = ""

    @property
    def key(self) -> str:
        """`NS/NAME`, how decisions and explanations name it."""
        return f"{self.namespace}/{self.name}"

    @property
    def order(self) -> tuple[str, str, str]:
        """pilot's `sortConfigByCreationTime`: creation time, name, namespace."""
        return (self.created, self.name, self.namespace)


def resources(documents: Iterable[dict]) -> Iterator[Resource]:
    """The Istio networking resources among `documents`, others skipped."""
    for doc in documents:
        kind = doc.get("kind")
        api = str(doc.get("apiVersion", ""))
        if kind not in KINDS or not api.startswith("networking.istio.io/"):
            continue
        meta = doc.get("metadata") or {}
        spec = doc.get("spec") or {}
        if not isinstance(meta, dict) or not isinstance(spec, dict) or not meta.get("name"):
            raise DocumentError(f"{kind} without metadata.name or with a spec that is not a mapping")
        yield Resource(kind, str(meta.get("namespace") or DEFAULT_NAMESPACE), str(meta["name"]), spec,
                       str(meta.get("creationTimestamp") or ""))


def sorted_resources(items: Iterable[Resource]) -> list[Resource]:
    """In pilot's order (`sortConfigByCreationTime`)."""
    return sorted(items, key=lambda r: r.order)


def fqdn(host: str, namespace: str, domain: str) -> str:
    """pilot's `ResolveShortnameToFQDN`: a name without a dot (other than
    `*` and IP addresses) is a Kubernetes service in `namespace`."""
    # a name without a dot is an address only in IPv6's notation, with colons
    if not host or host == "*" or "." in host or (":" in host and _is_ip(host)):
        return host
    return f"{host}.{namespace}.svc.{domain}"


def gateway_name(name: str, namespace: str) -> str:
    """pilot's `resolveGatewayName`: `NS/NAME` for a gateway reference."""
    if name == MESH_GATEWAY or "/" in name:
        return name
    if "." not in name:
        return f"{namespace}/{name}"
    short, rest = name.split(".", 1)
    return f"{rest.split('.', 1)[0]}/{short}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_matches(a: str, b: str) -> bool:
    """pkg/config/host/name.go `Name.Matches`: the two names (either may be
    a `*.suffix` wildcard, `*` matches everything) have a host in common."""
    aw, bw = a.startswith("*"), b.startswith("*")
    if aw and bw:
        return b[1:].endswith(a[1:]) if len(a) < len(b) else a[1:].endswith(b[1:])
    if aw:
        return b.endswith(a[1:])
    if bw:
        return a.endswith(b[1:])
    return a == b


def host_subset_of(a: str, b: str) -> bool:
    """pkg/config/host/name.go `Name.SubsetOf`: every host `a` names is one `b` names."""
    aw, bw = a.startswith("*"), b.startswith("*")
    if aw:
        return bw and len(a) >= len(b) and a[1:].endswith(b[1:])
    if bw:
        return a.endswith(b[1:])
    return a == b


def most_specific(needle: str, hosts: Collection[str], wildcards: Optional[Iterable[str]] = None) -> Union[str, None]:
    """pilot's `MostSpecificHostMatch` over a set of names: `needle` itself,
    else the longest wildcard that matches it (ties alphabetically).
    `wildcards`, when the caller keeps them, are the names of `hosts` that
    start with `*`: with `hosts` a dict or set, a lookup then costs no scan
    of thousands of exact names (the evaluator looks up a DestinationRule
    for every target it routes to)."""
    if needle in hosts:
        return needle
    wild = [h for h in (hosts if wildcards is None else wildcards)
            if h.startswith("*") and needle.endswith(h[1:]) and h != needle]
    if not wild:
        return None
    return min(wild, key=lambda h: (-len(h), h))
