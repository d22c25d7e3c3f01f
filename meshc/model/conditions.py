"""What `when` conditions say about each other: contradiction, repetition,
implication and conjunction. Shared by the checks and the backend (which
must render a conjunction exactly); no diagnostics here."""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

import re2

from meshc.language import ir

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def slot(cond: ir.Condition) -> str:
    """The part of an Istio match a condition fills. Two conditions of one
    `and` in the same slot cannot be rendered as one HTTPMatchRequest."""
    if isinstance(cond, (ir.HeaderCondition, ir.HeaderAbsentCondition)):
        return f"header `{cond.name}`"
    if isinstance(cond, ir.CookieCondition):
        return "header `cookie`"
    if isinstance(cond, ir.PathCondition):
        return "path"
    if isinstance(cond, ir.MethodCondition):
        return "method"
    if isinstance(cond, ir.QueryCondition):
        return f"query `{cond.name}`"
    if isinstance(cond, ir.PortCondition):
        return "port"
    if isinstance(cond, ir.SourceLabelCondition):
        return f"source label `{cond.label.key}`"
    if isinstance(cond, ir.SourceClusterCondition):
        return f"source label `{ir.CLUSTER_LABEL}`"  # `from cluster C` is that label
    return "source namespace"


def _strings(a: ir.StringMatch, b: ir.StringMatch) -> tuple[bool, bool]:
    """(a implies b, a and b can both hold) for two matches of one value."""
    if a == b:
        return True, True
    if a.op == "exact":
        holds = (b.op == "exact" and a.value == b.value) or (
            b.op == "prefix" and a.value.startswith(b.value)) or (
            b.op == "regex" and _fullmatch(b.value, a.value))
        return holds, holds
    if b.op == "exact":
        _, both = _strings(b, a)
        return False, both
    if a.op == "prefix" and b.op == "prefix":
        return a.value.startswith(b.value), a.value.startswith(b.value) or b.value.startswith(a.value)
    return False, True  # regexes against prefixes or regexes: undecided, so assume they can overlap


def _fullmatch(pattern: str, value: str) -> bool:
    try:
        return re2.compile(pattern, _OPTIONS).fullmatch(value) is not None
    except re2.error:
        return False


def _values(cond: ir.Condition) -> Optional[ir.StringMatch]:
    if isinstance(cond, (ir.HeaderCondition, ir.PathCondition, ir.QueryCondition)):
        return cond.match
    if isinstance(cond, ir.SourceClusterCondition):
        return ir.StringMatch(op="exact", value=cond.cluster.value)
    if isinstance(cond, ir.SourceLabelCondition) and cond.label.key == ir.CLUSTER_LABEL:
        return ir.StringMatch(op="exact", value=cond.label.value)
    return None


def implies(a: ir.Condition, b: ir.Condition) -> bool:
    """Every request that satisfies `a` satisfies `b` (conservative: False
    when unsure)."""
    va, vb = _values(a), _values(b)
    if slot(a) != slot(b) or (type(a) is not type(b) and (va is None or vb is None)):
        return False
    if va is not None and vb is not None:
        return _strings(va, vb)[0]
    return a.model_dump(exclude={"span"}) == b.model_dump(exclude={"span"})


def compatible(a: ir.Condition, b: ir.Condition) -> bool:
    """Some request can satisfy both conditions (same slot assumed)."""
    absent = (ir.HeaderAbsentCondition,)
    if isinstance(a, absent) != isinstance(b, absent):
        return False
    va, vb = _values(a), _values(b)
    if type(a) is not type(b) and (va is None or vb is None):
        return True
    if va is not None and vb is not None:
        return _strings(va, vb)[1]
    if isinstance(a, ir.CookieCondition):
        return a.name != b.name or a.value == b.value
    return a.model_dump(exclude={"span"}) == b.model_dump(exclude={"span"})


def covers(earlier: ir.Match, later: ir.Match) -> bool:
    """`earlier` matches every request `later` matches: each of its
    conditions always holds or is implied by one of `later`'s."""
    return all(always_holds(a) or any(implies(b, a) for b in later.conditions) for a in earlier.conditions)


# Conditions about mesh callers: the port dialled and the calling workload.
# Behind a gateway they would test the gateway's own port and pod instead.
MESH_ONLY = (ir.PortCondition, ir.SourceLabelCondition, ir.SourceNamespaceCondition)


def always_holds(cond: ir.Condition) -> bool:
    """A path prefix `/` or path regex `.*`: true of every HTTP request
    (Istio calls such a match a catch-all and drops the routes after it)."""
    return isinstance(cond, ir.PathCondition) and (cond.match.op, cond.match.value) in {("prefix", "/"), ("regex", ".*")}


def is_catch_all(match: ir.Match) -> bool:
    return all(always_holds(c) for c in match.conditions)


class Impossible(NamedTuple):
    """No request satisfies both conditions."""

    first: ir.Condition
    second: ir.Condition


class Inexpressible(NamedTuple):
    """Both can hold, but one Istio match cannot test both (one matcher per
    header, query parameter, path and method)."""

    first: ir.Condition
    second: ir.Condition


def conjoin(outer: ir.Match, inner: ir.Match) -> Union[ir.Match, Impossible, Inexpressible]:
    """One match that holds exactly when both do: conditions on different
    slots are joined, two on one slot are merged into the stricter one
    (`prefix "/a"` and `exact "/ab"` is `exact "/ab"`), never one dropped."""
    conditions = list(outer.conditions)
    for cond in inner.conditions:
        at = next((i for i, c in enumerate(conditions) if slot(c) == slot(cond)), None)
        if at is None:
            conditions.append(cond)
            continue
        merged = _merge(conditions[at], cond)
        if not isinstance(merged, (Impossible, Inexpressible)):
            conditions[at] = merged
            continue
        return merged
    return ir.Match(span=outer.span, conditions=tuple(conditions))


def _merge(a: ir.Condition, b: ir.Condition) -> Union[ir.Condition, Impossible, Inexpressible]:
    if not compatible(a, b):
        return Impossible(a, b)
    if implies(a, b) or always_holds(b):
        return a
    if implies(b, a) or always_holds(a):
        return b
    # Compatible, neither implies the other: two regexes, a regex and a
    # prefix, or two cookies (both tested on the `cookie` header).
    return Inexpressible(a, b)
