"""From paths on the command line to a checked IR.

A policy is the set of .mesh files directly inside one directory; which
files the paths on the command line name is selection.py's concern.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable, Optional, Sequence

from meshc.diagnostics import Diagnostic, Severity, has_errors, sanitize
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.language.source import SourceFile, display_path
from meshc.selection import InputError, select

# Diagnostics a declaration in a file that does not parse could make go
# away: unknown clusters, gateways and services, and the checks that the
# fleet or a namespace's `defaults` and `mtls` decide. (A service, a gateway
# and the fleet are each whole in one file, so once one is found, its
# subsets, ports, hosts and clusters are all known.)
NEED_WHOLE_POLICY = frozenset({
    "MESH202", "MESH203", "MESH204", "MESH402", "MESH406", "MESH409", "MESH410", "MESH411",
    "MESH920", "MESH922",
})


@dataclass
class Compiled:
    sources: dict[str, SourceFile]
    policy: Optional[ir.MeshPolicy] = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressions: list = field(default_factory=list)
    """`# meshc: ignore[...]` comments (diagnostics/suppress.py)."""

    @property
    def ok(self) -> bool:
        return self.policy is not None and not has_errors(self.diagnostics)


def discover(paths: Iterable[str]) -> list[list[str]]:
    """Group the .mesh files named by `paths` into policies (one per
    directory), with the configuration files' exclusions applied."""
    return [list(policy.files) for policy in select(paths).policies]


MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""The largest policy file meshc reads. A policy is text people review (the
largest examples are a few MB); the limit keeps a mistaken path, such as a
log or a disk image, from filling memory."""


def read_source(path: str) -> tuple[SourceFile, list[Diagnostic]]:
    """Read one file; text that is not UTF-8 becomes a diagnostic, not a crash."""
    shown = display_path(path)
    return decode(shown, read_bytes(path, shown))


def read_bytes(path: str, shown: str) -> bytes:
    """A policy file's bytes; InputError when it cannot be read. Only a
    regular file is read: a FIFO would block, a device never end."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (fstat refuses it next).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise InputError(f"{shown}: {_not_regular(mode)}; meshc reads policies only from regular files")
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as err:
        raise InputError(f"{shown}: {err.strerror or err}") from None
    return _within_limit(shown, data)


def read_bounded(shown: str, stream: BinaryIO) -> bytes:
    """A policy's bytes from a stream (stdin), within the same limit as a file's."""
    return _within_limit(shown, stream.read(MAX_SOURCE_BYTES + 1))


def _within_limit(shown: str, data: bytes) -> bytes:
    if len(data) > MAX_SOURCE_BYTES:
        raise InputError(f"{shown}: larger than {MAX_SOURCE_BYTES // 2**20} MiB, the limit for one policy file")
    return data


def _not_regular(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"is {what}"
    return "is not a regular file"


_LONE_CR = re.compile(r"\r(?!\n)")


def decode(shown: str, data: bytes) -> tuple[SourceFile, list[Diagnostic]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        prefix = data[: err.start].decode("utf-8", "replace")
        source = SourceFile(shown, data.decode("utf-8", "replace"))
        return source, [diagnostic(
            "invalid-encoding",
            f"byte 0x{data[err.start]:02x} at offset {err.start} is not valid UTF-8",
            source.span_at(len(prefix), 1),
            help="save the file as UTF-8",
        )]
    if text.startswith("\ufeff"):
        text = text[1:]
    source = SourceFile(shown, text)
    return source, line_ending_problems(source)


def line_ending_problems(source: SourceFile) -> list[Diagnostic]:
    """A lone carriage return: editors break the line there; meshc, reading
    lines at LF, would not (a comment would run on over what the editor
    shows as the next lines), so such a file means different things to each."""
    lone = _LONE_CR.search(source.text)
    if lone is None:
        return []
    return [diagnostic(
        "bare-carriage-return",
        "carriage return (CR) without a line feed: editors show a line break here that meshc would not read as one",
        source.span_at(lone.start(), 1),
        help="save the file with LF (or CRLF) line endings",
    )]


def compile_sources(
    sources: Sequence[SourceFile],
    pre: Sequence[Diagnostic] = (),
    parse_file: Optional[Callable[[SourceFile], tuple]] = None,
) -> Compiled:
    """Parse, lower and check one policy; `pre` are the reading errors of
    some files (which are then left out). A file that does not read or parse
    does not stop the others: each is checked as far as it can be alone.
    `parse_file` replaces `parse.parse`, for callers that keep parsed files
    (the language server re-parses only the file that changed)."""
    from meshc.checks import run_checks
    from meshc.language.lower import lower
    from meshc.language.parse import parse
    from meshc.language.strings import check_strings

    parse_file = parse_file or parse

    compiled = Compiled({src.path: src for src in sources}, diagnostics=list(pre))
    files, texts = _parsed(compiled, sources, {d.span.file for d in pre if d.severity is Severity.ERROR}, parse_file)
    compiled.diagnostics.extend(check_strings(files, texts))
    complete = len(files) == len(sources)
    if files:
        policy, diags = lower(files)
        found = diags + (run_checks(policy) if policy is not None else [])
        if complete:
            compiled.policy = policy
        else:
            # A file that does not parse may hold what the others refer to;
            # report what each parsed file has on its own, nothing that
            # the missing file could make right.
            found = [d for d in found if d.code not in NEED_WHOLE_POLICY]
        compiled.diagnostics.extend(found)
    compiled.diagnostics = sanitize(compiled.diagnostics)
    return compiled


def _parsed(compiled: Compiled, sources: Sequence[SourceFile], unreadable: set[str],
            parse_file: Callable[[SourceFile], tuple]) -> tuple[list, list[str]]:
    """The syntax trees of the files that parse, and their texts; their
    syntax errors and suppression comments go to `compiled`."""
    from meshc.diagnostics import suppress

    files, texts = [], []
    for src in sources:
        if src.path in unreadable:
            continue
        tree, diags = parse_file(src)
        compiled.diagnostics.extend(diags)
        if tree is not None:
            files.append(tree)
            texts.append(src.text)
            compiled.suppressions.extend(suppress.collect(tree, src.text))
    return files, texts


def compile_paths(paths: Sequence[str]) -> Compiled:
    """Read and compile the given files as one policy."""
    sources, diags = [], []
    for path in paths:
        src, d = read_source(path)
        sources.append(src)
        diags.extend(d)
    return compile_sources(sources, diags)
