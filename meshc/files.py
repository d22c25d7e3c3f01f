"""Finding .mesh files and rewriting one safely: shared by the commands
that read policies (check, render, status) and those that edit them (fmt,
promote, rollback)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

SUFFIX = ".mesh"
# Never searched for policies: tool and dependency directories (and every
# hidden directory, such as .git or .venv).
SKIP_DIRS = frozenset({"node_modules", "venv", "__pycache__"})


def walk(directory: str) -> list[str]:
    """Every .mesh file under `directory`, sorted."""
    found: list[str] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        found.extend(os.path.join(root, name) for name in names if name.endswith(SUFFIX))
    return sorted(found)


def write_atomically(path: str, text: str) -> None:
    """Replace the file's contents in one rename, keeping its mode, so that
    an interrupted run never leaves a half-written policy. Symlinks are
    followed: the file they point at is the one rewritten."""
    target = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
