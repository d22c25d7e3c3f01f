"""`meshc fmt`: print a .mesh file in one canonical layout, keeping its comments.

The layout is a stability policy: the same input always formats the same
way, and a change to any rule below changes users' files, so it is made on
purpose and reviewed with its golden tests (tests/test_fmt.py).

Layout
  1. Two-space indentation and one statement per line. A block opens with
     `header {` on the header's line and closes with `}` on a line of its own.
  2. A block whose body is exactly one statement, when that statement is a
     single line with no block of its own, no comment is involved (none
     inside the braces, none trailing the block) and the result fits in 100
     columns, is printed on one line: `on beijing { timeout 20s }`. A
     comment from the block's header does not count: rule 7 moves it out.
     A block that is empty in the source (no statements, no comments)
     prints as `header {}`. Every other block is printed over several lines.
  3. Tokens are separated by one space; a `,` sticks to the token before it
     (`to v1 90%, v2 10%`).
  4. A canary's `pause` and `analysis` clauses and each `wave` go on
     continuation lines, indented two more spaces than `canary`.
  5. Label values (`key = value` in a subset, `source key = value`,
     `selector key = value`) are printed as string literals, so a bare
     `blue` becomes `"blue"`. Every other token is printed exactly as
     written: numbers, durations, percentages and strings keep their
     spelling and escapes.
  6. Top-level items (`fleet`, `namespace`) are followed by one blank line
     when anything comes after them. Elsewhere, one blank line is kept
     wherever the source had at least one between two entries (statements
     or own-line comments); never right after `{` or right before `}`.
     Blank lines inside a statement are dropped.
  7. Comments. An own-line comment stays on its own line, indented like the
     statement (or `}`) that follows it. A trailing comment (code before it
     on its line) stays at the end of that statement's last printed line,
     two spaces after it; one after a block's `{` stays after the `{`. A
     comment inside a statement (between its tokens, or in a block's header
     before `{`) moves to its own line just before the statement. Comments at
     the end of a block stay inside it, before `}`; those at the end of the
     file stay at the end. Trailing whitespace is removed from comments.
  8. The output uses `\\n` line endings (`\\r\\n` input included), has no
     trailing whitespace and ends with exactly one newline; an input with no
     statements and no comments formats to the empty string. (`meshc fmt`
     writes a file back with `\\r\\n` when its first line ended so, and
     keeps a byte order mark.)

Safety
  Like black's `assert_equivalent` and `assert_stable`, `format_text`
  re-parses its own output and raises `InternalFormatError` unless the
  syntax tree is unchanged (label values compared unquoted), the IR is
  unchanged when the input lowers cleanly (spans aside), every comment is
  still there, and formatting the output again changes nothing.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from meshc.diagnostics import Diagnostic
from meshc.language import syntax as s
from meshc.language.lower import lower, string
from meshc.language.parse import parse
from meshc.language.source import SourceFile, Span

INDENT = "  "
LINE_WIDTH = 100
_NOWHERE = Span("<generated>", 1, 1, 1, 1, 0, 0)


class FormatError(Exception):
    """The input has syntax errors, so there is nothing to format; the
    diagnostics say where, for the command to print."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        super().__init__(diagnostics[0].message if diagnostics else "syntax error")
        self.diagnostics = list(diagnostics)


class InternalFormatError(Exception):
    """The formatter broke one of its guarantees: a bug in meshc, never a
    fault of the input, so the file must be left as it was."""


def format_text(text: str, path: str) -> str:
    """`text` in the canonical layout; `path` only names it in diagnostics.

    Raises FormatError when the text does not parse and InternalFormatError
    when the result fails the safety checks.
    """
    tree, diagnostics = parse(SourceFile(path, text))
    if tree is None:
        raise FormatError(diagnostics)
    formatted = _format_tree(tree, text)
    _check_safe(tree, formatted)
    return formatted


def print_tree(tree: s.File, comments: Optional[Mapping[int, Sequence[str]]] = None) -> str:
    """A syntax tree in the canonical layout, without blank lines.

    For trees that have no source text, such as generated ones (tests,
    `meshc import`). `comments` maps a statement node's `id()` to comment
    lines (each starting with `#`) printed just before it; a statement with
    comments that is not the first of its block gets a blank line before
    them, as a reader would leave one.
    """
    return _render_file(_Body([_plain(item, comments or {}) for item in tree.items]))


def is_canonical(tree: s.File, text: str) -> bool:
    """Whether `text`, which parsed to `tree`, is already in the canonical
    layout (formatting it would change nothing)."""
    return _format_tree(tree, text) == text


def _format_tree(tree: s.File, text: str) -> str:
    body, _ = _Layout(text, tree.comments).body(tree.items, 0)
    return _render_file(body)


def comment_owners(tree: s.File, text: str) -> dict[int, tuple[int, int]]:
    """The statement each comment belongs to in the layout, as the source
    offsets it spans, keyed by the comment's start offset: the statement
    the comment trails or sits inside, the block whose `{` it follows, or,
    for an own-line comment, the next statement of its block (a comment
    with none after it belongs to no statement and is left out). Formatting
    keeps every comment with its statement, so this does not change."""
    body, _ = _Layout(text, tree.comments).body(tree.items, 0)
    owners: dict[int, tuple[int, int]] = {}
    _own(body, None, owners)
    return owners


def _own(body: _Body, block: Optional[tuple[int, int]], owners: dict[int, tuple[int, int]]) -> None:
    if body.opener is not None and block is not None:
        owners[body.opener.span.start] = block
    waiting: list[s.Comment] = []
    for entry in body.entries:
        if isinstance(entry, _Note):
            waiting.append(entry.comment)
            continue
        for comment in waiting + entry.leading + ([entry.trailing] if entry.trailing else []):
            owners[comment.span.start] = entry.extent
        waiting = []
        if entry.body is not None:
            _own(entry.body, entry.extent, owners)


# ------------------------------------------------------------- layout
@dataclass
class _Stmt:
    """A statement with the comments that travel with it."""

    node: Any
    leading: list[s.Comment] = field(default_factory=list)  # moved here from inside it
    trailing: Optional[s.Comment] = None
    body: Optional[_Body] = None  # set exactly for block statements
    blank_before: bool = False
    extent: tuple[int, int] = (0, 0)  # offsets in the source, from its first token to its `}` or last token


@dataclass
class _Note:
    """An own-line comment between statements."""

    comment: s.Comment
    blank_before: bool = False


@dataclass
class _Body:
    entries: list[Union[_Stmt, _Note]]
    opener: Optional[s.Comment] = None  # a comment on the `{` line, after the `{`


def _plain(node: Any, comments: Mapping[int, Sequence[str]]) -> _Stmt:
    block = _block(node)
    body = None if block is None else _Body([_plain(child, comments) for child in block[1]])
    if body is not None:
        for i, entry in enumerate(body.entries):
            entry.blank_before = i > 0 and bool(entry.leading)
    lines = comments.get(id(node), ())
    return _Stmt(node, leading=[s.Comment(_NOWHERE, line) for line in lines], body=body)


class _Layout:
    """Files each comment of a source with the statement it belongs to, and
    notes where the source had blank lines (rules 6 and 7).

    The gaps between statements hold only whitespace and comments, which is
    what makes a comment's position within a gap enough to place it.
    """

    def __init__(self, text: str, comments: Sequence[s.Comment]):
        self.text = text
        self.comments = sorted(comments, key=lambda c: c.span.start)
        self.starts = [c.span.start for c in self.comments]
        self.ends = {c.span.start: c.span.end for c in self.comments}

    def body(self, nodes: Sequence[Any], lo: int) -> tuple[_Body, int]:
        """The statements `nodes`, which follow offset lo (just inside a
        block's `{`, or the start of the file), and the offset where the body
        stops: the block's `}`, or the end of the file."""
        body = _Body([])
        end, previous = lo, None
        for node in nodes:
            start = self._code_start(end)
            end = self._gap(body, previous, end, start)
            previous, stop = self._stmt(node, start)
            previous.blank_before = bool(body.entries) and self._blank(end, start)
            body.entries.append(previous)
            end = stop
        close = self._code_start(end)
        self._gap(body, previous, end, close)
        return body, close

    def _stmt(self, node: Any, start: int) -> tuple[_Stmt, int]:
        """The statement that starts at offset `start`, and where it ends.

        Offsets come from the text, not only from the node's span, because a
        span covers what the node holds: LbHash's starts after `lb hash`, and
        Port's stops at its last policy statement, before the `}`.
        """
        block = _block(node)
        if block is None:
            end = node.span.end
            return _Stmt(node, leading=self._between(start, end), extent=(start, end)), end
        brace = self._brace(start)
        body, close = self.body(block[1], brace + 1)
        if self.text[close : close + 1] != "}":
            raise InternalFormatError(f"no `}}` where the block at offset {start} should close")
        return _Stmt(node, leading=self._between(start, brace), body=body, extent=(start, close + 1)), close + 1

    def _gap(self, body: _Body, previous: Optional[_Stmt], end: int, start: int) -> int:
        """File the comments between offsets end and start, which follow
        `previous` (or the opening `{` when None); return where the last of
        them ends."""
        for comment in self._between(end, start):
            if not self._after_code(comment):
                body.entries.append(_Note(comment, bool(body.entries) and self._blank(end, comment.span.start)))
            elif previous is None:
                body.opener = comment
            else:
                previous.trailing = comment
            end = comment.span.end
        return end

    def _between(self, lo: int, hi: int) -> list[s.Comment]:
        return self.comments[bisect.bisect_left(self.starts, lo) : bisect.bisect_left(self.starts, hi)]

    def _code_start(self, pos: int) -> int:
        """The first offset from pos on that is neither whitespace nor comment."""
        while pos < len(self.text):
            if self.text[pos] in " \t\f\r\n":
                pos += 1
            elif pos in self.ends:
                pos = self.ends[pos]
            else:
                break
        return pos

    def _brace(self, pos: int) -> int:
        """The `{` of the block whose header starts at pos; a header holds
        no strings, so any `#` before the brace starts a comment."""
        while self.text[pos] != "{":
            pos = self.ends.get(pos, pos + 1)
        return pos

    def _after_code(self, comment: s.Comment) -> bool:
        line_start = self.text.rfind("\n", 0, comment.span.start) + 1
        return self.text[line_start : comment.span.start].strip() != ""

    def _blank(self, end: int, start: int) -> bool:
        return self.text.count("\n", end, start) >= 2


def _comment_text(comment: s.Comment) -> str:
    return comment.text.rstrip()


# ------------------------------------------------------------- render
def _render_file(body: _Body) -> str:
    return "".join(line + "\n" for line in _render_entries(body.entries, 0, top_level=True))


def _render_entries(entries: Sequence[Union[_Stmt, _Note]], depth: int, top_level: bool = False) -> list[str]:
    lines: list[str] = []
    for i, entry in enumerate(entries):
        follows_item = top_level and i > 0 and isinstance(entries[i - 1], _Stmt)
        if entry.blank_before or follows_item:
            lines.append("")
        lines.extend(_render(entry, depth))
    return lines


def _render(entry: Union[_Stmt, _Note], depth: int) -> list[str]:
    pad = INDENT * depth
    if isinstance(entry, _Note):
        return [pad + _comment_text(entry.comment)]
    if entry.body is None:
        first, *rest = _leaf_lines(entry.node)
        lines = [pad + first] + [pad + INDENT + line for line in rest]
    else:
        lines = _render_block(entry, depth)
    if entry.trailing is not None:
        lines[-1] += "  " + _comment_text(entry.trailing)
    return [pad + _comment_text(c) for c in entry.leading] + lines


def _render_block(stmt: _Stmt, depth: int) -> list[str]:
    pad = INDENT * depth
    header = _block(stmt.node)[0]
    body = stmt.body
    if not body.entries and body.opener is None:
        return [f"{pad}{header} {{}}"]
    one_line = _one_line(stmt, header)
    if one_line is not None and len(pad) + len(one_line) <= LINE_WIDTH:
        return [pad + one_line]
    opener = "" if body.opener is None else "  " + _comment_text(body.opener)
    return [f"{pad}{header} {{{opener}"] + _render_entries(body.entries, depth + 1) + [pad + "}"]


def _one_line(stmt: _Stmt, header: str) -> Optional[str]:
    """`header { statement }`, if rule 2 lets the block sit on one line
    (the width aside, which depends on the indentation)."""
    body = stmt.body
    # A comment from the header (stmt.leading) is printed before the block,
    # so it does not count: once moved it is no longer inside.
    if stmt.trailing is not None or body.opener is not None or len(body.entries) != 1:
        return None
    inner = body.entries[0]
    if not isinstance(inner, _Stmt) or inner.body is not None or inner.leading or inner.trailing is not None:
        return None
    lines = _leaf_lines(inner.node)
    return f"{header} {{ {lines[0]} }}" if len(lines) == 1 else None


# ------------------------------------------------------------- blocks
def _block(node: Any) -> Optional[tuple[str, tuple]]:
    """The header and statements of a node printed as `header { ... }`;
    None for a statement without a block."""
    if isinstance(node, s.Port):
        return None if node.policy is None else (_port(node), node.policy)
    if isinstance(node, s.Expect):
        inner = _block(node.what)
        return None if inner is None else ("expect " + inner[0], inner[1])
    describe = _BLOCKS.get(type(node))
    return None if describe is None else describe(node)


_BLOCKS: dict[type, Callable[[Any], tuple[str, tuple]]] = {
    s.Fleet: lambda n: (_join("fleet", n.name), n.body),
    s.Namespace: lambda n: (_join("namespace", n.name), n.body),
    s.Defaults: lambda n: ("defaults", n.body),
    s.Gateway: lambda n: (_join("gateway", n.name), n.body),
    s.GatewayHost: lambda n: (_join("host", n.host), n.body),
    s.Service: lambda n: (_join("service", n.name, n.global_word), n.body),
    s.Subset: lambda n: (_join("subset", n.name), n.body),
    s.Route: lambda n: (_join("route", n.name), n.body),
    s.Override: lambda n: (_join("on", n.cluster), n.body),
    s.CircuitBreaker: lambda n: ("circuit-breaker", n.settings),
    s.PolicyTest: lambda n: (_join("test", n.name), n.body),
}


# ------------------------------------------------------------- tokens
Part = Union[None, str, s.Word, Sequence[s.Word]]


def _join(*parts: Part) -> str:
    """Tokens separated by one space; None stands for an absent optional part."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, s.Word):
            out.append(part.text)
        elif part is not None:
            out.extend(word.text for word in part)
    return " ".join(out)


def _opt(keyword: str, value: Part) -> Optional[str]:
    """`keyword value` when the optional value was written (a word or a
    non-empty list of them)."""
    return _join(keyword, value) if value else None


def _label_value(word: s.Word) -> str:
    """Rule 5: a NAME never needs escaping, so quoting it keeps its value."""
    return word.text if word.text.startswith('"') else f'"{word.text}"'


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items)


def _condition(node: s.Disjunction) -> str:
    return " or ".join(_conjunction(conj) for conj in node.alternatives)


def _conjunction(node: s.Conjunction) -> str:
    return " and ".join(_CONDITIONS[type(c)](c) for c in node.conditions)


_CONDITIONS: dict[type, Callable[[Any], str]] = {
    s.HeaderMatch: lambda n: _join("header", n.name, n.op, n.value),
    s.HeaderAbsent: lambda n: _join("header", n.name, "absent"),
    s.CookieMatch: lambda n: _join("cookie", n.name, "=", n.value),
    s.PathMatch: lambda n: _join("path", n.op, n.value),
    s.MethodMatch: lambda n: _join("method", "=", n.method),
    s.QueryMatch: lambda n: _join("query", n.name, n.op, n.value),
    s.PortMatch: lambda n: _join("port", n.port),
    s.SourceLabel: lambda n: _join("source", n.key, "=", _label_value(n.value)),
    s.SourceNamespace: lambda n: _join("from", "namespace", n.namespace),
    s.SourceCluster: lambda n: _join("from", "cluster", n.cluster),
}


def _port(node: s.Port) -> str:
    return _join("port", node.number, node.protocol, _opt("name", node.name))


def _cluster_attr(attr: s.ClusterAttr) -> str:
    return _join("remote", "of", attr.value) if attr.key == "remote" else _join(attr.key, attr.value)


def _priority_label(label: s.PriorityLabel) -> str:
    """`key` or `key=value`, the `=` unspaced as in Istio's `key=value` form."""
    if label.value is None:
        return label.key.text
    return f"{label.key.text}={label.value.text}"


def _target(node: Union[s.SubsetRef, s.ServiceRef]) -> str:
    if isinstance(node, s.SubsetRef):
        return node.name.text
    return _join("service", node.name, _opt("in", node.namespace), _opt("subset", node.subset), _opt("port", node.port))


def _gate(node: Union[s.SuccessRateGate, s.LatencyGate]) -> str:
    if isinstance(node, s.SuccessRateGate):
        return _join("success-rate", ">=", node.threshold)
    return _join(node.quantile, "<=", node.threshold)


def _canary(node: s.Canary) -> list[str]:
    """Rule 4: the pause and analysis clauses are continuation lines."""
    lines = [_join("canary", node.baseline, "->", node.candidate, "steps", node.steps, _opt("at", node.at))]
    if node.pauses:
        lines.append(_join("pause", node.pauses))
    if node.gates:
        lines.append(_join("analysis", *(_gate(g) for g in node.gates)))
    lines += [_join("wave", w.clusters, _opt("after", w.after), _opt("at", w.at)) for w in node.waves]
    return lines


def _request(node: s.PolicyRequest) -> str:
    target = node.target
    if isinstance(target, s.RequestService):
        said = _join("service", target.name, _opt("in", target.namespace))
    else:
        said = _join("host", target.host, _opt("via", target.gateway))
    return _join("request", said, node.attributes and _join("with", _conjunction(node.attributes)))


def _leaf_lines(node: Any) -> list[str]:
    """A statement without a block: one line, or a canary's several."""
    if isinstance(node, s.Canary):
        return _canary(node)
    return [_LEAVES[type(node)](node)]


_LEAVES: dict[type, Callable[[Any], str]] = {
    # fleet and namespace
    s.DnsProxying: lambda n: "dns-proxying",
    s.ClusterLabel: lambda n: _join("cluster-label", n.name),
    s.Cluster: lambda n: _join("cluster", n.name, *(_cluster_attr(a) for a in n.attrs)),
    s.Mtls: lambda n: _join("mtls", n.mode, _opt("for", n.workload)),
    s.Allow: lambda n: _join(
        "allow", n.workload,
        n.source and _join("from", n.source.kind, n.source.values),
        n.to and _join("to", n.to.methods, n.to.paths),
    ),
    s.GatewayHosts: lambda n: _join("hosts", n.hosts),
    s.GatewayServer: lambda n: _join(n.protocol, _opt("port", n.port), _opt("credential", n.credential)),
    s.RedirectHttp: lambda n: "redirect-http",
    s.GatewaySelector: lambda n: _join("selector", n.key, "=", _label_value(n.value)),
    s.External: lambda n: _join("external", n.hosts, *(_join("port", p.number, p.protocol) for p in n.ports)),
    # service
    s.Port: _port,
    s.SubsetsBy: lambda n: _join("subsets", "by", n.key, n.names),
    s.Label: lambda n: _join(n.key, "=", _label_value(n.value)),
    s.SubsetCluster: lambda n: _join("in", n.cluster),
    s.Placement: lambda n: _join("in", n.clusters),
    s.Local: lambda n: "local",
    s.Expose: lambda n: _join("expose", "via", n.gateway, "host", n.host, n.port and _join("port", n.port),
                              n.condition and _join("when", _condition(n.condition))),
    # routes
    s.When: lambda n: _join("when", _condition(n.condition)),
    s.Forward: lambda n: "to " + _listing([_join(_target(d.target), d.weight) for d in n.destinations]),
    s.BlueGreen: lambda n: _join("blue-green", "active", n.active, "preview", n.preview),
    s.Mirror: lambda n: _join("mirror", _target(n.target), n.percent),
    # options
    s.Timeout: lambda n: _join("timeout", n.duration),
    s.Retry: lambda n: _join("retry", n.attempts, _opt("per-try", n.per_try), _opt("on", n.on)),
    s.RetryOff: lambda n: "retry off",
    s.FaultDelay: lambda n: _join("fault", "delay", n.delay, n.percent),
    s.FaultAbort: lambda n: _join("fault", "abort", n.status, n.percent),
    s.Rewrite: lambda n: _join("rewrite", "path", n.path),
    s.Cors: lambda n: _join("cors", *(_join(p.key, p.values) for p in n.parts)),
    # destination policy
    s.BreakerSetting: lambda n: _join(n.key, n.value),
    s.Eject: lambda n: _join(
        "eject", n.count, "consecutive", n.errors,
        _opt("every", n.interval), _opt("for", n.base_time), _opt("max", n.max_percent),
    ),
    s.LbSimple: lambda n: _join("lb", n.algorithm),
    s.LbHash: lambda n: _join("lb", "hash", n.kind, n.name, _opt("ttl", n.ttl)),
    s.Tls: lambda n: _join("tls", n.mode),
    s.Failover: lambda n: "failover " + _listing([_join(p.source, "->", p.target) for p in n.pairs]),
    s.FailoverPriority: lambda n: _join("failover", "priority", *(_priority_label(x) for x in n.labels)),
    s.Distribute: lambda n: _join(
        "distribute", n.source, "->", _listing([_join(t.locality, t.percent) for t in n.targets]),
    ),
    # tests
    s.PolicyRequest: _request,
    s.StepsAt: lambda n: _join("at", n.steps),
    s.EveryStep: lambda n: "every step",
    s.Down: lambda n: _join("down", n.clusters),
    s.Expect: lambda n: "expect " + _LEAVES[type(n.what)](n.what),
    s.ExpectRoute: lambda n: _join("route", n.route),
    s.ExpectStatus: lambda n: _join("status", n.status),
    s.ExpectServed: lambda n: _join("served", "by", n.clusters),
}


# ------------------------------------------------------------- safety
def _check_safe(tree: s.File, formatted: str) -> None:
    """Black's assert_equivalent and assert_stable for .mesh: raise
    InternalFormatError if formatting changed what the file says or would
    change it again (a formatter that bounces between layouts hides bugs)."""
    again, diagnostics = parse(SourceFile(tree.path, formatted))
    if again is None:
        raise InternalFormatError(f"the formatted {tree.path} does not parse: {diagnostics[0].message}")
    if normalised(again) != normalised(tree):
        raise InternalFormatError(f"formatting changed the syntax tree of {tree.path}")
    if _comment_texts(again) != _comment_texts(tree):
        raise InternalFormatError(f"formatting lost or added comments in {tree.path}")
    before, problems = lower([tree])
    if before is not None and not problems:
        after, _ = lower([again])
        if after is None or without_spans(after.model_dump()) != without_spans(before.model_dump()):
            raise InternalFormatError(f"formatting changed the IR of {tree.path}")
    if _format_tree(again, formatted) != formatted:
        raise InternalFormatError(f"formatting {tree.path} a second time changes it again")


_LABELLED = (s.Label, s.SourceLabel, s.GatewaySelector)


def normalised(node: Any) -> Any:
    """A syntax tree with label values unquoted. Formatting quotes bare
    label values (rule 5), so trees before and after formatting are equal
    only under this."""
    if isinstance(node, tuple):
        return tuple(normalised(item) for item in node)
    if not is_dataclass(node):
        return node
    if isinstance(node, _LABELLED) and node.value.text.startswith('"'):
        node = replace(node, value=s.Word(node.value.span, string(node.value)))
    return replace(node, **{f.name: normalised(getattr(node, f.name)) for f in fields(node) if f.compare})


def without_spans(data: Any) -> Any:
    """A model_dump() without its spans (`span`, `at_span`, ...): where
    things were written is all formatting may change in the IR."""
    if isinstance(data, dict):
        return {k: without_spans(v) for k, v in data.items() if k != "span" and not k.endswith("_span")}
    if isinstance(data, (list, tuple)):
        return [without_spans(item) for item in data]
    return data


def _comment_texts(tree: s.File) -> Counter:
    return Counter(_comment_text(c) for c in tree.comments)
