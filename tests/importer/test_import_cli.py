"""`meshc import` as a command: inputs (files, directories, lists, several
clusters), exit codes, --strict, and the output directory's safety."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from import_support import FIXTURES, ROOT, assert_canonical, run_import, written

from meshc.cli import cli

SARIF_SCHEMA = json.loads((ROOT / "tests" / "sarif" / "sarif-schema-2.1.0.json").read_text())

BOOKINFO = FIXTURES / "bookinfo"
CART = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: shop}
spec:
  hosts: [cart]
  http:
  - name: primary
    timeout: 5s
    route:
    - destination: {host: cart}
"""
LOSSY = CART.replace("    timeout: 5s\n", "    timeout: 5s\n    headers: {request: {set: {x-a: b}}}\n")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_lost_exits_0_and_writes_one_file_per_namespace(tmp_path):
    done = run_import([str(write(tmp_path / "in.yaml", CART))], tmp_path / "out")
    assert (done.exit_code, done.diagnostics) == (0, [])
    files = written(tmp_path / "out")
    assert list(files) == ["shop.mesh"]
    assert files["shop.mesh"].split("\n", 1)[1] == (
        "namespace shop {\n  # from VirtualService shop/cart\n  service cart {\n    timeout 5s\n"
        "    route primary {}\n  }\n}\n")


def test_a_loss_exits_1_and_still_writes(tmp_path):
    done = run_import([str(write(tmp_path / "in.yaml", LOSSY))], tmp_path / "out")
    assert done.exit_code == 1
    assert done.where() == [("in.yaml", 9, "MESH821")]
    assert "shop.mesh" in written(tmp_path / "out")


def test_strict_writes_nothing_when_something_is_lost(tmp_path):
    done = run_import([str(write(tmp_path / "in.yaml", LOSSY)), "--strict"], tmp_path / "out")
    assert done.exit_code == 1
    assert not (tmp_path / "out").exists()
    assert run_import([str(write(tmp_path / "ok.yaml", CART)), "--strict"], tmp_path / "out2").exit_code == 0


@pytest.mark.parametrize("text", ["spec: [", "a: 1\na: 2\n", b"\xff\xfe".decode("latin-1")])
def test_unreadable_input_exits_2_and_writes_nothing(text, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    done = run_import([str(write(tmp_path / "ok.yaml", CART)), str(bad)], tmp_path / "out")
    assert done.exit_code == 2
    assert [d["code"] for d in done.diagnostics] == ["MESH840"]
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["import", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o")]).exit_code == 2
    assert runner.invoke(cli, ["import", "-o", str(tmp_path / "o")]).exit_code == 2
    assert runner.invoke(cli, ["import", "--cluster", "Bad_Name=x", "-o", str(tmp_path / "o")]).exit_code == 2
    both = runner.invoke(cli, ["import", "a.yaml", "--cluster", "a=b", "-o", str(tmp_path / "o")])
    assert both.exit_code == 2 and "not both" in both.output


def test_directories_lists_and_kustomize_streams(tmp_path):
    """A directory (searched recursively), a `kubectl get -o yaml` List and a
    multi-document stream with a Kustomization among the documents."""
    items = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
         "metadata": {"name": "cart", "namespace": "shop", "resourceVersion": "7", "uid": "x",
                      "creationTimestamp": "2026-01-01T00:00:00Z"},
         "spec": {"host": "cart", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]},
         "status": {}}]})
    write(tmp_path / "in" / "a" / "list.yaml", items)
    write(tmp_path / "in" / "b" / "stream.yaml", "---\napiVersion: kustomize.config.k8s.io/v1beta1\n"
                                                 "kind: Kustomization\n---\n" + CART + "---\n")
    done = run_import([str(tmp_path / "in")], tmp_path / "out")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr
    text = written(tmp_path / "out")["shop.mesh"]
    assert "subsets by version v1" in text and "route primary {}" in text


def test_resources_without_a_namespace_go_to_the_given_one(tmp_path):
    done = run_import([str(BOOKINFO / "destination-rule-reviews.yaml"), "--namespace", "bookinfo"],
                      tmp_path / "out")
    assert done.exit_code == 0
    assert list(written(tmp_path / "out")) == ["bookinfo.mesh"]


def test_an_empty_namespace_is_no_namespace(tmp_path):
    """kubectl applies `namespace: ""` to the default namespace, as if none were given."""
    source = write(tmp_path / "a.yaml", CART.replace("namespace: shop", 'namespace: ""'))
    done = run_import([str(source), "--namespace", "shop"], tmp_path / "out")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr
    assert list(written(tmp_path / "out")) == ["shop.mesh"]


def test_a_difference_between_clusters_is_reported_in_the_cluster_that_has_it(tmp_path):
    gateway = ("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: %s, namespace: shop}\n"
               "spec:\n  selector: {istio: %s}\n  servers:\n  - port: {number: 80, name: http-80, protocol: HTTP}\n"
               "    hosts: [\"*\"]\n")
    for cluster in ("east", "west"):
        write(tmp_path / cluster / "gw.yaml", gateway % ("a", "ingressgateway"))
    write(tmp_path / "west" / "gw2.yaml", gateway % ("b", "other"))
    done = run_import(["--cluster", f"east={tmp_path / 'east'}", "--cluster", f"west={tmp_path / 'west'}"],
                      tmp_path / "out")
    assert ("west/gw.yaml", 3, 18, "MESH827") in done.located(), done.stderr


def test_several_clusters_make_a_fleet_and_per_cluster_overrides(tmp_path):
    a = write(tmp_path / "a.yaml", CART)
    b = write(tmp_path / "b.yaml", CART.replace("timeout: 5s", "timeout: 9s"))
    done = run_import(["--cluster", f"east={a}", "--cluster", f"west={b}"], tmp_path / "out")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr
    files = written(tmp_path / "out")
    assert "fleet imported {\n  cluster east\n  cluster west\n}" in files["fleet.mesh"]
    assert "  service cart {\n    timeout 5s\n    route primary {}\n    on west { timeout 9s }\n  }" in files["shop.mesh"]
    assert_canonical(tmp_path / "out")


# ------------------------------------------------------------ the output
def test_a_foreign_mesh_file_in_the_output_is_refused(tmp_path):
    write(tmp_path / "out" / "mine.mesh", "namespace x {}\n")
    done = run_import([str(write(tmp_path / "in.yaml", CART))], tmp_path / "out")
    assert done.exit_code == 2
    assert "not written by meshc import" in done.stderr
    assert (tmp_path / "out" / "mine.mesh").read_text() == "namespace x {}\n"


def test_an_edited_file_is_replaced_only_with_force(tmp_path):
    src = write(tmp_path / "in.yaml", CART)
    assert run_import([str(src)], tmp_path / "out").exit_code == 0
    shop = tmp_path / "out" / "shop.mesh"
    shop.write_text(shop.read_text().replace("timeout 5s", "timeout 6s"))
    edited = shop.read_text()
    refused = run_import([str(src)], tmp_path / "out")
    assert refused.exit_code == 2 and "was edited since meshc import wrote it" in refused.stderr
    assert shop.read_text() == edited
    forced = CliRunner().invoke(cli, ["import", str(src), "-o", str(tmp_path / "out"), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "timeout 5s" in shop.read_text()


def test_other_files_in_the_output_are_left_alone(tmp_path):
    write(tmp_path / "out" / "README.md", "notes\n")
    assert run_import([str(write(tmp_path / "in.yaml", CART))], tmp_path / "out").exit_code == 0
    assert (tmp_path / "out" / "README.md").read_text() == "notes\n"
    assert sorted(os.listdir(tmp_path / "out")) == ["README.md", "shop.mesh"]


def test_render_output_is_not_an_import_directory(tmp_path):
    write(tmp_path / "out" / "x.yaml", "# Generated by meshc 0.1.0 from a.mesh; do not edit.\nkind: X\n")
    done = run_import([str(write(tmp_path / "in.yaml", CART))], tmp_path / "out")
    assert done.exit_code == 2 and "meshc render" in done.stderr


@pytest.mark.parametrize("fmt", ["concise", "github", "sarif", "junit", "gitlab"])
def test_the_loss_report_in_every_format(fmt, tmp_path):
    done = CliRunner().invoke(cli, ["import", str(write(tmp_path / "in.yaml", LOSSY)), "-o", str(tmp_path / "out"),
                                    "--output-format", fmt])
    assert done.exit_code == 1
    assert "MESH821" in done.stderr
    if fmt == "sarif":
        log = json.loads(done.stderr)
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
        assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["MESH821"]
    elif fmt == "gitlab":
        assert [issue["check_name"] for issue in json.loads(done.stderr)] == ["MESH821"]
    elif fmt == "junit":
        assert ET.fromstring(done.stderr).find(".//failure") is not None


def test_a_difference_is_reported_where_the_import_took_it_from(tmp_path):
    """A DestinationRule in one cluster only: the import applies it
    everywhere (reported), and the proof's difference in the other cluster
    points at that rule, not at the written policy."""
    pay = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: pay, namespace: shop}\n" \
          "spec:\n  host: pay\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
    a = write(tmp_path / "a" / "cart.yaml", CART)
    b = write(tmp_path / "b" / "pay.yaml", CART + "---\n" + pay)
    done = run_import(["--cluster", f"a={a}", "--cluster", f"b={b}"], tmp_path / "out")
    line = len((CART + "---\n").splitlines()) + 6  # the rule's trafficPolicy
    assert ("pay.yaml", line, "MESH850") in done.where()
    assert [d["message"].split(":")[0] for d in done.diagnostics if d["code"] == "MESH850"] == [
        "in cluster `a`, GET pay.shop.svc.cluster.local"]


def test_a_request_no_route_takes_at_a_gateway_is_reported_at_its_servers(tmp_path):
    gateway = write(tmp_path / "gw.yaml", """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  servers:
  - port: {number: 443, protocol: HTTPS, name: https}
    hosts: ["*.example.com"]
    tls: {mode: MUTUAL, credentialName: c}
""")
    done = run_import([str(gateway)], tmp_path / "out")
    assert ("gw.yaml", 5, "MESH850") in done.where()
