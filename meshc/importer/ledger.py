"""The loss report: every field, value or resource an import cannot carry
into the language, as a diagnostic at the YAML position it was read from.

The same resource usually sits in every cluster's directory: a loss is
reported once, at its first occurrence, and says which clusters it
concerns when that is not all of them.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from meshc.diagnostics import Diagnostic, Label, sanitize
from meshc.diagnostics.codes import diagnostic
from meshc.importer.resources import Resource
from meshc.importer.yaml_source import describe


class _Reporting:
    """What readers call to report a loss; `lose` is the subclass's."""

    def lose(self, name: str, resource: Resource, path: Sequence[Any], message: str,
             help: Optional[str] = None, *, value: bool = False, labels: Sequence[Label] = ()) -> None:
        raise NotImplementedError

    def field(self, resource: Resource, path: Sequence[Any], reason: str, help: Optional[str] = None) -> None:
        """A field the language has no place for: dropped."""
        self.lose("unsupported-field", resource, path, f"is not imported: {reason}", help)

    def bad_value(self, resource: Resource, path: Sequence[Any], reason: str, help: Optional[str] = None) -> None:
        """A value the language cannot hold (out of its range, not its syntax)."""
        self.lose("unsupported-value", resource, path, f"is not imported: {reason}", help, value=True)


class Recorder(_Reporting):
    """Losses of reading one resource, kept to be reported for each cluster
    whose input holds the same resource (read once, reported everywhere)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def lose(self, name, resource, path, message, help=None, *, value=False, labels=()) -> None:
        self.calls.append((name, tuple(path), message, help, value, tuple(labels)))

    def replay(self, ledger: "Ledger", resource: Resource) -> None:
        for name, path, message, help, value, labels in self.calls:
            ledger.lose(name, resource, path, message, help, value=value, labels=labels)


class Ledger(_Reporting):
    def __init__(self, clusters: Sequence[str] = ()):
        self.clusters = tuple(clusters)
        self._found: dict[tuple, tuple[Diagnostic, list[str]]] = {}
        self._lost: set[tuple[str, str, str]] = set()

    def lose(self, name: str, resource: Resource, path: Sequence[Any], message: str,
             help: Optional[str] = None, *, value: bool = False, labels: Sequence[Label] = (),
             merged: bool = False) -> None:
        """Report `message` (what is lost and what that changes) for the
        field at `path` of `resource`; `value` points at the field's value
        rather than its key. `merged`: found in the policy the clusters
        were merged into, so it concerns them all."""
        path = tuple(path)
        key = (name, resource.kind, resource.namespace, resource.name, path, message)
        self._lost.add(resource.key)
        found = self._found.get(key)
        if found is not None:
            if resource.cluster not in found[1]:
                found[1].append(resource.cluster)
            return
        span = resource.value_span(*path) if value else resource.span(*path)
        where = f"{resource.title}: " + (f"`{describe(path)}` " if path else "")
        self._found[key] = (diagnostic(name, where + message, span, help=help, labels=labels),
                            list(self.clusters) if merged else [resource.cluster])

    def has_losses(self, resource: Resource) -> bool:
        return resource.key in self._lost

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        for diag, clusters in self._found.values():
            if len(self.clusters) > 1 and len(clusters) < len(self.clusters):
                where = ", ".join(c for c in self.clusters if c in clusters)
                diag = Diagnostic(diag.code, diag.name, diag.severity,
                                  f"{diag.message} (cluster{'s' if len(clusters) > 1 else ''} {where})",
                                  diag.span, diag.labels, diag.help)
            out.append(diag)
        return sanitize(out)
