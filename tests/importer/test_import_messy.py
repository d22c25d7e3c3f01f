"""A messy fleet of three clusters (tests/fixtures/import/messy, README.md):
files, a `kubectl get -o yaml` List and a `kustomize build` stream; short
and full host names; two hosts in one VirtualService; regex headers; a
wildcard DestinationRule; v1beta1 next to v1; and the clusters differing.
What imports, what is reported where, and what the proof finds."""

from __future__ import annotations

import pytest
from import_support import FIXTURES, assert_canonical, rendered, run_import, written
from test_schemas import ISTIO_KINDS, crds, upstream  # noqa: F401 (fixtures)

MESSY = FIXTURES / "messy"
CLUSTERS = ("east", "west", "north")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("messy") / "out"
    done = run_import([a for c in CLUSTERS for a in ("--cluster", f"{c}={MESSY / c}")], out)
    return done, written(out)


def test_every_loss_is_reported_at_its_field(imported):
    done, _ = imported
    assert done.exit_code == 1
    labels = [("north/kustomize-build.yaml", line, 5, "MESH826")  # kustomize's commonLabels, on every resource
              for line in (5, 19, 33, 47, 61, 81, 98, 121, 134, 165, 190, 225)]
    assert done.located() == sorted([
        ("east/cart.yaml", 9, 3, "MESH823"),  # exportTo: ["."]
        ("east/cart.yaml", 9, 3, "MESH850"),  # ... which the proof sees: callers outside `shop` lose the split
        ("east/catalog.yaml", 5, 9, "MESH825"),  # one VirtualService for two hosts: two, named after each
        ("east/catalog.yaml", 28, 9, "MESH827"),  # west's catalog has a subset v3 the others lack
        ("east/catalog.yaml", 41, 7, "MESH820"),  # the EnvoyFilter
        ("east/checkout.yaml", 29, 5, "MESH821"),  # the header rewrite
        ("east/shop-defaults.yaml", 5, 9, "MESH825"),  # the wildcard rule is the namespace's `defaults`
        ("west/all.yaml", 212, 9, "MESH820"),  # the Sidecar
        *labels,
    ])
    said = {(d["location"]["file"].rsplit("/", 1)[-1], d["code"]): d["message"] for d in done.diagnostics}
    assert said["cart.yaml", "MESH823"].endswith("(cluster east)")  # west says exportTo: ["*"], Istio's default
    assert said["catalog.yaml", "MESH820"].endswith("(cluster east)")
    assert said["all.yaml", "MESH820"].startswith("Sidecar shop/default") and said["all.yaml", "MESH820"].endswith(
        "(cluster west)")
    assert said["cart.yaml", "MESH850"].startswith("in cluster `east`, GET cart.shop.svc.cluster.local:8080/: the "
                                                   "input takes Istio's default route")
    assert "(cluster" not in said["checkout.yaml", "MESH821"]  # every cluster rewrites the header
    differs = next(d for d in done.diagnostics if d["code"] == "MESH827")
    assert [(label["location"]["file"].rsplit("/", 2)[-2:], label["location"]["line"]) for label in differs["labels"]] \
        == [(["west", "all.yaml"], 197)]


def test_the_policy_is_one_for_the_fleet_with_what_differs_per_cluster(imported):
    _, files = imported
    assert files["fleet.mesh"].split("\n", 1)[1] == """fleet imported {
  cluster east

  # its resources use networking.istio.io/v1beta1: if it runs Istio 1.21 or older, add `istio 1.N`
  cluster west
  cluster north
}
"""
    shop = files["shop.mesh"]
    # the split that differs per cluster is a fleet canary, furthest wave first
    assert """    route main {
      canary v1 -> v2 steps 10% 50% 100%
        wave west at 2
        wave east after 2 at 1
        wave north
    }""" in shop
    # the timeout and the circuit breaker west changed: `on west`
    assert "      timeout 5s\n      retry 2 per-try 1s on 5xx connect-failure\n      on west { timeout 10s }\n" in shop
    assert "    on west {\n      circuit-breaker { max-connections 200 }\n    }\n" in shop
    # the regex header, written once for the host named short and long
    assert 'when header x-user ~ "^(alice|bob)@example\\.com$"' in shop
    # the wildcard DestinationRule
    assert "  defaults { lb least-request }\n" in shop
    # both hosts of the catalog VirtualService keep its routes; the first
    # cluster's subsets are kept
    assert "  service catalog {\n    port 80 http name http\n    subsets by version v1\n" in shop
    assert "  service search {\n    port 80 http name http\n    route api {\n      when path ^= \"/api/\"\n" \
           "      to service catalog subset v1\n" in shop


def test_the_written_policy_compiles_and_renders_each_cluster(imported, tmp_path):
    done, _ = imported
    rendering = rendered(done.out)
    assert sorted(rendering.clusters) == sorted(CLUSTERS)
    assert_canonical(done.out)


def test_the_proof_covers_every_cluster_and_finds_only_the_export(tmp_path):
    from click.testing import CliRunner

    from meshc.cli import cli

    done = CliRunner().invoke(cli, ["import", *(a for c in CLUSTERS for a in ("--cluster", f"{c}={MESSY / c}")),
                                    "-o", str(tmp_path / "out"), "--output-format", "concise"])
    # the 7 are cart's requests in east, from callers outside `shop` (one diagnostic, at the exportTo)
    assert "\nproof: 75 requests in 3 clusters, 7 routed differently; " in done.stderr
    assert [line.split(" ", 2)[1] for line in done.stderr.splitlines() if "error[" in line] == ["error[MESH850]"]


def test_the_input_is_what_istio_accepts(upstream):
    """Messy, not wrong: Istio's CRD schemas (../shared/istio) take every
    resource of every cluster, a List's items included."""
    from ruamel.yaml import YAML

    rejected, checked = [], 0
    for path in sorted(MESSY.rglob("*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")):
            for res in (doc.get("items") or []) if doc.get("kind") == "List" else [doc]:
                if res.get("kind") in ISTIO_KINDS:
                    checked += 1
                    rejected += [(path.name, res["metadata"]["name"], m) for m in upstream(res)]
    assert (rejected, checked) == ([], 24)  # 8 a cluster
