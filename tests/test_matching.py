"""model/conditions.py: the indexed search for the earlier route that covers
a later match agrees with the definition, asked of every earlier route."""

from __future__ import annotations

from typing import Optional

from hypothesis import given, settings
from hypothesis import strategies as st

from meshc.model.conditions import EarlierMatches, always_holds, implies
from meshc.language import ir
from meshc.language.source import Span
from meshc.pipeline import compile_paths

# Few values, so that conditions meet: equal values, prefixes of each
# other, regexes that match some of them.
VALUES = ["", "a", "ab", "abc", "b", "ba", "/"]
REGEXES = ["a.*", "ab", "[ab]+", "b", ".*", "a|b", "/.*"]
_position = iter(range(10**9))


def span() -> Span:
    """A fresh position each time: conditions are compared by meaning, never by place."""
    n = next(_position)
    return Span("t.mesh", 1 + n, 1, 1 + n, 2, n, n + 1)


def string_matches():
    return st.one_of(
        st.builds(lambda v: ir.StringMatch(op="exact", value=v), st.sampled_from(VALUES)),
        st.builds(lambda v: ir.StringMatch(op="prefix", value=v), st.sampled_from(VALUES)),
        st.builds(lambda v: ir.StringMatch(op="regex", value=v), st.sampled_from(REGEXES)),
    )


names = st.sampled_from(["x", "y"])
conditions = st.one_of(
    st.builds(lambda n, m: ir.HeaderCondition(span=span(), name=n, match=m), names, string_matches()),
    st.builds(lambda m: ir.PathCondition(span=span(), match=m), string_matches()),
    st.builds(lambda n, m: ir.QueryCondition(span=span(), name=n, match=m), names, string_matches()),
    st.builds(lambda n: ir.HeaderAbsentCondition(span=span(), name=n), names),
    st.builds(lambda n, v: ir.CookieCondition(span=span(), name=n, value=v), names, st.sampled_from(["1", "2"])),
    st.builds(lambda m: ir.MethodCondition(span=span(), method=m), st.sampled_from(["GET", "POST"])),
    st.builds(lambda p: ir.PortCondition(span=span(), port=p), st.sampled_from([80, 8080])),
    st.builds(lambda ns: ir.SourceNamespaceCondition(span=span(), namespace=ir.Name(span=span(), value=ns)),
              st.sampled_from(["prod", "dev"])),
    st.builds(lambda k, v: ir.SourceLabelCondition(span=span(), label=ir.LabelPair(span=span(), key=k, value=v)),
              st.sampled_from(["app", "version", ir.CLUSTER_LABEL]), st.sampled_from(["a", "b"])),
    st.builds(lambda c: ir.SourceClusterCondition(span=span(), cluster=ir.Name(span=span(), value=c)),
              st.sampled_from(["a", "b"])),
)
matches = st.builds(lambda cs: ir.Match(span=span(), conditions=tuple(cs)), st.lists(conditions, max_size=3))
routes = st.lists(st.lists(matches, min_size=1, max_size=2), min_size=1, max_size=12)


def covers(earlier: ir.Match, later: ir.Match) -> bool:
    """The definition: each condition of `earlier` always holds or is
    implied by one of `later`'s."""
    return all(always_holds(a) or any(implies(b, a) for b in later.conditions) for a in earlier.conditions)


def first_covering(seen: list[list[ir.Match]], later: ir.Match) -> Optional[int]:
    return next((i for i, alts in enumerate(seen) if any(covers(m, later) for m in alts)), None)


@settings(max_examples=300, deadline=None)
@given(routes)
def test_the_index_finds_the_first_covering_route_as_the_definition_does(found_routes):
    index = EarlierMatches()
    for i, alternatives in enumerate(found_routes):
        for alt in alternatives:
            assert index.first_covering(alt) == first_covering(found_routes[:i], alt)
        index.add(i, alternatives)



def test_identical_conditions_at_different_places_imply_each_other():
    """A source namespace or label is a value: the same one written twice
    (at two places) is one condition, whatever its nested positions."""
    for make in (lambda: ir.SourceNamespaceCondition(span=span(), namespace=ir.Name(span=span(), value="prod")),
                 lambda: ir.SourceLabelCondition(span=span(), label=ir.LabelPair(span=span(), key="app", value="a"))):
        assert implies(make(), make())


def test_a_route_repeating_an_earlier_source_condition_is_unreachable(tmp_path):
    policy = tmp_path / "p.mesh"
    policy.write_text(
        "namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1 v2\n"
        "    route a { when from namespace prod to v2 }\n    route b { when from namespace prod to v1 }\n"
        '    route c { when source app = "x" to v2 }\n    route d { when source app = "x" to v1 }\n'
        "    route default { to v1 }\n  }\n}\n")
    found = compile_paths([str(policy)]).diagnostics
    assert [(d.code, d.span.line) for d in found] == [("MESH307", 6), ("MESH307", 8)]
