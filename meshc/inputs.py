"""The policies a command reads, compiled: files selected on disk, stdin
standing for one file of a policy (`-` with `--stdin-filename`), or the
policies as staged in git's index (`--staged`)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

from meshc.config import Overrides, Settings
from meshc.language.source import display_path
from meshc.pipeline import Compiled, compile_paths, compile_sources, decode, read_bounded, read_source
from meshc.selection import InputError, common_directory, excluded_by_patterns, select, siblings

STDIN = "<stdin>"


@dataclass
class Policy:
    compiled: Compiled
    settings: Settings


@dataclass
class Inputs:
    policies: list[Policy]
    settings: Settings
    """Of the whole run: output format, strict."""
    skipped: tuple[str, ...] = ()


def read(paths: Sequence[str], overrides: Overrides, stdin_filename: Optional[str] = None,
         staged: bool = False) -> Inputs:
    """Compile what the paths name; InputError for a path that cannot be
    read, config.ConfigError for a configuration that cannot."""
    if staged:
        if "-" in paths:
            raise InputError("--staged reads git's index; it does not combine with `-`")
        return _staged(paths, overrides)
    if "-" in paths:
        if len(paths) > 1:
            raise InputError("`-` (stdin) must be the only path")
        return _stdin(stdin_filename, overrides)
    if stdin_filename is not None:
        raise InputError("--stdin-filename names what `-` reads; give `-` as the path")
    selection = select(paths, overrides)
    return Inputs([Policy(compile_paths(p.files), p.settings) for p in selection.policies],
                  selection.settings, selection.skipped)


def _stdin(filename: Optional[str], overrides: Overrides) -> Inputs:
    """Stdin as the file `filename` (STDIN without one), compiled with the
    other files of that file's directory, read from disk."""
    data = read_bounded(display_path(filename) if filename else STDIN, sys.stdin.buffer)
    if filename is None:
        source, pre = decode(STDIN, data)
        settings = overrides.settings_for(".")
        return Inputs([Policy(compile_sources([source], pre), settings)], settings)
    directory = os.path.dirname(filename) or "."
    settings = overrides.settings_for(directory)
    shown = display_path(filename)
    source, pre = decode(shown, data)
    sources = [source]
    for path in siblings(directory, overrides):
        if display_path(path) != shown:
            src, diags = read_source(path)
            sources.append(src)
            pre += diags
    return Inputs([Policy(compile_sources(sorted(sources, key=lambda s: s.path), pre), settings)], settings)


def _staged(paths: Sequence[str], overrides: Overrides) -> Inputs:
    from meshc import staged

    policies = []
    for directory, files in sorted(staged.policies(paths).items()):
        settings = overrides.settings_for(directory)
        sources, pre = [], []
        for path, data in files.items():
            if excluded_by_patterns(settings, path):
                continue
            src, diags = decode(path, data)
            sources.append(src)
            pre += diags
        if sources:
            policies.append(Policy(compile_sources(sources, pre), settings))
    return Inputs(policies, overrides.settings_for(common_directory(paths)))
