"""Tables for `dead_entries`: entries no request can reach, and entries
that look dead but are not (the analysis must never report those)."""

from __future__ import annotations

import pytest
from evaluate_support import vs

from meshc.semantics.evaluate import DocumentError, dead_entries, load_yaml


def dead(*matches: str, gateways: str = "") -> list[tuple[int, tuple[int, ...]]]:
    """Entries e0, e1, ... with the given `match` YAML ("" for no match)."""
    http = "".join(f"- name: e{i}\n" + (f"  match: {m}\n" if m else "") + "  route: [{destination: {host: app}}]\n"
                   for i, m in enumerate(matches))
    doc = load_yaml(vs("[app]", http, extra=f"gateways: {gateways}" if gateways else ""))[0]
    return [(d.index, d.covered_by) for d in dead_entries(doc)]


def test_everything_after_an_entry_without_match():
    doc = load_yaml(vs("[app]", """
        - name: all
          route: [{destination: {host: app}}]
        - name: later
          match: [{uri: {prefix: /x}}]
          route: [{destination: {host: app}}]
    """))[0]
    [found] = dead_entries(doc)
    assert (found.index, found.name, found.covered_by, found.after_catch_all) == (1, "later", (0,), True)
    assert found.covers[0].by_match is None and found.covers[0].match == 0


@pytest.mark.parametrize("catch_all", ["[{uri: {prefix: /}}]", "[{uri: {regex: '.*'}}]", "[{}]",
                                       "[{headers: {x: {}}}, {uri: {prefix: /}}]"])
def test_everything_after_a_catch_all_alternative(catch_all):
    assert dead(catch_all, "[{headers: {x: {exact: '1'}}}]", "") == [(1, (0,)), (2, (0,))]


@pytest.mark.parametrize("earlier,later", [
    ("[{uri: {prefix: /api}}]", "[{uri: {prefix: /api/v2}}]"),
    ("[{uri: {prefix: /api}}]", "[{uri: {exact: /api}}]"),
    ("[{uri: {prefix: /api}}]", "[{uri: {prefix: /api}, headers: {x-beta: {exact: '1'}}}]"),  # issue 7
    ("[{uri: {exact: /a}}]", "[{uri: {exact: /a}, method: {exact: GET}}]"),
    ("[{uri: {regex: '/a.*'}}]", "[{uri: {prefix: /ab}}]"),
    ("[{uri: {regex: '/[0-9]+'}}]", "[{uri: {exact: /42}}]"),
    ("[{uri: {regex: '/v[12]'}}]", "[{uri: {regex: '/v[12]'}, headers: {x: {}}}]"),
    ("[{uri: {prefix: /API}, ignoreUriCase: true}]", "[{uri: {prefix: /api/x}}]"),
    ("[{uri: {prefix: /api}, ignoreUriCase: true}]", "[{uri: {exact: /Api/x}, ignoreUriCase: true}]"),
    ("[{headers: {x: {prefix: a}}}]", "[{headers: {x: {exact: abc}}}]"),
    ("[{headers: {x: {}}}]", "[{headers: {x: {regex: 'a+'}}}]"),
    ("[{headers: {x: {regex: 'a|b'}}}]", "[{headers: {x: {exact: b}}}]"),
    ("[{headers: {x: {regex: '.*'}}}]", "[{headers: {x: {prefix: q}}}]"),
    ("[{withoutHeaders: {x: {exact: '1'}}}]", "[{withoutHeaders: {x: {exact: '1'}}, uri: {prefix: /a}}]"),
    ("[{withoutHeaders: {x: {exact: '1'}}}]", "[{headers: {x: {exact: '2'}}}]"),
    ("[{queryParams: {q: {prefix: a}}}]", "[{queryParams: {q: {exact: ab}}}]"),
    ("[{method: {regex: 'GET|HEAD'}}]", "[{method: {exact: HEAD}}]"),
    ("[{sourceLabels: {app: web}}]", "[{sourceLabels: {app: web, v: '2'}}]"),
    ("[{sourceNamespace: b}]", "[{sourceNamespace: b, uri: {prefix: /x}}]"),
    ("[{uri: {prefix: /a}}]", "[{port: 9090, uri: {prefix: /a}}]"),
    ("[{port: 9090}]", "[{port: 9090, headers: {x: {}}}]"),
    ("[{gateways: [mesh]}]", "[{sourceLabels: {a: b}}]"),
])
def test_covered(earlier, later):
    assert dead(earlier, later) == [(1, (0,))]


@pytest.mark.parametrize("earlier,later", [
    ("[{uri: {prefix: /api/v2}}]", "[{uri: {prefix: /api}}]"),
    ("[{uri: {exact: /api}}]", "[{uri: {prefix: /api}}]"),
    ("[{uri: {prefix: /api}, headers: {x-beta: {exact: '1'}}}]", "[{uri: {prefix: /api}}]"),
    ("[{uri: {prefix: /api}}]", "[{uri: {prefix: /API/x}, ignoreUriCase: true}]"),   # /API/x matches, /api/x ...
    ("[{uri: {regex: '/a.*'}}]", "[{uri: {regex: '/ab.*'}}]"),                       # undecidable here: silent
    ("[{uri: {regex: '/a'}}]", "[{uri: {prefix: /a}}]"),
    ("[{uri: {regex: '/a'}, ignoreUriCase: true}]", "[{uri: {exact: /A}}]"),         # regex ignores ignoreUriCase
    ("[{headers: {x: {exact: '1'}}}]", "[{headers: {x: {}}}]"),
    ("[{headers: {x: {prefix: ab}}}]", "[{headers: {x: {prefix: a}}}]"),
    ("[{withoutHeaders: {x: {}}}]", "[{withoutHeaders: {x: {exact: '1'}}}]"),
    ("[{withoutHeaders: {x: {exact: '1'}}}]", "[{withoutHeaders: {x: {}}}]"),
    ("[{withoutHeaders: {x: {exact: ''}}}]", "[{withoutHeaders: {x: {}}}]"),
    ("[{withoutHeaders: {x: {prefix: a}}}]", "[{headers: {x: {prefix: a}}}]"),
    ("[{sourceLabels: {app: web, v: '2'}}]", "[{sourceLabels: {app: web}}]"),
    ("[{sourceNamespace: b}]", "[{uri: {prefix: /x}}]"),
    ("[{port: 9090}]", "[{uri: {prefix: /x}}]"),                                     # a catch-all on 9090 only
    ("[{sourceLabels: {a: b}}]", "[{gateways: [mesh]}]"),                            # gateways ignore labels
    ("[{gateways: [ns/gw]}]", "[{uri: {prefix: /x}}]"),
    ("[{headers: {'@request.auth.claims.g': {exact: a}}}]", "[{headers: {'@request.auth.claims.g': {exact: b}}}]"),
    ("[{method: {exact: GET}}]", "[{uri: {prefix: /}}]"),
])
def test_not_covered(earlier, later):
    assert dead(earlier, later) == []


def test_an_entry_is_dead_only_when_every_alternative_is_covered():
    assert dead("[{uri: {prefix: /a}}]", "[{uri: {prefix: /b}}]", "[{uri: {prefix: /a/x}}, {uri: {prefix: /b/y}}]") \
        == [(2, (0, 1))]
    assert dead("[{uri: {prefix: /a}}]", "[{uri: {prefix: /a/x}}, {uri: {prefix: /c}}]") == []


def test_alternatives_of_the_same_entry_do_not_make_it_dead():
    assert dead("[{uri: {prefix: /a}}, {uri: {prefix: /a/x}}]") == []


def test_gateways_of_the_virtual_service_bound_what_must_be_covered():
    # e1 is kept at gw and at mesh; e0 only where it names both
    assert dead("[{gateways: [gw]}]", "[{uri: {prefix: /x}}]", gateways="[gw, mesh]") == []
    assert dead("[{gateways: [gw, mesh]}]", "[{uri: {prefix: /x}}]", gateways="[gw, mesh]") == [(1, (0,))]
    # e1 names a gateway the VirtualService is not bound to: kept only at gw
    assert dead("[{gateways: [gw]}]", "[{gateways: [gw, other]}]", gateways="[gw]") == [(1, (0,))]


def test_a_document_or_a_spec():
    spec = {"hosts": ["app"], "http": [{"route": [{"destination": {"host": "app"}}]},
                                       {"route": [{"destination": {"host": "app"}}]}]}
    assert [d.index for d in dead_entries(spec)] == [1]


def test_invalid_regexes_are_reported_not_guessed():
    with pytest.raises(DocumentError, match="invalid RE2"):
        dead("[{uri: {regex: '('}}]")
