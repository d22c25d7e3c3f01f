"""Rendered documents → the text of every output file.

`OUT/CLUSTER/NAMESPACE/KIND-NAME.yaml` per document,
`OUT/CLUSTER/kustomization.yaml` listing them and
`OUT/CLUSTER/kustomizeconfig.yaml`, the name references kustomize needs. A document shared by several
clusters (backends/istio.py) is serialised once.
"""

from __future__ import annotations

from meshc import __version__
from meshc.backends.documents import Document
from meshc.backends.istio import Rendering
from meshc.output import emit

KUSTOMIZATION = emit.KUSTOMIZATION


class _Texts:
    """Each document's file text, computed once per document object."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Document, str]] = {}

    def __call__(self, doc: Document) -> str:
        hit = self._cache.get(id(doc))
        if hit is None:
            hit = (doc, emit.header(list(doc.sources), __version__) + emit.dump(doc.body))
            self._cache[id(doc)] = hit  # the document is kept alive, so its id stays unique
        return hit[1]


def files(rendering: Rendering, sources: list[str]) -> dict[str, str]:
    """`{relative path: text}` for every cluster directory."""
    text = _Texts()
    out: dict[str, str] = {}
    for cluster, docs in rendering.clusters.items():
        for doc in docs:
            out[f"{cluster}/{doc.path}"] = text(doc)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [doc.path for doc in docs],
            "configurations": [NAME_REFERENCES],
        }
        out[f"{cluster}/{KUSTOMIZATION}"] = emit.header(sources, __version__) + emit.dump(kustomization)
        out[f"{cluster}/{NAME_REFERENCES}"] = emit.header(sources, __version__) + emit.dump(_NAME_REFERENCE_CONFIG)
    return out


# Kustomize renames references only where its configuration says a field
# holds a name; it knows no Istio kinds, so an overlay's namePrefix or
# nameSuffix would rename a Gateway and leave the VirtualServices bound to
# the old name. This tells it that `spec.gateways` names Gateways.
NAME_REFERENCES = "kustomizeconfig.yaml"
_NAME_REFERENCE_CONFIG = {
    "nameReference": [{
        "kind": "Gateway",
        "group": "networking.istio.io",
        "fieldSpecs": [{"kind": "VirtualService", "group": "networking.istio.io", "path": "spec/gateways"}],
    }],
}


def stream(docs: list[Document]) -> str:
    """One multi-document stream (for `--stdout`), each with its header."""
    return emit.dump_all([d.body for d in docs], [emit.header(list(d.sources), __version__) for d in docs])
