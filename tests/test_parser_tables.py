"""The LALR tables shipped in the package (meshc/language/tables.py):
fresh for the grammar, equivalent to tables built from it, and never
replaced by a file from outside the package."""

from __future__ import annotations

import json
from pathlib import Path

import lark
from helpers import ROOT

from meshc.language import lalr, tables
from meshc.language.parse import _Build
from meshc.language.source import SourceFile
from meshc.language.syntax_errors import syntax_error

SHIPPED = ROOT / "grammar" / tables.TABLES
DRIVER = ROOT / "grammar" / lalr.TABLES
CORPUS = sorted((ROOT / "examples").glob("*.mesh")) + sorted((ROOT / "tests" / "diagnostics").glob("*.mesh"))


def test_shipped_tables_are_fresh(golden):
    """Both tables files (Lark's, and lalr.py's taken from Lark's objects)
    carry the hash of the grammar and the Lark version they were built
    with; a grammar edit needs `pytest --update-golden`. (Lark numbers its
    states differently from run to run, so a file is rewritten only when
    stale, not compared byte for byte.)"""
    grammar = tables.grammar_text()
    for path, generate in ((SHIPPED, tables.generate), (DRIVER, tables.generate_driver)):
        stamp = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        fresh = (stamp.get("grammar_sha256"), stamp.get("lark")) == (tables.digest(grammar), lark.__version__)
        if not fresh and golden.mode == "write":
            path.write_text(generate(grammar), encoding="utf-8")
            continue
        assert fresh, f"{path.relative_to(ROOT)} is stale for the grammar or for Lark {lark.__version__}: " \
                      "run `pytest --update-golden`"


def _outcome(parser, path: Path):
    """What a parser makes of a file: its syntax tree, or its syntax error."""
    builder = parser.options.transformer
    builder.path, builder.anonymous = str(path), tables.anonymous_terminals(tables.grammar_text(), parser.terminals)
    source = SourceFile(str(path), path.read_bytes().decode("utf-8", "replace"))
    try:
        return parser.parse(source.text)
    except lark.exceptions.UnexpectedInput as err:
        return syntax_error(parser, source, err)


def test_shipped_tables_parse_like_tables_built_from_the_grammar():
    """Every example and diagnostic fixture gives the same syntax tree, or
    the same syntax error, with the shipped tables as with tables Lark
    builds from the grammar."""
    grammar = tables.grammar_text()
    shipped = tables.load(grammar, _Build())
    built = lark.Lark(grammar, transformer=_Build(), **tables.OPTIONS)
    assert shipped.parser is not built.parser
    for path in CORPUS:
        assert _outcome(shipped, path) == _outcome(built, path), path.name


def test_tables_for_another_grammar_are_not_used(monkeypatch):
    """A grammar changed since the tables were made (or another Lark) gets
    tables built from the grammar itself: slower, never wrong."""
    grammar = tables.grammar_text().replace('"canary"', '"kanarie"')
    assert grammar != tables.grammar_text()
    parser = tables.load(grammar, _Build())
    text = "namespace a { service b { subsets by version v1 v2 route r { kanarie v1 -> v2 steps 50% 100% } } }"
    assert parser.parse(text).items  # the shipped tables would reject `kanarie`
    monkeypatch.setattr(lark, "__version__", "0.0.0")
    assert tables.load(tables.grammar_text(), _Build()).parse("namespace a { }").items
