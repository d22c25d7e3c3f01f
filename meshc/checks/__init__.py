"""Semantic checks over the IR: each `check_x(policy) -> list[Diagnostic]`,
run in the order of CHECKS. None raises and none builds output."""

from __future__ import annotations

from meshc.checks.combinations import check_combined_matches
from meshc.checks.fleet import check_cluster_routing, check_local, check_placement, check_topology
from meshc.checks.gateway_routes import check_cors_reach, check_gateway_hosts, check_shadowed_exposures
from meshc.checks.ingress import check_allow_paths, check_gateways, check_mtls
from meshc.checks.names import check_clusters, check_duplicate_names, check_hosts, check_references
from meshc.checks.policy import check_locality, check_tls
from meshc.checks.routing import (
    check_canaries,
    check_conditions,
    check_default_route,
    check_exposes,
    check_reachability,
    check_retries,
    check_rewrites,
    check_weights,
)
from meshc.checks.tests import check_tests
from meshc.checks.waves import check_waves
from meshc.diagnostics import Diagnostic
from meshc.language.ir import MeshPolicy

CHECKS = (
    check_duplicate_names,
    check_hosts,
    check_references,
    check_clusters,
    check_topology,
    check_weights,
    check_canaries,
    check_waves,
    check_retries,
    check_conditions,
    check_reachability,
    check_default_route,
    check_rewrites,
    check_exposes,
    check_gateway_hosts,
    check_shadowed_exposures,
    check_cors_reach,
    check_combined_matches,
    check_placement,
    check_cluster_routing,
    check_local,
    check_locality,
    check_tls,
    check_gateways,
    check_allow_paths,
    check_mtls,
    check_tests,
)


def run_checks(policy: MeshPolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(policy))
    return out
