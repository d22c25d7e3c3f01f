"""A policy as it was at a git revision, read from git's objects into
memory: no checkout, nothing written."""

from __future__ import annotations

import os

from meshc import git
from meshc.language.source import display_path
from meshc.pipeline import Compiled, compile_sources, decode
from meshc.selection import SUFFIX


def compiled_at(rev: str, path: str) -> Compiled:
    """The policy of `path` (a directory, or a file standing for its
    directory) at `rev`: the `.mesh` files directly in that directory then.
    Raises git.GitError when git cannot answer."""
    directory = path if os.path.isdir(path) else os.path.dirname(path) or "."
    listing = git.run(directory, "ls-tree", "--full-name", "-z", rev, "./")
    entries = []
    for record in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        _, kind, sha = meta.split()
        if kind == "blob" and name.endswith(SUFFIX):
            entries.append((name, sha))
    root = git.run(directory, "rev-parse", "--show-toplevel").decode().strip()
    blobs = git.objects(root, [sha for _, sha in entries])
    sources, pre = [], []
    for (name, _), data in sorted(zip(entries, blobs)):
        source, diagnostics = decode(f"{rev}:{display_path(os.path.join(root, name))}", data or b"")
        sources.append(source)
        pre += diagnostics
    return compile_sources(sources, pre)
