"""The proof routes each request once when both sides give the evaluator
the same resources (meshc/importer/proof.py `_read_alike`). That is sound
only if "alike" implies the evaluator cannot tell the sides apart: these
tests change the rendered documents of examples/ the ways an input differs
from meshc's own output, and check that what the evaluator reads (kind,
namespace, name, creation time, spec of networking resources) makes the
sides differ, what it does not read leaves them alike, and that whenever
they are alike, the two evaluators route every request of the grid alike.
"""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from import_support import ROOT

from meshc.backends.istio import render
from meshc.importer.proof import _read_alike
from meshc.pipeline import compile_paths, discover
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.grid import requests_for
from meshc.semantics.registry import registry

CLUSTER = "hangzhou"


@pytest.fixture(scope="module")
def world():
    (files,) = discover([str(ROOT / "examples")])
    compiled = compile_paths(files)
    assert compiled.ok
    documents = [d.body for d in render(compiled.policy, "1.30").clusters[CLUSTER]]
    return documents, registry(compiled.policy, CLUSTER), requests_for(compiled.policy, CLUSTER)


def _networking(documents: list[dict], kind: str) -> list[int]:
    return [i for i, d in enumerate(documents)
            if d["kind"] == kind and d["apiVersion"].startswith("networking.istio.io/")]


def _reorder(docs, rng):
    rng.shuffle(docs)


def _label(docs, rng):
    doc = rng.choice(docs)
    doc["metadata"].setdefault("labels", {})["team"] = "payments"


def _another_version(docs, rng):
    doc = docs[rng.choice(_networking(docs, "VirtualService"))]
    doc["apiVersion"] = "networking.istio.io/v1beta1"


def _service(docs, rng):
    docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "extra", "namespace": "default"},
                 "spec": {"ports": [{"port": 80}]}})


def _created(docs, rng):
    doc = docs[rng.choice(_networking(docs, "VirtualService"))]
    doc["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"


def _weight(docs, rng):
    for i in _networking(docs, "VirtualService"):
        for http in docs[i]["spec"].get("http") or ():
            route = http.get("route") or []
            if len(route) > 1:
                route[0]["weight"] += 1
                route[1]["weight"] -= 1
                return
    raise AssertionError("examples/ have a weighted route")


def _drop_rule(docs, rng):
    del docs[rng.choice(_networking(docs, "DestinationRule"))]


def _rename(docs, rng):
    doc = docs[rng.choice(_networking(docs, "VirtualService"))]
    doc["metadata"]["name"] += "-renamed"


ALIKE = [_reorder, _label, _another_version, _service]
"""Changes the evaluator does not see (it reads networking.istio.io of any version)."""
DIFFERENT = [_created, _weight, _drop_rule, _rename]
"""Changes to what the evaluator reads."""


@pytest.mark.parametrize("change", ALIKE + DIFFERENT, ids=lambda f: f.__name__.strip("_"))
def test_alike_exactly_when_the_evaluator_reads_the_same(world, change):
    documents, _, _ = world
    changed = copy.deepcopy(documents)
    change(changed, random.Random(0))
    assert _read_alike(documents, changed, {}) is (change in ALIKE)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(ALIKE + DIFFERENT), min_size=1, max_size=3), st.integers(0, 2**16))
def test_alike_sides_route_every_request_alike(world, changes, seed):
    documents, reg, requests = world
    changed = copy.deepcopy(documents)
    rng = random.Random(seed)
    for change in changes:
        change(changed, rng)
    if not _read_alike(documents, changed, {}):
        return
    before, after = Evaluator(documents, reg), Evaluator(changed, reg)
    assert [before.evaluate(r) for r in requests] == [after.evaluate(r) for r in requests]
