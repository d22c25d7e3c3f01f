"""Lark's parse failures, worded for people.

Lark reports terminal names (`NAME`, `$END`, `__ANON_3`); users get what was
expected in words, the block they are in, and, at end of file, the innermost
block still open and where it opened.
"""

from __future__ import annotations

import difflib
import re
from typing import Optional

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language.source import SourceFile

_DESCRIPTIONS = {
    "NAME": "a name",
    "STRING": "a quoted string",
    "INT": "a number",
    "PERCENT": "a percentage such as `10%`",
    "DURATION": "a duration such as `10s` or `500ms`",
    "HOSTNAME": "a host name such as `api.example.com`",
    "LABEL_KEY": "a label key",
    "ADDRESS": "an address",
    "LOCALITY": "a locality such as `region/zone/*`",
    "VERSION": "an Istio version such as `1.22`",
    "METHOD": "an HTTP method such as `GET`",
    "QUANTILE": "a latency quantile such as `p99`",
    "RETRY_CONDITION": "a retry condition such as `5xx` or `connect-failure`",
    "EJECT_ERRORS": "`5xx` or `gateway-errors`",
    "STRING_OP": "`=`, `^=` or `~`",
    "PROTOCOL": "a protocol (`http`, `http2`, `grpc`, `https`, `tcp`, `tls`)",
    "MTLS_MODE": "`strict`, `permissive` or `disable`",
    "TLS_MODE": "`istio-mutual`, `disable` or `simple`",
    "LB_ALGORITHM": "`round-robin`, `random`, `least-request` or `passthrough`",
    "ON_CLUSTER": "`on CLUSTER {`",
    "EXPOSE_PORT": "`port N`",
    "REST": "`rest`",
    "GLOBAL": "`global`",
    "$END": "end of file",
}
_MAX_LISTED = 14
_WORD = re.compile(r'[^\s{}(),"#\x00-\x1f\x7f-\x9f]+|.', re.S)


def syntax_error(parser: Lark, source: SourceFile, err: UnexpectedInput) -> Diagnostic:
    """One diagnostic for a parse failure."""
    text = source.text
    if isinstance(err, UnexpectedToken) and err.token.type == "$END" or _at_end(err, text):
        return _end_of_file(parser, source, getattr(err, "expected", None) or set())
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        if text[pos] == '"':
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            return diagnostic(
                "unterminated-string",
                "string is not closed on this line",
                source.span_at(pos, max(1, end - pos)),
                help='add the closing `"`; a string cannot continue on the next line',
            )
        found = _WORD.match(text, pos).group(0)
        expected = set(err.allowed)
    else:
        pos = err.token.start_pos
        found = str(err.token)
        expected = set(err.expected)
    words = _expected_words(parser, expected)
    where = _innermost_block(text, pos)
    message = f"unexpected {_show(found)}"
    if where:
        message += f" in `{where[1]}`"
    routing_per_cluster = where is not None and where[1].startswith("on ") and found in _ROUTING
    return diagnostic(
        "syntax-error",
        message,
        source.span_at(pos, max(1, len(found))),
        help=_PER_CLUSTER_ROUTING if routing_per_cluster else _help(found, expected, words),
    )


# Statements that route: the same in every cluster, so never in `on CLUSTER`.
_ROUTING = frozenset({"to", "canary", "blue-green", "when", "mirror", "route"})
_PER_CLUSTER_ROUTING = ("routing is the same in every cluster: `on CLUSTER` holds route options (and, in a service, "
                        "destination policy); a canary's split differs between clusters only through its waves "
                        "(`wave CLUSTER... at N`)")


def list_ends_at_line_end(parser: Lark, source: SourceFile, word, opened) -> Diagnostic:
    """A word on a new line after a list of names: lists end at the end of
    their line, so it would start a statement, and no statement starts with
    it (a keyword would have ended the list). What may start one there is
    what the parser accepts after the list's line."""
    try:
        interactive = parser.parse_interactive(source.text[: word.span.start])
        interactive.exhaust_lexer()
        expected = set(interactive.accepts())
    except UnexpectedInput:
        expected = set()
    words = _expected_words(parser, expected - {"NAME", "HOSTNAME"})
    found = word.text
    return diagnostic(
        "syntax-error",
        f"unexpected {_show(found)}: a list ends at the end of its line, so this does not continue "
        f"the list on line {opened.line}",
        word.span,
        labels=[Label(opened, "the list starts here")],
        help=f"{_help(found, set(), words)}; to continue the list, write `{found}` on line {opened.line}",
    )


def _at_end(err: UnexpectedInput, text: str) -> bool:
    pos = getattr(err, "pos_in_stream", None)
    return pos is not None and pos >= len(text)


def _end_of_file(parser: Lark, source: SourceFile, expected: set[str]) -> Diagnostic:
    text = source.text
    end = source.span_at(len(text), 0)
    block = _innermost_block(text, len(text))
    if block is not None:
        offset, header = block
        return diagnostic(
            "unclosed-block",
            f"`{header}` is still open at end of file",
            source.span_at(offset, 1),
            labels=[Label(end, "the file ends here")],
            help=f"add `}}` to close `{header}`",
        )
    words = _expected_words(parser, expected - {"$END"})
    return diagnostic(
        "syntax-error",
        "unexpected end of file",
        end,
        help=f"expected {_join(words)}" if words else None,
    )


def _innermost_block(text: str, upto: int) -> Optional[tuple[int, str]]:
    """The `{` still open at `upto`: its offset and the words before it."""
    stack: list[int] = []
    i = 0
    while i < upto:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        if ch == '"':
            j = i + 1
            while j < len(text) and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            stack.pop()
        i += 1
    if not stack:
        return None
    offset = stack[-1]
    start = max(text.rfind(c, 0, offset) for c in "\n{}") + 1
    return offset, " ".join(text[start:offset].split()) or "{"


def _expected_words(parser: Lark, expected: set[str]) -> list[str]:
    described, keywords = set(), set()
    for name in expected:
        if name in _DESCRIPTIONS:
            described.add(_DESCRIPTIONS[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if isinstance(pattern, PatternStr):
            keywords.add(f"`{pattern.value}`")
    return sorted(described) + sorted(keywords)


def _help(found: str, expected: set[str], words: list[str]) -> Optional[str]:
    if "STRING" in expected and found[:1] not in '"' and not found.startswith("#"):
        return f'values matched against traffic are quoted strings: write `"{found}"`'
    if "PERCENT" in expected and found.isdigit():
        return f"write the share as a percentage: `{found}%`"
    if "DURATION" in expected and re.fullmatch(r"[0-9.]+", found):
        return f"durations need a unit: `{found}s`, `{found}ms`, `{found}m` or `{found}h`"
    if not words:
        return None
    literals = [w.strip("`") for w in words if w.startswith("`") and w.count("`") == 2]
    close = difflib.get_close_matches(found, literals, n=1, cutoff=0.7)
    prefix = f"did you mean `{close[0]}`? " if close else ""
    return prefix + "expected " + _join(words)


def _join(words: list[str]) -> str:
    if len(words) > _MAX_LISTED:
        shown = words[:_MAX_LISTED]
        return "one of " + ", ".join(shown) + f" (and {len(words) - _MAX_LISTED} more)"
    if len(words) == 1:
        return words[0]
    return "one of " + ", ".join(words[:-1]) + " or " + words[-1]


def _show(found: str) -> str:
    if len(found) == 1 and (not found.isprintable() or found == "\ufffd"):
        return f"character U+{ord(found):04X}"
    return f"`{found}`"
