"""The grammar stays LALR(1): Lark's strict mode refuses any shift/reduce
conflict, and the grammar has exactly one, known and resolved as a shift:
after `failover priority KEY`, a label key continues the list (a subset's
`KEY = VALUE` on the next line would be read into it, which the list's
end-of-line rule reports as a misspelt statement; syntax_errors.py). A new
construct (such as the `test` blocks of issue 9) must add none."""

from __future__ import annotations

import io
import logging
import re

from lark import Lark, logger

from meshc.language import tables


def test_the_only_conflict_is_the_known_one():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        Lark(tables.grammar_text(), parser="lalr", lexer="contextual", maybe_placeholders=True,
             keep_all_tokens=True, debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    log = stream.getvalue()
    conflicts = re.findall(r"(\w+)/(\w+) conflict for terminal (\w+)", log)
    rules = set(re.findall(r"\* <(\w+) :", log))
    assert conflicts and {(kind, terminal) for kind, _, terminal in conflicts} == {("Shift", "LABEL_KEY")}
    assert rules == {"failover_priority"}
