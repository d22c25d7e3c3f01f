"""`meshc diff` (issue 9, item 3): what changes between two policies in
traffic terms, per service, merged over the clusters where it is the same;
against a git revision (real git, objects read into memory); and the same
line next to `promote --dry-run`'s source diff."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT

from meshc.cli import cli
from meshc.pipeline import compile_paths, discover
from meshc.semdiff import changed_clusters

EVERY = "hangzhou, shanghai, beijing, shenzhen"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def copies(tmp_path, monkeypatch):
    """`old` and `new`, two copies of the examples, in the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("old", "new"):
        shutil.copytree(ROOT / "examples", tmp_path / name)
    return tmp_path / "new"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_one_promotion_is_exactly_the_changed_weights(copies):
    edit(copies / "s01-canary.mesh", "100% at 2", "100% at 3")
    result = run("diff", "old", "new")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"production/user-service, route primary: v1 90% → 80%, v2 10% → 20% in {EVERY}\n"


def test_nothing_changes(copies):
    edit(copies / "s01-canary.mesh", "# S1:", "# S1 (reworded):")
    result = run("diff", "old", "new", "--exit-code")
    assert (result.exit_code, result.stdout) == (0, "no change in traffic terms\n")
    edit(copies / "s12-mirroring.mesh", "mirror v2 20%", "mirror v2 30%")
    assert run("diff", "old", "new", "--exit-code").exit_code == 1


def test_an_override_in_one_cluster(copies):
    edit(copies / "s01-canary.mesh", "timeout 10s\n", "timeout 10s\n    on beijing { timeout 20s }\n")
    lines = run("diff", "old", "new").stdout.splitlines()
    assert lines == ["production/user-service, route canary-override: timeout 10s → 20s in beijing",
                     "production/user-service, route primary: timeout 10s → 20s in beijing"]


def test_a_route_added_and_the_requests_it_takes(copies):
    edit(copies / "s12-mirroring.mesh", "    route primary {",
         '    route qa {\n      when header x-qa = "1"\n      to v2\n    }\n    route primary {')
    out = run("diff", "old", "new").stdout
    assert f"orders/order-service, route qa added in {EVERY}\n" in out
    assert f"orders/order-service, route primary (to v1 100%) → route qa (to v2 100%) in {EVERY}\n" \
           "  e.g. GET /, x-qa: 1\n" in out


def test_destination_policy_and_exposures(copies):
    edit(copies / "s05-namespace-defaults.mesh", "max-connections 100", "max-connections 200")
    edit(copies / "s03-blue-green.mesh", "    expose via payment-gateway host pay.example.com\n", "")
    out = run("diff", "old", "new").stdout
    assert "namespace production defaults, destination policy: connectionPool.tcp.maxConnections 100 → 200 in " \
           f"{EVERY}\n" in out
    assert f"production/user-service, destination policy: connectionPool.tcp.maxConnections 100 → 200 in {EVERY}" \
           in out
    assert f"payments/payment-service, exposure removed: via payment-gateway host pay.example.com in {EVERY}" in out
    # requests at the gateway host now get a 404 (and the tests of S3 are broken: that stops no diff)
    assert f"payments/payment-service, route live (to blue 100%) → status 404 in {EVERY}\n" \
           "  e.g. GET /, at istio-system/payment-gateway port 443\n" in out


def test_markdown_and_json(copies):
    edit(copies / "s01-canary.mesh", "100% at 2", "100% at 3")
    markdown = run("diff", "old", "new", "--format", "markdown").stdout
    assert "| `production/user-service` | route primary: v1 90% → 80%, v2 10% → 20% | " + EVERY + " |" in markdown
    (change,) = json.loads(run("diff", "old", "new", "--format", "json").stdout)
    assert change == {"subject": "production/user-service", "kind": "route",
                      "change": "route primary: v1 90% → 80%, v2 10% → 20%",
                      "clusters": EVERY.split(", "), "examples": []}


def test_changed_clusters_for_waves():
    (paths,) = discover([str(ROOT / "examples")])
    policy = compile_paths(paths).policy
    from meshc.traffic.readings import canary_key, with_steps
    from meshc.model.resolve import Index

    info = Index(policy).services[("production", "user-service")]
    route = info.service.routes[1]
    assert changed_clusters(policy, with_steps(policy, {canary_key(info, route): 3})) == tuple(EVERY.split(", "))
    assert changed_clusters(policy, policy) == ()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_against_a_git_revision(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", repo / "policies")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "policies")
    edit(repo / "policies" / "s13-progressive-delivery.mesh", "100% at 1", "100% at 2")
    monkeypatch.chdir(repo / "policies")
    before = {p: p.read_bytes() for p in (repo / "policies").iterdir()}
    result = run("diff", "--git", "HEAD")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"delivery/checkout, route primary: v1 90% → 75%, v2 10% → 25% in {EVERY}\n"
    assert {p: p.read_bytes() for p in (repo / "policies").iterdir()} == before  # nothing checked out
    monkeypatch.chdir(repo)
    assert run("diff", "--git", "HEAD", "policies").stdout == result.stdout
    bad = run("diff", "--git", "no-such-rev", "policies")
    assert bad.exit_code == 2 and "cannot read policies at no-such-rev" in bad.output


def test_usage(copies):
    assert run("diff", "old").exit_code == 2
    assert run("diff", "--git", "HEAD", "a", "b").exit_code == 2


def test_promote_dry_run_says_the_traffic_change(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    result = run("promote", "examples/s01-canary.mesh", "user-service", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+      canary v1 -> v2 steps 5% 10% 20% 50% 100% at 3" in result.stdout
    assert result.stderr.splitlines()[:2] == [
        f"production/user-service, route primary: v1 90% → 80%, v2 10% → 20% in {EVERY}",
        "would promote user-service/primary: step 2 → 3 (v1 80% / v2 20%)"]


CART = """\
namespace shop {
  service cart {
    port 80 http
    port 9090 http { lb random }
    subsets by version v1 v2
    lb round-robin
    subset v2 { lb least-request }
    route r { to v1 }
  }
}
"""


@pytest.mark.parametrize("old_text, new_text, expected", [
    # a subset given a policy of its own: only what its effective policy changes
    ("lb round-robin\n    subset v2 { lb least-request }", "lb round-robin\n    subset v2 { lb least-request }\n"
     "    subset v1 { circuit-breaker { max-connections 7 } }",
     ["shop/cart, destination policy of subset v1: connectionPool.tcp.maxConnections unset → 7"]),
    # the top level changes: said once; v1 inherits it, v2 and port 9090 keep their own lb
    ("lb round-robin", "lb least-request",
     ["shop/cart, destination policy: loadBalancer.simple ROUND_ROBIN → LEAST_REQUEST"]),
    # a port's policy removed: that port now has the top level's
    ("    port 9090 http { lb random }", "    port 9090 http",
     ["shop/cart, destination policy on port 9090: loadBalancer.simple RANDOM → ROUND_ROBIN"]),
    # a subset's own lb moved to the top level: v2's effective policy is the
    # same but on port 9090, where v2's own lb won over the port's and now
    # the port's wins
    ("lb round-robin\n    subset v2 { lb least-request }", "lb least-request",
     ["shop/cart, destination policy of subset v2 on port 9090: loadBalancer.simple LEAST_REQUEST → RANDOM",
      "shop/cart, destination policy: loadBalancer.simple ROUND_ROBIN → LEAST_REQUEST"]),
])
def test_destination_policies_are_compared_as_istio_merges_them(tmp_path, monkeypatch, old_text, new_text, expected):
    """pilot applies a subset's trafficPolicy over the top level field by
    field, and a port's entry instead of the top level (util.go
    MergeSubsetTrafficPolicy, GetPortLevelTrafficPolicy): the diff compares
    those effective policies, and says a change once, where it is written."""
    monkeypatch.chdir(tmp_path)
    assert old_text in CART
    for name, body in (("old", CART), ("new", CART.replace(old_text, new_text, 1))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.mesh").write_text(body)
    result = run("diff", "old", "new")
    assert result.exit_code == 0, result.output
    assert [line.removesuffix(" in default") for line in result.stdout.splitlines()] == expected


def test_services_removed_and_externals(tmp_path, monkeypatch):
    """meshc renders no Kubernetes Service: a service removed from the
    policy still exists for Istio, so a request to one without routes moves
    nowhere whatever else changes (it was reported, as a host, only when
    another change made the diff evaluate every host), and one with routes
    falls to Istio's default route. An external host is a ServiceEntry meshc
    renders: without it, requests go to the PassthroughCluster, named as
    `meshc route` names it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "p.mesh").write_text(
        "namespace shop {\n  external api.example.org port 80 http\n  service cart {\n    port 80 http\n"
        "    subsets by version v1 v2\n    route r { to v1 }\n  }\n  service bare { port 80 http }\n}\n")
    (tmp_path / "new" / "p.mesh").write_text("namespace shop {\n  service other { port 80 http }\n}\n")
    lines = [line for line in run("diff", "old", "new").stdout.splitlines() if not line.startswith("  e.g.")]
    assert lines == [
        "api.example.org, Istio's default route (to host api.example.org 100%) → the PassthroughCluster "
        "(to host api.example.org 100%) in default",
        "shop/bare, service removed in default",
        "shop/cart, service removed in default",
        "shop/cart, route r (to v1 100%) → Istio's default route (to host cart.shop.svc.cluster.local 100%) "
        "in default",
        "shop/other, service added in default",
    ]


def test_dry_run_diff_headers_of_an_absolute_path(tmp_path, monkeypatch):
    """A file outside the working directory is shown by its absolute path;
    the diff headers read `a/tmp/...` as git writes them, not `a//tmp/...`
    (`meshc fmt --diff` too)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    path = tmp_path / "examples" / "s01-canary.mesh"
    shown = str(path).lstrip("/")
    result = run("promote", str(path), "user-service", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"--- a/{shown}\n+++ b/{shown}\n")
    path.write_text(path.read_text().replace("  service user-service {", "  service   user-service {", 1))
    assert run("fmt", "--diff", str(path)).stdout.startswith(f"--- a/{shown}\n+++ b/{shown}\n")
