"""The acceptance test of issue 10: the rendered golden output of examples/,
imported with the examples' fleet, gives a policy that renders the same
documents; only the canary alerts (PrometheusRules, whose canary steps the
YAML does not carry) are reported lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_support import ROOT, assert_canonical, documents, rendered, run_import

GOLDEN = ROOT / "golden" / "examples"
FLEET = ROOT / "examples" / "fleet.mesh"
CLUSTERS = ("hangzhou", "shanghai", "beijing", "shenzhen")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("examples") / "policy"
    args = ["--fleet", str(FLEET)] + [a for c in CLUSTERS for a in ("--cluster", f"{c}={GOLDEN / c}")]
    return run_import(args, out)


def golden_documents() -> dict[str, str]:
    out = {}
    for path in sorted(GOLDEN.rglob("*.yaml")):
        rel = path.relative_to(GOLDEN).as_posix()
        if rel.count("/") == 2:  # CLUSTER/NAMESPACE/KIND-NAME.yaml, not the kustomizations
            out[rel] = path.read_text(encoding="utf-8").split("\n", 1)[1]
    return out


def test_only_the_canary_alerts_are_lost(imported):
    assert imported.exit_code == 1, imported.stderr
    assert [(d["code"], Path(d["location"]["file"]).name) for d in imported.diagnostics] == [
        ("MESH820", "prometheusrule-search-canary.yaml"),
        ("MESH820", "prometheusrule-checkout-canary.yaml"),
        ("MESH820", "prometheusrule-user-service-canary.yaml"),
    ]


def test_the_import_renders_the_golden_documents(imported):
    golden = golden_documents()
    mine = documents(rendered(imported.out))
    alerts = {k for k in golden if "/prometheusrule-" in k}
    assert alerts and not alerts & mine.keys()
    assert mine == {k: v for k, v in golden.items() if k not in alerts}


def test_the_files_are_canonical_and_the_fleet_is_kept(imported):
    assert_canonical(imported.out)
    assert (imported.out / "fleet.mesh").read_text().split("\n", 1)[1] == FLEET.read_text()


def test_importing_again_changes_nothing(imported, tmp_path):
    before = {p.name: p.read_bytes() for p in imported.out.iterdir()}
    args = ["--fleet", str(FLEET)] + [a for c in CLUSTERS for a in ("--cluster", f"{c}={GOLDEN / c}")]
    again = run_import(args, imported.out)
    assert again.exit_code == 1
    assert {p.name: p.read_bytes() for p in imported.out.iterdir()} == before
