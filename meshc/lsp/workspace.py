"""The policies the editor works on: open buffers over the files on disk,
each file parsed once per text, and `meshc check`'s analysis of each policy.

A policy is the .mesh files directly inside one directory that `meshc
check DIR` would check there (the configuration's exclusions and
.gitignore apply); an open buffer stands for its file, saved or not.
Diagnostics come from `pipeline.compile_sources` and `check.checked` (render
for a clean policy, then suppressions and ignores) with the settings of the
directory's configuration file, exactly as `meshc check` gets them, so the
editor and the CLI never disagree. Paths are absolute here; spans carry
them as their `file`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

from meshc.backends.istio import Rendering, render
from meshc.commands.check import checked
from meshc.config import ConfigError, Overrides, Settings
from meshc.diagnostics import Diagnostic, has_errors
from meshc.language import syntax as s
from meshc.language.parse import parse
from meshc.language.source import SourceFile
from meshc.language.values import ISTIO_VERSIONS
from meshc.lsp.reparse import reparse
from meshc.lsp.symbols import Symbol, occurrences
from meshc.pipeline import Compiled, compile_sources, decode, line_ending_problems, read_bytes
from meshc.selection import InputError, excluded_by_patterns, siblings

log = logging.getLogger(__name__)


@dataclass
class _File:
    """One file's text and what parsing it gave; replaced when the text changes."""

    source: SourceFile
    read_errors: list[Diagnostic]  # not UTF-8: the file is not parsed
    # The last parsed text of an edited buffer: when the edit since lies in
    # one service, only that service is parsed again (reparse.py).
    basis: Optional[_File] = None
    parsed: bool = False
    tree: Optional[s.File] = None
    parse_errors: list[Diagnostic] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)


@dataclass
class Analysis:
    """One policy as `meshc check` sees it, plus what the editor features need."""

    directory: str
    files: dict[str, _File]
    settings: Settings
    compiled: Compiled
    diagnostics: list[Diagnostic]
    # The last tree that parsed, per file, for the names a file declares
    # while its current text has a syntax error.
    last_trees: dict[str, s.File]

    @cached_property
    def rendering(self) -> Optional[Rendering]:
        """What render writes, for a policy it accepts (hover shows it)."""
        if not self.compiled.ok:
            return None
        rendering = render(self.compiled.policy, self.settings.istio_version or ISTIO_VERSIONS[-1])
        return None if has_errors(rendering.diagnostics) else rendering

    def source(self, path: str) -> Optional[SourceFile]:
        file = self.files.get(path)
        return file.source if file else None

    def tree(self, path: str) -> Optional[s.File]:
        file = self.files.get(path)
        return file.tree if file else None

    @property
    def symbols(self) -> list[Symbol]:
        """Every name's occurrences in the files that parse as they are now."""
        return [sym for f in self.files.values() for sym in f.symbols]

    def declared(self) -> list[Symbol]:
        """Every declaration, taking a file that does not parse now as it
        was when it last did (for completion while typing)."""
        out = []
        for path, file in self.files.items():
            symbols = file.symbols if file.tree is not None or path not in self.last_trees \
                else occurrences(self.last_trees[path])
            out += [sym for sym in symbols if sym.declaration]
        return out

    def by_file(self) -> dict[str, list[Diagnostic]]:
        """Diagnostics per file of the policy (every file listed, even without any)."""
        out: dict[str, list[Diagnostic]] = {path: [] for path in self.files}
        for d in self.diagnostics:
            out.setdefault(d.span.file, []).append(d)
        return out


class Workspace:
    """Buffers, parsed files and the latest analysis of each policy."""

    def __init__(self, istio_version: Optional[str] = None):
        self.istio_version = istio_version  # as `--istio-version`: over the configuration's
        self.config_error: Optional[str] = None
        self._buffers: dict[str, str] = {}
        self._files: dict[str, _File] = {}
        self._disk: dict[str, tuple[tuple[int, int], _File]] = {}
        self._last_trees: dict[str, s.File] = {}
        self._analyses: dict[str, Analysis] = {}

    # ---------------------------------------------------------- buffers
    def open(self, path: str, text: str) -> None:
        self._buffers[path] = text
        self.invalidate(path)

    def close(self, path: str) -> None:
        self._buffers.pop(path, None)
        self.invalidate(path)

    def invalidate(self, path: str) -> None:
        """Forget the analysis of the policy `path` belongs to (a buffer
        changed, or a file changed on disk)."""
        self._analyses.pop(os.path.dirname(path), None)

    # --------------------------------------------------------- analysis
    def analysis(self, path: str) -> Analysis:
        """The analysis of the policy that `path` (a .mesh file) belongs to."""
        directory = os.path.dirname(path)
        found = self._analyses.get(directory)
        if found is None:
            found = self._analyses[directory] = self._analyze(directory)
        return found

    def overrides(self, directory: str) -> tuple[Overrides, Settings]:
        """How to read the directory's configuration file (afresh: it may
        have been edited), and the settings it gives; the defaults, and
        `config_error` set, when that file is wrong."""
        values = {"istio_version": self.istio_version} if self.istio_version else {}
        overrides = Overrides(values=values)
        try:
            settings = overrides.settings_for(directory)
        except ConfigError as err:
            if str(err) != self.config_error:
                log.warning("%s", err)
            self.config_error = str(err)
            overrides = Overrides(isolated=True, values=values)
            return overrides, overrides.settings_for(directory)
        self.config_error = None
        return overrides, settings

    def _analyze(self, directory: str) -> Analysis:
        overrides, settings = self.overrides(directory)
        # What `meshc check DIR` checks there, and open buffers not saved yet.
        paths = set(siblings(directory, overrides))
        paths |= {p for p in self._buffers if os.path.dirname(p) == directory and not os.path.exists(p)
                  and not excluded_by_patterns(settings, p)}
        files: dict[str, _File] = {}
        for path in sorted(paths):
            file = self._file(path)
            if file is not None:
                files[path] = file
        pre = [d for f in files.values() for d in f.read_errors]
        compiled = compile_sources([f.source for f in files.values()], pre,
                                   parse_file=lambda src: self._parsed(files[src.path]))
        for file in files.values():
            if not file.read_errors:
                self._parsed(file)
        last = {p: t for p, t in self._last_trees.items() if p in files}
        return Analysis(directory, files, settings, compiled, checked(compiled, settings), last)

    def _file(self, path: str) -> Optional[_File]:
        """The file's current text and parse: the cached one while the text
        is the same."""
        if path in self._buffers:
            text = self._buffers[path]
            file = self._files.get(path)
            if file is None or file.source.text != text:
                basis = None if file is None else file if file.tree is not None else file.basis
                source = SourceFile(path, text)
                file = self._files[path] = _File(source, line_ending_problems(source), basis)
            return file
        return self._read(path)

    def _read(self, path: str) -> Optional[_File]:
        """A file from disk, read again only when its size or time changed."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._disk.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            data = read_bytes(path, path)  # a FIFO or a device named *.mesh would hang the server
        except InputError:
            return None
        source, errors = decode(path, data)
        file = _File(source, errors)
        previous = self._files.get(path)
        if previous is not None and previous.source.text == source.text and not errors:
            file = previous  # same text as the buffer just closed: keep its parse
        self._disk[path] = (stamp, file)
        return file

    def _parsed(self, file: _File) -> tuple[Optional[s.File], list[Diagnostic]]:
        """Parse a file once per text (the parse callback of compile_sources)."""
        if not file.parsed:
            tree = reparse(file.basis.source, file.basis.tree, file.source) if file.basis is not None else None
            file.tree, file.parse_errors = (tree, []) if tree is not None else parse(file.source)
            file.parsed = True
            if file.tree is not None:
                file.basis = None  # else kept: the next text is compared with the last that parsed
            if file.tree is not None:
                file.symbols = occurrences(file.tree)
                self._last_trees[file.source.path] = file.tree
        return file.tree, file.parse_errors
