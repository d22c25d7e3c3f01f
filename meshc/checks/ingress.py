"""Gateways and mTLS statements."""

from __future__ import annotations

from meshc.checks.names import duplicates, repeats
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import gateway_selector


def check_gateways(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """A gateway serves at least one host on at least one port, each port once."""
    out: list[Diagnostic] = []
    for ns in policy.namespaces:
        for gw in ns.gateways:
            if not gw.hosts or not gw.servers:
                missing = "hosts" if not gw.hosts else "server (`https credential ...`, `http` or `redirect-http`)"
                out.append(diagnostic(
                    "gateway-without-server",
                    f"gateway `{gw.name.value}` has no {missing}",
                    gw.name.span,
                    help="a gateway needs `hosts ...` and at least one of `https credential NAME`, `http`, "
                         "`redirect-http`",
                ))
            out += duplicates(gw.servers, lambda s: f"port {s.port}", lambda s: s.span, "server on",
                              f"gateway `{gw.name.value}`")
    return out + _shared_tls_hosts(policy)


def _shared_tls_hosts(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Gateways with one selector configure the same pods, whose servers
    Istio merges: a TLS server for a host another gateway already serves on
    that port is dropped (pilot/pkg/model/gateway.go `mergeGateways`,
    `CheckDuplicates`), so its routes are never reached."""
    out: list[Diagnostic] = []
    first: dict[tuple, tuple[ir.Gateway, ir.GatewayServer]] = {}
    for ns in policy.namespaces:
        for gw in ns.gateways:
            pods = tuple(sorted(gateway_selector(gw).items()))
            for server in gw.servers:
                if server.protocol != "https":
                    continue
                for host in gw.hosts:
                    earlier = first.setdefault((pods, server.port, host), (gw, server))
                    if earlier[0] is not gw:
                        out.append(diagnostic(
                            "duplicate-tls-host",
                            f"gateway `{gw.name.value}` serves `{host}` over TLS on port {server.port}, and so does "
                            f"gateway `{earlier[0].name.value}` on the same pods: Istio keeps only the older one",
                            server.span, labels=[Label(earlier[1].span, "served here first")],
                            help="serve the host from one gateway, or give the gateways different `selector`s",
                        ))
    return out


def check_allow_paths(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Authorization paths use `*` only where Istio reads it as a wildcard."""
    return [
        diagnostic(
            "path-wildcard", f"`{path}` has `*` where Istio matches it literally",
            rule.span, help="use `*` once, at the start (`*/users`) or the end (`/api/*`), or alone",
        )
        for ns in policy.namespaces for rule in ns.allows for path in rule.paths
        if path != "*" and (path.count("*") > 1 or ("*" in path and not (path[0] == "*" or path[-1] == "*")))
    ]


def check_mtls(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """One `mtls` per namespace and per workload."""
    out: list[Diagnostic] = []
    for ns in policy.namespaces:
        for m, first in repeats(ns.mtls, lambda m: m.workload.value if m.workload else None):
            what = f"workload `{m.workload.value}`" if m.workload else f"namespace `{ns.name.value}`"
            out.append(diagnostic(
                "duplicate-mtls",
                f"mTLS for {what} is set twice",
                m.span,
                labels=[Label(first.span, "first set here")],
                help="keep one `mtls` statement per scope",
            ))
    return out
