"""Writing the imported policy into its directory, safely.

The files are written with output/writer.py's `write_tree` (atomic: the
directory is either as it was or complete, nothing outside it is touched).
What it may replace is decided here first:

- every .mesh file in the directory becomes part of the imported policy
  (a policy is the .mesh files of one directory), so a .mesh file that
  `meshc import` did not write is refused, as are `meshc render`'s files;
- a file an earlier import wrote carries, in its first line, a digest of
  what it wrote: it is replaced (or removed) only while it is unedited,
  unless `force`. The first line names it the import's, and says so.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Mapping

from meshc import __version__
from meshc.output.emit import MARKER
from meshc.output.writer import OutputError, WriteReport, write_tree

PREFIX = f"{MARKER} import"
_DIGEST = re.compile(r"\(digest ([0-9a-f]{16})\)")


@dataclass(frozen=True)
class Written:
    report: WriteReport
    replaced_edited: tuple[str, ...]


def with_header(text: str) -> str:
    """The file as written: a first line owning it, with the digest of the rest."""
    return f"{PREFIX} {__version__} (digest {_digest(text)}); edit freely, a later import replaces it only " \
           f"while unedited.\n{text}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write(directory: str, files: Mapping[str, str], force: bool) -> Written:
    """Write `files` (already with their headers) into `directory`.
    OutputError, with nothing changed, when that would lose someone's work."""
    edited = []
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            head, body = _read(path)
            if head.startswith(PREFIX):
                digest = _DIGEST.search(head)
                if digest is None or digest.group(1) != _digest(body):
                    edited.append(name)
            elif head.startswith(MARKER):
                raise OutputError(f"{path} was written by `meshc render`; import into a directory of its own")
            elif name.endswith(".mesh"):
                raise OutputError(f"{path} was not written by meshc import, and every .mesh file of {directory} "
                                  "would be part of the imported policy; import into another directory")
    changed = [n for n in edited if files.get(n) != _current(os.path.join(directory, n))]
    if changed and not force:
        raise OutputError(f"{os.path.join(directory, changed[0])} was edited since meshc import wrote it; "
                          "move it away, or pass --force to replace it")
    return Written(write_tree(directory, files, owned=_imported), tuple(changed))


def _imported(marked: Mapping[str, bytes]) -> set[str]:
    """The files of OUT an import wrote (OUT holds no subdirectories of ours)."""
    prefix = PREFIX.encode()
    return {rel for rel, content in marked.items() if "/" not in rel and content.startswith(prefix)}


def _read(path: str) -> tuple[str, str]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return "", ""
    head, _, body = text.partition("\n")
    return head, body


def _current(path: str) -> str:
    head, body = _read(path)
    return f"{head}\n{body}"
