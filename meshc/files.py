"""Rewriting a file safely and showing what changed: shared by the commands
that edit policies or their output (fmt, promote, rollback, render --check).
Which files a command reads is selection.py's concern."""

from __future__ import annotations

import codecs
import contextlib
import difflib
import os
import stat
import tempfile


def write_atomically(path: str, text: str) -> None:
    """Replace the file's contents in one rename, keeping its mode and a
    UTF-8 byte order mark if it had one, so that an interrupted run never
    leaves a half-written policy. Symlinks are followed: the file they point
    at is the one rewritten."""
    target = os.path.realpath(path)
    with open(target, "rb") as f:
        bom = f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def unified_diff(before: str, after: str, from_name: str, to_name: str) -> str:
    """A unified diff with no timestamps, so that it is the same on every
    run, marking a missing final newline as diff(1) does."""
    lines = difflib.unified_diff(_lines(before), _lines(after), from_name, to_name)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _lines(text: str) -> list[str]:
    """Lines split at `\\n` only (not at the other characters Python treats
    as line ends), each keeping its newline."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
