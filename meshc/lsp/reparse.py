"""Re-parsing the one service an edit falls in, instead of its whole file.

A keystroke inside `service S { ... }` can only change S's syntax tree: a
service is a statement of its namespace, the parser is in the same state
where it starts and after it ends, and no token's lexing looks past S's
closing `}`. So the new tree is the old one with S parsed again and the
positions of everything after the edit moved. S is parsed within its own
file's text, every other character blanked (newlines kept) but the
namespace's header and closing brace, so that the spans it gets are its
spans in the file. When the edit is not inside one service body, or the
service no longer parses alone, the caller parses the whole file, which
also words any syntax error in context.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, Optional

from meshc.language import syntax as s
from meshc.language.parse import parse
from meshc.language.source import SourceFile, Span

_NOT_NEWLINE = re.compile(r"[^\n]")


def reparse(old: SourceFile, tree: s.File, new: SourceFile) -> Optional[s.File]:
    """The syntax tree of `new`, from `tree` (that of `old`); None when the
    whole file must be parsed."""
    if old.text == new.text:  # back to the last text that parsed (an edit undone)
        return tree
    start, old_end, new_end = _changed(old.text, new.text)
    found = _enclosing(old.text, tree, start, old_end)
    if found is None:
        return None
    namespace, service = found
    delta = new_end - old_end
    parsed = _parse_alone(new, namespace, service, delta)
    if parsed is None:
        return None
    block, block_comments = parsed
    shift = _Shift(old, new, old_end, new_end)

    def moved(node):  # what precedes the service is kept as it is
        return shift(node) if node.span.start >= service.span.end else node

    body = tuple(block if stmt is service else moved(stmt) for stmt in namespace.body)
    items = [dataclasses.replace(namespace, span=shift.span(namespace.span), body=body) if item is namespace
             else moved(item) for item in tree.items]
    comments = [c for c in tree.comments if c.span.end <= service.span.start]
    comments += block_comments
    comments += [shift(c) for c in tree.comments if c.span.start >= service.span.end]
    return s.File(shift.span(tree.span), tree.path, tuple(items), tuple(comments))


def _changed(old: str, new: str) -> tuple[int, int, int]:
    """The edit as `old[start:old_end]` replaced by `new[start:new_end]`."""
    most = min(len(old), len(new))
    lo, hi = 0, most
    while lo < hi:  # the longest common prefix, by halving (slices compare in C)
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    start = lo
    lo, hi = 0, most - start
    while lo < hi:  # the longest common suffix that does not overlap the prefix
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return start, len(old) - lo, len(new) - lo


def _enclosing(text: str, tree: s.File, start: int, end: int) -> Optional[tuple[s.Namespace, s.Service]]:
    """The namespace and service whose body (between its braces) holds the
    whole edit, and whose headers are plain (`service NAME [global] {`)."""
    for item in tree.items:
        if not (isinstance(item, s.Namespace) and item.span.start < start and end < item.span.end):
            continue
        for stmt in item.body:
            if isinstance(stmt, s.Service) and stmt.span.start < start and end < stmt.span.end:
                ns_brace = _brace_after(text, item.name.span.end, ())
                brace = _brace_after(text, stmt.name.span.end, ("global",))
                if ns_brace is not None and brace is not None and brace < start:
                    return item, stmt
        return None
    return None


def _brace_after(text: str, position: int, words: tuple[str, ...]) -> Optional[int]:
    """The `{` that opens a block whose header ends at `position`, when only
    whitespace and `words` come between (no comment that could hide one)."""
    brace = text.find("{", position)
    if brace < 0 or text[position:brace].split() not in ([], list(words)):
        return None
    return brace


def _parse_alone(new: SourceFile, namespace: s.Namespace, service: s.Service,
                 delta: int) -> Optional[tuple[s.Service, list[s.Comment]]]:
    """The service parsed from the new text with everything blanked but it
    and its namespace's header and closing brace, and its comments."""
    text = new.text
    ns_brace = _brace_after(text, namespace.name.span.end, ())
    end = service.span.end + delta
    ns_close = namespace.span.end - 1 + delta
    keep = [(namespace.span.start, ns_brace + 1), (service.span.start, end), (ns_close, ns_close + 1)]
    parts, done = [], 0
    for a, b in keep:
        parts += [_NOT_NEWLINE.sub(" ", text[done:a]), text[a:b]]
        done = b
    parts.append(_NOT_NEWLINE.sub(" ", text[done:]))
    tree, diagnostics = parse(SourceFile(new.path, "".join(parts)))
    if tree is None or diagnostics or len(tree.items) != 1 or len(tree.items[0].body) != 1:
        return None
    (block,) = tree.items[0].body
    if not isinstance(block, s.Service) or (block.span.start, block.span.end) != (service.span.start, end):
        return None
    return block, [c for c in tree.comments if service.span.start <= c.span.start < end]


class _Shift:
    """Copies of syntax nodes that follow the edit, with their spans moved:
    offsets by the change in length, lines by the change in line count,
    and columns on the line where the edit ends by the change in that
    line's length before them."""

    def __init__(self, old: SourceFile, new: SourceFile, old_end: int, new_end: int):
        self.delta = new_end - old_end
        self.old_line, old_column = old.position(old_end)
        new_line, new_column = new.position(new_end)
        self.lines = new_line - self.old_line
        self.columns = new_column - old_column
        self.old_end = old_end

    def span(self, span: Span) -> Span:
        file, line, column, end_line, end_column, start, end = span
        if start >= self.old_end:
            line, column, start = self._point(line, column, start)
        if end >= self.old_end:
            end_line, end_column, end = self._point(end_line, end_column, end)
        return Span(file, line, column, end_line, end_column, start, end)

    def _point(self, line: int, column: int, offset: int) -> tuple[int, int, int]:
        if line == self.old_line:
            column += self.columns
        return line + self.lines, column, offset + self.delta

    def __call__(self, node: Any) -> Any:
        cls = type(node)
        names = _fields(cls)
        if names:  # a syntax node: a copy, each field moved (called for every node after the edit)
            moved = object.__new__(cls)
            moved.__dict__ = {name: self(value) for name, value in node.__dict__.items()}
            return moved
        if cls is Span:
            return self.span(node)
        if isinstance(node, tuple):
            moved = cls(self(item) for item in node)
            if hasattr(node, "span"):  # a parser group carrying its clause's span
                moved.span = self.span(node.span)
            return moved
        return node


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[str, ...]:
    """The fields of a syntax node class (none for other types)."""
    return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else ()
