"""Settings from a configuration file, found the way ruff finds its own.

A directory's configuration is the first of `.meshc.toml`, `meshc.toml` and
a `pyproject.toml` that has a `[tool.meshc]` table, in that directory or the
nearest parent that has one. Each policy (a directory of .mesh files) uses
the configuration found from its directory, so a repository can hold
several projects with their own settings; `--config FILE` gives every
policy that file's settings and `--isolated` ignores configuration files.
Patterns (`exclude`, `per-file-ignores`) are relative to the directory of
the file that sets them; patterns given on the command line to the working
directory. Values given on the command line win over the file's.

Keys (kebab-case, as in ruff): see docs/configuration.md. An unknown key or
a value of the wrong type is a configuration error (exit 2) naming the file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

from meshc.diagnostics.report import FORMATS as OUTPUT_FORMATS

CONFIG_FILES = (".meshc.toml", "meshc.toml", "pyproject.toml")
# Directories never searched for policies unless `exclude` says otherwise:
# hidden ones (.git, .venv, ...) and tool or dependency directories.
DEFAULT_EXCLUDE = (".*/", "node_modules/", "venv/", "__pycache__/")


class ConfigError(Exception):
    """A configuration file that cannot be read or says something invalid (exit 2)."""


@dataclass(frozen=True)
class Patterns:
    """Glob patterns (gitignore syntax) and the directory they are relative to."""

    root: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """What is in force for one policy; `path` is the file it came from."""

    path: Optional[str] = None
    istio_version: Optional[str] = None
    strict: bool = False
    output_format: str = "full"
    exclude: tuple[Patterns, ...] = (Patterns(".", DEFAULT_EXCLUDE),)
    extend_exclude: tuple[Patterns, ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[Patterns, tuple[str, ...]], ...] = ()
    exclude_kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per cluster: kinds of resource that cluster cannot take (its CRDs are missing)."""

    @property
    def root(self) -> str:
        return os.path.dirname(self.path) if self.path else "."


# The keys of the file, each with its parser: (settings field, parse(value, file, root)).
def _string(choices):
    def parse(value, where, root):
        if not isinstance(value, str) or (choices and value not in choices):
            raise ConfigError(f"{where}: expected one of {', '.join(choices)}" if choices
                              else f"{where}: expected a string")
        return value
    return parse


def _bool(value, where, root):
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false")
    return value


def _strings(value, where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def _patterns(value, where, root):
    return (Patterns(root, _strings(value, where)),)


def _codes(value, where, root):
    return ignorable_codes(_strings(value, where), where)


def _per_file(value, where, root):
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of pattern = [codes]")
    return tuple((Patterns(root, (pattern,)), ignorable_codes(_strings(codes, f"{where}.{pattern}"), where))
                 for pattern, codes in value.items())


def _clusters(value, where, root):
    from meshc.backends.documents import KINDS

    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"{where}: expected tables such as [tool.meshc.clusters.NAME]")
    out = {}
    for cluster, table in value.items():
        _unknown_keys(table, ("exclude-kinds",), f"{where}.{cluster}")
        kinds = []
        for kind in _strings(table.get("exclude-kinds", []), f"{where}.{cluster}.exclude-kinds"):
            known = {k.lower(): k for k in KINDS}
            if kind.lower() not in known:
                raise ConfigError(f"{where}.{cluster}.exclude-kinds: meshc renders no kind `{kind}` "
                                  f"({_suggest(kind, KINDS) or 'kinds: ' + ', '.join(KINDS)})")
            kinds.append(known[kind.lower()])
        out[cluster] = tuple(kinds)
    return out


def _istio_versions():
    from meshc.language.values import ISTIO_VERSIONS

    return ISTIO_VERSIONS


KEYS: dict[str, tuple[str, Any]] = {
    "istio-version": ("istio_version", lambda v, w, r: _string(_istio_versions())(v, w, r)),
    "strict": ("strict", _bool),
    "output-format": ("output_format", _string(OUTPUT_FORMATS)),
    "exclude": ("exclude", _patterns),
    "extend-exclude": ("extend_exclude", _patterns),
    "respect-gitignore": ("respect_gitignore", _bool),
    "force-exclude": ("force_exclude", _bool),
    "ignore": ("ignore", _codes),
    "per-file-ignores": ("per_file_ignores", _per_file),
    "clusters": ("exclude_kinds", _clusters),
}


def ignorable_codes(values, where: str) -> tuple[str, ...]:
    """Codes (or names) that may be ignored, as codes: every warning. An
    error cannot be: the output would be what Istio rejects or misreads."""
    from meshc.diagnostics.codes import CODES, lookup

    out = []
    for value in values:
        code = lookup(value)
        if code is None:
            hint = _suggest(value, [*CODES, *(c.name for c in CODES.values())])
            raise ConfigError(f"{where}: `{value}` is not a meshc code" + (f"; {hint}" if hint else ""))
        if code.severity.value == "error":
            raise ConfigError(f"{where}: {code.code} ({code.name}) is an error and cannot be ignored; "
                              "only warnings can")
        out.append(code.code)
    return tuple(dict.fromkeys(out))


def _suggest(name: str, known) -> Optional[str]:
    from meshc.suggest import did_you_mean

    return did_you_mean(name, known)


def _unknown_keys(table: Mapping, known, where: str) -> None:
    for key in table:
        if key not in known:
            hint = _suggest(key, known)
            raise ConfigError(f"{where}: unknown key `{key}`" + (f"; {hint}" if hint else ""))


# ------------------------------------------------------------ discovery
def find(directory: str) -> Optional[str]:
    """The configuration file for `directory`: in it or its nearest parent."""
    current = os.path.abspath(directory)
    while True:
        found = _in_directory(current)
        if found is not None:
            return found
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _in_directory(directory: str) -> Optional[str]:
    for name in CONFIG_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path) and (name != "pyproject.toml" or _table(path) is not None):
            return path
    return None


def load(path: Optional[str]) -> Settings:
    """The settings a configuration file gives (defaults for None)."""
    if path is None:
        return Settings()
    table = _table(path)
    shown = _shown(path)
    if table is None:  # named with --config, but a pyproject.toml without [tool.meshc]
        raise ConfigError(f"{shown}: no [tool.meshc] table")
    where = f"{shown}: [tool.meshc]" if os.path.basename(path) == "pyproject.toml" else shown
    _unknown_keys(table, KEYS, where)
    root = os.path.dirname(os.path.abspath(path))
    values = {attr: parse(table[key], f"{where} {key}", root) for key, (attr, parse) in KEYS.items() if key in table}
    defaults = Settings(path=os.path.abspath(path), exclude=(Patterns(root, DEFAULT_EXCLUDE),))
    return replace(defaults, **values)


def _table(path: str) -> Optional[dict]:
    """The meshc table of a file: all of a meshc.toml, `tool.meshc` of a pyproject.toml."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise ConfigError(f"{_shown(path)}: {err.strerror or err}") from None
    pyproject = os.path.basename(path) == "pyproject.toml"
    if pyproject and b"meshc" not in raw:  # most say nothing to meshc: no need to parse them
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{_shown(path)}: not valid TOML: {err}") from None
    if not pyproject:
        return data
    tool = data.get("tool", {})
    meshc = tool.get("meshc") if isinstance(tool, dict) else None
    return meshc if isinstance(meshc, dict) else None


def _shown(path: str) -> str:
    from meshc.language.source import display_path

    return display_path(path)


@dataclass(frozen=True)
class Overrides:
    """What the command line says, applied over each configuration file."""

    config: Optional[str] = None
    isolated: bool = False
    values: Mapping[str, Any] = field(default_factory=dict)
    """Settings fields given on the command line (`extend_exclude` and
    `ignore` add to the file's; the others replace them)."""
    _loaded: dict = field(default_factory=dict, compare=False, repr=False)
    """Configuration files read by this run, each once."""

    def settings_for(self, directory: str) -> Settings:
        if self.isolated:
            base = Settings()
        else:
            path = os.path.abspath(self.config) if self.config is not None else find(directory)
            if path not in self._loaded:
                self._loaded[path] = load(path)
            base = self._loaded[path]
        values = dict(self.values)
        for additive in ("extend_exclude", "ignore"):
            if additive in values:
                values[additive] = tuple(dict.fromkeys(getattr(base, additive) + tuple(values[additive])))
        return replace(base, **values)


def describe(settings: Settings, directory: str) -> str:
    """The settings in force for `directory`, as the TOML that would set them."""
    import json

    from meshc.language.source import display_path
    from meshc.language.values import ISTIO_VERSIONS

    def patterns(groups: tuple[Patterns, ...]) -> str:
        listed = [p for group in groups for p in group.patterns]
        roots = sorted({display_path(group.root) for group in groups})
        return json.dumps(listed) + (f"  # relative to {', '.join(roots)}" if listed else "")

    lines = [
        f"# settings in force for {directory}",
        f"# configuration file: {display_path(settings.path) if settings.path else 'none (defaults)'}",
        f"istio-version = {json.dumps(settings.istio_version or ISTIO_VERSIONS[-1])}",
        f"strict = {json.dumps(settings.strict)}",
        f"output-format = {json.dumps(settings.output_format)}",
        f"exclude = {patterns(settings.exclude)}",
        f"extend-exclude = {patterns(settings.extend_exclude)}",
        f"respect-gitignore = {json.dumps(settings.respect_gitignore)}",
        f"force-exclude = {json.dumps(settings.force_exclude)}",
        f"ignore = {json.dumps(list(settings.ignore))}",
        "",
        "[per-file-ignores]",
        *(f"{json.dumps(p.patterns[0])} = {json.dumps(list(codes))}" for p, codes in settings.per_file_ignores),
    ]
    for cluster, kinds in sorted(settings.exclude_kinds.items()):
        lines += ["", f"[clusters.{cluster}]", f"exclude-kinds = {json.dumps(list(kinds))}"]
    return "\n".join(lines) + "\n"
