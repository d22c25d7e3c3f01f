"""A fleet canary's plan: every cluster in one wave at a step the source
states, remotes with their primaries, and no wave ahead of the plan."""

from __future__ import annotations

from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import Index
from meshc.model.topology import Topology
from meshc.model.waves import plan


def check_waves(policy: ir.MeshPolicy) -> list[Diagnostic]:
    index = Index(policy)
    out: list[Diagnostic] = []
    for info in index.all_services():
        for route in info.service.routes:
            canary = route.action
            if isinstance(canary, ir.Canary) and canary.waves:
                out += _steps(route.name.value, canary, index.topology)
                if policy.fleet is not None:  # without one, every cluster named is MESH202
                    out += _membership(route.name.value, canary, index.topology)
    return out


def _steps(route: str, canary: ir.Canary, topology: Topology) -> list[Diagnostic]:
    """Each wave at a step the canary has, started only after the wave before."""
    out = []
    last = len(canary.steps)
    if canary.at_span is not None:
        out.append(diagnostic(
            "canary-at-with-waves",
            f"the canary of route `{route}` has waves, so each wave states its step; `at` on the canary would be a second one",
            canary.at_span, help="drop `at N` after the steps and give each `wave` its `at`"))
    for wave in canary.waves:
        if wave.at > last:
            out.append(diagnostic(
                "canary-at-out-of-range", f"`at {wave.at}` names no step: the canary has {last} step{_s(last)}",
                wave.at_span, help=f"use `at 0` (baseline) to `at {last}`"))
    first = canary.waves[0]
    if first.after is not None:
        out.append(diagnostic(
            "wave-after-out-of-range", "the first wave starts with the canary: there is no wave before it to wait for",
            first.after_span, help="drop `after N` from the first wave"))
    for wave in canary.waves[1:]:
        if wave.after is not None and not 1 <= wave.after <= last:
            out.append(diagnostic(
                "wave-after-out-of-range", f"`after {wave.after}` names no step: the canary has {last} step{_s(last)}",
                wave.after_span, help=f"start the wave after a step from 1 to {last}; without `after`, after the last"))
    waves = plan(canary, topology)
    for before, wave in zip(waves, waves[1:]):
        if wave.step > 0 and before.step < wave.start and wave.start <= last:
            out.append(diagnostic(
                "wave-started-early",
                f"wave {wave.number} ({_names(wave.listed)}) is at step {wave.step}, but it starts once wave "
                f"{before.number} ({_names(before.listed)}) is at step {wave.start}, and that wave is at step {before.step}",
                wave.node.at_span,
                labels=[Label(before.node.at_span or before.node.span, f"wave {before.number} is at step {before.step}")],
                help=f"roll wave {wave.number} back to `at 0`, or promote wave {before.number} to step {wave.start} first",
            ))
    return out


def _membership(route: str, canary: ir.Canary, topology: Topology) -> list[Diagnostic]:
    """Every primary in exactly one wave; a remote, if listed, in its primary's."""
    out = []
    first: dict[str, tuple[int, ir.Name]] = {}
    for number, wave in enumerate(canary.waves, 1):
        for name in wave.clusters:
            if name.value in first:
                earlier = first[name.value]
                out.append(diagnostic(
                    "cluster-in-two-waves",
                    f"cluster `{name.value}` is listed twice in the waves of route `{route}`",
                    name.span, labels=[Label(earlier[1].span, f"listed in wave {earlier[0]} here")],
                    help="a cluster renders one step: list it in one wave"))
            else:
                first[name.value] = (number, name)
    for cluster, (number, name) in first.items():
        if not topology.is_remote(cluster):
            continue
        primary = topology.primary_of(cluster)
        if primary in first and first[primary][0] != number:
            out.append(diagnostic(
                "remote-in-other-wave",
                f"cluster `{cluster}` is a remote of `{primary}`: its proxies follow `{primary}`'s configuration, "
                f"which is in wave {first[primary][0]}, not wave {number}",
                name.span, labels=[Label(first[primary][1].span, f"`{primary}` is in wave {first[primary][0]}")],
                help=f"a remote moves with its primary: list `{cluster}` with `{primary}`, or leave it out"))
    missing = [c for c in topology.primaries if c not in first]
    if missing:
        out.append(diagnostic(
            "cluster-not-in-waves",
            f"the waves of route `{route}` leave cluster{_s(len(missing))} {_names(missing, '`')} out, "
            "so no step is stated for them",
            canary.waves[-1].span,
            help=f"list {'it' if len(missing) == 1 else 'them'} in a wave (a new last one: "
                 f"`wave {' '.join(missing)}`); remotes follow their primary's wave"))
    return out


def _names(names, quote: str = "") -> str:
    return ", ".join(f"{quote}{n}{quote}" for n in names)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
