"""`meshc import` of YAML nobody has seen: real resources (the fixtures and
examples' golden output) with one field or value changed at random, the
way hand-written manifests go wrong (a list where a mapping belongs, a
number for a string, a key deleted, a kind or version changed). Whatever
the input, the command must end with exit 0, 1 or 2 and no traceback; every
diagnostic must point into a file it read or wrote; a written policy that
does not compile is never silent (the proof reports MESH852, which names a
gap in the importer: tests/importer/test_import_broken.py keeps the ones
found fixed). Longer runs: MESHC_IMPORT_FUZZ_EXAMPLES=2000.
"""

from __future__ import annotations

import copy
import json
import os
import traceback
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from import_support import FIXTURES, ROOT

from meshc.cli import cli
from meshc.pipeline import compile_paths

EXAMPLES = int(os.environ.get("MESHC_IMPORT_FUZZ_EXAMPLES", "40"))
CORPUS = [doc for path in sorted([*FIXTURES.rglob("*.yaml"), *(ROOT / "golden" / "examples" / "hangzhou").rglob("*.yaml")])
          if "kustomization" not in path.name
          for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(doc, dict)]

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=False, width=32),
                    st.text(max_size=12), st.sampled_from(
    ["", "*", "v1", "reviews", "10s", "-1s", "1.5", "1ms", "0s", "a.b.c", "UPPER", "prod/gw", "~", "null", "0x1F",
     "ümlaut", 'say "hi"', "a\nb", "#x", "in", "host", "lb", "route", "x" * 300, "networking.istio.io/v1beta1",
     "networking.istio.io/v2", "VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "ISTIO_MUTUAL",
     "PASSTHROUGH", "^(.*)$", "[", "*.example.com", "reviews.prod", "10.0.0.1", "::1"]))
KEYS = st.sampled_from(["name", "host", "hosts", "match", "route", "destination", "subset", "port", "number",
                        "weight", "labels", "headers", "exact", "prefix", "regex", "uri", "trafficPolicy", "tls",
                        "mode", "subsets", "x"])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)), max_leaves=6)


def _paths(node, here=()):
    """Every path into a document (keys and list indices)."""
    yield here
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, here + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, here + (i,))


def _broken(draw, doc: dict) -> dict:
    """`doc` with one to three fields changed, deleted, duplicated or renamed."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:  # everything deleted already
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "delete", "duplicate", "rename"]))
        if how == "delete":
            del parent[path[-1]]
        elif how == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(path[-1])
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = draw(VALUES)
    return doc


@st.composite
def clusters(draw) -> list[list[dict]]:
    """One or two clusters' documents: the same resources, each broken its
    own way in each cluster (or left as they are), so that what differs
    between clusters is merged."""
    base = draw(st.lists(st.sampled_from(CORPUS), min_size=1, max_size=3))
    return [[_broken(draw, doc) if draw(st.booleans()) else doc for doc in base]
            for _ in range(draw(st.integers(1, 2)))]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(clusters())
def test_any_broken_input_gives_a_located_report_and_never_a_traceback(tmp_path_factory, inputs):
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "in").mkdir()
    paths = []
    for name, documents in zip(("east", "west"), inputs):
        paths.append(tmp / "in" / f"{name}.yaml")
        paths[-1].write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    args = [str(paths[0])] if len(paths) == 1 else [a for name, p in zip(("east", "west"), paths)
                                                     for a in ("--cluster", f"{name}={p}")]
    out = tmp / "out"
    done = CliRunner().invoke(cli, ["import", *args, "-o", str(out), "--output-format", "json"])
    assert done.exit_code in (0, 1, 2), (done.exit_code, done.output, done.stderr)
    assert done.exception is None or isinstance(done.exception, SystemExit), \
        "".join(traceback.format_exception(*done.exc_info))
    assert "Traceback" not in done.stderr
    written = sorted(out.glob("*.mesh")) if out.is_dir() else []
    report = done.stderr.strip()
    found = json.loads(report) if report.startswith("[") else []
    for d in found:
        where = Path(d["location"]["file"])
        assert where.name in {p.name for p in paths} | {p.name for p in written}, d
    if written and not compile_paths([str(p) for p in written]).ok:
        # never silently: the proof says the written policy does not compile
        assert "MESH852" in {d["code"] for d in found}, found
