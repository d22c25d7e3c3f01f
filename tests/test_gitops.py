"""Argo CD and kustomize: cluster selection, the documented plugin (run as
Argo CD would run its generate command), name references under a kustomize
overlay, kinds a cluster excludes, and the namespaces each cluster needs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT
from ruamel.yaml import YAML

from meshc.cli import cli

GITOPS = (ROOT / "docs" / "gitops.md").read_text()
CLUSTERS = ("beijing", "hangzhou", "shanghai", "shenzhen")


def run(*args):
    return CliRunner().invoke(cli, list(args))


def documented(name: str) -> str:
    """The fenced block of docs/gitops.md that starts with `# NAME`."""
    (block,) = re.findall(rf"```\w+\n# {re.escape(name)}\n(.*?)```", GITOPS, re.S)
    return block


@pytest.fixture
def examples(tmp_path, monkeypatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "policies")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "policies"


def kinds_and_namespaces(stream: str) -> list[tuple[str, str, str]]:
    return [(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"])
            for d in YAML(typ="safe").load_all(stream) if d]


# ----------------------------------------------------------- cluster selection
def test_stdout_needs_a_cluster_when_the_fleet_has_several(examples):
    for args in ([], ["--cluster", ""], ["--cluster", "  "]):
        result = run("render", "policies", "--stdout", *args)
        assert result.exit_code == 2 and result.stdout == "", args
    assert all(c in run("render", "policies", "--stdout").stderr for c in CLUSTERS)
    unknown = run("render", "policies", "--stdout", "--cluster", "shenzen")
    assert unknown.exit_code == 2 and "no cluster `shenzen` in the fleet; did you mean `shenzhen`?" in unknown.stderr


def test_output_directory_with_a_cluster_renders_only_that_cluster(examples, tmp_path):
    out = tmp_path / "deploy"
    assert run("render", "policies", "-o", str(out)).exit_code == 0
    (out / "beijing" / "notes.txt").write_text("mine")
    stale = out / "hangzhou" / "production" / "virtualservice-user-service.yaml"
    before = {p: p.read_bytes() for p in (out / "beijing").rglob("*") if p.is_file()}
    text = (examples / "s01-canary.mesh").read_text()
    (examples / "s01-canary.mesh").write_text(text.replace("100% at 2", "100% at 3"))
    result = run("render", "policies", "-o", str(out), "--cluster", "hangzhou")
    assert result.exit_code == 0, result.output
    assert "rendered 1 cluster into" in result.stderr
    assert "weight: 20" in stale.read_text()
    assert {p: p.read_bytes() for p in (out / "beijing").rglob("*") if p.is_file()} == before
    check = run("render", "policies", "-o", str(out), "--cluster", "beijing", "--check")
    assert check.exit_code == 1 and "beijing/production/virtualservice-user-service.yaml" in check.stdout


# ----------------------------------------------------------- the Argo CD plugin
def test_documented_plugin_files_fit_together():
    configmap = YAML(typ="safe").load(documented("meshc-plugin-configmap.yaml"))
    plugin = YAML(typ="safe").load(configmap["data"]["plugin.yaml"])
    assert plugin["kind"] == "ConfigManagementPlugin" and plugin["apiVersion"] == "argoproj.io/v1alpha1"
    patch = YAML(typ="safe").load(documented("argocd-repo-server-patch.yaml"))
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert container["securityContext"] == {"runAsNonRoot": True, "runAsUser": 999}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/run/argocd"]["name"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"]["name"] == "plugins"
    config = mounts["/home/argocd/cmp-server/config/plugin.yaml"]
    assert config["subPath"] == "plugin.yaml"
    volumes = {v["name"]: v for v in patch["spec"]["template"]["spec"]["volumes"]}
    assert volumes[config["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    appset = YAML(typ="safe").load(documented("mesh-policy-applicationset.yaml"))
    source = appset["spec"]["template"]["spec"]["source"]
    assert source["plugin"]["name"] == f"{plugin['metadata']['name']}-{plugin['spec']['version']}"
    assert [e["name"] for e in source["plugin"]["env"]] == ["CLUSTER"]
    assert "$ARGOCD_ENV_CLUSTER" in " ".join(plugin["spec"]["generate"]["args"])
    dockerfile = documented("Dockerfile: the meshc plugin sidecar")
    from meshc import __version__

    assert f"meshc-{__version__}-py3-none-any.whl" in dockerfile and "USER 999" in dockerfile


def _generate(policy: Path, env: dict) -> subprocess.CompletedProcess:
    """The plugin's generate command, run as Argo CD runs it: in the
    Application's path, with ARGOCD_ENV_ variables and meshc on PATH."""
    plugin = YAML(typ="safe").load(YAML(typ="safe").load(documented("meshc-plugin-configmap.yaml"))["data"]["plugin.yaml"])
    generate = plugin["spec"]["generate"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("ARGOCD_ENV_")}
    base["PATH"] = str(Path(sys.executable).parent) + os.pathsep + base.get("PATH", "")
    return subprocess.run(generate["command"] + generate["args"], cwd=policy, capture_output=True, text=True,
                          env={**base, **env}, timeout=120)


def test_the_plugin_renders_the_named_cluster_and_refuses_a_missing_one(examples):
    if shutil.which("sh") is None:
        pytest.skip("needs sh")
    done = _generate(examples, {"ARGOCD_ENV_CLUSTER": "beijing"})
    assert done.returncode == 0, done.stderr
    direct = run("render", "policies", "--stdout", "--cluster", "beijing").stdout
    assert done.stdout == direct
    assert ("Gateway", "istio-system", "cross-network-gateway") in kinds_and_namespaces(done.stdout)
    unset = _generate(examples, {})
    assert unset.returncode == 2 and unset.stdout == "" and "--cluster is empty" in unset.stderr
    typo = _generate(examples, {"ARGOCD_ENV_CLUSTER": "beijin"})
    assert typo.returncode == 2 and typo.stdout == "" and "did you mean `beijing`?" in typo.stderr


# ----------------------------------------------------------- kustomize
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")
def test_a_name_prefix_overlay_renames_gateway_references(examples, tmp_path):
    out = tmp_path / "deploy"
    assert run("render", "policies", "-o", str(out)).exit_code == 0
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources:\n- ../deploy/hangzhou\nnamePrefix: blue-\nnameSuffix: -v2\n")
    built = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    docs = [d for d in YAML(typ="safe").load_all(built.stdout) if d]
    gateways = {d["metadata"]["name"] for d in docs if d["kind"] == "Gateway"}
    assert "blue-main-gateway-v2" in gateways
    referenced = [g for d in docs if d["kind"] == "VirtualService" for g in d["spec"].get("gateways", [])]
    assert referenced and all(g in gateways for g in referenced), (referenced, gateways)
    # the reference really is what kustomize renamed: without the configuration it would not be
    (out / "hangzhou" / "kustomization.yaml").write_text(
        (out / "hangzhou" / "kustomization.yaml").read_text().replace("configurations:\n- kustomizeconfig.yaml\n", ""))
    plain = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    stale = [g for d in YAML(typ="safe").load_all(plain.stdout) if d and d["kind"] == "VirtualService"
             for g in d["spec"].get("gateways", [])]
    assert "main-gateway" in stale


# ----------------------------------------------------------- kinds and namespaces
def test_a_cluster_can_exclude_kinds_it_lacks(examples, tmp_path):
    (examples / "meshc.toml").write_text('[clusters.shenzhen]\nexclude-kinds = ["PrometheusRule"]\n')
    out = tmp_path / "deploy"
    assert run("render", "policies", "-o", str(out)).exit_code == 0
    assert not list((out / "shenzhen").rglob("prometheusrule-*.yaml"))
    assert "prometheusrule-" not in (out / "shenzhen" / "kustomization.yaml").read_text()
    assert list((out / "beijing").rglob("prometheusrule-*.yaml"))
    streamed = run("render", "policies", "--stdout", "--cluster", "shenzhen").stdout
    assert "PrometheusRule" not in [k for k, _, _ in kinds_and_namespaces(streamed)]
    (examples / "meshc.toml").write_text('[clusters.shenzen]\nexclude-kinds = ["PrometheusRule"]\n')
    typo = run("render", "policies", "-o", str(out))
    assert typo.exit_code == 2 and "did you mean `shenzhen`?" in typo.stderr


def test_namespaces_each_cluster_needs(examples):
    listed = run("namespaces", "policies", "--output-format", "json")
    assert listed.exit_code == 0
    needed = json.loads(listed.stdout)
    assert sorted(needed) == sorted(CLUSTERS)
    streamed = run("render", "policies", "--stdout", "--cluster", "beijing").stdout
    assert needed["beijing"] == sorted({ns for _, ns, _ in kinds_and_namespaces(streamed)})
    assert run("namespaces", "policies", "--cluster", "beijing").stdout.split() == needed["beijing"]
    lines = run("namespaces", "policies").stdout.splitlines()
    assert f"hangzhou {needed['hangzhou'][0]}" in lines
