"""`meshc fmt [--check] [--diff] PATH... | -`: .mesh files in the canonical layout.

The layout itself is documented in meshc/language/fmt.py. Messages go to stderr in
black's words (`would reformat x.mesh`, `1 file reformatted, 2 files left
unchanged.`) so that stdout carries only formatted text or a diff.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

import click

from meshc.commands import options
from meshc.commands.options import color, file_selection, use_color, verbosity
from meshc.config import Overrides
from meshc.diagnostics import Diagnostic, report
from meshc.files import LockError, RewriteError, diff_names, locked, unified_diff, write_atomically
from meshc.language.fmt import FormatError, InternalFormatError, format_text
from meshc.language.source import SourceFile, display_path
from meshc.pipeline import InputError, decode, read_bounded, read_source

STDIN = "<stdin>"


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would be reformatted.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff of the changes to stdout (`git apply` takes it).")
@click.option("--stdin-filename", metavar="PATH",
              help="With `-`: the file stdin stands for, named in messages and matched against the exclusions.")
@color
@verbosity
@file_selection
def command(paths: tuple[str, ...], check: bool, diff: bool, stdin_filename: Optional[str], color: str,
            verbosity: int, overrides: Overrides) -> None:
    """Format the .mesh files in PATHS (files, or directories searched
    recursively; the current directory by default) in place; `-` formats
    stdin to stdout. Line endings (LF or CRLF, as the first line has it) and
    a UTF-8 byte order mark are kept.

    Exits 0 when done (or, with --check, when nothing would change), 1 when
    a file would be reformatted (--check) or does not parse, 2 on a usage,
    configuration, I/O or internal error.
    """
    tally = _Tally(dry_run=check or diff, color=use_color(color, sys.stderr), verbosity=verbosity)
    paths = paths or (".",)
    if paths == ("-",):
        _format_stdin(tally, check, diff, stdin_filename, overrides)
    elif "-" in paths:
        raise click.UsageError("`-` (stdin) must be the only path")
    elif stdin_filename is not None:
        raise click.UsageError("--stdin-filename names what `-` reads; give `-` as the path")
    else:
        for path in _mesh_files(paths, overrides, tally):
            _format_file(path, tally, check, diff)
    if verbosity >= 0 or tally.errors or tally.not_parsed:
        click.echo(tally.summary(), err=True)
    sys.exit(tally.exit_code(check))


def _mesh_files(paths: Sequence[str], overrides: Overrides, tally: _Tally) -> list[str]:
    """The files to format, in the order named: a directory stands for every
    .mesh file under it that is not excluded; a file named explicitly is
    formatted whatever its suffix (unless --force-exclude excludes it).
    Every path is checked before any file is touched."""
    from meshc.selection import select

    for path in paths:
        if not os.path.exists(path):
            raise click.UsageError(f"{display_path(path)}: no such file or directory")
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            selection = options.settings_or_exit(lambda: select([path], overrides))
            files.extend(sorted(f for policy in selection.policies for f in policy.files))
        elif not options.settings_or_exit(lambda: _force_excluded(path, overrides)):
            files.append(path)
        else:
            tally.skipped(display_path(path))
    return list(dict.fromkeys(os.path.normpath(f) for f in files))


def _force_excluded(path: str, overrides: Overrides) -> bool:
    """Whether --force-exclude (or the configuration's) leaves out a named file."""
    from meshc.selection import select

    return bool(select([path], overrides).skipped) if os.path.exists(path) else _excluded_name(path, overrides)


def _excluded_name(path: str, overrides: Overrides) -> bool:
    """The same for a name that need not exist (stdin's --stdin-filename)."""
    from meshc.selection import excluded_by_patterns

    settings = overrides.settings_for(os.path.dirname(path) or ".")
    return settings.force_exclude and excluded_by_patterns(settings, os.path.abspath(path))


def _format_file(path: str, tally: _Tally, check: bool, diff: bool) -> None:
    writing = not (check or diff)
    try:
        # Writing, the file is read and replaced holding its lock, so that
        # another meshc (fmt, promote) cannot edit it in between.
        with locked(path) if writing else contextlib.nullcontext():
            source, diagnostics = read_source(path)
            formatted = _formatted(source, diagnostics, tally)
            if formatted is None:
                return
            formatted = _with_line_endings(formatted, source.text)
            if formatted == source.text:
                tally.unchanged(source.path)
                return
            if diff:
                sys.stdout.write(unified_diff(source.text, formatted, *diff_names(source.path)))
            if writing:
                write_atomically(path, formatted, source.text)
    except (InputError, LockError, RewriteError) as err:
        tally.failed(f"error: {err}")
        return
    except OSError as err:
        tally.failed(f"error: {display_path(path)}: cannot write: {err.strerror or err}")
        return
    tally.changed(source.path)


def _format_stdin(tally: _Tally, check: bool, diff: bool, filename: Optional[str], overrides: Overrides) -> None:
    """Stdin to stdout, for editors. A text that does not parse yields no
    output at all, never a partial one; a --stdin-filename that
    --force-exclude excludes is passed through unchanged."""
    shown = display_path(filename) if filename else STDIN
    try:
        data = read_bounded(shown, sys.stdin.buffer)
    except InputError as err:
        tally.failed(f"error: {err}")
        return
    if filename and options.settings_or_exit(lambda: _excluded_name(filename, overrides)):
        if not (check or diff):
            sys.stdout.buffer.write(data)
        tally.skipped(shown)
        return
    source, diagnostics = decode(shown, data)
    formatted = _formatted(source, diagnostics, tally)
    if formatted is None:
        return
    formatted = _with_line_endings(formatted, source.text)
    if diff and formatted != source.text:
        sys.stdout.write(unified_diff(source.text, formatted, *diff_names(shown)))
    if not (check or diff):
        bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
        sys.stdout.buffer.write((bom + formatted).encode("utf-8"))
    if formatted == source.text:
        tally.unchanged(shown)
    else:
        tally.changed(shown)


def _with_line_endings(formatted: str, original: str) -> str:
    """The formatter writes `\\n`; a file whose first line ends in `\\r\\n`
    gets `\\r\\n` throughout, as black does, so that fmt does not turn a
    Windows checkout into a whole-file diff."""
    first = original.find("\n")
    return formatted.replace("\n", "\r\n") if first > 0 and original[first - 1] == "\r" else formatted


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
    color: bool = False
    verbosity: int = 0
    reformatted: int = 0
    left_unchanged: int = 0
    not_parsed: int = 0
    errors: int = 0

    def changed(self, shown: str) -> None:
        self.reformatted += 1
        if self.verbosity >= 0:
            click.echo(f"{'would reformat' if self.dry_run else 'reformatted'} {shown}", err=True)

    def unchanged(self, shown: str) -> None:
        self.left_unchanged += 1
        if self.verbosity > 0:
            click.echo(f"{shown} already formatted", err=True)

    def skipped(self, shown: str) -> None:
        if self.verbosity > 0:
            click.echo(f"{shown} skipped: excluded (--force-exclude)", err=True)

    def unparsable(self, diagnostics: list[Diagnostic], source: SourceFile) -> None:
        self.not_parsed += 1
        sys.stderr.write(report.render(diagnostics, {source.path: source}, "full", self.color))

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
