"""Each expectation against the decision the evaluator took for a case
(docs/testing.md, "Expectations"):

- `to ...`: the destinations and their shares, exactly (a target's port
  only when the expectation gives one);
- `route R`: the entry that took the request comes from route R;
- `status N`: the proxy answers N itself (404, a direct response, a redirect);
- `mirror ...`: all `expect mirror` of a test together are the mirrors, exactly;
- a route option (`timeout`, `retry`, `fault`, `rewrite`, `cors`): what
  it says holds; `retry 3` checks the attempts only, `retry 3 on 5xx` also
  the conditions; `rewrite path P` is the path the upstream receives;
- a destination-policy statement: every destination has the Istio fields
  it sets, with its values (fields it does not set are not looked at);
- `served by C...`: the clusters whose pods take the request, with the
  test's `down` clusters' pods unhealthy (the locality reading of
  meshc/semantics/interpret/locality.py over the rendered policy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Optional

from meshc.language import ir
from meshc.language.source import Span
from meshc.model.resolve import Index, ServiceInfo
from meshc.model.topology import Topology
from meshc.semantics.decision import Decision, percent_share
from meshc.semantics.interpret import istio_defaults
from meshc.semantics.interpret.destinations import upstream
from meshc.semantics.interpret.locality import serving
from meshc.semantics.interpret.policy import settings
from meshc.traffic import text
from meshc.traffic.readings import Origin

Key = tuple[str, Optional[str]]  # (host, subset as declared)


@dataclass(frozen=True)
class Failure:
    span: Span  # where the expectation (or the test's steps) is written
    expected: str
    actual: str


@dataclass(frozen=True)
class Context:
    """What judging one case needs besides its decision. `memo` keeps what
    depends only on the policy and the expectation (shares expected,
    targets read back), for the run's other cases."""

    index: Index
    home: Optional[ServiceInfo]
    cluster: str  # the caller's
    istio: str
    origin: Optional[Origin]
    down: tuple[str, ...]
    said: Callable[[ir.Node], str]  # an expectation as written
    memo: dict = field(default_factory=dict, compare=False)

    def declared(self, target) -> text.Declared:
        key = ("declared", id(self.index), target)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = text.declared(self.index, target)
        return found


def failures(decision: Decision, expectations: tuple, ctx: Context) -> list[Failure]:
    out: list[Failure] = []
    mirrors = [e for e in expectations if e.kind == "mirror"]
    for e in expectations:
        if e.kind == "mirror":
            if e is mirrors[0]:
                found = _mirrors(decision, mirrors, ctx)
                if found is not None:
                    out.append(found)
            continue
        actual = _JUDGES[e.kind](decision, e, ctx)
        if actual is not None:
            out.append(Failure(e.span, ctx.said(e), actual))
    return out


def _to(d: Decision, e: ir.ExpectTo, ctx: Context) -> Optional[str]:
    key = ("to", id(e), id(ctx.index), ctx.home.key if ctx.home else None)
    expected = ctx.memo.get(key)
    if expected is None:
        expected = ctx.memo[key] = {}
        for dest, share in zip(e.destinations, _shares(e.destinations)):
            target = _expected_key(ctx, dest.target)
            expected[target] = expected.get(target, Fraction(0)) + share
    if d.kind in ("route", "default") and _shares_match(d.destinations, expected, ctx):
        return None
    return text.outcome(ctx.index, d, ctx.home)


def _shares(dests: tuple[ir.Destination, ...]) -> list[Fraction]:
    if len(dests) == 1:
        return [Fraction(1)]
    given = [Fraction(str(d.weight.value)) if d.weight is not None else None for d in dests]
    left = 100 - sum(w for w in given if w is not None)
    return [(w if w is not None else left) / 100 for w in given]


def _expected_key(ctx: Context, target: ir.Target) -> tuple[str, Optional[str], Optional[int]]:
    """(host, subset, port or None) of a written target."""
    if isinstance(target, ir.SubsetTarget):
        return ctx.home.host, target.subset.value, None
    if ctx.home is not None:
        other = ctx.index.target_service(ctx.home, target)
    else:
        other = ctx.index.services.get((target.namespace.value, target.service.value))
    return other.host, target.subset.value if target.subset else None, target.port


def _shares_match(found, expected: dict[tuple, Fraction], ctx: Context) -> bool:
    """Each expected target has its share (over every port when it names
    none), and nothing else has any."""
    actual = [(ctx.declared(s.target), s.share) for s in found]
    used: set[int] = set()
    for (host, subset, port), share in expected.items():
        hits = [i for i, (d, _) in enumerate(actual)
                if d.host == host and d.subset == subset and (port is None or d.port == port)]
        if not hits or sum(actual[i][1] for i in hits) != share:
            return False
        used.update(hits)
    return len(used) == len(actual)


def _route(d: Decision, e: ir.ExpectRoute, ctx: Context) -> Optional[str]:
    origin = ctx.origin
    if origin is not None and origin.route is not None and origin.route.name.value == e.route.value:
        return None
    if origin is not None and origin.route is not None:
        return f"route {origin.route.name.value}"
    if d.kind == "default":
        return "no route: Istio's default route"
    return f"no route: {text.outcome(ctx.index, d, ctx.home)}"


def _status(d: Decision, e: ir.ExpectStatus, ctx: Context) -> Optional[str]:
    if d.kind in ("respond", "redirect") and d.status == e.status:
        return None
    return text.outcome(ctx.index, d, ctx.home)


def _mirrors(d: Decision, found: list[ir.ExpectMirror], ctx: Context) -> Optional[Failure]:
    expected = {_expected_key(ctx, m.mirror.target):
                percent_share(m.mirror.percent.value) if m.mirror.percent is not None else Fraction(1)
                for m in found}
    if _shares_match(d.mirrors, expected, ctx):
        return None
    said = "; ".join(ctx.said(m) for m in found)
    actual = ", ".join(f"mirror {text.target(ctx.index, s.target, ctx.home)} {text.percent(s.share)}"
                       for s in d.mirrors) or "no mirror"
    return Failure(found[0].span, said, actual)


def _option(d: Decision, e: ir.ExpectOption, ctx: Context) -> Optional[str]:
    o = e.options
    if o.timeout is not None:
        ok = d.timeout_ms == int(o.timeout.ms)
        return None if ok else (f"timeout {text.duration(d.timeout_ms)}" if d.timeout_ms else "no timeout")
    if o.retry is not None:
        return None if _retry_holds(d, o.retry, ctx.istio) else text.retries(d.retries)
    if o.delay is not None or o.abort is not None:
        f = d.fault
        if o.delay is not None:
            ok = f is not None and f.delay_ms == int(o.delay.delay.ms) \
                and f.delay_share == percent_share(o.delay.percent.value)
        else:
            ok = f is not None and f.abort_status == o.abort.status \
                and f.abort_share == percent_share(o.abort.percent.value)
        return None if ok else ("; ".join(text.fault(f)) or "no fault")
    if o.rewrite is not None:
        if d.rewrite == o.rewrite.path:
            return None
        return f"the upstream receives {d.rewrite}" if d.rewrite is not None else "no rewrite"
    return None if _cors_holds(d, o.cors) else _cors_text(d)


def _retry_holds(d: Decision, r: ir.Retry, istio: str) -> bool:
    got = d.retries
    if got.attempts != r.attempts:
        return False
    if r.per_try is not None and got.per_try_ms != int(r.per_try.ms):
        return False
    if r.on:
        want = istio_defaults.retries(r.attempts, None, tuple(r.on), istio)
        return (set(got.retry_on), set(got.statuses)) == (set(want.retry_on), set(want.statuses))
    return True


def _cors_holds(d: Decision, c: ir.Cors) -> bool:
    got = d.cors
    if got is None:
        return False
    checks = [
        (c.origins, lambda: tuple(got.origins) == tuple(c.origins)),
        (c.methods, lambda: set(got.methods) == set(c.methods)),
        (c.headers, lambda: set(got.headers) == set(c.headers)),
        (c.expose_headers, lambda: set(got.expose_headers) == set(c.expose_headers)),
        (c.max_age, lambda: got.max_age_s == int(c.max_age.ms) // 1000),
        (c.credentials, lambda: bool(got.credentials)),
    ]
    return all(holds() for written, holds in checks if written)


def _cors_text(d: Decision) -> str:
    c = d.cors
    if c is None:
        return "no cors"
    parts = [("origins", " ".join(f'"{o}"' for o in c.origins)), ("methods", " ".join(c.methods)),
             ("headers", " ".join(c.headers)), ("expose-headers", " ".join(c.expose_headers)),
             ("max-age", text.duration(c.max_age_s * 1000) if c.max_age_s else ""),
             ("credentials", "" if not c.credentials else " ")]
    return "cors " + " ".join(f"{k} {v}".strip() for k, v in parts if v)


def _policy(d: Decision, e: ir.ExpectPolicy, ctx: Context) -> Optional[str]:
    wanted = {path: value for fields, _ in settings(e.policy).values() for path, value in fields.items()}
    targets = [s.target for s in d.destinations]
    if targets and all(dict(d.policy(t)).get(k) == v for t in targets for k, v in wanted.items()):
        return None
    if not targets:
        return text.outcome(ctx.index, d, ctx.home)
    return "; ".join(
        f"{text.target(ctx.index, t, ctx.home)}: " + ", ".join(
            text.policy_field(k, d.policy(t)[k]) if k in d.policy(t) else f"{k} not set" for k in wanted)
        for t in targets)


def served(d: Decision, ctx: Context) -> Optional[tuple[str, ...]]:
    """The clusters whose pods take the request's destinations (None: a
    destination meshc does not declare, whose pods it does not know)."""
    topology: Topology = ctx.index.topology
    out: set[str] = set()
    for share in d.destinations:
        found = text.declared(ctx.index, share.target)
        if found.info is None:
            return None
        pods = upstream(ctx.index, found.info, found.subset, found.cluster).pods
        out.update(serving(topology, pods, d.policy(share.target), ctx.cluster, ctx.down))
    return tuple(c for c in topology.names if c in out)


def _served(d: Decision, e: ir.ExpectServed, ctx: Context) -> Optional[str]:
    found = served(d, ctx)
    if d.kind in ("route", "default") and found is not None and set(found) == {c.value for c in e.clusters}:
        return None
    if d.kind not in ("route", "default"):
        return text.outcome(ctx.index, d, ctx.home)
    if found is None:
        return "pods unknown: a destination meshc does not declare"
    return "served by " + " ".join(found) if found else "no healthy pod anywhere (503)"


_JUDGES = {"to": _to, "route": _route, "status": _status, "option": _option, "policy": _policy,
           "served": _served}
