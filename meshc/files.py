"""Rewriting a file safely and showing what changed: shared by the commands
that edit policies or their output (fmt, promote, rollback, render --check).
Which files a command reads is selection.py's concern."""

from __future__ import annotations

import codecs
import contextlib
import difflib
import os
import stat
import sys
import tempfile
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; write_atomically still refuses a file changed meanwhile
    fcntl = None


class RewriteError(Exception):
    """A policy file cannot be rewritten without losing something; nothing
    was written (exit 2)."""


class LockError(Exception):
    """The lock on a file or directory cannot be taken (exit 2)."""


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold the lock on a file or directory meshc is about to read and
    replace (a policy for promote, rollback and fmt; OUT for render), so
    that two meshc runs on it take turns instead of both working from the
    same old contents. The lock is an flock on a sibling `.NAME.meshc-lock`
    (the path itself is replaced by a rename, so it cannot carry the lock),
    removed again on the way out. Other programs do not take it, which is
    what `write_atomically`'s check is for."""
    if fcntl is None:
        yield
        return
    target = os.path.realpath(path)
    lock = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.meshc-lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as err:
            raise LockError(f"cannot lock {path}: {lock}: {err.strerror or err}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another meshc that is writing {path}", file=sys.stderr, flush=True)
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The holder before us may have removed the file we waited on: then
            # the lock is on an orphan, and the next run would create another.
            current = os.lstat(lock)
            held = os.fstat(fd)
            if (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                break
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def write_atomically(path: str, text: str, read: str) -> None:
    """Replace the file's contents with `text` in one rename, so that an
    interrupted run never leaves a half-written policy; `read` is the text
    the new one was made from. Refuses (RewriteError, nothing written) when
    the file no longer holds `read` (another program wrote it meanwhile),
    when it has other hard links (they would keep the old text) or when its
    owner and group cannot be kept. Keeps its mode and a UTF-8 byte order
    mark if it had one. Symlinks are followed: the file they point at is
    the one rewritten. Call it holding `locked(path)`."""
    target = os.path.realpath(path)
    st = os.stat(target)
    if st.st_nlink > 1:
        raise RewriteError(f"{path} has {st.st_nlink} hard links, which would keep the old text when meshc replaces "
                           "the file; nothing was written (copy the file to break the link, then run again)")
    bom = _unchanged(path, target, read)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
            _keep_owner(path, f.fileno(), st)
            os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
        _unchanged(path, target, read)  # once more, as close to the rename as can be
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _unchanged(path: str, target: str, read: str) -> bool:
    """Whether the file starts with a byte order mark; RewriteError when it
    no longer holds `read`."""
    with open(target, "rb") as f:
        data = f.read()
    bom = data.startswith(codecs.BOM_UTF8)
    if data[len(codecs.BOM_UTF8) if bom else 0:] != read.encode("utf-8"):
        raise RewriteError(f"{path} changed while meshc was working on it (another program wrote it); "
                           "nothing was written: run again on the new text")
    return bom


def _keep_owner(path: str, fd: int, st: os.stat_result) -> None:
    """Give the new file the owner and group of the one it replaces."""
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (st.st_uid, st.st_gid):
        return
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except PermissionError:
        raise RewriteError(f"{path} belongs to {st.st_uid}:{st.st_gid}, which meshc (running as "
                           f"{os.getuid()}:{os.getgid()}) cannot give the rewritten file; nothing was written") from None


def diff_names(path: str) -> tuple[str, str]:
    """`a/PATH` and `b/PATH` for a diff's headers, as git writes them: an
    absolute path loses its leading `/` (`a/tmp/x.mesh`, not `a//tmp/x.mesh`)."""
    path = path.lstrip("/")
    return f"a/{path}", f"b/{path}"


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
