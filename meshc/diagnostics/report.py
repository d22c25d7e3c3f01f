"""Diagnostics as text: full (ruff-like), concise, json, github, and the
CI report formats (sarif.py, gitlab.py, junit.py).

Messages stay plain; colour is added here, and only when asked for.
"""

from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence

import click

from meshc.diagnostics import Diagnostic, Severity
from meshc.language.source import SourceFile, Span

FORMATS = ("full", "concise", "json", "github", "sarif", "gitlab", "junit")


def render(
    diagnostics: Sequence[Diagnostic],
    sources: Mapping[str, SourceFile],
    fmt: str = "full",
    color: bool = False,
) -> str:
    """All diagnostics in one format, ready to print."""
    if fmt == "json":
        return json.dumps([_as_json(d) for d in diagnostics], indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return "".join(_github(d) + "\n" for d in diagnostics)
    if fmt == "sarif":
        from meshc.diagnostics import sarif

        return sarif.render(diagnostics)
    if fmt == "gitlab":
        from meshc.diagnostics import gitlab

        return gitlab.render(diagnostics)
    if fmt == "junit":
        from meshc.diagnostics import junit

        return junit.render(diagnostics, sources)
    if fmt == "concise":
        return "".join(_concise(d, color) + "\n" for d in diagnostics)
    return "".join(_full(d, sources, color) + "\n\n" for d in diagnostics)


def summary(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    where = f"in {files} file{'s' if files != 1 else ''}"
    if not diagnostics:
        return f"All checks passed ({files} file{'s' if files != 1 else ''})."
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"Found {' and '.join(parts)} {where}."


def statistics(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    """How often each code occurs, most frequent first (ruff's --statistics):
    a JSON list for `json`, columns otherwise."""
    counts: dict[str, list] = {}
    for d in diagnostics:
        counts.setdefault(d.code, [0, d.name, d.severity.value])[0] += 1
    rows = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    if fmt == "json":
        listed = [{"code": code, "name": name, "severity": severity, "count": count}
                  for code, (count, name, severity) in rows]
        return json.dumps(listed, indent=2) + "\n"
    width = max((len(str(count)) for _, (count, *_) in rows), default=1)
    return "".join(f"{count:>{width}}  {code}  {name}  ({severity})\n" for code, (count, name, severity) in rows)


def _style(color: bool) -> Callable[..., str]:
    if color:
        return click.style
    return lambda text, **_: text


def _severity(d: Diagnostic, color: bool) -> str:
    style = _style(color)
    tone = "red" if d.severity is Severity.ERROR else "yellow"
    return style(f"{d.severity.value}[{d.code}]", fg=tone, bold=True)


def _concise(d: Diagnostic, color: bool) -> str:
    style = _style(color)
    return f"{style(str(d.span), bold=True)}: {_severity(d, color)} {d.message}"


def _full(d: Diagnostic, sources: Mapping[str, SourceFile], color: bool) -> str:
    style = _style(color)
    tone = "red" if d.severity is Severity.ERROR else "yellow"
    marks = [(d.span, "", "^", tone)] + [(lbl.span, lbl.message, "-", "blue") for lbl in d.labels]
    width = max(len(str(span.line)) for span, *_ in marks)
    gutter = style(" " * width + " |", fg="blue", bold=True)
    lines = [f"{_severity(d, color)}{style(': ' + d.message, bold=True)}"]
    lines.append(f"{' ' * width}{style('-->', fg='blue', bold=True)} {d.span}")
    current_file = d.span.file
    lines.append(gutter)
    for span, message, char, mark_tone in sorted(marks, key=lambda m: (m[0].file != d.span.file, m[0].file, m[0].start)):
        if span.file != current_file:
            lines.append(f"{' ' * width}{style(':::', fg='blue', bold=True)} {span}")
            lines.append(gutter)
            current_file = span.file
        source = sources.get(span.file)
        text = source.line_text(span.line) if source else ""
        number = style(f"{span.line:>{width}} |", fg="blue", bold=True)
        text, start, end = _visible(text, *_underline(span, text))
        lines.append(f"{number} {text}".rstrip())
        underline = " " * start + char * max(1, end - start)
        lines.append(f"{gutter} {style(underline, fg=mark_tone, bold=True)}{(' ' + message) if message else ''}")
    lines.append(gutter)
    if d.help:
        lines.append(f"{style('help', bold=True)}: {d.help}")
    return "\n".join(lines)


_WINDOW = 120


def _visible(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The line as it can be shown under a caret: for a very long line, a
    window around the underline, and one column per character (tabs and
    control characters become one visible character each). Only the window
    is converted, so a report costs the same whatever the line's length."""
    if len(text) <= _WINDOW:
        return _printable(text), start, end
    first = max(0, min(start - _WINDOW // 3, len(text) - _WINDOW))
    last = first + _WINDOW
    shown = ("…" if first else "") + _printable(text[first:last]) + ("…" if last < len(text) else "")
    shift = first - (1 if first else 0)
    return shown, start - shift, min(end, last) - shift


def _printable(text: str) -> str:
    return "".join(" " if c == "\t" else (c if c.isprintable() else "\ufffd") for c in text)


def _underline(span: Span, text: str) -> tuple[int, int]:
    """Columns (0-based, end exclusive) to underline on the span's first line."""
    start = max(0, min(span.column - 1, len(text)))
    end = span.end_column - 1 if span.end_line == span.line else len(text)
    return start, max(start + 1, min(end, max(len(text), start + 1)))


def _as_json(d: Diagnostic) -> dict:
    return {
        "code": d.code,
        "name": d.name,
        "severity": d.severity.value,
        "message": d.message,
        "location": _location(d.span),
        "labels": [{"message": lbl.message, "location": _location(lbl.span)} for lbl in d.labels],
        "help": d.help,
    }


def _location(span: Span) -> dict:
    return {
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def _github(d: Diagnostic) -> str:
    kind = "error" if d.severity is Severity.ERROR else "warning"
    span = d.span
    props = (
        f"file={_gh_escape(span.file, True)},line={span.line},col={span.column},"
        f"endLine={span.end_line},endColumn={span.end_column},"
        f"title={_gh_escape(f'{d.code} {d.name}', True)}"
    )
    message = d.message + (f" (help: {d.help})" if d.help else "")
    return f"::{kind} {props}::{_gh_escape(message, False)}"


def _gh_escape(text: str, is_property: bool) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if is_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text
