"""lalr.py, the parser's fast path, against Lark: every text either parses
to the same syntax tree with the same spans both ways, or is rejected by
both (and then Lark words the error). MESHC_PARSE_EXAMPLES sets the
number of generated texts per property (60 and 150 by default; thousands
for a long run)."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys

import pytest
from helpers import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies_syntax import sources

from meshc.language import lalr, tables
from meshc.language import parse as parse_module
from meshc.language.source import SourceFile

CORPUS = sorted((ROOT / "examples").glob("*.mesh")) + sorted((ROOT / "tests" / "diagnostics").glob("*.mesh"))


def _dump(node):
    """A syntax tree as nested tuples, spans included (syntax nodes leave
    spans out of equality)."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *(_dump(getattr(node, f.name)) for f in dataclasses.fields(node)))
    if isinstance(node, tuple) and hasattr(node, "span"):  # a parser group: a tuple with a span
        return ("group", node.span, *map(_dump, node))
    if isinstance(node, (list, tuple)) and type(node).__name__ != "Span":
        return tuple(map(_dump, node))
    return node


def _fast(text: str):
    """The start rule's value from lalr.py, or None when it rejects the text."""
    driver = parse_module._driver()
    assert driver is not None, "the shipped lalr tables are stale: run `pytest --update-golden`"
    try:
        return _dump(driver.parse(text, "x.mesh", parse_module._Build("x.mesh")))
    except lalr.Reject:
        return None


def _lark(text: str):
    """The start rule's value from Lark with the same builder, or None on a
    syntax error."""
    import lark

    parser = parse_module.parser()
    builder = parser.options.transformer
    builder.path, builder.stray = "x.mesh", None
    builder.anonymous = tables.anonymous_terminals(tables.grammar_text(), parser.terminals)
    try:
        return _dump(parser.parse(text))
    except lark.exceptions.UnexpectedInput:
        return None


def _same(text: str) -> None:
    fast, slow = _fast(text), _lark(text)
    assert fast == slow, f"lalr.py and Lark differ on:\n{text}"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_examples_and_fixtures_parse_alike(path):
    _same(path.read_bytes().decode("utf-8", "replace"))


def test_the_examples_take_the_fast_path():
    """Not every file is handed to Lark: the examples all parse without it."""
    for path in sorted((ROOT / "examples").glob("*.mesh")):
        assert _fast(path.read_text(encoding="utf-8")) is not None, path.name


@settings(max_examples=int(os.environ.get("MESHC_PARSE_EXAMPLES", "60")), deadline=None)
@given(sources())
def test_printed_trees_with_comments_and_line_breaks_parse_alike(tree_and_text):
    _same(tree_and_text[1])


@settings(max_examples=int(os.environ.get("MESHC_PARSE_EXAMPLES", "150")), deadline=None)
@given(st.sampled_from(sorted((ROOT / "examples").glob("*.mesh"))), st.randoms(use_true_random=False))
def test_mutated_examples_parse_alike(path, rnd: random.Random):
    """Examples with a few characters or words deleted, repeated or
    swapped: mostly syntax errors, which both must reject, and some valid
    texts, which both must read the same way."""
    text = path.read_text(encoding="utf-8")
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randrange(len(text))
        j = min(len(text), i + rnd.choice([1, 1, 2, 5, 12]))
        op = rnd.choice(["delete", "repeat", "move", "space"])
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "repeat":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "move":
            k = rnd.randrange(len(text))
            piece, rest = text[i:j], text[:i] + text[j:]
            text = rest[:k] + piece + rest[k:]
        else:
            text = text[:i] + rnd.choice([" ", "\n", "\t", "\r\n", " # c\n", "\f"]) + text[i:]
    _same(text)


@pytest.mark.parametrize("text", [
    "", "   \n\t ", "# only a comment", "namespace a { }", "namespace a { } trailing",
    "namespace a {\r\n  service b {\r\n    port 80 http\r\n  }\r\n}\r\n",
    'namespace a { service b { port 80 http route r { when header x = "a#b" to b } } }',
    "namespace a { service b { port 80 http expose via g host a.example.com port 8080 port 90 http } }",
    "namespace a { service b { retry 3 on 5xx on c1 { timeout 1s } } }",
])
def test_edge_cases_parse_alike(text):
    _same(text)


def test_ignored_terminals_never_start_a_token():
    """The driver skips whitespace and comments before each token rather
    than trying them as alternatives (as Lark does); that is the same only
    if no other terminal can match text that starts like them."""
    interegular = pytest.importorskip("interegular")
    import json

    data = json.loads((ROOT / "grammar" / lalr.TABLES).read_text(encoding="utf-8"))
    starts = interegular.parse_pattern(r"[ \t\f\r\n#][\s\S]*").to_fsm()
    for name, regexp in data["terminals"].items():
        if name not in data["ignore"]:
            overlap = interegular.parse_pattern(_without_lookarounds(regexp)).to_fsm() & starts
            assert overlap.empty(), f"{name} can start with whitespace or `#`"


def _without_lookarounds(regexp: str) -> str:
    """`regexp` with its `(?=...)` and `(?!...)` removed: it then matches
    more texts (interegular does not take lookarounds at a group's end)."""
    out, i = [], 0
    while i < len(regexp):
        if regexp.startswith(("(?=", "(?!"), i):
            depth, i, in_class = 0, i, False
            while True:
                ch = regexp[i]
                if ch == "\\":
                    i += 2
                    continue
                if in_class:
                    in_class = ch != "]"
                elif ch == "[":
                    in_class = True
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
            continue
        step = 2 if regexp[i] == "\\" else 1
        out.append(regexp[i:i + step])
        i += step
    return "".join(out)


def test_tables_for_another_grammar_are_not_used():
    """Driver tables whose grammar hash does not match are ignored: Lark
    parses everything (slower, never wrong)."""
    assert lalr.load(tables.package_text, "0" * 64, parse_module._Build.builds) is None
    assert lalr.load(tables.package_text, tables.grammar_digest(), parse_module._Build.builds) is not None


def test_a_valid_policy_is_parsed_without_importing_lark():
    """Lark is imported for syntax errors only (part of a cold `check`)."""
    code = ("import sys; from meshc.language.parse import parse; from meshc.language.source import SourceFile;"
            "tree, diags = parse(SourceFile('a.mesh', 'namespace a { service b { port 80 http } }'));"
            "assert tree is not None and not diags;"
            "assert 'lark' not in sys.modules, 'lark imported';"
            "tree, diags = parse(SourceFile('a.mesh', 'namespace a { service }'));"
            "assert diags and diags[0].code == 'MESH001', diags")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_list_running_onto_the_next_line_is_reported_on_the_fast_path():
    """A word after a list of names on a later line parses, but is a
    syntax error (syntax_errors.list_ends_at_line_end), as through Lark."""
    text = "namespace a {\n  service b {\n    subsets by version v1 v2\n    foo\n  }\n}\n"
    assert _fast(text) is not None
    tree, diagnostics = parse_module.parse(SourceFile("a.mesh", text))
    assert tree is None and len(diagnostics) == 1
    assert "a list ends at the end of its line" in diagnostics[0].message
