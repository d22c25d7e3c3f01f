"""`meshc diff` on pairs of policies that differ by one known change (or a
few), against the changes worked out by hand: exactly these lines, with
these caller clusters, in text, markdown and JSON; `--exit-code`;
`promote` and `promote --dry-run`; `--git REV`.

The base (diff/base/policy.mesh) is a fleet of hangzhou, its remote
shanghai, and beijing: a change in hangzhou's files holds for shanghai's
callers too (docs/multicluster.md), a change `on beijing` for beijing's only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.independent.meshc_cli import HERE, POLICIES, run

BASE = HERE / "diff" / "base"
ALL = "in hangzhou, shanghai, beijing"
MAIN = "    route main { to v1 90%, v2 10% }"
CB = "    circuit-breaker { max-connections 100 }"
QA = '    route qa {\n      when header x-qa = "1"\n      to v2\n    }\n'
BETA = '    route beta {\n      when header x-beta = "1"\n      to v1\n    }\n'


def edited(edits: list[tuple[str, str]]) -> str:
    text = (BASE / "policy.mesh").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def write_pair(tmp_path: Path, old_edits, new_edits) -> tuple[Path, Path]:
    dirs = []
    for side, edits in (("old", old_edits), ("new", new_edits)):
        d = tmp_path / side
        d.mkdir()
        (d / "policy.mesh").write_text(edited(edits))
        dirs.append(d)
    return dirs[0], dirs[1]


# id, edits of the old side, edits of the new side, the changes (text lines
# without their examples), and for each "requests" line a header an example
# request must carry
PAIRS = [
    ("weights", [], [("to v1 90%, v2 10%", "to v1 70%, v2 30%")],
     [f"prod/orders, route main: v1 90% → 70%, v2 10% → 30% {ALL}"], {}),
    ("route-added", [], [(MAIN, QA + MAIN)],
     [f"prod/orders, route qa added {ALL}",
      f"prod/orders, route main (to v1 90%, v2 10%) → route qa (to v2 100%) {ALL}"],
     {1: "x-qa: 1"}),
    ("route-removed", [(MAIN, QA + MAIN)], [],
     [f"prod/orders, route qa removed {ALL}",
      f"prod/orders, route qa (to v2 100%) → route main (to v1 90%, v2 10%) {ALL}"],
     {1: "x-qa: 1"}),
    ("routes-reordered", [(MAIN, QA + BETA + MAIN)], [(MAIN, BETA + QA + MAIN)],
     [f"prod/orders, routes reordered: qa, beta, main → beta, qa, main {ALL}",
      f"prod/orders, route qa (to v2 100%) → route beta (to v1 100%) {ALL}"],
     {1: "x-beta: 1"}),
    ("when-changed", [(MAIN, QA + MAIN)], [(MAIN, QA.replace('"1"', '"yes"') + MAIN)],
     [f'prod/orders, route qa: when header x-qa = "1" → when header x-qa = "yes" {ALL}',
      f"prod/orders, route main (to v1 90%, v2 10%) → route qa (to v2 100%) {ALL}",
      f"prod/orders, route qa (to v2 100%) → route main (to v1 90%, v2 10%) {ALL}"],
     {1: "x-qa: yes", 2: "x-qa: 1"}),
    ("timeout-on-beijing", [], [(CB, CB + "\n    on beijing { timeout 20s }")],
     ["prod/orders, route main: timeout 5s → 20s in beijing"], {}),
    ("timeout-on-hangzhou-moves-its-remote", [], [(CB, CB + "\n    on hangzhou { timeout 20s }")],
     ["prod/orders, route main: timeout 5s → 20s in hangzhou, shanghai"], {}),
    ("route-timeout-one-route", [(MAIN, QA + MAIN)], [(MAIN, QA.replace("to v2", "to v2\n      timeout 1s") + MAIN)],
     [f"prod/orders, route qa: timeout 5s → 1s {ALL}"], {}),
    ("destination-policy", [], [("max-connections 100", "max-connections 200")],
     [f"prod/orders, destination policy: connectionPool.tcp.maxConnections 100 → 200 {ALL}"], {}),
    ("destination-policy-on-beijing", [], [(CB, CB + "\n    on beijing { circuit-breaker { max-connections 50 } }")],
     ["prod/orders, destination policy: connectionPool.tcp.maxConnections 100 → 50 in beijing"], {}),
    ("exposure-added", [], [(CB, CB + "\n    expose via edge host shop.example.com")],
     [f"prod/orders, exposure added: via edge host shop.example.com {ALL}",
      f"prod/orders, status 404 → route main (to v1 90%, v2 10%) {ALL}"],
     {1: "at istio-system/edge port 443"}),
    ("two-changes", [], [("to v1 90%, v2 10%", "to v1 70%, v2 30%"), (CB, CB + "\n    on beijing { timeout 20s }")],
     [f"prod/orders, route main: v1 90% → 70%, v2 10% → 30% {ALL}",
      "prod/orders, route main: timeout 5s → 20s in beijing"], {}),
    ("istio-release-before-1.24", [], [("gateway 10.1.0.1", "gateway 10.1.0.1 istio 1.23")],
     ["fleet, Istio 1.30 → 1.23 in beijing",
      *[f"prod/{s}, route main: retry 2 on cancelled connect-failure refused-stream retriable-status-codes "
        "unavailable → retry 2 on cancelled connect-failure refused-stream retriable-status-codes unavailable 503 "
        "in beijing" for s in ("billing", "orders")]],
     {}),
    # no traffic change: a comment, gates and pauses, Istio's default written out, a test
    ("comment", [], [("# The base policy", "# A changed comment; the base policy")], [], {}),
    ("gates-and-pause", [], [("at 1 }", "at 1\n      pause 5m\n      analysis success-rate >= 99%\n    }")], [], {}),
    ("default-retries-written-out", [], [("    timeout 5s", "    timeout 5s\n    retry 2")], [], {}),
    ("a-test-block", [], [("# The base policy", "test t {\n  request service orders in prod\n  expect route main\n}\n"
                           "# The base policy")], [], {}),
    # Istio applies a subset's policy over the top level field by field
    # (istio-facts.md): v2's connection pool is max-connections 100 before
    # (the top level's) and after (the subset's, as meshc renders the merge)
    # (fixed: meshc diff also reported `destination policy of subset v2:
    # connectionPool.tcp.maxConnections unset → 100`, comparing the subsets'
    # policies as written rather than as Istio merges them)
    ("subset-policy", [], [("    timeout 5s", "    subset v2 { lb random }\n    timeout 5s")],
     [f"prod/orders, destination policy of subset v2: loadBalancer.simple unset → RANDOM {ALL}"], {}),
]


def pair_id(p):
    return p[0] if isinstance(p, tuple) else None


def split_text(out: str) -> tuple[list[str], dict[int, list[str]]]:
    lines, examples = [], {}
    for line in out.splitlines():
        if line.startswith("  e.g. "):
            examples.setdefault(len(lines) - 1, []).append(line.removeprefix("  e.g. "))
        elif line and line != "no change in traffic terms":
            lines.append(line)
    return lines, examples


@pytest.mark.parametrize("name, old_edits, new_edits, expected, example_headers", PAIRS, ids=pair_id)
def test_diff_reports_exactly_the_change(tmp_path, name, old_edits, new_edits, expected, example_headers):
    old, new = write_pair(tmp_path, old_edits, new_edits)

    text = run("diff", old, new)
    assert text.exit_code == 0, text.output
    lines, examples = split_text(text.stdout)
    assert sorted(lines) == sorted(expected)
    if not expected:
        assert text.stdout.strip() == "no change in traffic terms"
    for index, header in example_headers.items():
        at = lines.index(expected[index])
        assert any(header in e for e in examples.get(at, [])), (expected[index], examples.get(at))
        assert len(examples[at]) <= 3, "up to three example requests"

    data = json.loads(run("diff", old, new, "--format", "json").stdout)
    assert sorted(f"{c['subject']}, {c['change']} in {', '.join(c['clusters'])}" for c in data) == sorted(expected)
    for c in data:
        line = f"{c['subject']}, {c['change']} in {', '.join(c['clusters'])}"
        assert c["examples"] == examples.get(lines.index(line), [])
        # requests that go elsewhere are the lines with examples
        assert (c["kind"] == "requests") == (expected.index(line) in example_headers), c

    markdown = run("diff", old, new, "--format", "markdown").stdout
    rows = [r for r in markdown.splitlines() if r.startswith("| `")]
    assert len(rows) == len(expected)
    for c in data:
        change = c["change"] + ("<br>e.g. " + "; ".join(f"`{e}`" for e in c["examples"]) if c["examples"] else "")
        assert f"| `{c['subject']}` | {change} | {', '.join(c['clusters'])} |" in rows

    assert run("diff", old, new, "--exit-code").exit_code == (1 if expected else 0)
    assert run("diff", old, old, "--exit-code").exit_code == 0


def test_a_promotion_by_one_step_is_exactly_its_weights(tmp_path):
    old, new = write_pair(tmp_path, [], [])
    line = f"prod/billing, route main: v1 90% → 50%, v2 10% → 50% {ALL}"
    dry = run("promote", new / "policy.mesh", "billing", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert (new / "policy.mesh").read_text() == (old / "policy.mesh").read_text()
    assert "-    route main { canary v1 -> v2 steps 10% 50% 100% at 1 }" in dry.stdout
    assert "+    route main { canary v1 -> v2 steps 10% 50% 100% at 2 }" in dry.stdout
    assert line in dry.stderr.splitlines()

    assert run("promote", new / "policy.mesh", "billing").exit_code == 0
    text = run("diff", old, new)
    assert text.stdout.splitlines() == [line]
    data = json.loads(run("diff", old, new, "--format", "json").stdout)
    assert data == [{"subject": "prod/billing", "kind": "route", "change": "route main: v1 90% → 50%, v2 10% → 50%",
                     "clusters": ["hangzhou", "shanghai", "beijing"], "examples": []}]
    # the two texts differ in the `at` number only
    old_lines, new_lines = (p.read_text().splitlines() for p in (old / "policy.mesh", new / "policy.mesh"))
    assert [(a, b) for a, b in zip(old_lines, new_lines) if a != b] == [
        ("    route main { canary v1 -> v2 steps 10% 50% 100% at 1 }",
         "    route main { canary v1 -> v2 steps 10% 50% 100% at 2 }")]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_against_a_git_revision(tmp_path):
    repo = tmp_path / "repo"
    policy = repo / "policies"
    shutil.copytree(BASE, policy)
    (policy / "extra.mesh").write_text("namespace prod {\n  service extra { port 8080 http }\n}\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")

    assert run("diff", "--git", "HEAD", policy).stdout.strip() == "no change in traffic terms"
    (policy / "policy.mesh").write_text(edited([("to v1 90%, v2 10%", "to v1 70%, v2 30%")]))
    weights = f"prod/orders, route main: v1 90% → 70%, v2 10% → 30% {ALL}"
    # the working tree against HEAD, read from git's objects: nothing checked out
    result = run("diff", "--git", "HEAD", policy)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [weights]
    assert run("diff", "--git", "HEAD", policy, "--exit-code").exit_code == 1
    assert "90%" not in (policy / "policy.mesh").read_text()

    git(repo, "commit", "-qam", "weights")
    assert run("diff", "--git", "HEAD~1", policy).stdout.splitlines() == [weights]
    assert run("diff", "--git", "HEAD", policy, "--exit-code").exit_code == 0

    # a file deleted in the working tree, then an untracked one
    (policy / "extra.mesh").unlink()
    assert run("diff", "--git", "HEAD", policy).stdout.splitlines() == [f"prod/extra, service removed {ALL}"]
    assert not (policy / "extra.mesh").exists()
    (policy / "new.mesh").write_text("namespace prod {\n  service fresh { port 8080 http }\n}\n")
    assert sorted(run("diff", "--git", "HEAD", policy).stdout.splitlines()) == [
        f"prod/extra, service removed {ALL}", f"prod/fresh, service added {ALL}"]

    bad = run("diff", "--git", "no-such-revision", policy)
    assert bad.exit_code == 2 and "no-such-revision" in bad.output


# Fixed: removing a service that has no routes reported only `service removed`,
# but together with an unrelated change (orders' weights) also
# `extra.prod.svc.cluster.local, Istio's default route (to service extra in
# prod 100%) → Istio's default route (to host extra.prod.svc.cluster.local
# 100%)`: meshc does not own the real Service (multicluster.md), so no
# request moves; the diff now evaluates both sides knowing both sides'
# Services.
def test_a_service_removed_is_reported_the_same_with_another_change(tmp_path):
    old, new = write_pair(tmp_path, [], [("to v1 90%, v2 10%", "to v1 70%, v2 30%")])
    (old / "extra.mesh").write_text("namespace prod {\n  service extra { port 8080 http }\n}\n")
    assert sorted(run("diff", old, new).stdout.splitlines()) == [
        f"prod/extra, service removed {ALL}", f"prod/orders, route main: v1 90% → 70%, v2 10% → 30% {ALL}"]


RETRY = "retry 5 per-try {}s on cancelled connect-failure refused-stream retriable-status-codes unavailable"
OTHER_PAIRS = [
    # a gateway host block's route: its subject is the block, not a service
    ("gateway", "      timeout 3s", "      timeout 4s",
     ["gateway edge host admin.example.com, route ops: timeout 3s → 4s in default"]),
    ("resilience", "mirror v2 25%", "mirror v2 50%", ["pay/ledger, route shadow: mirror v2 25% → v2 50% in default"]),
    # the service's retry applies to every route but legacy, which sets its own
    ("resilience", "retry 5 per-try 2s", "retry 5 per-try 3s",
     [f"pay/ledger, route {r}: {RETRY.format(2)} → {RETRY.format(3)} in default" for r in ("chaos", "plain", "shadow")]),
    ("resilience", "fault abort 503 0.5%", "fault abort 503 1%",
     ["pay/ledger, route chaos: fault delay 2s 10%; fault abort 503 0.5% → fault delay 2s 10%; fault abort 503 1% in default"]),
]


@pytest.mark.parametrize("policy, old_text, new_text, expected", OTHER_PAIRS,
                         ids=[f"{p[0]}-{i}" for i, p in enumerate(OTHER_PAIRS)])
def test_diff_of_options_in_the_table_policies(tmp_path, policy, old_text, new_text, expected):
    old, new = tmp_path / "old", tmp_path / "new"
    for d in (old, new):
        d.mkdir()
    text = (POLICIES / policy / "policy.mesh").read_text()
    assert old_text in text
    (old / "policy.mesh").write_text(text)
    (new / "policy.mesh").write_text(text.replace(old_text, new_text, 1))
    assert sorted(run("diff", old, new).stdout.splitlines()) == sorted(expected)


def test_promoting_one_wave_changes_its_clusters_only(tmp_path):
    """wave hangzhou at 1 → 2 (shanghai, hangzhou's remote, moves with it);
    beijing's wave stays at 0."""
    old, new = tmp_path / "old", tmp_path / "new"
    for d in (old, new):
        d.mkdir()
        for name in ("fleet.mesh", "prod.mesh"):
            shutil.copy(POLICIES / "fleet" / name, d / name)
    line = "search/finder, route main: v1 80% → 0%, v2 20% → 100% in hangzhou, shanghai"
    dry = run("promote", new / "prod.mesh", "finder", "--wave", "1", "--dry-run")
    assert line in dry.stderr.splitlines()
    assert run("promote", new / "prod.mesh", "finder", "--wave", "1").exit_code == 0
    assert run("diff", old, new).stdout.splitlines() == [line]
