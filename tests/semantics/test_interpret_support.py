"""Helpers for the interpreter's tests (no tests here): compiling a policy
from text, and reading a decision's destinations in a few words."""

from __future__ import annotations

from fractions import Fraction

from meshc.language import ir
from meshc.language.source import SourceFile
from meshc.pipeline import compile_sources
from meshc.semantics.decision import Decision, Target
from meshc.semantics.interpret import Interpreter
from meshc.semantics.request import Request


def policy_of(text: str, *, errors_ok: bool = False) -> ir.MeshPolicy:
    """The IR of one file; it must compile (warnings allowed) unless `errors_ok`."""
    compiled = compile_sources([SourceFile("t.mesh", text)])
    assert compiled.policy is not None, [d.message for d in compiled.diagnostics]
    assert errors_ok or compiled.ok, [d.message for d in compiled.diagnostics]
    return compiled.policy


def one_route(when: str) -> ir.MeshPolicy:
    """Service `ns/s` (port 80) with route `c` taking `when` to v2, then `rest` to v1."""
    return policy_of(f"""
namespace ns {{
  service s {{
    port 80 http
    subsets by version v1 v2
    route c {{ when {when} to v2 }}
    route rest {{ to v1 }}
  }}
}}""")


def host(name: str, namespace: str = "ns") -> str:
    return f"{name}.{namespace}.svc.cluster.local"


def split(decision: Decision) -> dict[tuple[str, str | None, int | None], Fraction]:
    """Destinations as {(host, subset, port): share in percent}."""
    return {(s.target.host, s.target.subset, s.target.port): s.share * 100 for s in decision.destinations}


def goes(interpreter: Interpreter, request: Request) -> tuple:
    """(entry or kind, {subset-or-host: percent}) for short tables."""
    d = interpreter.evaluate(request)
    where = {(s.target.subset or s.target.host): s.share * 100 for s in d.destinations}
    return (d.entry if d.kind == "route" else (d.kind, d.status)), where


def where(interpreter: Interpreter, request: Request, down: tuple[str, ...] = ()) -> tuple:
    """(entry or kind, {(subset, "cluster cluster"): percent}): each
    destination with the clusters whose pods take it (`""`: none, a 503)."""
    d = interpreter.evaluate(request)
    shares = {(s.target.subset, " ".join(clusters or ())): s.share * 100
              for s, clusters in interpreter.serving(request, down)}
    return (d.entry if d.kind == "route" else (d.kind, d.status)), shares


def target(name: str, subset: str | None, port: int | None, namespace: str = "ns") -> Target:
    return Target(host(name, namespace), subset, port)
