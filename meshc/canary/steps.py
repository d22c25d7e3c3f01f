"""Finding a canary and moving its live step, by rewriting one number.

A canary's live step is the `at N` of its clause, in a reviewed file, not
runtime state: `meshc promote` and `meshc rollback` change that number and
nothing else, so the commit shows exactly the step that moved and every
cluster applies it at once. Comments, layout and the other canaries stay
byte for byte; the edited text is compiled again before it is written, so a
rewrite can never leave a policy that no longer compiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.language.source import SourceFile, display_path
from meshc.model.resolve import Index, ServiceInfo, canary_split
from meshc.pipeline import Compiled, compile_paths, compile_sources, discover


class Refused(Exception):
    """The command cannot go ahead; `diagnostics` say why (exit 1), either
    about the policy (`policy_errors`: it does not compile) or the canary."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, SourceFile], policy_errors: bool = False):
        super().__init__(diagnostics[0].message)
        self.diagnostics = list(diagnostics)
        self.sources = sources
        self.policy_errors = policy_errors


@dataclass(frozen=True)
class LiveCanary:
    """A canary with the service and route it belongs to."""

    info: ServiceInfo
    route: ir.Route
    canary: ir.Canary

    @property
    def name(self) -> str:
        """`SERVICE/ROUTE`, as summaries and alerts name it."""
        return f"{self.info.service.name.value}/{self.route.name.value}"

    @property
    def namespace(self) -> str:
        return self.info.namespace.name.value

    @property
    def at(self) -> int:
        return self.canary.at

    @property
    def last(self) -> int:
        return len(self.canary.steps)

    def show_split(self, step: int) -> str:
        baseline, candidate = canary_split(self.canary, step)
        return f"{self.canary.baseline.value} {baseline}% / {self.canary.candidate.value} {candidate}%"


def canaries(policy: ir.MeshPolicy) -> Iterator[LiveCanary]:
    """Every canary of a policy, in source order."""
    for info in Index(policy).all_services():
        for route in info.service.routes:
            if isinstance(route.action, ir.Canary):
                yield LiveCanary(info, route, route.action)


# ------------------------------------------------------------- finding
def compile_file(path: str) -> Compiled:
    """The policy `path` belongs to: the file with the rest of its directory.
    Raises pipeline.InputError for a path that cannot be read."""
    (files,) = discover([path])
    return compile_paths(files)


def locate(compiled: Compiled, path: str, service: str, route: Optional[str]) -> LiveCanary:
    """The one canary that `SERVICE [--route ROUTE]` names in `path`.

    SERVICE is `NAME` or `NAMESPACE/NAME`; only services declared in `path`
    count, since that is the file the command rewrites. Raises Refused when
    the policy has errors or the canary is missing or ambiguous.
    """
    if not compiled.ok:
        raise Refused(compiled.diagnostics, compiled.sources, policy_errors=True)
    shown = display_path(path)
    source = compiled.sources[shown]
    namespace, _, name = service.rpartition("/")
    every = [
        info for info in Index(compiled.policy).all_services()
        if info.service.name.value == name and namespace in ("", info.namespace.name.value)
    ]
    here = [info for info in every if info.service.span.file == shown]
    if not here:
        elsewhere = sorted({info.service.span.file for info in every})
        hint = (f"`{service}` is declared in {', '.join(elsewhere)}; name that file" if elsewhere
                else _known_services(compiled.policy, shown))
        raise Refused([diagnostic("service-not-in-file", f"{shown} declares no service `{service}`",
                                  source.span_at(0, 0), help=hint)], compiled.sources)
    if len(here) > 1:
        first, *others = here
        raise Refused([diagnostic(
            "ambiguous-canary",
            f"service `{name}` is declared in {len(here)} namespaces of {shown}",
            first.service.name.span,
            labels=[Label(o.service.name.span, f"also in namespace `{o.namespace.name.value}`") for o in others],
            help="name one: " + " or ".join(f"`{i.namespace.name.value}/{name}`" for i in here),
        )], compiled.sources)
    return _route_canary(compiled, here[0], route)


def _route_canary(compiled: Compiled, info: ServiceInfo, route: Optional[str]) -> LiveCanary:
    svc = info.service
    found = [LiveCanary(info, r, r.action) for r in svc.routes if isinstance(r.action, ir.Canary)]
    if route is not None:
        chosen = next((r for r in svc.routes if r.name.value == route), None)
        if chosen is None:
            routes = ", ".join(f"`{r.name.value}`" for r in svc.routes) or "none"
            raise Refused([diagnostic("canary-not-found", f"service `{svc.name.value}` has no route `{route}`",
                                      svc.name.span, help=f"its routes: {routes}")], compiled.sources)
        found = [c for c in found if c.route is chosen]
        if not found:
            raise Refused([diagnostic(
                "canary-not-found", f"route `{route}` of service `{svc.name.value}` has no canary",
                chosen.name.span, help=_canary_routes(info) or "only a `canary` clause has steps to move",
            )], compiled.sources)
    if not found:
        raise Refused([diagnostic("canary-not-found", f"service `{svc.name.value}` has no canary",
                                  svc.name.span, help="only a `canary` clause has steps to move")], compiled.sources)
    if len(found) > 1:
        raise Refused([diagnostic(
            "ambiguous-canary",
            f"service `{svc.name.value}` has {len(found)} canaries",
            svc.name.span,
            labels=[Label(c.canary.span, f"canary of route `{c.route.name.value}`") for c in found],
            help="choose one with " + " or ".join(f"`--route {c.route.name.value}`" for c in found),
        )], compiled.sources)
    return found[0]


def _known_services(policy: ir.MeshPolicy, shown: str) -> str:
    names = [f"`{i.namespace.name.value}/{i.service.name.value}`" for i in Index(policy).all_services()
             if i.service.span.file == shown]
    return f"services in this file: {', '.join(names)}" if names else "this file declares no service"


def _canary_routes(info: ServiceInfo) -> str:
    routes = [f"`--route {r.name.value}`" for r in info.service.routes if isinstance(r.action, ir.Canary)]
    return f"routes with a canary: {', '.join(routes)}" if routes else ""


# ------------------------------------------------------------- moving
def promotion(compiled: Compiled, live: LiveCanary, to: Optional[int]) -> int:
    """The step `promote [--to N]` moves to; Refused when there is none."""
    where = live.canary.at_span or live.canary.span
    if to is None:
        if live.at >= live.last:
            raise Refused([diagnostic(
                "canary-at-last-step",
                f"`{live.name}` is already at its last step ({live.at} of {live.last}: {live.show_split(live.at)})",
                where, help=retire_hint(live),
            )], compiled.sources)
        return live.at + 1
    if not 1 <= to <= live.last:
        raise Refused([diagnostic(
            "promotion-step-out-of-range",
            f"`--to {to}` names no step: `{live.name}` has steps 1 to {live.last}",
            where, help=f"choose a step after the live one ({live.at}), up to {live.last}",
        )], compiled.sources)
    if to <= live.at:
        raise Refused([diagnostic(
            "promotion-step-out-of-range",
            f"`--to {to}` does not move `{live.name}` forward: it is at step {live.at} of {live.last}",
            where, help="`meshc rollback` returns the canary to its baseline",
        )], compiled.sources)
    return to


def rollback(compiled: Compiled, live: LiveCanary) -> int:
    """Step 0, the baseline; Refused when the canary is there already."""
    if live.at == 0:
        raise Refused([diagnostic(
            "canary-at-baseline",
            f"`{live.name}` already sends all traffic to `{live.canary.baseline.value}`",
            live.canary.at_span or live.canary.span, help="nothing to roll back; `meshc promote` starts the canary",
        )], compiled.sources)
    return 0


def retire_hint(live: LiveCanary) -> str:
    return (f"retire the canary: replace its `canary {live.canary.baseline.value} -> "
            f"{live.canary.candidate.value} ...` clause with `to {live.canary.candidate.value}`")


def rewrite(text: str, canary: ir.Canary, step: int) -> str:
    """`text` with the canary's `at` set to `step`: the number replaced, or
    ` at N` inserted right after the last step when the clause has no `at`."""
    if canary.at_span is not None:
        return text[: canary.at_span.start] + str(step) + text[canary.at_span.end:]
    end = canary.steps[-1].span.end
    return text[:end] + f" at {step}" + text[end:]


def moved(compiled: Compiled, live: LiveCanary, step: int) -> str:
    """The new text of the canary's file, compiled again to make sure it
    says what was meant: the same policy with this canary at `step`."""
    shown = live.canary.span.file
    text = rewrite(compiled.sources[shown].text, live.canary, step)
    sources = [SourceFile(path, text if path == shown else src.text) for path, src in compiled.sources.items()]
    again = compile_sources(sources)
    after = canaries(again.policy) if again.ok else iter(())
    match = [c for c in after if c.info.key == live.info.key and c.route.name.value == live.route.name.value]
    if len(match) != 1 or match[0].at != step:
        raise RuntimeError(f"rewriting `at` of {live.name} in {shown} did not give step {step}")
    return text


