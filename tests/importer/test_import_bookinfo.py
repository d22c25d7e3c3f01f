"""Istio's bookinfo samples (tests/fixtures/import/bookinfo, SOURCE.md):
the loss report names each field the language cannot hold at its line, and
what can be held imports without loss (the proof agrees)."""

from __future__ import annotations

import pytest
from import_support import FIXTURES, assert_canonical, run_import, written

BOOKINFO = FIXTURES / "bookinfo"
VIRTUAL_SERVICES = sorted(p.name for p in BOOKINFO.glob("virtual-service-*.yaml"))


@pytest.mark.parametrize("name", VIRTUAL_SERVICES)
def test_routes_with_their_subsets_import_without_loss(name, tmp_path):
    done = run_import([str(BOOKINFO / "destination-rule-all.yaml"), str(BOOKINFO / name)], tmp_path / "out")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr
    assert_canonical(tmp_path / "out")


@pytest.mark.parametrize("name", ["destination-rule-all.yaml", "destination-rule-all-mtls.yaml",
                                  "destination-rule-reviews.yaml"])
def test_destination_rules_import_without_loss(name, tmp_path):
    done = run_import([str(BOOKINFO / name)], tmp_path / "out")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr


def test_routes_without_their_subsets_are_reported(tmp_path):
    """A route to a subset no DestinationRule defines gets 503 from Istio;
    the language refuses it, and the proof sees the routing change."""
    done = run_import([str(BOOKINFO / "virtual-service-reviews-jason-v2-v3.yaml")], tmp_path / "out")
    assert done.exit_code == 1
    assert done.where() == [("virtual-service-reviews-jason-v2-v3.yaml", 9, "MESH822"),
                            ("virtual-service-reviews-jason-v2-v3.yaml", 9, "MESH850"),
                            ("virtual-service-reviews-jason-v2-v3.yaml", 17, "MESH822"),
                            ("virtual-service-reviews-jason-v2-v3.yaml", 17, "MESH850")]


def test_the_gateway_keeps_its_routes_and_reports_the_names_it_loses(tmp_path):
    done = run_import([str(BOOKINFO / "bookinfo-gateway.yaml")], tmp_path / "out")
    assert done.exit_code == 1
    # the server's port name `http` (line 13), the VirtualService's name (line 21)
    assert done.where() == [("bookinfo-gateway.yaml", 13, "MESH825"), ("bookinfo-gateway.yaml", 21, "MESH825")]
    text = written(tmp_path / "out")["default.mesh"]
    assert "gateway bookinfo-gateway {\n    hosts *\n    http port 8080\n    host * {\n" in text
    assert 'when path = "/productpage" or path ^= "/static"' in text


def test_the_egress_sample_reports_what_is_not_a_service(tmp_path):
    done = run_import([str(BOOKINFO / "egress-rule-google-apis.yaml")], tmp_path / "out")
    assert done.exit_code == 1
    losses = [w for w in done.where("egress-rule-google-apis.yaml") if w[2] != "MESH850"]
    assert losses == [
        ("egress-rule-google-apis.yaml", 4, "MESH825"),   # the ServiceEntry named after its host
        ("egress-rule-google-apis.yaml", 10, "MESH825"),  # port names
        ("egress-rule-google-apis.yaml", 13, "MESH825"),
        ("egress-rule-google-apis.yaml", 23, "MESH824"),  # a VirtualService for an external host
        ("egress-rule-google-apis.yaml", 38, "MESH824"),  # a DestinationRule for it (TLS origination)
    ]
    assert "MESH850" in done.codes()  # and the proof shows the routing and TLS the import lost
    assert written(tmp_path / "out")["default.mesh"].count("external www.googleapis.com port 80 http port 443 https")


def test_a_dead_entry_is_dropped_and_reported(tmp_path):
    done = run_import([str(BOOKINFO / "fault-injection-details-v1.yaml")], tmp_path / "out")
    assert done.where() == [("fault-injection-details-v1.yaml", 18, "MESH829")]
    assert "fault abort 555 100%" in written(tmp_path / "out")["default.mesh"]
