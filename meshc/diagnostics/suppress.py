"""Silencing warnings: `# meshc: ignore[CODE, ...]` comments and the
`ignore` and `per-file-ignores` settings.

A suppression comment names codes (`MESH309` or `no-default-route`) and
silences them on the statement it belongs to, as `meshc fmt` files it
(fmt.comment_owners): the statement it trails or sits in, the block whose
`{` it follows, or, on a line of its own, the next statement of its block;
a block statement includes everything inside it. A diagnostic is silenced
when its primary location lies in that statement.

Only warnings can be silenced: an error means Istio would reject or misread
the output, and render refuses it whatever a comment says. A suppression
that silences nothing is reported (MESH005 unused-suppression), as ruff's
RUF100 does, so that stale ones do not pile up: unknown codes, errors, a
comment that belongs to no statement, and, once the policy checked
completely (with errors, some checks do not run), a code that nothing
raised there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from meshc.config import Settings
from meshc.diagnostics import Diagnostic, sanitize
from meshc.diagnostics.codes import BY_NAME, CODES, diagnostic, lookup
from meshc.language import syntax as s
from meshc.language.source import Span
from meshc.suggest import did_you_mean

_DIRECTIVE = re.compile(r"#\s*meshc\s*:\s*ignore\b(\[([^\]\n]*)\]?)?")
_NAME = re.compile(r"[^\s,]+")
EXAMPLE = "# meshc: ignore[MESH309]"


@dataclass(frozen=True)
class Suppression:
    comment: Span
    codes: tuple[tuple[str, Span], ...]
    """Each code or name as written, with where it is written."""
    extent: Optional[tuple[int, int]]
    """Source offsets of the statement it belongs to; None for none."""


def collect(tree: s.File, text: str) -> list[Suppression]:
    """The suppression comments of one parsed file."""
    comments = [c for c in tree.comments if _DIRECTIVE.match(c.text)]
    if not comments:
        return []
    from meshc.language.fmt import comment_owners

    owners = comment_owners(tree, text)
    found = []
    for comment in comments:
        m = _DIRECTIVE.match(comment.text)
        inside = m.group(2) if m.group(2) is not None else ""
        start = m.start(2) if m.group(2) is not None else m.end()
        codes = tuple((n.group(), _within(comment.span, start + n.start(), len(n.group())))
                      for n in _NAME.finditer(inside))
        found.append(Suppression(comment.span, codes, owners.get(comment.span.start)))
    return found


def _within(comment: Span, offset: int, length: int) -> Span:
    """The span of `length` characters at `offset` inside a one-line comment."""
    return comment._replace(column=comment.column + offset, end_column=comment.column + offset + length,
                            start=comment.start + offset, end=comment.start + offset + length)


def apply(diagnostics: Sequence[Diagnostic], suppressions: Sequence[Suppression], settings: Settings,
          complete: bool) -> list[Diagnostic]:
    """The diagnostics left once `ignore`, `per-file-ignores` and the
    comments have silenced theirs, with the reports on suppressions that
    silence nothing (`complete`: every check ran, so an unused code is
    known to be unused)."""
    used: set[tuple[Span, str]] = set()
    kept = []
    for d in diagnostics:
        if d.is_error:
            kept.append(d)
            continue
        if d.code in _ignored(settings, d.span.file):
            continue
        hit = next((sup for sup in suppressions if _covers(sup, d) and d.code in _codes(sup)), None)
        if hit is None:
            kept.append(d)
        else:
            used.add((hit.comment, d.code))
    unused = [u for sup in suppressions for u in _unused(sup, used, complete)]
    return sanitize(kept + [u for u in unused if u.code not in _ignored(settings, u.span.file)])


def _ignored(settings: Settings, file: str) -> set[str]:
    codes = set(settings.ignore)
    if settings.per_file_ignores:
        from meshc.selection import matches

        path = os.path.abspath(file)
        codes.update(c for patterns, listed in settings.per_file_ignores if matches(patterns, path) for c in listed)
    return codes


def _covers(sup: Suppression, d: Diagnostic) -> bool:
    return (sup.extent is not None and sup.comment.file == d.span.file
            and sup.extent[0] <= d.span.start < sup.extent[1])


def _codes(sup: Suppression) -> set[str]:
    return {found.code for name, _ in sup.codes for found in [lookup(name)] if found is not None}


def _unused(sup: Suppression, used: set[tuple[Span, str]], complete: bool) -> list[Diagnostic]:
    if not sup.codes:
        return [diagnostic("unused-suppression", "this suppression names no code", sup.comment,
                           help=f"name the warnings to silence, e.g. `{EXAMPLE}`")]
    if sup.extent is None:
        return [diagnostic("unused-suppression", "this suppression belongs to no statement", sup.comment,
                           help="put it at the end of the statement's line, or on the line before the statement")]
    out = []
    for name, span in sup.codes:
        code = lookup(name)
        if code is None:
            hint = did_you_mean(name, [*CODES, *BY_NAME])
            out.append(diagnostic("unused-suppression", f"`{name}` is not a meshc code", span,
                                  help=hint or "`meshc explain --all` lists them"))
        elif code.severity.value == "error":
            out.append(diagnostic("unused-suppression", f"{code.code} ({code.name}) is an error and cannot be silenced",
                                  span, help="fix the policy; only warnings can be silenced"))
        elif complete and (sup.comment, code.code) not in used:
            out.append(diagnostic("unused-suppression", f"no {code.code} ({code.name}) to silence here", span,
                                  help="remove it: the warning is gone (or was never raised on this statement)"))
    return out
