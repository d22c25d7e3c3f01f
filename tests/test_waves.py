"""Fleet canaries (issue 13): `wave` lines split a canary's steps over the
fleet. What each cluster renders (and shares), that waves are nothing but a
step per cluster, the syntax, and how `promote` and `rollback` move the plan
while changing only `at` numbers. Gates per wave and promotion commits are
in test_gates.py (they need the recorded Prometheus).

The properties' budget is small by default; a long run:
MESHC_WAVES_EXAMPLES=500 pytest tests/test_waves.py"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, find
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshc.backends.istio import render
from meshc.cli import cli
from meshc.language import ir
from meshc.language.fmt import format_text
from meshc.language.parse import parse
from meshc.language.source import SourceFile
from meshc.model.topology import Topology
from meshc.model.waves import live_step
from meshc.pipeline import compile_paths, compile_sources
from meshc.semantics.interpret import Interpreter
from meshc.semantics.request import Request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strategies_policy import policies  # noqa: E402
from test_properties import compiled_cleanly, render_cleanly, written  # noqa: E402

FLEET = """\
fleet prod {
  cluster hangzhou
  cluster shanghai remote of hangzhou
  cluster beijing
  cluster shenzhen
}

"""
PLAN = "wave hangzhou at 2\n        wave beijing after 1 at 1\n        wave shenzhen"
POLICY = FLEET + """\
namespace shop {
  service cart {
    port 80 http
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100%
        pause 5m
        PLAN
    }
  }
}
"""
HOST = "cart.shop.svc.cluster.local"
EXAMPLES = int(os.environ.get("MESHC_WAVES_EXAMPLES", "15"))


def compiled(plan: str = PLAN, text: str = POLICY):
    result = compile_sources([SourceFile("cart.mesh", text.replace("PLAN", plan))])
    assert result.ok, [d.message for d in result.diagnostics]
    return result


def weights(rendering, cluster: str) -> list[int]:
    (entry,) = find(rendering, cluster, "VirtualService", "shop", "cart")["spec"]["http"]
    return [d["weight"] for d in entry["route"]]


# --------------------------------------------------------------- routing
def test_each_cluster_renders_the_step_of_its_wave_and_a_remote_its_primarys():
    policy = compiled().policy
    rendering = render(policy)
    assert (weights(rendering, "hangzhou"), weights(rendering, "beijing"), weights(rendering, "shenzhen")) == \
        ([50, 50], [90, 10], [100, 0])
    assert not [d for d in rendering.clusters["shanghai"] if d.kind == "VirtualService"]  # a remote holds stubs only
    for cluster, candidate in [("shanghai", 50), ("hangzhou", 50), ("beijing", 10), ("shenzhen", 0)]:
        decision = Interpreter(policy, cluster).evaluate(Request.make(HOST, 80))
        assert {s.target.subset: s.share * 100 for s in decision.destinations}.get("v2", 0) == candidate, cluster


def test_clusters_at_the_same_step_share_their_documents():
    rendering = render(compiled("wave hangzhou beijing at 1\n        wave shenzhen").policy)

    def doc(cluster, kind, name="cart"):
        return next(d for d in rendering.clusters[cluster] if (d.kind, d.name) == (kind, name))

    assert doc("hangzhou", "VirtualService") is doc("beijing", "VirtualService")
    assert doc("hangzhou", "VirtualService").body != doc("shenzhen", "VirtualService").body
    assert doc("hangzhou", "DestinationRule") is doc("shenzhen", "DestinationRule")
    gated = render(compiled("wave hangzhou beijing at 1\n        wave shenzhen",
                            POLICY.replace("pause 5m", "pause 5m analysis p99 <= 1s")).policy)
    rules = {c: next(d for d in gated.clusters[c] if d.kind == "PrometheusRule") for c in ("hangzhou", "beijing", "shenzhen")}
    assert rules["hangzhou"] is rules["beijing"]
    (rule,) = rules["shenzhen"].body["spec"]["groups"][0]["rules"]
    assert 'source_cluster="shenzhen"' in rule["expr"] and rule["labels"]["wave"] == "2"


def _at_the_step_of(policy: ir.MeshPolicy, cluster: str) -> ir.MeshPolicy:
    """The policy with every canary's waves replaced by the `at` its wave
    gives `cluster`."""
    topology = Topology(policy)

    def route(r: ir.Route) -> ir.Route:
        if not isinstance(r.action, ir.Canary) or not r.action.waves:
            return r
        step = live_step(r.action, topology, cluster)
        return r.model_copy(update={"action": r.action.model_copy(update={"waves": (), "at": step})})

    return policy.model_copy(update={"namespaces": tuple(
        ns.model_copy(update={"services": tuple(
            svc.model_copy(update={"routes": tuple(map(route, svc.routes))}) for svc in ns.services)})
        for ns in policy.namespaces)})


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies(fleet=True))
def test_waves_are_nothing_but_a_step_per_cluster(policy):
    """Routing differs between clusters only through the plan: each
    cluster's documents are those of the same policy with every canary at
    the step of that cluster's wave (alerts aside: they watch the wave)."""
    with written(policy.files()) as (_, paths):
        compiled_ = compiled_cleanly(paths)
        rendering = render_cleanly(compiled_)
    for cluster in Topology(compiled_.policy).names:
        plain = render(_at_the_step_of(compiled_.policy, cluster))
        assert [(d.kind, d.namespace, d.name, d.body) for d in rendering.clusters[cluster] if d.kind != "PrometheusRule"] \
            == [(d.kind, d.namespace, d.name, d.body) for d in plain.clusters[cluster] if d.kind != "PrometheusRule"]


# ---------------------------------------------------------------- syntax
def test_the_clusters_of_a_wave_are_on_its_line():
    text = POLICY.replace("PLAN", "wave hangzhou\n          beijing at 1\n        wave shenzhen")
    tree, (error,) = parse(SourceFile("cart.mesh", text))
    assert tree is None and error.code == "MESH001"
    assert error.message == "unexpected `beijing`: a list ends at the end of its line, so this does not continue " \
                            "the list on line 15"


def test_fmt_puts_each_wave_on_a_line_of_its_own():
    one_line = POLICY.replace("pause 5m\n        PLAN", "pause 5m wave hangzhou at 2 wave beijing after 1 at 1 "
                                                        "wave shenzhen")
    assert format_text(one_line, "cart.mesh") == POLICY.replace("PLAN", PLAN)


def test_routing_in_an_override_is_refused_with_a_pointer_to_waves():
    text = POLICY.replace("PLAN", "wave hangzhou beijing shenzhen").replace("pause 5m", "pause 5m\n      on beijing { to v2 }")
    _, (error,) = parse(SourceFile("cart.mesh", text))
    assert error.message == "unexpected `to` in `on beijing`"
    assert "a canary's split differs between clusters only through its waves" in error.help


# ------------------------------------------------------ promote/rollback
@pytest.fixture
def cart(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cart.mesh"
    path.write_text(POLICY.replace("PLAN", "wave hangzhou\n        wave beijing after 1\n        wave shenzhen"))
    return path


def meshc(*args: str):
    return CliRunner().invoke(cli, list(args))


def steps(path: Path) -> tuple[int, ...]:
    """The `at` of each wave (0 without one)."""
    return tuple(int(at or 0) for at in re.findall(r"wave [a-z ]+?(?: after \d+)?(?: at (\d+))?\n", path.read_text()))


def without_at(text: str) -> str:
    return re.sub(r" at \d+", "", text)


def test_promote_moves_the_plan_wave_by_wave_and_only_at_numbers_change(cart):
    seen = [steps(cart)]
    while True:
        before = cart.read_text()
        result = meshc("promote", "cart.mesh", "cart")
        if result.exit_code:
            break
        assert without_at(cart.read_text()) == without_at(before)
        seen.append(steps(cart))
    # beijing starts with hangzhou's step 1 behind it and keeps pace; shenzhen waits for beijing's 100 %
    assert seen == [(0, 0, 0), (1, 0, 0), (2, 1, 0), (3, 2, 0), (3, 3, 0), (3, 3, 1), (3, 3, 2), (3, 3, 3)]
    assert result.exit_code == 1
    assert result.stderr.startswith("error[MESH704]: every wave of `cart/primary` is at its last step (3 of 3")


def test_promote_one_wave(cart):
    early = meshc("promote", "cart.mesh", "cart", "--wave", "shenzhen")
    assert early.exit_code == 1 and early.stderr.startswith("error[MESH711]: wave 3 (shenzhen) of `cart/primary` "
                                                            "starts once wave 2 (beijing) is at step 3")
    first = meshc("promote", "cart.mesh", "cart", "--wave", "1", "--dry-run")
    assert first.exit_code == 0, first.output
    assert first.stdout.count("\n-") == 1 and "+        wave hangzhou at 1\n" in first.stdout
    assert first.stderr == ("shop/cart, route primary: v1 100% → 90%, v2 0% → 10% in hangzhou, shanghai\n"
                            "would promote cart/primary, wave 1 (hangzhou, shanghai): step 0 → 1 (v1 90% / v2 10%)\n"
                            "clusters that change:\n"
                            "  hangzhou, shanghai: v1 100% / v2 0% → v1 90% / v2 10%\n")
    assert steps(cart) == (0, 0, 0)
    assert meshc("promote", "cart.mesh", "cart", "--to", "2").exit_code == 2  # --to moves one wave: which?
    jump = meshc("promote", "cart.mesh", "cart", "--wave", "hangzhou", "--to", "3", "--skip")
    assert jump.exit_code == 0, jump.output
    assert "skipped steps 1, 2 (v1 90% / v2 10%; v1 50% / v2 50%)" in jump.stderr
    assert steps(cart) == (3, 0, 0)


def test_rollback_returns_a_wave_and_the_waves_it_started(cart):
    cart.write_text(cart.read_text().replace("wave hangzhou", "wave hangzhou at 3")
                    .replace("after 1", "after 1 at 3").replace("wave shenzhen", "wave shenzhen at 1"))
    before = cart.read_text()
    result = meshc("rollback", "cart.mesh", "cart", "--wave", "beijing")
    assert result.exit_code == 0, result.output
    assert steps(cart) == (3, 0, 0) and without_at(cart.read_text()) == without_at(before)
    assert result.stderr.splitlines() == [
        "rolled back cart/primary, wave 2 (beijing): step 3 → 0 (v1 100% / v2 0%)",
        "rolled back cart/primary, wave 3 (shenzhen): step 1 → 0 (v1 100% / v2 0%)",
        "clusters that change:",
        "  beijing: v1 0% / v2 100% → v1 100% / v2 0%",
        "  shenzhen: v1 90% / v2 10% → v1 100% / v2 0%",
    ]
    again = meshc("rollback", "cart.mesh", "cart", "--wave", "2")
    assert again.exit_code == 1 and again.stderr.startswith(
        "error[MESH705]: `cart/primary, wave 2 (beijing)` already sends all traffic to `v1`")
    assert meshc("rollback", "cart.mesh", "cart").exit_code == 0 and steps(cart) == (0, 0, 0)
    assert meshc("rollback", "cart.mesh", "cart").stderr.startswith("error[MESH705]: every wave of `cart/primary`")


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["promote", "rollback"]), st.sampled_from([None, "1", "2", "3", "shanghai"])),
                max_size=6))
def test_promote_and_rollback_change_only_at_numbers(tmp_path_factory, moves):
    """Whatever is asked and whatever is refused, the file changes only in
    `at` numbers (or gains ` at N`), and every state written compiles."""
    path = tmp_path_factory.mktemp("plan") / "cart.mesh"
    text = POLICY.replace("PLAN", "wave hangzhou shanghai\n        wave beijing after 2 # the north\n"
                                  "        wave shenzhen")
    path.write_text(text)
    for command, wave in moves:
        result = meshc(command, str(path), "cart", *(["--wave", wave] if wave else []))
        assert result.exit_code in (0, 1), result.output
        assert without_at(path.read_text()) == without_at(text)
        assert compile_paths([str(path)]).ok


# ---------------------------------------------------------------- status
def test_status_shows_each_wave_its_clusters_step_and_split(in_repo):
    result = meshc("status", "--output-format", "json", "examples/s17-fleet-waves.mesh")
    assert result.exit_code == 0, result.output
    found = [(e["wave"], e["clusters"], e["step"], e["declared"], e["next"]) for e in json.loads(result.stdout)
             if e["service"] == "search"]
    assert found == [
        (1, ["hangzhou", "shanghai"], 3, {"baseline": 50, "candidate": 50}, {"baseline": 0, "candidate": 100}),
        (2, ["beijing"], 1, {"baseline": 95, "candidate": 5}, {"baseline": 75, "candidate": 25}),
        (3, ["shenzhen"], 0, {"baseline": 100, "candidate": 0}, {"baseline": 95, "candidate": 5}),
    ]


def test_the_example_renders_different_weights_per_cluster_exactly_as_its_plan_says():
    rendering = render(compile_paths([str(p) for p in sorted((ROOT / "examples").glob("*.mesh"))]).policy)
    for cluster, split in [("hangzhou", [50, 50]), ("beijing", [95, 5]), ("shenzhen", [100, 0])]:
        for name in ("search", "catalog-gateway-shop-example-com"):
            (entry,) = find(rendering, cluster, "VirtualService", "catalog", name)["spec"]["http"]
            assert [d["weight"] for d in entry["route"]] == split, (cluster, name)


def test_a_wave_names_clusters_of_the_fleet():
    found = compile_sources([SourceFile("cart.mesh", POLICY.replace(
        "PLAN", "wave hangzhou at 2\n        wave beijing shenzen after 1 at 1\n        wave shenzhen"))]).diagnostics
    assert [(d.code, d.message, d.help) for d in found] == [
        ("MESH202", "a canary wave of `shenzen` is not a cluster of the fleet", "did you mean `shenzhen`?")]
    alone = compile_sources([SourceFile("cart.mesh", POLICY.replace(FLEET, "").replace("PLAN", "wave default"))])
    assert [d.code for d in alone.diagnostics] == ["MESH202"]  # no fleet: waves have nothing to split
