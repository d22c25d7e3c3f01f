"""The traps of design/scenarios.md, written as .mesh: each gives its
diagnostic at the right line, or renders so that the trap cannot happen."""

from __future__ import annotations

from pathlib import Path

import pytest
import re2
from helpers import diagnose, expectations, find, rendered

from meshc.diagnostics import Severity
from meshc.pipeline import compile_paths

TRAPS = Path(__file__).parent / "traps"
MARKED = [p for p in sorted(TRAPS.glob("*.mesh")) if expectations(p)]


@pytest.mark.parametrize("path", MARKED, ids=lambda p: p.stem)
def test_trap_is_reported_where_marked(path, in_repo):
    _, found = diagnose(path)
    assert sorted((d.span.line, d.code) for d in found) == sorted(expectations(path))


def test_missing_default_route_is_a_warning_fixed_by_one_line(in_repo, tmp_path):
    path = TRAPS / "s02-no-default-route.mesh"
    _, found = diagnose(path)
    assert [(d.code, d.severity) for d in found] == [("MESH309", Severity.WARNING)]
    assert "route default { to algorithm-a }" in found[0].help
    lines = path.read_text().splitlines(keepends=True)
    fixed = tmp_path / "fixed.mesh"
    fixed.write_text("".join(lines[:-2] + ["    route default { to algorithm-a }\n"] + lines[-2:]))
    assert compile_paths([str(fixed)]).diagnostics == []


def test_port_policy_keeps_failover_and_outlier_detection(in_repo):
    r = rendered(["tests/traps/s04-port-keeps-failover.mesh"])
    dr = find(r, "a", "DestinationRule", "geo", "api")
    port = dr["spec"]["trafficPolicy"]["portLevelSettings"][0]
    assert port["port"] == {"number": 8080}
    assert port["connectionPool"] == {"tcp": {"maxConnections": 10}}
    assert port["outlierDetection"]["consecutive5xxErrors"] == 5
    assert port["loadBalancer"]["localityLbSetting"]["failover"] == [{"from": "region1", "to": "region2"}]


def test_modern_field_names(in_repo):
    r = rendered(["tests/traps/s05-deprecated-fields.mesh"])
    policy = find(r, "default", "DestinationRule", "production", "defaults")["spec"]["trafficPolicy"]
    assert policy["loadBalancer"] == {"simple": "LEAST_REQUEST"}
    assert policy["outlierDetection"]["consecutive5xxErrors"] == 3
    assert "consecutiveErrors" not in policy["outlierDetection"]
    # Outlier detection is its own message, never inside the connection pool.
    assert set(policy["connectionPool"]) == {"tcp"}


@pytest.mark.parametrize("cookie, matches", [
    ("canary=true", True),
    ("a=1; canary=true; b=2", True),
    ("a=1;canary=true", True),
    ("notcanary=true", False),
    ("xcanary=true", False),
    ("canary=truex", False),
    ("canary=false", False),
    ("", False),
])
def test_cookie_condition_matches_exactly_that_cookie(in_repo, cookie, matches):
    r = rendered(["tests/traps/s10-cookie-regex.mesh"])
    vs = find(r, "default", "VirtualService", "bookstore", "reviews")
    regex = vs["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]
    assert (re2.fullmatch(regex, cookie) is not None) is matches


def test_every_cluster_can_call_services_that_run_elsewhere(in_repo):
    """Seed 002's trap: a cluster without the entry of a service that runs
    only in another cluster cannot call it. Now every cluster where a
    service does not run gets its Service stub (DNS resolves, Istio merges
    the other clusters' endpoints), and every primary gets its routing."""
    r = rendered(["examples"])
    placed = {"user-service": {"hangzhou", "beijing"}, "global-api": {"hangzhou", "beijing", "shenzhen"}}
    for cluster, docs in r.clusters.items():
        names = {(d.kind, d.namespace, d.name) for d in docs}
        for service, clusters in placed.items():
            stub = ("Service", "geo", service) in names
            assert stub is (cluster not in clusters), (cluster, service)
        primary = cluster != "shanghai"
        assert (("VirtualService", "geo", "user-service") in names) is primary, cluster
        assert (("DestinationRule", "geo", "global-api") in names) is primary, cluster


def test_no_global_host_anywhere(in_repo):
    """Istio deprecated `.global` in 1.8; nothing meshc renders names one."""
    from meshc.output.manifests import files

    texts = files(rendered(["examples"]), [])
    assert not [path for path, text in texts.items() if ".global" in text or "-global." in path]
