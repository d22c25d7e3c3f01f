"""`meshc fmt [--check] [--diff] PATH... | -`: .mesh files in the canonical layout.

The layout itself is documented in meshc/language/fmt.py. Messages go to stderr in
black's words (`would reformat x.mesh`, `1 file reformatted, 2 files left
unchanged.`) so that stdout carries only formatted text or a diff.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

import click

from meshc.diagnostics import Diagnostic, report
from meshc.files import unified_diff, walk, write_atomically
from meshc.language.fmt import FormatError, InternalFormatError, format_text
from meshc.language.source import SourceFile, display_path
from meshc.pipeline import InputError, decode, read_source

STDIN = "<stdin>"


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would be reformatted.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff of the changes to stdout.")
def command(paths: tuple[str, ...], check: bool, diff: bool) -> None:
    """Format the .mesh files in PATHS (files, or directories searched
    recursively) in place; `-` formats stdin to stdout.

    Exits 0 when done (or, with --check, when nothing would change), 1 when
    a file would be reformatted (--check) or does not parse, 2 on a usage,
    I/O or internal error.
    """
    tally = _Tally(dry_run=check or diff)
    if paths == ("-",):
        _format_stdin(tally, check, diff)
    elif "-" in paths:
        raise click.UsageError("`-` (stdin) must be the only path")
    else:
        for path in _mesh_files(paths):
            _format_file(path, tally, check, diff)
    click.echo(tally.summary(), err=True)
    sys.exit(tally.exit_code(check))


def _mesh_files(paths: Sequence[str]) -> list[str]:
    """The files to format, in the order named: a directory stands for every
    .mesh file under it; a file named explicitly is formatted whatever its
    suffix. Every path is checked before any file is touched."""
    for path in paths:
        if not os.path.exists(path):
            raise click.UsageError(f"{display_path(path)}: no such file or directory")
    files: list[str] = []
    for path in paths:
        files.extend(walk(path) if os.path.isdir(path) else [path])
    return list(dict.fromkeys(os.path.normpath(f) for f in files))


def _format_file(path: str, tally: _Tally, check: bool, diff: bool) -> None:
    try:
        source, diagnostics = read_source(path)
    except InputError as err:
        tally.failed(f"error: {err}")
        return
    formatted = _formatted(source, diagnostics, tally)
    if formatted is None:
        return
    if formatted == source.text:
        tally.unchanged()
        return
    if diff:
        sys.stdout.write(unified_diff(source.text, formatted, f"{source.path} (original)", f"{source.path} (formatted)"))
    if not (check or diff):
        try:
            write_atomically(path, formatted)
        except OSError as err:
            tally.failed(f"error: {source.path}: cannot write: {err.strerror or err}")
            return
    tally.changed(source.path)


def _format_stdin(tally: _Tally, check: bool, diff: bool) -> None:
    """Stdin to stdout, for editors. A text that does not parse yields no
    output at all, never a partial one."""
    source, diagnostics = decode(STDIN, sys.stdin.buffer.read())
    formatted = _formatted(source, diagnostics, tally)
    if formatted is None:
        return
    if diff and formatted != source.text:
        sys.stdout.write(unified_diff(source.text, formatted, f"{STDIN} (original)", f"{STDIN} (formatted)"))
    if not (check or diff):
        sys.stdout.write(formatted)
    if formatted == source.text:
        tally.unchanged()
    else:
        tally.changed(STDIN)


def _formatted(source: SourceFile, diagnostics: list[Diagnostic], tally: _Tally) -> Optional[str]:
    """The source's formatted text, or None once the reason there is none
    (it is not UTF-8, does not parse, or the formatter failed) is reported."""
    if diagnostics:
        tally.unparsable(diagnostics, source)
        return None
    try:
        return format_text(source.text, source.path)
    except FormatError as err:
        tally.unparsable(err.diagnostics, source)
    except InternalFormatError as err:
        tally.failed(f"internal error: cannot format {source.path}: {err}; please report")
    return None


@dataclass
class _Tally:
    """What happened to each file, reported as it happens and summed up at the end."""

    dry_run: bool
    reformatted: int = 0
    left_unchanged: int = 0
    not_parsed: int = 0
    errors: int = 0

    def changed(self, shown: str) -> None:
        self.reformatted += 1
        click.echo(f"{'would reformat' if self.dry_run else 'reformatted'} {shown}", err=True)

    def unchanged(self) -> None:
        self.left_unchanged += 1

    def unparsable(self, diagnostics: list[Diagnostic], source: SourceFile) -> None:
        self.not_parsed += 1
        click.echo(report.render(diagnostics, {source.path: source}, "full"), err=True, nl=False)

    def failed(self, message: str) -> None:
        self.errors += 1
        click.echo(message, err=True)

    def summary(self) -> str:
        dry = self.dry_run
        counts = [
            (self.reformatted, "would be reformatted" if dry else "reformatted"),
            (self.left_unchanged, "would be left unchanged" if dry else "left unchanged"),
            (self.not_parsed + self.errors, "would fail to reformat" if dry else "failed to reformat"),
        ]
        parts = [f"{_files(count)} {what}" for count, what in counts if count]
        return ", ".join(parts) + "." if parts else "No .mesh files found; nothing to do."

    def exit_code(self, check: bool) -> int:
        if self.errors:
            return 2
        return 1 if self.not_parsed or (check and self.reformatted) else 0


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"
