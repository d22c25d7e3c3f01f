"""The one diagnostic type every stage reports with."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Optional

from meshc.language.source import Span


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Label:
    """A secondary location that explains the primary one (`first defined here`)."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    labels: tuple[Label, ...] = ()
    help: Optional[str] = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.start, self.severity is not Severity.ERROR, self.code, self.message)


def sanitize(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, offset, severity and code, with exact repeats dropped."""
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)
