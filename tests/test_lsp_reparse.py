"""Re-parsing one service (meshc/lsp/reparse.py) gives exactly the tree a
full parse gives, spans and comments included, or declines: a differential
property over random edits of the examples and of a large generated file."""

from __future__ import annotations

import dataclasses
import os
import sys

from helpers import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from meshc.language import syntax as s
from meshc.language.parse import parse
from meshc.language.source import SourceFile, Span
from meshc.lsp.reparse import reparse

sys.path.insert(0, str(ROOT / "bench"))
from run import service_source  # noqa: E402

EXAMPLES = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.mesh"))}
EXAMPLES["generated.mesh"] = ("# services\nnamespace prod {\n" + "".join(service_source(i) for i in range(12))
                              + "  # last\n}\n\nnamespace other { service x { port 80 http } }\n")
# What edits insert: tokens of the language, and what breaks it (braces,
# quotes, comments, newlines, a service of its own).
PIECES = ["v2", "to v3", " ", "\n", "}", "{", '"', "#", "route r { to v1 }", "service y {", "} service z {",
          "timeout 5s", "10%", "on hangzhou { timeout 1s }", "x", "-", "retry 3 on 5xx", "\n    # note\n"]
EXAMPLES_BUDGET = int(os.environ.get("MESHC_REPARSE_EXAMPLES", "300"))


def all_spans(node, out=None) -> list:
    """Every span in a tree, in walk order (tree equality ignores spans)."""
    out = [] if out is None else out
    if isinstance(node, Span):
        out.append(node)
    elif isinstance(node, tuple):
        out.extend([node.span] if hasattr(node, "span") else [])
        for item in node:
            all_spans(item, out)
    elif dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            all_spans(getattr(node, f.name), out)
    return out


def _bodies(text: str) -> list[tuple[int, int]]:
    """(after `{`, before `}`) of every service of a text."""
    tree, _ = parse(SourceFile("/p/x.mesh", text))
    return [(text.index("{", stmt.name.span.end) + 1, stmt.span.end - 1)
            for ns in tree.items if isinstance(ns, s.Namespace) for stmt in ns.body if isinstance(stmt, s.Service)]


BODIES = {name: _bodies(text) for name, text in EXAMPLES.items()}


@st.composite
def edits(draw):
    """An edit anywhere in a file, or (as often) inside a service's body."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    text = EXAMPLES[name]
    if BODIES[name] and draw(st.booleans()):
        low, high = draw(st.sampled_from(BODIES[name]))
    else:
        low, high = 0, len(text)
    start = draw(st.integers(low, high))
    end = draw(st.integers(start, min(high, start + 12)))
    inserted = draw(st.lists(st.sampled_from(PIECES), max_size=3).map("".join))
    return name, text, text[:start] + inserted + text[end:]


@settings(max_examples=EXAMPLES_BUDGET, deadline=None)
@given(edits())
def test_reparsing_a_service_equals_parsing_the_file(edit):
    name, before, after = edit
    old = SourceFile(f"/p/{name}", before)
    tree, _ = parse(old)
    new = SourceFile(f"/p/{name}", after)
    incremental = reparse(old, tree, new)
    full, diagnostics = parse(new)
    if incremental is None:
        return
    assert full is not None and not diagnostics, "reparse accepted a text that does not parse"
    assert incremental == full
    assert all_spans(incremental) == all_spans(full)
    assert [(c.span, c.text) for c in incremental.comments] == [(c.span, c.text) for c in full.comments]


def test_an_edit_inside_one_service_is_reparsed_there():
    text = EXAMPLES["generated.mesh"]
    old = SourceFile("/p/a.mesh", text)
    tree, _ = parse(old)
    at = text.index("to v2", len(text) // 2)
    new = SourceFile("/p/a.mesh", text[:at] + "to v1\n      mirror v2 5%" + text[at + 5:])
    incremental = reparse(old, tree, new)
    assert incremental is not None and incremental == parse(new)[0]
    # untouched services are shared, not copied
    assert incremental.items[0].body[0] is tree.items[0].body[0]


def test_edits_outside_a_service_body_parse_the_whole_file():
    text = EXAMPLES["generated.mesh"]
    old = SourceFile("/p/a.mesh", text)
    tree, _ = parse(old)
    for before, after in (("namespace prod", "namespace prd"), ("service svc-0003 {", "service svc-0003 global {"),
                          ("# last", "# final")):
        assert reparse(old, tree, SourceFile("/p/a.mesh", text.replace(before, after, 1))) is None, before
