"""What `when` conditions say about each other: contradiction, repetition,
implication and conjunction. Shared by the checks and the backend (which
must render a conjunction exactly); no diagnostics here."""

from __future__ import annotations

import functools
from typing import Iterable, NamedTuple, Optional, Union

from meshc.language import ir


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
    compiled = _compiled(pattern)
    return compiled is not None and compiled.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str):
    import re2  # only for policies with regexes

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return None


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
    return _meaning(a) == _meaning(b)


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
    return _meaning(a) == _meaning(b)


def _meaning(cond: ir.Condition) -> tuple:
    """A condition that is not a string match, as a hashable value without
    positions (a source namespace's name has a span of its own): equal for
    the same condition written in two places."""
    return _frozen(cond.model_dump())


def _frozen(value):
    if isinstance(value, dict):
        return tuple((k, _frozen(v)) for k, v in value.items() if k != "span")
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


class EarlierMatches:
    """The matches of the routes seen so far, for finding the first of them
    that takes every request a later match takes (`first_covering`).

    An earlier match covers a later one when each of its conditions always
    holds or is implied by one of the later match's (implies(later,
    earlier)). Asking that of every earlier route made the reachability
    check quadratic in the routes of a service; here each earlier condition
    becomes a key, and a later condition yields every key it implies:

    * an exact value implies that value, every prefix of it, and every
      regex (seen so far, in that slot) that fully matches it;
    * a prefix implies every shorter-or-equal prefix of itself;
    * a regex implies only itself;
    * any other condition implies only its own meaning.

    A match then covers a later one exactly when its keys (but for the
    conditions that always hold) are among the keys the later one implies.
    Each match is filed under one of its keys (the one with the fewest
    matches filed so far), so a lookup reads the short lists under the
    implied keys. Prefixes are looked up only at the lengths earlier
    prefixes have, so a long value costs no more than a short one.
    """

    def __init__(self) -> None:
        self._filed: dict[tuple, list[tuple[int, frozenset]]] = {}
        self._catch_all: Optional[int] = None
        self._prefix_lengths: dict[str, set[int]] = {}
        self._regexes: dict[str, set[str]] = {}

    def add(self, index: int, matches: Iterable[ir.Match]) -> None:
        """File the matches of the route at `index` (added in route order)."""
        for match in matches:
            keys = frozenset(_key(c) for c in match.conditions if not always_holds(c))
            if not keys:
                if self._catch_all is None:
                    self._catch_all = index
                continue
            for where, op, value in keys:
                if op == "prefix":
                    self._prefix_lengths.setdefault(where, set()).add(len(value))
                elif op == "regex":
                    self._regexes.setdefault(where, set()).add(value)
            anchor = min(keys, key=lambda k: len(self._filed.get(k, ())))
            self._filed.setdefault(anchor, []).append((index, keys))

    def first_covering(self, match: ir.Match) -> Optional[int]:
        """The index of the first route added with a match that takes every
        request `match` takes, or None."""
        implied = set()
        for cond in match.conditions:
            implied |= self._implied(cond)
        best = self._catch_all
        for key in implied:
            for index, keys in self._filed.get(key, ()):
                if best is not None and index >= best:
                    break
                if keys <= implied:
                    best = index
                    break
        return best

    def _implied(self, cond: ir.Condition) -> set[tuple]:
        sm = _values(cond)
        if sm is None:
            return {_key(cond)}
        where = slot(cond)
        if sm.op == "regex":
            return {(where, "regex", sm.value)}
        value = sm.value
        found = {(where, "prefix", value[:n]) for n in self._prefix_lengths.get(where, ()) if n <= len(value)}
        if sm.op == "exact":
            found.add((where, "exact", value))
            found.update((where, "regex", r) for r in self._regexes.get(where, ()) if _fullmatch(r, value))
        return found


def _key(cond: ir.Condition) -> tuple:
    """What a later condition must imply for this one to hold (EarlierMatches).
    Conditions with a string value compare within their slot whatever their
    kind (`from cluster C` and `source topology.istio.io/cluster = "C"`);
    the others only with their own kind."""
    sm = _values(cond)
    if sm is None:
        return (f"{cond.kind} {slot(cond)}", "=", _meaning(cond))
    return (slot(cond), sm.op, sm.value)


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
