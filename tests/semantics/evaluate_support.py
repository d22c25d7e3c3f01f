"""Helpers for the evaluator's tests: hand-written Istio YAML in, decisions out."""

from __future__ import annotations

from fractions import Fraction
from textwrap import dedent
from typing import Optional

from meshc.semantics.decision import Decision, Share, Target
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.request import Registry, Request, ServicePort

NS = "ns"


def fq(name: str, ns: str = NS) -> str:
    return f"{name}.{ns}.svc.cluster.local"


def registry(**services: list) -> Registry:
    """`registry(reviews=[9080], api=[(80, "http"), (9090, "grpc")])`, in namespace ns;
    a key `name__other` puts `name` in namespace `other`."""
    out = {}
    for key, ports in services.items():
        name, _, ns = key.partition("__")
        out[fq(name, ns or NS)] = tuple(ServicePort(*(p if isinstance(p, tuple) else (p, "http"))) for p in ports)
    return Registry(out)


def evaluator(text: str, reg: Optional[Registry] = None) -> Evaluator:
    ev = Evaluator.from_yaml(dedent(text), reg or Registry())
    assert not ev.problems, ev.problems
    return ev


def document(kind: str, name: str, ns: str, spec: str) -> str:
    """An Istio document of `kind` with the given YAML as its spec."""
    body = "\n".join("  " + line for line in dedent(spec).strip().splitlines())
    return f"---\napiVersion: networking.istio.io/v1\nkind: {kind}\n" \
           f"metadata: {{name: {name}, namespace: {ns}}}\nspec:\n{body}\n"


def indented(text: str, by: int) -> str:
    return "\n".join(" " * by + line for line in dedent(text).strip().splitlines())


def vs(hosts: str, http: str, name: str = "vs", ns: str = NS, extra: str = "") -> str:
    """A VirtualService document; `http` is the YAML of the `http` list."""
    return document("VirtualService", name, ns, f"hosts: {hosts}\n{dedent(extra).strip()}\nhttp:\n{indented(http, 2)}")


def req(host: str, port: int, **kw) -> Request:
    return Request.make(host, port, **kw)


def entry(ev: Evaluator, request: Request) -> Optional[str]:
    """The name of the entry that takes the request, or the decision's kind."""
    d = ev.evaluate(request)
    return d.entry if d.kind == "route" else f"{d.kind}:{d.status}"


def shares(d: Decision) -> dict[tuple, Fraction]:
    return {(s.target.host.split(".")[0], s.target.subset, s.target.port): s.share for s in d.destinations}


def single(host: str, subset: Optional[str] = None, port: Optional[int] = None) -> tuple[Share, ...]:
    return (Share(Target(host, subset, port), Fraction(1)),)
