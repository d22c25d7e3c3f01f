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

import dataclasses
import re
from typing import Iterator, Sequence

from meshc.diagnostics import Diagnostic
from meshc.diagnostics.codes import diagnostic
from meshc.language import syntax as s
from meshc.language.source import Span

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffe\uffff]")
_NAMES = {0x00: "NUL", 0x0A: "LF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL", 0x85: "NEL"}
_EMPTY = '""'


def check_strings(files: Sequence[s.File], texts: Sequence[str]) -> list[Diagnostic]:
    """Diagnostics for the string literals of `files` (whose texts are
    `texts`): a file with neither an unsafe character nor `""` anywhere,
    the common case, is not walked at all."""
    out: list[Diagnostic] = []
    for file, text in zip(files, texts):
        if _UNSAFE.search(text) is None and _EMPTY not in text:
            continue
        for what, word, may_be_empty in _strings(file):
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


def _strings(node) -> Iterator[tuple[str, s.Word, bool]]:
    """(what it is, the literal, whether it may be empty) for every string
    literal under `node`."""
    if isinstance(node, s.HeaderMatch):
        yield "header value", node.value, True
    elif isinstance(node, s.CookieMatch):
        yield "cookie value", node.value, True
    elif isinstance(node, s.QueryMatch):
        yield "query value", node.value, True
    elif isinstance(node, s.PathMatch):
        # An empty prefix or regex is MESH115's; an empty exact path matches nothing.
        yield "path", node.value, node.op != "="
    elif isinstance(node, s.Rewrite):
        yield "rewritten path", node.path, False
    elif isinstance(node, s.AllowFrom):
        yield from (("principal", w, False) for w in node.values if w.text.startswith('"'))
    elif isinstance(node, s.AllowTo):
        yield from (("authorization path", w, False) for w in node.paths)
    elif isinstance(node, s.CorsPart) and node.key == "origins":
        yield from (("CORS origin", w, False) for w in node.values)
    elif isinstance(node, s.Label):
        return  # a label value is a Kubernetes label value, which MESH109 checks character by character
    elif isinstance(node, s.Word):
        if node.text.startswith('"'):
            yield "string", node, True
    elif isinstance(node, (tuple, list)):
        for child in node:
            yield from _strings(child)
    elif dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            if f.name != "span":
                yield from _strings(getattr(node, f.name))
