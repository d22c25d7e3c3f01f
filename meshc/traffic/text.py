"""Decisions written back in the language's words: `to v1 90%, v2 10%`,
`timeout 10s`, `retry 3 per-try 2s on 5xx`, so that what `meshc route`,
`meshc test` and `meshc diff` print reads like the policy it came from.

A target is written from a *home* service, the one the request was
addressed to: its subsets bare (`v2`), the service itself `service NAME`,
another service `service NAME [in NS] [subset S]`, a host meshc does not
declare `host H`. A `local` service's per-cluster subsets (`C`, `C-S`) are
written as the subsets they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Optional

from meshc.model.resolve import Index, ServiceInfo
from meshc.semantics.decision import Decision, Fault, Retries, Share, Target


def duration(ms: int) -> str:
    """The largest whole unit: `1h`, `5m`, `10s`, `500ms`."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def percent(share: Fraction) -> str:
    """A share as a percentage, exact to 4 decimals: `10%`, `0.1%`, `33.3333%`."""
    value = share * 100
    if value.denominator == 1:
        return f"{value.numerator}%"
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


@dataclass(frozen=True)
class Declared:
    """A target as the policy names it: the declared service (None for a
    host meshc does not declare), the subset as declared, and for a `local`
    service's per-cluster subset the cluster it selects."""

    host: str
    info: Optional[ServiceInfo]
    subset: Optional[str]
    cluster: Optional[str] = None
    port: Optional[int] = None


def declared(index: Index, target: Target) -> Declared:
    """`target` in the policy's terms (a local service's `C-S` is S in C)."""
    info = index.by_host.get(target.host)
    subset, cluster = target.subset, None
    if info is not None and info.service.local is not None and subset is not None \
            and info.subset(subset) is None:
        for c in index.topology.names:
            if subset == c or subset.startswith(c + "-") and info.subset(subset[len(c) + 1:]) is not None:
                subset, cluster = (None if subset == c else subset[len(c) + 1:]), c
                break
    return Declared(target.host, info, subset, cluster, target.port)


def target(index: Index, t: Target, home: Optional[ServiceInfo]) -> str:
    d = declared(index, t)
    if d.info is None:
        text = f"host {d.host}" + (f" subset {d.subset}" if d.subset else "")
    elif home is not None and d.info.key == home.key and d.subset is not None:
        text = d.subset
    else:
        text = f"service {d.info.service.name.value}"
        if home is None or d.info.namespace.name.value != home.namespace.name.value:
            text += f" in {d.info.namespace.name.value}"
        if d.subset is not None:
            text += f" subset {d.subset}"
    return text + (f" (in {d.cluster})" if d.cluster else "")


def shares(index: Index, found: Iterable[Share], home: Optional[ServiceInfo]) -> str:
    """`v1 90%, v2 10%`; a single target takes 100%."""
    return ", ".join(f"{target(index, s.target, home)} {percent(s.share)}" for s in found)


def retries(r: Retries) -> str:
    if r.attempts == 0:
        return "retry off"
    out = f"retry {r.attempts}"
    if r.per_try_ms is not None:
        out += f" per-try {duration(r.per_try_ms)}"
    on = list(r.retry_on) + [str(s) for s in r.statuses]
    return out + (" on " + " ".join(on) if on else "")


def fault(f: Optional[Fault]) -> list[str]:
    if f is None:
        return []
    out = []
    if f.delay_ms is not None:
        out.append(f"fault delay {duration(f.delay_ms)} {percent(f.delay_share)}")
    if f.abort_status is not None:
        out.append(f"fault abort {f.abort_status} {percent(f.abort_share)}")
    return out


def outcome(index: Index, d: Decision, home: Optional[ServiceInfo]) -> str:
    """Where the request goes, in one phrase."""
    if d.kind == "redirect":
        return f"redirect {d.status}"
    if d.kind == "respond":
        return f"status {d.status}" if d.status is not None else "no answer (nothing takes the connection)"
    return "to " + shares(index, d.destinations, home)


# Destination-policy fields the decisions hold in milliseconds.
_DURATIONS = ("Timeout", "interval", "baseEjectionTime", "ttl")


def policy_field(field: str, value) -> str:
    """`connectionPool.tcp.connectTimeout 30ms`."""
    if field.endswith(_DURATIONS) and isinstance(value, int) and not isinstance(value, bool):
        return f"{field} {duration(value)}"
    return f"{field} {policy_value(value)}"


def policy_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(policy_value(v) if not isinstance(v, tuple) or not v or not isinstance(v[0], tuple)
                               else "{" + ", ".join(f"{k}: {policy_value(x)}" for k, x in v) + "}"
                               for v in value) + "]"
    return str(value)
