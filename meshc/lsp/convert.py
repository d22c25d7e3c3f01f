"""meshc's positions and diagnostics in LSP terms.

meshc counts lines and columns from 1 in characters (code points); LSP counts
from 0 in the position encoding agreed at initialisation (UTF-16 unless the
client offers another), so every conversion goes through the line's text.
"""

from __future__ import annotations

import re
from typing import Optional

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec

from meshc.diagnostics import Diagnostic, Severity
from meshc.language.source import SourceFile, Span

SOURCE = "meshc"
# A help that proposes one replacement: `did you mean `x`?` (names.py,
# syntax_errors.py). The quick fix applies it only where the diagnostic
# spans one word, so a hint about another place (`did you mean `or`?` on a
# whole condition) is never applied to the wrong text.
_DID_YOU_MEAN = re.compile(r"did you mean `([^`\s]+)`\?")


def uri(path: str) -> str:
    return from_fs_path(path) or path


def path(document_uri: str) -> Optional[str]:
    """The file a URI names; None for documents that are not files."""
    return to_fs_path(document_uri) if document_uri.startswith("file:") else None


def position(source: SourceFile, line: int, column: int, codec: PositionCodec) -> types.Position:
    """A 1-based line and character column as an LSP position."""
    text = source.line_text(line)
    return types.Position(line=line - 1, character=codec.client_num_units(text[: column - 1]))


def to_range(source: SourceFile, span: Span, codec: PositionCodec) -> types.Range:
    return types.Range(
        start=position(source, span.line, span.column, codec),
        end=position(source, span.end_line, span.end_column, codec),
    )


def offset(source: SourceFile, pos: types.Position, codec: PositionCodec) -> int:
    """The character offset of an LSP position."""
    text = source.line_text(pos.line + 1)
    units = column = 0
    while column < len(text) and units < pos.character:
        units += codec.client_num_units(text[column])
        column += 1
    return source.offset(pos.line + 1, column + 1)


def location(source: SourceFile, span: Span, codec: PositionCodec) -> types.Location:
    return types.Location(uri=uri(span.file), range=to_range(source, span, codec))


def diagnostic(d: Diagnostic, sources: dict[str, SourceFile], codec: PositionCodec) -> types.Diagnostic:
    """A diagnostic as `meshc check` reports it: its code, message, span and
    labels; the help follows the message, as in the full text format."""
    source = sources[d.span.file]
    related = [
        types.DiagnosticRelatedInformation(location=location(sources[label.span.file], label.span, codec),
                                           message=label.message)
        for label in d.labels if label.span.file in sources
    ]
    fix = _DID_YOU_MEAN.match(d.help or "")
    word = source.text[d.span.start:d.span.end]
    replacement = fix.group(1) if fix and word and not any(c.isspace() for c in word) else None
    return types.Diagnostic(
        range=to_range(source, d.span, codec),
        severity=types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning,
        code=d.code,
        source=SOURCE,
        message=d.message + (f"\nhelp: {d.help}" if d.help else ""),
        related_information=related or None,
        data={"replacement": replacement} if replacement else None,
    )
