"""The parser's fast path: an LALR(1) driver and contextual lexer.

Lark defines the language (grammar/mesh.lark) and words its syntax errors
(syntax_errors.py), but its general-purpose loop costs more than half of a
large compile: a Python call chain per token, a Token object per keyword, a
temporary Tree per inlined rule. This module runs the same automaton in one
loop. Its tables, `grammar/mesh.lalr.json`, are taken from Lark's own
objects when they are generated (tables.py): the parse table, each state's
lexer (its terminals in the order Lark tries them, and the keywords Lark
retypes from the name a word matched), and how Lark shapes each reduction's
children (inlined `_rules`, `None` for an absent `[optional]`). So a text
gives the same syntax tree, spans included, as through Lark; a test compares
the two on every example and on mutated ones.

Anything this loop does not accept raises Reject, and parse.py parses the
text again with Lark, which words the error: errors are never this module's.
"""

from __future__ import annotations

import json
import re
from typing import Callable, Optional

from meshc.language.source import Span
from meshc.language.syntax import Word

TABLES = "mesh.lalr.json"
END = "_END"
"""Lark's `$END` in these tables: the name of the scanners' group matching
at the end of the text."""
_new_span = tuple.__new__
"""Span(...) without the Python frame of a named tuple's __new__."""


class Reject(Exception):
    """A text the fast path does not parse (a syntax error, or no tables)."""


class Driver:
    """The automaton of grammar/mesh.lalr.json with the builder's reductions."""

    def __init__(self, tables: dict, builds: dict[str, Callable]):
        terminals = tables["terminals"]
        self.start: int = tables["start"]
        self.end: int = tables["end"]
        # Ignored terminals (whitespace, comments) never start where a token
        # can (tests/test_parser_fast.py checks it), so each scanner skips
        # them before the token instead of trying them as alternatives. The
        # skip is atomic (a lookahead, then what it matched), so that a
        # token never starts inside a skipped comment.
        self.skip = "(?=(?P<_skip>(?:" + "|".join(terminals[name] for name in tables["ignore"]) + ")*))(?P=_skip)"
        self.anonymous = frozenset(tables["anonymous"])
        self.newline = frozenset(tables["newline"])
        self.lexers = [(order, unless) for order, unless in tables["lexers"]]
        self.terminals = terminals
        self.scanners: list[Optional[re.Pattern]] = [None] * len(self.lexers)
        self.lexer_of = [lexer for lexer, _ in tables["states"]]
        self.actions = [actions for _, actions in tables["states"]]
        self.unless = [unless for _, unless in self.lexers]
        self.rules = []
        for callback, origin, size, plan, tail in tables["rules"]:
            build = None if callback.startswith("_") else builds[callback]  # KeyError: no builder for a rule
            self.rules.append((origin, size, build, _steps(plan), tail))

    def scanner(self, lexer: int) -> re.Pattern:
        """One state's lexer: its terminals as alternatives, in Lark's order
        (the first that matches wins, as in Lark's scanner). Compiled when
        a state using it is first reached."""
        order, _ = self.lexers[lexer]
        tokens = "|".join(f"(?P<{name}>{self.terminals[name]})" for name in order)
        pattern = re.compile(f"{self.skip}(?:{tokens}|(?P<{END}>\\Z))")
        self.scanners[lexer] = pattern
        return pattern

    def parse(self, text: str, path: str, builder):
        """The value of the start rule for `text`; Reject when it does not parse."""
        scanners, lexer_of, unless = self.scanners, self.lexer_of, self.unless
        actions, rules, end_state = self.actions, self.rules, self.end
        anonymous, newline = self.anonymous, self.newline
        pos, line, line_start = 0, 1, 0
        state = self.start
        states, values = [state], []
        while True:
            lexer = lexer_of[state]
            match = (scanners[lexer] or self.scanner(lexer)).match(text, pos)
            if match is None:
                raise Reject
            kind = match.lastgroup
            value = match.group(kind)
            stop = match.end()
            start = stop - len(value)
            if start != pos:  # whitespace and comments skipped
                breaks = text.count("\n", pos, start)
                if breaks:
                    line += breaks
                    line_start = text.rindex("\n", pos, start) + 1
            retype = unless[lexer].get(kind)
            if retype:
                kind = retype.get(value, kind)
            action = actions[state].get(kind)
            while action is not None and action < 0:  # reduce, then go to
                origin, size, build, steps, tail = rules[~action]
                if size:
                    children = values[-size:]
                    del values[-size:]
                    del states[-size:]
                else:
                    children = []
                if steps is not None:
                    children = _shape(children, steps, tail)
                if build is not None:
                    children = _node(builder, build, path, children)
                state = actions[states[-1]][origin]
                states.append(state)
                values.append(children)
                if kind == END and state == end_state:
                    return children
                action = actions[state].get(kind)
            if action is None or kind == END:
                raise Reject
            column = start - line_start + 1
            if kind in newline and "\n" in value:
                line_after = line + value.count("\n")
                line_start = start + value.rindex("\n") + 1
                span = _new_span(Span, (path, line, column, line_after, stop - line_start + 1, start, stop))
                line = line_after
            else:
                span = _new_span(Span, (path, line, column, line, column + stop - start, start, stop))
            values.append(span if kind in anonymous else Word(span, value))
            states.append(action)
            state = action
            pos = stop


def _steps(plan: Optional[list]) -> Optional[tuple]:
    return None if plan is None else tuple((i, bool(expand), nones) for i, (expand, nones) in enumerate(plan))


def _shape(children: list, steps: tuple, tail: int) -> list:
    """A reduction's children as Lark gives them to the builder: inlined
    rules' children in their place, None for each absent `[optional]`
    (Lark's ChildFilterLALR)."""
    out: list = []
    for i, expand, nones in steps:
        if nones:
            out += [None] * nones
        if expand:
            if out:
                out += children[i]
            else:  # a left-recursive list grows in place
                out = children[i]
        else:
            out.append(children[i])
    if tail:
        out += [None] * tail
    return out


def _node(builder, build: Callable, path: str, children: list):
    """What the builder makes of a reduction: `build(builder, span, values)`,
    the span reaching from the first positioned child to the last, the
    values without keywords and punctuation (the bare spans)."""
    for first in children:
        if first is not None:
            break
    else:
        return build(builder, _new_span(Span, (path, 1, 1, 1, 1, 0, 0)), children)
    for last in reversed(children):
        if last is not None:
            break
    if type(first) is not Span:
        first = first.span
    if type(last) is not Span:
        last = last.span
    span = _new_span(Span, (path, first[1], first[2], last[3], last[4], first[5], last[6]))
    return build(builder, span, [x for x in children if type(x) is not Span])


def load(text: Callable[[str], str], digest: str, builds: dict[str, Callable]) -> Optional[Driver]:
    """The driver for the shipped tables (`text(TABLES)`), or None when
    they are missing or were made for a grammar whose digest is not
    `digest` (Lark then parses everything)."""
    try:
        tables = json.loads(text(TABLES))
        if tables.get("grammar_sha256") != digest:
            return None
        return Driver(tables, builds)
    except (OSError, ValueError, KeyError, TypeError):
        return None
