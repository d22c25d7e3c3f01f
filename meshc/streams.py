"""The process's standard streams, whose failures are I/O errors of the run.

A closed or full stdout or stderr (`>&-`, `> /dev/full`, a reader that went
away) is not a bug in meshc: `guard` puts the standard streams on file
objects that turn an OSError from the operating system into `StreamError`,
which the CLI reports in one line, with exit 2 and no crash file. The
conversion happens at the lowest level (the raw file under Python's buffers),
so it also covers any text stream click builds over them, and click never
sees an OSError it would take for success (it exits 0 on EPIPE).
"""

from __future__ import annotations

import io
import os
import sys
from typing import Optional


class StreamError(Exception):
    """Writing to stdout or stderr failed."""

    def __init__(self, name: str, error: OSError):
        super().__init__(f"cannot write to {name}: {error.strerror or error}")
        self.name = name


class _Raw(io.RawIOBase):
    """A standard stream's file descriptor, never closed by meshc."""

    def __init__(self, fd: int, name: str):
        super().__init__()
        self._fd = fd
        self.name = name

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        try:
            return os.write(self._fd, data)
        except OSError as err:
            raise StreamError(self.name, err) from None


def guard() -> None:
    """Put stdout and stderr on guarded file objects. A standard descriptor
    that was closed when meshc started is first held by /dev/null, opened
    read-only: a file meshc opens can then never take its number, and
    writing there fails as writing to a closed stream should (EBADF)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            held = os.open(os.devnull, os.O_RDONLY)
            if held != fd:
                os.dup2(held, fd)
                os.close(held)
    sys.stdout = _text(1, "stdout", sys.stdout)
    sys.stderr = _text(2, "stderr", sys.stderr)


def _text(fd: int, name: str, previous: Optional[io.TextIOBase]) -> io.TextIOWrapper:
    """A text stream like the one Python made (or would have made, had the
    descriptor been open), writing through `_Raw`."""
    encoding = getattr(previous, "encoding", None) or "utf-8"
    errors = getattr(previous, "errors", None) or "strict"
    # stderr is line-buffered, like Python's own; stdout when it is a terminal.
    line_buffering = name == "stderr" or os.isatty(fd)
    return io.TextIOWrapper(io.BufferedWriter(_Raw(fd, name)), encoding=encoding, errors=errors,
                            line_buffering=line_buffering)


def say(message: str) -> None:
    """Write one line straight to stderr's descriptor, or nothing when that
    fails too: for reporting an error on the way out."""
    try:
        os.write(2, (message + "\n").encode("utf-8", "replace"))
    except OSError:
        pass
