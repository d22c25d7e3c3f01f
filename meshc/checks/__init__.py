"""Semantic checks over the IR: each `check_x(policy) -> list[Diagnostic]`,
run in the order of CHECKS. None raises and none builds output."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..ir import MeshPolicy

CHECKS: tuple = ()


def run_checks(policy: MeshPolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(policy))
    return out
