"""Source files and the spans that point into them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple


class Span(NamedTuple):
    """A region of one source file: 1-based lines and columns, end exclusive.

    `start` and `end` are character offsets, used to slice the text and to
    order diagnostics; `line`/`column` are what users read.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SourceFile:
    """One .mesh file as read from disk (or stdin), with a display path."""

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._line_starts:  # given: the line starts of another SourceFile of the same text
            return
        # One find per line rather than a test per character: the language
        # server builds a SourceFile for every edit of a file.
        starts, find = [0], self.text.find
        newline = find("\n")
        while newline >= 0:
            starts.append(newline + 1)
            newline = find("\n", newline + 1)
        self._line_starts.extend(starts)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        starts = self._line_starts
        if not 1 <= line <= len(starts):
            return ""
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1] : end].rstrip("\r")

    def span_at(self, offset: int, length: int = 1) -> Span:
        """The span of `length` characters at a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line, column = self.position(offset)
        end_line, end_column = self.position(min(offset + length, len(self.text)))
        return Span(self.path, line, column, end_line, end_column, offset, offset + length)

    def offset(self, line: int, column: int) -> int:
        """The character offset of a 1-based (line, column), the inverse of
        `position`; past the end of a line or the file, the end."""
        if line > len(self._line_starts):
            return len(self.text)
        start = self._line_starts[max(line, 1) - 1]
        end = self.text.find("\n", start)
        end = len(self.text) if end < 0 else end
        return min(start + max(column, 1) - 1, end)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._line_starts[lo] + 1


def display_path(path: str) -> str:
    """A path as users should read it: relative to the working directory when
    inside it, always with `/` separators."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        rel = path
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = path
    return rel.replace(os.sep, "/")
