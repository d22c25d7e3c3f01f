"""Properties of the evaluator over generated VirtualServices, rules and requests.

- a route decision's shares are all > 0 and add up to 1;
- evaluation is deterministic and independent of document order (pilot
  orders resources by creation time, name, namespace, never by file);
- `explain` gives the decision `evaluate` gives;
- `dead_entries` is sound: no request is ever taken by an entry it reports.

The budget is small by default; `MESHC_EVALUATE_EXAMPLES=2000` (for
instance) runs a long search.
"""

from __future__ import annotations

import os
import random
from fractions import Fraction

from evaluate_support import fq, registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshc.semantics.evaluate import Evaluator, dead_entries
from meshc.semantics.request import Request

EXAMPLES = int(os.environ.get("MESHC_EVALUATE_EXAMPLES", "60"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GW = "ns/gw"
REG = registry(app=[80, 9090], other=[80])
PATHS = ["/", "/a", "/a/b", "/ab", "/A/b", "/b?q=1", "/a?q=2&q=1", "/x?q"]
VALUES = ["", "1", "12", "2", "a"]

string_match = st.one_of(
    st.builds(lambda v: {"exact": v}, st.sampled_from(VALUES)),
    st.builds(lambda v: {"prefix": v}, st.sampled_from(VALUES[1:])),
    st.builds(lambda v: {"regex": v}, st.sampled_from(["1.*", "[12]+", ".*", "a|2", "*"])),
    st.just({}),
)
uri_match = st.one_of(
    st.builds(lambda v: {"exact": v}, st.sampled_from(["/", "/a", "/ab", "/a/b"])),
    st.builds(lambda v: {"prefix": v}, st.sampled_from(["/", "/a", "/a/", "/A"])),
    st.builds(lambda v: {"regex": v}, st.sampled_from([".*", "/a.*", "/a", "/[ab]+", "/.*b"])),
)


@st.composite
def match_request(draw) -> dict:
    m: dict = {}
    for key, odds, strategy in (
        ("uri", 2, uri_match),
        ("ignoreUriCase", 4, st.just(True)),
        ("headers", 2, st.dictionaries(st.sampled_from(["x", "y"]), string_match, min_size=1, max_size=2)),
        ("withoutHeaders", 5, st.dictionaries(st.sampled_from(["x", "y"]), string_match, min_size=1, max_size=1)),
        ("queryParams", 5, st.dictionaries(st.just("q"), string_match, min_size=1, max_size=1)),
        ("method", 4, st.builds(lambda v: {"exact": v}, st.sampled_from(["GET", "POST"]))),
        ("port", 6, st.sampled_from([80, 9090])),
        ("sourceLabels", 6, st.sampled_from([{"app": "web"}, {"app": "web", "v": "2"}])),
        ("sourceNamespace", 6, st.sampled_from(["ns", "b"])),
        ("gateways", 6, st.sampled_from([["mesh"], [GW], ["mesh", GW]])),
    ):
        if draw(st.integers(1, odds)) == 1:
            m[key] = draw(strategy)
    return m


@st.composite
def http_entry(draw, index: int) -> dict:
    entry: dict = {"name": f"e{index}"}
    if draw(st.integers(0, 9)):
        entry["match"] = draw(st.lists(match_request(), min_size=1, max_size=3))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        entry["directResponse"] = {"status": 418}
    else:
        entry["route"] = draw(st.lists(st.builds(
            lambda subset, weight: {"destination": {"host": "app", "subset": subset}, "weight": weight},
            st.sampled_from(["v1", "v2", "v3"]), st.sampled_from([0, 1, 10, 50, 90])), min_size=1, max_size=3))
        if all(d["weight"] == 0 for d in entry["route"]):
            entry["route"][0]["weight"] = 1
    return entry


@st.composite
def virtual_service(draw, name: str = "vs") -> dict:
    n = draw(st.integers(1, 6))
    spec = {"hosts": ["app", "app.example.com"], "gateways": draw(st.sampled_from([["mesh"], ["mesh", GW]])),
            "http": [draw(http_entry(i)) for i in range(n)]}
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


GATEWAY = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "ns"},
           "spec": {"selector": {"istio": "ingress"},
                    "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}}
RULE = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"host": "app", "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 5}},
                                                  "portLevelSettings": [{"port": {"number": 9090},
                                                                         "loadBalancer": {"simple": "RANDOM"}}]},
                 "subsets": [{"name": "v1", "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 1}}},
                             {"name": "v2"}]}}


@st.composite
def request(draw) -> Request:
    at_gateway = draw(st.booleans())
    headers = draw(st.dictionaries(st.sampled_from(["x", "y"]), st.sampled_from(VALUES), max_size=2))
    return Request.make(
        "app.example.com" if at_gateway else fq("app"), 80 if at_gateway else draw(st.sampled_from([80, 9090])),
        gateway=GW if at_gateway else None, method=draw(st.sampled_from(["GET", "POST"])),
        path=draw(st.sampled_from(PATHS)), headers=headers,
        source_namespace=draw(st.sampled_from(["ns", "b"])),
        source_labels=draw(st.sampled_from([{}, {"app": "web"}, {"app": "web", "v": "2"}])))


def taken_index(decision) -> int | None:
    return int(decision.entry[1:]) if decision.entry else None


@PROPERTY
@given(virtual_service(), st.lists(request(), min_size=1, max_size=12))
def test_shares_add_up_to_one_and_explain_agrees(doc, requests):
    ev = Evaluator([doc, GATEWAY, RULE], REG)
    assert not ev.problems
    for r in requests:
        d = ev.evaluate(r)
        if d.kind in ("route", "default"):
            assert all(s.share > 0 for s in d.destinations)
            assert sum((s.share for s in d.destinations), Fraction(0)) == 1
        assert ev.explain(r).decision == d
        assert ev.evaluate(r) == d  # caches do not change answers


@PROPERTY
@given(st.lists(virtual_service(), min_size=1, max_size=3), st.lists(request(), min_size=1, max_size=8),
       st.randoms(use_true_random=False))
def test_document_order_does_not_matter(docs, requests, rnd: random.Random):
    for i, doc in enumerate(docs):
        doc["metadata"]["name"] = f"vs{i}"
    documents = docs + [GATEWAY, RULE]
    shuffled = documents[:]
    rnd.shuffle(shuffled)
    first, second = Evaluator(documents, REG), Evaluator(shuffled, REG)
    for r in requests:
        assert first.evaluate(r) == second.evaluate(r)


@PROPERTY
@given(virtual_service())
def test_the_emitted_check_skips_only_documents_without_dead_entries(doc):
    """meshc/semantics/emitted.py analyses a rendered VirtualService only
    when an entry may shadow a later one; the others have no dead entry."""
    from meshc.semantics.emitted import may_shadow

    if not may_shadow(doc):
        assert dead_entries(doc) == []


@PROPERTY
@given(virtual_service())
def test_dead_entries_name_the_covers_a_search_of_every_earlier_alternative_finds(doc):
    """dead.py looks for the first earlier alternative covering a later one
    only among those filed under something the later one has; testing
    every earlier alternative in turn finds the same ones."""
    from meshc.semantics.evaluate.dead import covers_alternative
    from meshc.semantics.evaluate.documents import Resource
    from meshc.semantics.evaluate.routes import compile_virtual_service

    vs = compile_virtual_service(Resource("VirtualService", "ns", "vs", doc["spec"]), "cluster.local")
    seen, expected = [], []
    for entry in vs.entries:
        firsts = [next((a for a in seen if covers_alternative(a, b, vs.gateways)), None) for b in entry.alternatives]
        if None not in firsts:
            expected.append((entry.index, [(b.index, a.entry.index, a.index) for a, b in zip(firsts, entry.alternatives)]))
        seen += entry.alternatives
    assert [(d.index, [(c.match, c.entry, c.by_match) for c in d.covers]) for d in dead_entries(doc)] == expected


def test_the_emitted_check_knows_the_pseudo_headers():
    from meshc.semantics.emitted import PSEUDO_HEADERS
    from meshc.semantics.evaluate.routes import PSEUDO_HEADERS as EVALUATED

    assert PSEUDO_HEADERS == dict(EVALUATED)


@PROPERTY
@given(virtual_service(), st.lists(request(), min_size=1, max_size=20))
def test_no_request_reaches_an_entry_reported_dead(doc, requests):
    dead = {d.index for d in dead_entries(doc)}
    ev = Evaluator([doc, GATEWAY, RULE], REG)
    for r in requests:
        d = ev.evaluate(r)
        if d.virtual_service == "ns/vs" and d.entry is not None:
            assert taken_index(d) not in dead, (dead, d)
