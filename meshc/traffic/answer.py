"""Where one request goes in one cluster, and why: the decision of the
evaluator over the rendered documents (what Istio will do) with the
provenance the interpreter gives (the route and `when` that took it, where
each option and destination-policy setting in force was written, the
condition each earlier route failed at) and the entry's source
(`Document.entry_spans`). The two readings must agree; an `Answer` that
does not is a bug in meshc, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from meshc.language.source import Span
from meshc.model.resolve import ServiceInfo
from meshc.semantics.decision import Decision, Target
from meshc.semantics.request import Request
from meshc.traffic import text
from meshc.model.resolve import owner_name
from meshc.model.waves import live_step
from meshc.traffic.readings import Origin, Variant


@dataclass(frozen=True)
class Answer:
    cluster: str
    request: Request
    decision: Decision  # the evaluator's: what Istio will do
    meant: Decision  # the interpreter's: what the policy says
    origin: Optional[Origin]  # the construct whose entry took the request
    explanation: object  # interpret.Explanation
    misses: tuple  # evaluate.Miss of the entries tried first

    @property
    def agrees(self) -> bool:
        return self.decision == self.meant


def answer(variant: Variant, cluster: str, request: Request) -> Answer:
    rendered = variant.evaluator(cluster).explain(request)
    meant = variant.interpreter(cluster).explain(request)
    decision = rendered.decision
    origin = variant.origin(cluster, decision.virtual_service, decision.entry)
    return Answer(cluster, request, decision, meant.decision, origin, meant, rendered.misses)


def where(span: Optional[Span]) -> str:
    return f"{span.file}:{span.line}:{span.column}" if span is not None else "?"


def describe_request(r: Request) -> str:
    scheme = "https" if r.gateway is not None and r.port == 443 else "http"
    out = f"{r.method} {scheme}://{r.host}:{r.port}{r.path}"
    if r.gateway is not None:
        out += f" at gateway {r.gateway}"
    for k, v in r.headers:
        out += f"\n  {k}: {v}"
    source = [f"namespace {r.source_namespace}"] + [f"{k}={v}" for k, v in r.source_labels]
    if r.gateway is None:
        out += "\n  from " + ", ".join(source)
    return out


def lines(a: Answer, variant: Variant, home: Optional[ServiceInfo]) -> list[str]:
    """The answer as indented lines, the caller's cluster left out (clusters
    with the same lines are shown together)."""
    index = variant.index
    d, why = a.decision, a.explanation
    out: list[str] = []
    if not a.agrees:
        out += ["MESHC BUG: the rendered documents and the policy disagree on this request",
                f"  rendered (what Istio will do): {text.outcome(index, d, home)}",
                f"  the policy says:               {text.outcome(index, a.meant, home)}",
                "  please report it, with this output"]
    out += _taken(a, variant, home)
    if d.kind in ("route", "default"):
        out.append(text.outcome(index, d, home) + _canary_note(a, variant))
        out += _options(a, index, home)
        out += _policies(a, index, home)
    elif d.kind != "route":
        out.append(text.outcome(index, d, home))
    if why.tried:
        out.append("tried first:")
        for miss in why.tried:
            out += _tried(miss, a)
    return out


def _taken(a: Answer, variant: Variant, home: Optional[ServiceInfo]) -> list[str]:
    d, why, origin = a.decision, a.explanation, a.origin
    if d.kind == "default":
        return [why.why]
    if d.kind == "redirect" and origin is None:
        return [f"{a.request.gateway} redirects port {a.request.port} to HTTPS"]
    if origin is None or (origin.route is None and d.kind == "respond"):
        return [why.why if origin is None else
                f"no route of {owner_name(origin.info)} takes the request ({d.virtual_service}, entry {d.entry})"]
    if origin.route is None:
        return [f"the default entry of {owner_name(origin.info)} ({d.virtual_service}, entry {d.entry}), "
                f"at {where(origin.expose.span if origin.expose else origin.info.service.name.span)}"]
    out = [f"route {origin.route.name.value} of {owner_name(origin.info)} at {where(origin.route.span)}"
           f" ({d.virtual_service}, entry {d.entry})"]
    matched = getattr(why.matched, "conditions", ())
    if matched:
        # an exposure's `when` and the route's may test the same thing: said once
        said = " and ".join(dict.fromkeys(c.text for c in matched))
        out.append(f"  when {said} at {where(why.when or matched[0].span)}")
    return out


def _canary(a: Answer, variant: Variant) -> Optional[dict]:
    """The canary of the route that took the request: the step evaluated in
    the caller's cluster, its number of steps, and the live step there."""
    origin = a.origin
    if origin is None or origin.route is None or origin.route.action is None \
            or origin.route.action.kind != "canary":
        return None
    canary = origin.route.action
    topology = variant.readings.topology
    written = variant.readings.index.services[origin.info.key]
    route = next(r for r in written.service.routes if r.name.value == origin.route.name.value)
    return {"baseline": canary.baseline.value, "candidate": canary.candidate.value,
            "step": live_step(canary, topology, a.cluster), "steps": len(canary.steps),
            "live_step": live_step(route.action, topology, a.cluster)}


def _canary_note(a: Answer, variant: Variant) -> str:
    c = _canary(a, variant)
    if c is None:
        return ""
    said = "" if c["live_step"] == c["step"] else f"; its live step is {c['live_step']}"
    return f"  (canary {c['baseline']} -> {c['candidate']} at step {c['step']} of {c['steps']}{said})"


def _options(a: Answer, index, home) -> list[str]:
    d = a.decision
    origins = {o.setting: o for o in a.explanation.options}

    def said(setting: str) -> str:
        o = origins.get(setting)
        return f"  ({o.level} at {where(o.span)})" if o is not None else ""

    out = []
    if d.timeout_ms is not None:
        out.append(f"timeout {text.duration(d.timeout_ms)}" + said("timeout"))
    else:
        out.append("no timeout")
    out.append(text.retries(d.retries) + (said("retry") or "  (Istio's default)"))
    for line, setting in zip(text.fault(d.fault), ("fault delay", "fault abort")):
        out.append(line + said("fault delay" if line.startswith("fault delay") else "fault abort"))
    for m in d.mirrors:
        route = a.origin.route if a.origin is not None else None
        out.append(f"mirror {text.target(index, m.target, home)} {text.percent(m.share)}"
                   + (f"  (route {route.name.value} at {where(route.span)})" if route else ""))
    if d.rewrite is not None:
        out.append(f"rewrite: the upstream receives {d.rewrite}" + said("rewrite"))
    if d.cors is not None:
        out.append("cors " + ", ".join(d.cors.origins) + said("cors"))
    return out


def _policies(a: Answer, index, home) -> list[str]:
    """Destination policy per target; targets with the same lines together."""
    origins = dict(a.explanation.policies)
    groups: dict[tuple[str, ...], list[str]] = {}
    for target, fields in a.decision.policies:
        by_field = {o.setting: o for o in origins.get(target, ())}
        body = tuple(
            f"  {text.policy_field(field, value)}"
            + (f"  ({by_field[field].level} at {where(by_field[field].span)})" if field in by_field else "")
            for field, value in fields)
        groups.setdefault(body or ("  none",), []).append(text.target(index, target, home))
    if not groups:
        return []
    out = ["destination policy:"]
    for body, targets in groups.items():
        out.append(f"  {', '.join(targets)}:")
        out += ["  " + line for line in body]
    return out


def _tried(miss, a: Answer) -> list[str]:
    what = f"route {miss.entry}" if miss.route is not None else f"entry {miss.entry}"
    out = [f"  {what}" + (f" at {where(miss.route)}" if miss.route is not None else "")]
    for failure in miss.failures:
        if failure is not None:
            out.append(f"    {failure.text} does not hold (at {where(failure.span)})")
    istio = [m for m in a.misses if m.entry_name == miss.entry]
    for m in istio:
        got = "nothing" if m.actual is None else repr(m.actual)
        kind = "left out for this proxy" if m.filtered else f"expected {m.expected}, got {got}"
        out.append(f"    Istio: {m.field} {kind}")
    return out


def as_json(a: Answer, variant: Variant, home: Optional[ServiceInfo]) -> dict:
    index = variant.index
    d, why, origin = a.decision, a.explanation, a.origin
    out: dict = {"decision": decision_json(d, index, home)}
    if origin is not None and origin.route is not None:
        out["route"] = {"of": owner_name(origin.info), "name": origin.route.name.value,
                        "location": location(origin.route.span)}
        if why.when is not None:
            out["when"] = {"location": location(why.when),
                           "matched": [c.text for c in getattr(why.matched, "conditions", ())]}
    canary = _canary(a, variant)
    if canary is not None:
        out["canary"] = canary
    out["options"] = [{"setting": o.setting, "level": o.level, "location": location(o.span)} for o in why.options]
    out["policies"] = [
        {"target": target_json(t, index, home),
         "fields": [{"field": f, "value": _jsonable(v)} | _origin_json(why, t, f) for f, v in fields]}
        for t, fields in d.policies]
    out["tried"] = [
        {"entry": m.entry, "location": location(m.route),
         "failed": [{"condition": c.text, "location": location(c.span)} for c in m.failures if c is not None],
         # a filtered alternative is left out of the caller's proxy: nothing
         # was compared at run time (the text says only that), so `actual`
         # is null, and callers that differ only in their own labels agree
         "istio": [{"field": x.field, "expected": x.expected, "actual": None if x.filtered else x.actual,
                    "filtered": x.filtered}
                   for x in a.misses if x.entry_name == m.entry]}
        for m in why.tried]
    if not a.agrees:
        out["disagreement"] = {"policy_says": decision_json(a.meant, index, home)}
    return out


def _origin_json(why, target: Target, field: str) -> dict:
    for t, origins in why.policies:
        if t == target:
            for o in origins:
                if o.setting == field:
                    return {"level": o.level, "location": location(o.span)}
    return {}


def location(span: Optional[Span]) -> Optional[dict]:
    if span is None:
        return None
    return {"file": span.file, "line": span.line, "column": span.column}


def target_json(t: Target, index, home) -> dict:
    return {"host": t.host, "subset": t.subset, "port": t.port, "written": text.target(index, t, home)}


def decision_json(d: Decision, index, home) -> dict:
    return {
        "kind": d.kind, "status": d.status, "virtual_service": d.virtual_service, "entry": d.entry,
        "destinations": [{"target": target_json(s.target, index, home), "percent": float(s.share * 100)}
                         for s in d.destinations],
        "timeout_ms": d.timeout_ms,
        "retries": {"attempts": d.retries.attempts, "per_try_ms": d.retries.per_try_ms,
                    "retry_on": list(d.retries.retry_on), "statuses": list(d.retries.statuses)},
        "fault": None if d.fault is None else {
            "delay_ms": d.fault.delay_ms, "delay_percent": float(d.fault.delay_share * 100),
            "abort_status": d.fault.abort_status, "abort_percent": float(d.fault.abort_share * 100)},
        "mirrors": [{"target": target_json(s.target, index, home), "percent": float(s.share * 100)}
                    for s in d.mirrors],
        "rewrite": d.rewrite,
    }


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v
