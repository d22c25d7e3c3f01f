"""`meshc graph`: the picture agrees with what render writes, every example
service draws in every format, and the command behaves like the others."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from click.testing import CliRunner
from helpers import ROOT, rendered

from meshc.cli import cli
from meshc.graph import labels
from meshc.graph.dot import dot
from meshc.graph.mermaid import mermaid
from meshc.graph.model import ServiceGraph, _quoted, build
from meshc.language.lower import string
from meshc.language.syntax import Word
from meshc.pipeline import compile_paths, discover

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(scope="module")
def policy():
    (files,) = discover([str(ROOT / "examples")])
    return compile_paths(files).policy


@pytest.fixture(scope="module")
def graphs(policy) -> list[ServiceGraph]:
    return build(policy)


def run(*args: str):
    return CliRunner().invoke(cli, ["graph", *args])


# --------------------------------------------------------------- semantics
def _share(label: str) -> int:
    return int(re.match(r"(?:mirror )?(\d+)", label).group(1))


def test_weights_and_mirrors_are_those_render_writes(graphs):
    """Two readings of every example route agree: the picture (from the
    IR) and the VirtualService the backend renders (destinations, weights,
    blue-green's preview entry and mirrors)."""
    docs = {(d.namespace, d.name): d.body["spec"] for d in rendered(["examples"]).clusters["hangzhou"]
            if d.kind == "VirtualService"}
    hosts = {(g.namespace, g.name): g.host for g in graphs}

    def destination(g: ServiceGraph, key: tuple) -> tuple:
        if key[0] == "subset":
            return g.host, key[1]
        if key[0] == "self":
            return g.host, None
        _, ns, name, subset, _ = key
        return hosts[(ns, name)], subset or None

    checked = 0
    for g in graphs:
        if g.local:
            continue  # rendered as one entry per caller's cluster; test_local_services_stay_in_the_callers_cluster
        vs = docs.get((g.namespace, g.name))
        if vs is None:
            assert [r.implicit for r in g.routes] == [True]  # no routing of its own: plain Kubernetes
            continue
        entries = {h["name"]: h for h in vs["http"]}
        for r in g.routes:
            entry = entries[r.name]
            routed = [e for e in r.edges if not e.label.startswith(("mirror", "preview"))]
            want = [((d["destination"]["host"], d["destination"].get("subset")), d.get("weight", 100))
                    for d in entry["route"]]
            assert [(destination(g, e.target.key), _share(e.label)) for e in routed] == want, (g.key, r.name)
            mirrors = [e for e in r.edges if e.label.startswith("mirror")]
            if mirrors:
                (m,) = mirrors
                assert (entry["mirror"]["host"], entry["mirror"].get("subset")) == destination(g, m.target.key)
                assert _share(m.label) == entry["mirrorPercentage"]["value"]
            previews = [e for e in r.edges if e.label.startswith("preview")]
            if previews:
                preview = entries[f"{r.name}-preview"]
                assert [d["destination"].get("subset") for d in preview["route"]] == [previews[0].target.label]
            checked += 1
    assert checked >= 15


def test_routes_keep_their_order_and_conditions(graphs):
    reviews = next(g for g in graphs if g.key == "bookinfo/reviews")
    assert [(r.index, r.name, r.when) for r in reviews.routes] == [
        (1, "internal", ('header x-user-type = "internal"', 'source version = "v1"')),
        (2, "default", ()),
    ]
    canary = next(g for g in graphs if g.key == "production/user-service").routes[1]
    assert canary.note == "canary step 2 of 5 (5% 10% 20% 50% 100%)"
    assert [(e.target.label, e.label) for e in canary.edges] == [("v1", "90%"), ("v2", "10%")]


def test_exposure_gateway_routes_and_placement(graphs):
    exposed = next(g for g in graphs if g.key == "payments/payment-service")
    (entrance,) = exposed.entrances
    assert (entrance.gateway, entrance.host, entrance.when, entrance.route) == (
        "istio-system/payment-gateway", "pay.example.com", (), "")
    # S11's edge: a route of the gateway's `host` block, with the share it sends and its options
    for name, share in (("user-service", "90%"), ("user-service-v2", "10%")):
        (entrance,) = next(g for g in graphs if g.key == f"web/{name}").entrances
        assert (entrance.gateway, entrance.host) == ("istio-system/main-gateway", "api.example.com")
        assert entrance.when == ('path ^= "/api/v1/users"', 'header x-api-version = "v1"')
        assert entrance.route == f"route users · {share} · timeout 30s · retry 3 × 10s · delay 5s on 0.1% · " \
                                 "abort 503 on 0.01% · cors"
        assert entrance.route in labels.entrance(entrance)
    spread = next(g for g in graphs if g.key == "geo/global-api")
    assert spread.host == "global-api.geo.svc.cluster.local"
    assert spread.placement == ("hangzhou (cn-east)", "beijing (cn-north)", "shenzhen (cn-south)")
    assert spread.failover == ("cn-east → cn-north", "cn-north → cn-south")
    split = next(g for g in graphs if g.key == "geo/user-service")
    assert [(t.label, t.detail) for t in split.targets] == [("hangzhou", "cluster=hangzhou"),
                                                           ("beijing", "cluster=beijing")]
    assert split.routes[0].when == ("from cluster shanghai",)
    everywhere = next(g for g in graphs if g.key == "production/user-service")
    assert everywhere.placement == () and not everywhere.local


def test_local_services_stay_in_the_callers_cluster(graphs):
    local = next(g for g in graphs if g.key == "edge/session-cache")
    assert local.local and "local" in labels.service(local)
    ((edge,),) = [r.edges for r in local.routes]
    assert edge.target.detail == "the caller's cluster's endpoints"


def test_options_per_cluster(tmp_path):
    (tmp_path / "p.mesh").write_text(
        "fleet f { cluster a  cluster b }\n"
        "namespace n { service s { port 80 http timeout 10s on b { timeout 20s } route r { to s } } }\n",
        encoding="utf-8")
    policy = compile_paths([str(tmp_path / "p.mesh")]).policy
    (g,) = build(policy)
    assert g.routes[0].options == "a: timeout 10s; b: timeout 20s"
    (g,) = build(policy, "b")
    assert g.routes[0].options == "timeout 20s"


# ----------------------------------------------------------------- formats
def test_every_example_service_draws_in_every_format(graphs):
    for g in graphs:
        for text in (mermaid([g]), dot([g])):
            assert g.key in text
            for r in g.routes:
                assert r.implicit or f"{r.index}. {r.name}" in text
    if not HAS_DOT:
        pytest.skip("Graphviz `dot` is not installed: svg not checked")
    for g in graphs:
        result = run(str(ROOT / "examples"), "--service", g.key, "--format", "svg")
        assert result.exit_code == 0, result.output
        assert result.output.lstrip().startswith("<?xml") and "</svg>" in result.output
        assert f"{g.key.replace('-', '&#45;')}</text>" in result.output


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
def test_dot_accepts_the_whole_policy_and_escapes_labels(tmp_path):
    """Quotes, backslashes and angle brackets in conditions survive both
    writers: dot parses the result, and Mermaid labels carry entities."""
    (tmp_path / "p.mesh").write_text(
        'namespace n { service s { port 80 http subsets by version v1\n'
        '  route r { when header x ~ "a\\\\d<b>\\"#c" to v1 } route d { to v1 } } }\n', encoding="utf-8")
    (g,) = build(compile_paths([str(tmp_path / "p.mesh")]).policy)
    done = subprocess.run(["dot", "-Tsvg"], input=dot([g]), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'a\\d&lt;b&gt;\\&quot;#c' in done.stdout
    assert 'a\\d#lt;b#gt;\\#quot;#35;c' in mermaid([g])


@given(st.text(alphabet='ab"\\\\ '))
def test_conditions_are_written_so_the_language_reads_them_back(value):
    assert string(Word(None, _quoted(value))) == value


def test_readme_shows_the_picture_of_an_example(graphs):
    """The README's Mermaid block is what `meshc graph` draws for it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", readme, re.S).group(1)
    assert block == mermaid([g for g in graphs if g.key == "production/user-service"])


# ----------------------------------------------------------------- command
def test_usage_errors(tmp_path):
    examples = str(ROOT / "examples")
    assert run(examples, "--service", "nope").exit_code == 2
    ambiguous = run(examples, "--service", "reviews")
    assert ambiguous.exit_code == 2 and "bookinfo/reviews, bookstore/reviews" in ambiguous.output
    assert run(examples, "--cluster", "nowhere").exit_code == 2
    assert run(str(tmp_path / "missing")).exit_code == 2


def test_a_policy_with_errors_draws_nothing(tmp_path):
    (tmp_path / "p.mesh").write_text("namespace n { service s { port 80 http route r { to v9 } } }\n",
                                     encoding="utf-8")
    result = CliRunner().invoke(cli, ["graph", str(tmp_path)])
    assert result.exit_code == 1
    assert "MESH201" in result.stderr and result.stdout == ""


def test_output_file_and_service_choice(tmp_path):
    out = tmp_path / "g.dot"
    result = run(str(ROOT / "examples"), "--service", "checkout", "--format", "dot", "-o", str(out))
    assert result.exit_code == 0 and result.output == ""
    text = out.read_text(encoding="utf-8")
    assert "delivery/checkout" in text and "production/user-service" not in text


def test_svg_without_graphviz_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli, ["graph", str(ROOT / "examples"), "--format", "svg"])
    assert result.exit_code == 2
    assert "apt-get install graphviz" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("mmdc") is None, reason="mermaid-cli (mmdc) is not installed")
def test_mermaid_cli_draws_the_whole_policy(tmp_path):
    """Optional: with @mermaid-js/mermaid-cli on the PATH (and a browser it
    can drive), the Mermaid text of every example renders."""
    source = tmp_path / "policy.mmd"
    source.write_text(run(str(ROOT / "examples")).output, encoding="utf-8")
    done = subprocess.run(["mmdc", "-i", str(source), "-o", str(tmp_path / "policy.svg")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "production/user-service" in (tmp_path / "policy.svg").read_text(encoding="utf-8")
