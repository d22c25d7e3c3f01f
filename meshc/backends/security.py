"""PeerAuthentications and AuthorizationPolicies."""

from __future__ import annotations

from meshc.backends.documents import Document, document
from meshc.backends.targets import IstioTarget
from meshc.language import ir

NAMESPACE_POLICY_NAME = "default"


def peer_authentications(ns: ir.Namespace, target: IstioTarget) -> list[Document]:
    """`mtls MODE` is the namespace's `default` PeerAuthentication (mesh-wide
    in the root namespace); `mtls MODE for W` selects `app: W`."""
    out = []
    for m in ns.mtls:
        spec: dict = {}
        name = NAMESPACE_POLICY_NAME
        if m.workload is not None:
            name = m.workload.value
            spec["selector"] = {"matchLabels": {"app": m.workload.value}}
        spec["mtls"] = {"mode": m.mode.upper()}
        out.append(document(target.security, "PeerAuthentication", ns.name.value, name, spec, [m]))
    return out


def authorization_policies(ns: ir.Namespace, target: IstioTarget) -> list[Document]:
    """One ALLOW policy per workload; each `allow` statement is one rule."""
    by_workload: dict[str, list[ir.AllowRule]] = {}
    for rule in ns.allows:
        by_workload.setdefault(rule.workload.value, []).append(rule)
    out = []
    for workload, rules in by_workload.items():
        spec = {
            "selector": {"matchLabels": {"app": workload}},
            "action": "ALLOW",
            "rules": [_rule(r) for r in rules],
        }
        out.append(document(target.security, "AuthorizationPolicy", ns.name.value, workload, spec, rules))
    return out


def _rule(r: ir.AllowRule) -> dict:
    out: dict = {}
    source: dict = {}
    if r.principals:
        source["principals"] = list(r.principals)
    if r.namespaces:
        source["namespaces"] = [n.value for n in r.namespaces]
    if source:
        out["from"] = [{"source": source}]
    operation: dict = {}
    if r.methods:
        operation["methods"] = list(r.methods)
    if r.paths:
        operation["paths"] = list(r.paths)
    if operation:
        out["to"] = [{"operation": operation}]
    return out
