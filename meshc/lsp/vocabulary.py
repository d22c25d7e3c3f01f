"""The words of the language, read from the parser itself: its keywords and
the fixed values some terminals take (`http`, `strict`, `p99`, ...).

Completion and the VS Code grammar (editors/vscode, kept in step by
tests/test_vscode.py) come from here, so a keyword added to
grammar/mesh.lark reaches them with no other edit.
"""

from __future__ import annotations

import functools
import re

from lark import Lark
from lark.lexer import PatternRE, PatternStr

_WORD = re.compile(r"[a-z][a-z0-9-]*")
# A word that counts only when followed by something (`on` opening `on CLUSTER {`).
_GUARDED_WORD = re.compile(r"([a-z][a-z0-9-]*)\(\?=.*\)")
# `(a|b|c)` or `p(50|99)`, then an optional `(?!...)` word-boundary guard.
_ALTERNATIVES = re.compile(r"([a-z]*)\(((?:[a-z0-9-]+\|)*[a-z0-9-]+)\)(?:\(\?![^)]*\))?")


def lark() -> Lark:
    """The LALR parser of meshc/language/parse.py: the one place the
    language server reaches for the Lark object."""
    from meshc.language.parse import parser

    return parser()


@functools.lru_cache(maxsize=None)
def keywords() -> dict[str, str]:
    """Terminal name → keyword, for every word the grammar spells out
    (`service`, `blue-green`, `rest`, ...)."""
    out = {}
    for t in lark().terminals:
        if isinstance(t.pattern, PatternStr) and _WORD.fullmatch(t.pattern.value):
            out[t.name] = t.pattern.value
        elif isinstance(t.pattern, PatternRE) and _GUARDED_WORD.fullmatch(t.pattern.value):
            out[t.name] = _GUARDED_WORD.fullmatch(t.pattern.value).group(1)
    return out


@functools.lru_cache(maxsize=None)
def values() -> dict[str, tuple[str, ...]]:
    """Terminal name → the words it matches, for terminals that match a fixed
    set of words (`PROTOCOL`: `http2`, `https`, ...)."""
    out = {}
    for t in lark().terminals:
        if isinstance(t.pattern, PatternRE):
            m = _ALTERNATIVES.fullmatch(t.pattern.value)
            if m:
                out[t.name] = tuple(m.group(1) + word for word in m.group(2).split("|"))
    return out


def punctuation() -> dict[str, str]:
    """Terminal name → operator or bracket (`{`, `->`, `>=`, ...)."""
    return {
        t.name: t.pattern.value
        for t in lark().terminals
        if isinstance(t.pattern, PatternStr) and not _WORD.fullmatch(t.pattern.value)
    }
