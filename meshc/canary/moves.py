"""Where `meshc promote` and `meshc rollback` move a canary's plan.

A move is the new step of each wave it changes, `{wave number: step}`; a
canary without waves is one wave of the whole fleet. Without `--wave`,
promote moves every wave that may move one step: the first wave, and each
later one whose wave before has reached the step that starts it (its last
step unless the wave says `after N`), judged on the plan as it stands, so
waves move on together once they overlap and one at a time otherwise.
Rollback returns the chosen wave, and every later wave that has started,
to step 0: a later wave started on the evidence of the waves before it.
"""

from __future__ import annotations

from typing import Optional

from meshc.canary.steps import LiveCanary, Refused, describe, where
from meshc.diagnostics.codes import diagnostic
from meshc.model.waves import Wave
from meshc.pipeline import Compiled

Move = dict[int, int]


def promotion(compiled: Compiled, live: LiveCanary, wave: Optional[Wave], to: Optional[int]) -> Move:
    """The move `promote [--wave W] [--to N]` makes; Refused when none.
    `--to` needs a wave for a canary with waves (the command says so)."""
    if wave is None and live.waved:
        moving = [w for w in live.waves if w.step < live.last and _may_start(live, w)]
        if not moving:
            last = live.waves[-1]
            raise Refused([diagnostic(
                "canary-at-last-step",
                f"every wave of `{live.name}` is at its last step ({live.last} of {live.last}: "
                f"{live.show_split(live.last)})",
                where(live, last), help=retire_hint(live),
            )], compiled.sources)
        return {w.number: w.step + 1 for w in moving}
    wave = wave or live.waves[0]
    title = f"`{live.title(wave)}`"
    if to is None:
        if wave.step >= live.last:
            raise Refused([diagnostic(
                "canary-at-last-step",
                f"{title} is already at its last step ({wave.step} of {live.last}: {live.show_split(wave.step)})",
                where(live, wave), help=retire_hint(live) if _all_done(live) else "promote the waves still on their way",
            )], compiled.sources)
        to = wave.step + 1
    elif not 1 <= to <= live.last:
        raise Refused([diagnostic(
            "promotion-step-out-of-range",
            f"`--to {to}` names no step: `{live.name}` has steps 1 to {live.last}",
            where(live, wave), help=f"choose a step after the live one ({wave.step}), up to {live.last}",
        )], compiled.sources)
    elif to <= wave.step:
        raise Refused([diagnostic(
            "promotion-step-out-of-range",
            f"`--to {to}` does not move {title} forward: it is at step {wave.step} of {live.last}",
            where(live, wave), help="`meshc rollback` returns the canary to its baseline",
        )], compiled.sources)
    if not _may_start(live, wave):
        before = live.waves[wave.number - 2]
        raise Refused([diagnostic(
            "wave-not-ready",
            f"{describe(wave)} of `{live.name}` starts once {describe(before)} is at step {wave.start} "
            f"({live.show_split(wave.start)}), and wave {before.number} is at step {before.step}",
            where(live, wave), help=f"promote wave {before.number} first (`--wave {before.number}`)",
        )], compiled.sources)
    return {wave.number: to}


def rollback(compiled: Compiled, live: LiveCanary, wave: Optional[Wave]) -> Move:
    """The move `rollback [--wave W]` makes: the wave (every wave without
    one) and the later waves that have started, to step 0."""
    first = wave or live.waves[0]
    moving = [w for w in live.waves if w.number >= first.number and w.step > 0]
    if wave is not None and wave.step == 0 or not moving:
        what = f"`{live.title(wave)}`" if wave is not None else (
            f"every wave of `{live.name}`" if live.waved else f"`{live.name}`")
        raise Refused([diagnostic(
            "canary-at-baseline",
            f"{what} already sends all traffic to `{live.canary.baseline.value}`",
            where(live, first), help="nothing to roll back; `meshc promote` starts the canary",
        )], compiled.sources)
    return {w.number: 0 for w in moving}


def evidence(live: LiveCanary, move: Move) -> list[Wave]:
    """The waves whose gates speak for a promotion: each moving wave that
    serves the candidate already, and, for a wave leaving step 0, the wave
    before it, at the step that starts it (the first wave has nothing to
    show before its first step: its own gates, which have no data)."""
    out: list[Wave] = []
    for number in sorted(move):
        wave = live.waves[number - 1]
        shown = live.waves[number - 2] if wave.step == 0 and number > 1 else wave
        if shown not in out:
            out.append(shown)
    return sorted(out, key=lambda w: w.number)


def changes(before: LiveCanary, after: LiveCanary) -> list[tuple[tuple[str, ...], str, str]]:
    """The clusters whose split of the canary a move changes, grouped by
    change: (clusters, split before, split after), in fleet order."""
    old = {c: w.step for w in before.waves for c in w.clusters}
    new = {c: w.step for w in after.waves for c in w.clusters}
    groups: dict[tuple[int, int], list[str]] = {}
    for cluster in before.topology.names:
        if old.get(cluster, 0) != new.get(cluster, 0):
            groups.setdefault((old.get(cluster, 0), new.get(cluster, 0)), []).append(cluster)
    return [(tuple(clusters), before.show_split(a), before.show_split(b)) for (a, b), clusters in groups.items()]


def retire_hint(live: LiveCanary) -> str:
    return (f"retire the canary: replace its `canary {live.canary.baseline.value} -> "
            f"{live.canary.candidate.value} ...` clause with `to {live.canary.candidate.value}`")


def _may_start(live: LiveCanary, wave: Wave) -> bool:
    """A wave may leave step 0 once the wave before is at its start step."""
    return wave.step > 0 or wave.number == 1 or live.waves[wave.number - 2].step >= wave.start


def _all_done(live: LiveCanary) -> bool:
    return all(w.step >= live.last for w in live.waves)
