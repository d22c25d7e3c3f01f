"""Finding a canary and moving its live step, by rewriting numbers.

A canary's live step is the `at N` of its clause (of each `wave`, for a
canary with waves), in a reviewed file, not runtime state: `meshc promote`
and `meshc rollback` change those numbers and nothing else, so the commit
shows exactly the steps that moved and the clusters of a wave apply them at
once. Comments, layout and the other canaries stay byte for byte; the edited
text is compiled again before it is written, so a rewrite can never leave a
policy that no longer compiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Mapping, Optional, Sequence

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.language.source import SourceFile, Span, display_path
from meshc.model.resolve import Index, ServiceInfo, canary_split
from meshc.model.topology import Topology
from meshc.model.waves import Wave, plan
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
    """A canary with the service, route and policy it belongs to."""

    info: ServiceInfo
    route: ir.Route
    canary: ir.Canary
    policy: ir.MeshPolicy = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        """`SERVICE/ROUTE`, as summaries and alerts name it."""
        return f"{self.info.service.name.value}/{self.route.name.value}"

    @property
    def namespace(self) -> str:
        return self.info.namespace.name.value

    @property
    def last(self) -> int:
        return len(self.canary.steps)

    @property
    def waved(self) -> bool:
        return bool(self.canary.waves)

    @cached_property
    def topology(self) -> Topology:
        return Topology(self.policy)

    @cached_property
    def waves(self) -> tuple[Wave, ...]:
        """The plan: one wave of the whole fleet for a canary without waves."""
        return plan(self.canary, self.topology)

    def show_split(self, step: int) -> str:
        baseline, candidate = canary_split(self.canary, step)
        return f"{self.canary.baseline.value} {baseline}% / {self.canary.candidate.value} {candidate}%"

    def title(self, wave: Wave) -> str:
        """`SERVICE/ROUTE`, with `, wave N (CLUSTERS)` for a canary with waves."""
        return self.name + (f", {describe(wave)}" if wave.node is not None else "")


def describe(wave: Wave) -> str:
    """`wave 2 (beijing, shenzhen)`: the clusters it sets, remotes included."""
    return f"wave {wave.number} ({', '.join(wave.clusters) or 'no cluster'})"


def canaries(policy: ir.MeshPolicy) -> Iterator[LiveCanary]:
    """Every canary of a policy, in source order."""
    for info in Index(policy).all_services():
        for route in info.service.routes:
            if isinstance(route.action, ir.Canary):
                yield LiveCanary(info, route, route.action, policy)


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
    found = [LiveCanary(info, r, r.action, compiled.policy) for r in svc.routes if isinstance(r.action, ir.Canary)]
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


# -------------------------------------------------------------- waves
def choose_wave(compiled: Compiled, live: LiveCanary, wave: Optional[str]) -> Optional[Wave]:
    """The wave `--wave N` (a position, from 1) or `--wave CLUSTER` (the
    wave that sets the cluster) names; None without `--wave`."""
    if wave is None:
        return None
    if not live.waved:
        raise Refused([diagnostic(
            "wave-not-found", f"`{live.name}` has no waves: every cluster renders its one step",
            live.canary.span, help="drop --wave; `wave CLUSTER... at N` lines after the steps make waves",
        )], compiled.sources)
    waves = live.waves
    found = next((w for w in waves if str(w.number) == wave or wave in w.clusters), None)
    if found is None:
        listed = "; ".join(f"{w.number}: {', '.join(w.clusters)}" for w in waves)
        raise Refused([diagnostic(
            "wave-not-found", f"`{live.name}` has no wave `{wave}`",
            live.canary.waves[0].span, help=f"its waves ({listed}); name one by number or by a cluster in it",
        )], compiled.sources)
    return found


def where(live: LiveCanary, wave: Wave) -> Span:
    """The `at` that states a wave's step (the wave, or the canary, without one)."""
    node = wave.node or live.canary
    return node.at_span or node.span


# ----------------------------------------------------------- rewriting
def rewrite(text: str, live: LiveCanary, move: Mapping[int, int]) -> str:
    """`text` with the `at` of each wave in `move` ({wave number: step})
    set: the number replaced, or ` at N` inserted where the clause or the
    wave line has none (after the last step, after the wave's last word)."""
    edits = []
    for wave in live.waves:
        if wave.number not in move:
            continue
        node = wave.node or live.canary
        if node.at_span is not None:
            edits.append((node.at_span.start, node.at_span.end, str(move[wave.number])))
        else:
            end = node.span.end if wave.node is not None else live.canary.steps[-1].span.end
            edits.append((end, end, f" at {move[wave.number]}"))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def moved(compiled: Compiled, live: LiveCanary, move: Mapping[int, int]) -> tuple[str, Compiled, LiveCanary]:
    """The new text of the canary's file, compiled again to make sure it
    says what was meant: the same policy with the waves at their new
    steps. Returns the text, its compiled policy and the canary in it."""
    shown = live.canary.span.file
    text = rewrite(compiled.sources[shown].text, live, move)
    sources = [SourceFile(path, text if path == shown else src.text) for path, src in compiled.sources.items()]
    again = compile_sources(sources)
    after = canaries(again.policy) if again.ok else iter(())
    match = [c for c in after if c.info.key == live.info.key and c.route.name.value == live.route.name.value]
    expected = {w.number: move.get(w.number, w.step) for w in live.waves}
    if len(match) != 1 or {w.number: w.step for w in match[0].waves} != expected:
        raise RuntimeError(f"rewriting `at` of {live.name} in {shown} did not give the steps {expected}")
    return text, again, match[0]
