"""Which .mesh files a command works on, and the settings of each policy.

A path on the command line is a directory, searched recursively, or a file,
which stands for the policy of its directory: the file with its .mesh
siblings, so that pre-commit, which passes only changed files, still
resolves names defined in the others. Files and directories met while
searching (siblings included) are skipped when `exclude`/`extend-exclude`
match them or, with `respect-gitignore` (the default), when git ignores
them (`.gitignore` files and `.git/info/exclude` of the repository). A path
named on the command line is used even when excluded, unless
`force-exclude` is set: pre-commit names files one by one, so its hooks set
it. Patterns use gitignore syntax (the `pathspec` library reads them).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Iterable, Optional

from meshc.config import DEFAULT_EXCLUDE, Overrides, Patterns, Settings

SUFFIX = ".mesh"


class InputError(Exception):
    """A path that cannot be read: a usage or I/O error (exit 2), not a diagnostic."""


@dataclass(frozen=True)
class Policy:
    """The .mesh files of one directory, checked and rendered together."""

    directory: str
    files: tuple[str, ...]
    settings: Settings


@dataclass(frozen=True)
class Selection:
    policies: tuple[Policy, ...]
    settings: Settings
    """The settings of the whole run (output format, strict): those of the
    directory the paths have in common."""
    skipped: tuple[str, ...] = ()
    """Paths named on the command line and left out by force-exclude."""


def select(paths: Iterable[str], overrides: Overrides = Overrides()) -> Selection:
    """The policies that `paths` name; InputError for a path that does not exist."""
    return _Selector(overrides).select(list(paths))


class _Selector:
    def __init__(self, overrides: Overrides):
        self.overrides = overrides
        self.settings = functools.lru_cache(maxsize=None)(overrides.settings_for)
        self.gitignore = _GitIgnore()

    def select(self, paths: list[str]) -> Selection:
        from meshc.language.source import display_path

        found: dict[str, set[str]] = {}
        skipped = []
        for path in paths:
            if os.path.isdir(path):
                for file in self._walk(path):
                    found.setdefault(os.path.normpath(os.path.dirname(file)), set()).add(file)
            elif os.path.lexists(path):  # a file, or anything else read_source refuses with a reason
                directory = os.path.dirname(path) or "."
                if self.settings(directory).force_exclude and self._excluded_anywhere(path):
                    skipped.append(display_path(path))
                    continue
                found.setdefault(os.path.normpath(directory), set()).update(self.siblings(directory) + [path])
            else:
                raise InputError(f"{display_path(path)}: no such file or directory")
        policies = tuple(
            Policy(directory, tuple(sorted({os.path.normpath(f) for f in files}, key=display_path)),
                   self.settings(directory))
            for directory, files in sorted(found.items())
        )
        return Selection(policies, self.settings(common_directory(paths)), tuple(skipped))

    def siblings(self, directory: str) -> list[str]:
        """The .mesh files directly in `directory` that are not excluded."""
        names = sorted(f for f in os.listdir(directory) if f.endswith(SUFFIX))
        return [path for name in names for path in [os.path.join(directory, name)]
                if not self._excluded(path, False, directory)]

    def _walk(self, top: str) -> list[str]:
        found = []
        for root, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not self._excluded(os.path.join(root, d), True, top))
            found.extend(path for name in names if name.endswith(SUFFIX)
                         for path in [os.path.join(root, name)] if not self._excluded(path, False, top))
        return sorted(found)

    def _excluded(self, path: str, is_dir: bool, base: Optional[str]) -> bool:
        """Whether a path met while searching `base` is left out, by the
        settings of the directory holding it (base None: a path named on
        the command line, matched only inside the patterns' directory)."""
        settings = self.settings(os.path.dirname(path) or ".")
        if any(matches(p, path, is_dir, base) for p in settings.exclude + settings.extend_exclude):
            return True
        return settings.respect_gitignore and self.gitignore.ignored(os.path.abspath(path), is_dir)

    def _excluded_anywhere(self, path: str) -> bool:
        """Whether a named file, or a directory on its way, is excluded."""
        current, is_dir = os.path.abspath(path), False
        while True:
            if self._excluded(current, is_dir, None):
                return True
            parent = os.path.dirname(current)
            if parent == current:
                return False
            current, is_dir = parent, True


def siblings(directory: str, overrides: Overrides = Overrides()) -> list[str]:
    """The policy files of `directory` (for stdin standing for one of them)."""
    return _Selector(overrides).siblings(directory) if os.path.isdir(directory) else []


def excluded_by_patterns(settings: Settings, path: str) -> bool:
    """Whether `exclude`/`extend-exclude` leave out a file (git's index
    holds tracked files, which .gitignore does not concern)."""
    return any(matches(p, path) for p in settings.exclude + settings.extend_exclude)


def common_directory(paths: list[str]) -> str:
    dirs = [os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in paths]
    return os.path.commonpath(dirs) if dirs else "."


def matches(patterns: Patterns, path: str, is_dir: bool = False, base: Optional[str] = None) -> bool:
    """Patterns match the path relative to their directory; a path outside
    it is matched relative to `base`, the path it was found from."""
    rel = _relative(os.path.abspath(path), os.path.abspath(patterns.root))
    if rel is None and base is not None:
        rel = _relative(os.path.abspath(path), os.path.abspath(base))
    if not rel:
        return False
    if patterns.patterns == DEFAULT_EXCLUDE:
        return _default_excluded(rel, is_dir)
    return _spec(patterns.patterns).match_file(rel + ("/" if is_dir else ""))


_DEFAULT_NAMES = frozenset(p.rstrip("/") for p in DEFAULT_EXCLUDE if p != ".*/")


def _default_excluded(rel: str, is_dir: bool) -> bool:
    """DEFAULT_EXCLUDE matched without loading pathspec (a tenth of a small
    `check`, and most policies have only the defaults): its patterns name
    directories (`name/`, no other `/`), so they match a path inside or
    being a directory named `.*` (hidden) or one of the names, at any depth.
    A test holds this to pathspec's reading."""
    directories = rel.split("/") if is_dir else rel.split("/")[:-1]
    return any(name.startswith(".") or name in _DEFAULT_NAMES for name in directories)


def _relative(path: str, root: str) -> Optional[str]:
    """`path` relative to `root` with `/` separators, or None when outside it."""
    if path == root:
        return ""
    prefix = root.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].replace(os.sep, "/")


@functools.lru_cache(maxsize=None)
def _spec(patterns: tuple[str, ...]):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


# --------------------------------------------------------------- gitignore
class _GitIgnore:
    """What git says of untracked paths, reading each ignore file once per run."""

    def __init__(self) -> None:
        self.repository = functools.lru_cache(maxsize=None)(self._repository)
        self.ignore_files = functools.lru_cache(maxsize=None)(self._ignore_files)

    def ignored(self, path: str, is_dir: bool) -> bool:
        """The last matching pattern of `.git/info/exclude` and the
        `.gitignore` files from the repository's root down to the path's
        directory decides."""
        directory = os.path.dirname(path)
        root = self.repository(directory)
        if root is None:
            return False
        verdict = None
        for base, spec in self.ignore_files(root, directory):
            rel = _relative(path, base)
            if rel:
                found = spec.check_file(rel + ("/" if is_dir else "")).include
                verdict = found if found is not None else verdict
        return bool(verdict)

    def _repository(self, directory: str) -> Optional[str]:
        """The work tree holding `directory` (where `.git` is), if any."""
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        return None if parent == directory else self.repository(parent)

    def _ignore_files(self, root: str, directory: str) -> tuple:
        """(directory, spec) for every ignore file that applies inside `directory`."""
        if directory == root:
            files = [(root, os.path.join(root, ".git", "info", "exclude")), (root, os.path.join(root, ".gitignore"))]
            inherited: tuple = ()
        else:
            files = [(directory, os.path.join(directory, ".gitignore"))]
            inherited = self.ignore_files(root, os.path.dirname(directory))
        own = []
        for base, file in files:
            try:
                with open(file, encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            own.append((base, _spec(tuple(lines))))
        return inherited + tuple(own)
