"""Running git: for `check --staged` (the index) and the canary clock (history)."""

from __future__ import annotations

import subprocess
from typing import Optional, Sequence


class GitError(Exception):
    """git is missing or refused; the message is its last line of complaint."""


def run(cwd: str, *args: str, data: Optional[bytes] = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=False)
    except OSError as err:
        raise GitError(f"cannot run git: {err.strerror or err}") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {said[-1] if said else 'failed'}")
    return done.stdout


def objects(root: str, names: Sequence[str]) -> list[Optional[bytes]]:
    """The contents of objects named as `git cat-file` takes them (a blob
    id, or `COMMIT:PATH`), None for a missing one, in one `--batch` call."""
    if not names:
        return []
    out = run(root, "cat-file", "--batch", data="".join(n + "\n" for n in names).encode())
    found: list[Optional[bytes]] = []
    pos = 0
    for _ in names:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if header[-1] == b"missing":
            found.append(None)
            pos = end + 1
            continue
        size = int(header[2])
        found.append(out[end + 1:end + 1 + size])
        pos = end + 1 + size + 1
    return found
