"""Policies as git's index holds them: what `git commit` is about to record.

`meshc check --staged` (the pre-commit hook) checks every policy that the
staged changes touch, deletions and renames included, with each file's
text read from the index, never from the work tree: an untracked or
unstaged sibling cannot satisfy a reference that the commit would leave
dangling, and deleting the file that defines a gateway fails the check of
the files that still use it. Git sets GIT_INDEX_FILE for `git commit -a`
and `git commit PATH`; it is inherited, so those index files are read too.
"""

from __future__ import annotations

import os
import posixpath
from typing import Iterable

from meshc import git
from meshc.language.source import display_path
from meshc.selection import SUFFIX, InputError


def _git(root: str, *args: str) -> bytes:
    try:
        return git.run(root, *args)
    except git.GitError as err:
        raise InputError(str(err)) from None


def repository() -> str:
    """The root of the work tree the current directory is in."""
    try:
        return _git(".", "rev-parse", "--show-toplevel").decode().strip()
    except InputError:
        raise InputError("--staged reads git's index: run it inside a git work tree") from None


def policies(paths: Iterable[str]) -> dict[str, dict[str, bytes]]:
    """`{directory: {file: content}}` for each policy directory that a staged
    change touches or a path names, as staged (paths shown relative to the
    working directory)."""
    root = repository()
    changed = _git(root, "diff", "--cached", "--name-only", "--no-renames", "-z").decode("utf-8", "surrogateescape")
    directories = {posixpath.dirname(p) for p in changed.split("\0") if p.endswith(SUFFIX)}
    for path in paths:
        rel = os.path.relpath(os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or "."), root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise InputError(f"{display_path(path)}: not in the git work tree {display_path(root)}")
        directories.add("" if rel == os.curdir else rel.replace(os.sep, "/"))
    staged = _staged_blobs(root)
    found: dict[str, dict[str, bytes]] = {}
    wanted = {path: blob for path, blob in staged.items() if posixpath.dirname(path) in directories}
    try:
        contents = dict(zip(wanted.values(), git.objects(root, list(wanted.values()))))
    except git.GitError as err:
        raise InputError(str(err)) from None
    for path, blob in sorted(wanted.items()):
        directory = display_path(os.path.join(root, posixpath.dirname(path)) or ".")
        found.setdefault(directory, {})[display_path(os.path.join(root, path))] = contents[blob]
    return found


def _staged_blobs(root: str) -> dict[str, str]:
    """`{path: blob id}` of the .mesh files in the index (merged entries only)."""
    listing = _git(root, "ls-files", "--stage", "-z").decode("utf-8", "surrogateescape")
    blobs = {}
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, blob, stage = meta.split()
        if path.endswith(SUFFIX) and stage == "0" and mode in ("100644", "100755"):
            blobs[path] = blob
    return blobs


