"""String literals that check cleanly but break later, reported at the string.

Two kinds, found in the syntax tree (the IR keeps no span per string):

* characters YAML tools cannot carry or that no request carries: C0 control
  characters (but tab), DEL, the C1 controls and the noncharacters U+FFFE
  and U+FFFF. The last three groups make `kubectl kustomize` fail for the
  whole cluster (U+0085, NEL, comes out of it as a space); a control
  character in a header or cookie value, path, principal or origin is one
  Envoy refuses in a request, so the condition never matches and the rule
  never applies;
* empty strings where Istio rejects them or nothing matches them: a
  principal or an authorization path (Istio's AuthorizationPolicy
  validation, `security.CheckEmptyValues` in pkg/config/security), a CORS
  origin, an exact path or a rewritten path (every request path starts
  with `/`).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from typing import Iterator, Optional, Sequence

from meshc.diagnostics import Diagnostic
from meshc.diagnostics.codes import diagnostic
from meshc.language import syntax as s
from meshc.language.source import Span

# Not tab; not LF and CR either: a literal holds neither (a lone CR is MESH007).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def suspect(text: str) -> bool:
    """Whether a file's text holds a literal `check_strings` may report."""
    return _UNSAFE.search(text) is not None or _EMPTY in text


def unsafe_character(text: str) -> Optional[str]:
    """The first character of `text` a string literal may not hold (see
    the module's docstring), None when there is none."""
    found = _UNSAFE.search(text)
    return None if found is None else found.group()
# A string literal or a comment (which may hold quotes of its own).
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"|#[^\n]*')
_NAMES = {0x00: "NUL", 0x0A: "LF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL", 0x85: "NEL"}
_EMPTY = '""'


def check_strings(files: Sequence[s.File], texts: Sequence[str]) -> list[Diagnostic]:
    """Diagnostics for the string literals of `files` (whose texts are
    `texts`). The texts are searched first; only the branches of the syntax
    tree that hold a suspect literal (empty, or with an unsafe character)
    are walked, so a clean file costs one scan."""
    out: list[Diagnostic] = []
    for file, text in zip(files, texts):
        if not suspect(text):
            continue
        suspects = [m.start() for m in _LITERAL.finditer(text)
                    if m.group().startswith('"') and (len(m.group()) == 2 or _UNSAFE.search(m.group()))]
        if suspects:
            for what, word, may_be_empty in _strings(file, suspects):
                out += _check(what, word, may_be_empty)
    return out


def _check(what: str, word: s.Word, may_be_empty: bool) -> list[Diagnostic]:
    body = word.text[1:-1]
    bad = _UNSAFE.search(body)
    if bad is not None:
        # Escapes (`\"`, `\\`) are printable, so the character sits in the
        # source exactly where it is in the literal's body.
        code = ord(bad.group())
        name = f"U+{code:04X}" + (f" ({_NAMES[code]})" if code in _NAMES else "")
        if code < 0x20:
            why = "a control character no request can carry (Envoy refuses them), so it never matches"
        else:
            kind = "a control character" if code <= 0x9F else "a noncharacter"
            why = f"{kind} that YAML tools such as kustomize reject" + (" or turn into a space" if code == 0x85 else "")
        return [diagnostic(
            "unsafe-character", f"{what} has {name}, {why}", _at(word.span, 1 + bad.start()),
            help="remove it: strings hold printable characters (and tabs) only",
        )]
    if not body and not may_be_empty:
        return [diagnostic("empty-string", f"empty {what}: {_WHY_NOT_EMPTY[what]}", word.span,
                           help=f"write the {what}, or remove it")]
    return []


_WHY_NOT_EMPTY = {
    "principal": "Istio rejects empty values in an authorization policy",
    "authorization path": "Istio rejects empty values in an authorization policy",
    "CORS origin": "no browser sends an empty Origin, so it allows nothing",
    "path": "every request path starts with `/`, so this never matches",
    "rewritten path": "a request path cannot be empty (it starts with `/`)",
}


def _at(span: Span, offset: int) -> Span:
    """The one character `offset` characters into a single-line span."""
    column, start = span.column + offset, span.start + offset
    return Span(span.file, span.line, column, span.line, column + 1, start, start + 1)


def _strings(node, suspects: list[int]) -> Iterator[tuple[str, s.Word, bool]]:
    """(what it is, the literal, whether it may be empty) for the string
    literals under `node` that start at one of the `suspects` offsets (in
    increasing order); nodes whose span holds no suspect are not entered."""
    if isinstance(node, (tuple, list)):
        for child in node:
            yield from _strings(child, suspects)
        return
    span = getattr(node, "span", None)
    if span is None:
        return
    first = bisect.bisect_left(suspects, span.start)
    if first == len(suspects) or suspects[first] >= span.end:
        return
    if isinstance(node, s.HeaderMatch):
        found = [("header value", node.value, True)]
    elif isinstance(node, s.CookieMatch):
        found = [("cookie value", node.value, True)]
    elif isinstance(node, s.QueryMatch):
        found = [("query value", node.value, True)]
    elif isinstance(node, s.PathMatch):
        # An empty prefix or regex is MESH115's; an empty exact path matches nothing.
        found = [("path", node.value, node.op != "=")]
    elif isinstance(node, s.Rewrite):
        found = [("rewritten path", node.path, False)]
    elif isinstance(node, s.AllowFrom):
        found = [("principal", w, False) for w in node.values if w.text.startswith('"')]
    elif isinstance(node, s.AllowTo):
        found = [("authorization path", w, False) for w in node.paths]
    elif isinstance(node, s.CorsPart) and node.key == "origins":
        found = [("CORS origin", w, False) for w in node.values]
    elif isinstance(node, s.Label):
        return  # a label value is a Kubernetes label value, which MESH109 checks character by character
    elif isinstance(node, s.Word):
        found = [("string", node, True)] if node.text.startswith('"') else []
    else:
        for f in dataclasses.fields(node):
            if f.name != "span":
                yield from _strings(getattr(node, f.name), suspects)
        return
    yield from (item for item in found if _holds(suspects, item[1].span.start))


def _holds(suspects: list[int], offset: int) -> bool:
    at = bisect.bisect_left(suspects, offset)
    return at < len(suspects) and suspects[at] == offset
