"""`meshc status [PATH...]`: every canary, its declared split and what comes next.

Status reads the files and git, never a cluster: the split it shows is the
one the policy *declares* (the `at` of each canary, or of each wave of a
fleet canary, which the wave's clusters render once Argo CD has synced the
commit), and the time in step counts from the commit that declared it
(canary/clock.py). A canary with waves has a row per wave, naming its
clusters.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from typing import Optional

import click

from meshc.backends.documents import duration, number
from meshc.backends.promql import describe, pause_before_next
from meshc.canary import clock
from meshc.canary.gates import columns, parse_time
from meshc.canary.steps import LiveCanary, canaries
from meshc.commands import options
from meshc.commands.options import color, file_selection, use_color
from meshc.diagnostics import report
from meshc.inputs import read
from meshc.model.resolve import canary_split
from meshc.model.waves import Wave
from meshc.selection import InputError

HEADER = ("NAMESPACE", "SERVICE", "ROUTE", "CANARY", "WAVE", "CLUSTERS", "STEP", "DECLARED", "IN STEP", "PAUSE",
          "LEFT", "NEXT", "GATES")


def _time(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command("status")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output-format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table for people, or a JSON list of objects.")
@click.option("--time", "now", callback=_time, metavar="TIME",
              help="Count time in step up to this time (RFC 3339 or unix seconds) instead of now.")
@color
@file_selection
def command(paths: tuple[str, ...], output_format: str, now: Optional[float], color: str, overrides) -> None:
    """Show every canary in the policies of PATHS (directories, or files
    with the rest of their directory; the current directory by default):
    the step and split the policy declares (per wave, with the clusters it
    sets, for a canary with waves), how long git has declared it (IN STEP,
    from the commit on HEAD's first-parent history that set it), the pause
    before the next step and how much of it is LEFT, the next split and the
    health gates.

    Exits 0, 1 when a policy has errors (they are printed and its canaries
    left out), 2 on a usage or I/O error.
    """
    try:
        inputs = options.settings_or_exit(lambda: read(paths or (".",), overrides))
    except InputError as err:
        raise click.UsageError(str(err)) from None
    now = time.time() if now is None else now
    results = [p.compiled for p in inputs.policies]
    live = [(c, w, _declared(r, c, w)) for r in results if r.ok for c in canaries(r.policy) for w in c.waves]
    failed = [r for r in results if not r.ok]
    if output_format == "json":
        sys.stdout.write(json.dumps([_as_json(c, w, d, now) for c, w, d in live], indent=2, ensure_ascii=False) + "\n")
    elif live:
        arrow = "→" if _can_encode(sys.stdout, "→") else "->"
        sys.stdout.write(columns([HEADER] + [_row(c, w, d, now, arrow) for c, w, d in live]))
    else:
        click.echo("no canaries", err=True)
    for r in failed:
        sys.stderr.write(report.render(r.diagnostics, r.sources, "full", use_color(color, sys.stderr)))
        click.echo(report.summary(r.diagnostics, len(r.sources)), err=True)
    sys.exit(1 if failed else 0)


def _declared(compiled, c: LiveCanary, wave: Wave) -> clock.Declared:
    source = compiled.sources[c.canary.span.file]
    return clock.declared(source.path, c, wave, source.text)


def _can_encode(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _times(c: LiveCanary, wave: Wave, declared: clock.Declared,
           now: float) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """(seconds in step, pause seconds, seconds of the pause left)."""
    pause = pause_before_next(c.canary, wave.step)
    pause_s = pause.ms / 1000 if pause is not None else None
    in_step = max(0.0, now - declared.since) if declared.since is not None else None
    left = max(0.0, pause_s - in_step) if pause_s is not None and in_step is not None else None
    return in_step, pause_s, left


def _row(c: LiveCanary, wave: Wave, declared: clock.Declared, now: float, arrow: str) -> tuple[str, ...]:
    in_step, pause, left = _times(c, wave, declared, now)
    at_least = ("≥" if arrow == "→" else ">=") if declared.truncated else ""
    shown_in_step = declared.state if in_step is None else at_least + _age(in_step)
    return (
        c.namespace,
        c.info.service.name.value,
        c.route.name.value,
        f"{c.canary.baseline.value} {arrow} {c.canary.candidate.value}",
        f"{wave.number} of {len(c.waves)}" if c.waved else "-",
        " ".join(wave.clusters) if c.waved else "all",
        f"{wave.step} of {c.last}",
        c.show_split(wave.step),
        shown_in_step,
        _age(pause) if pause is not None else "-",
        _age(left) if left is not None else "-",
        c.show_split(wave.step + 1) if wave.step < c.last else "-",
        ", ".join(describe(g) for g in c.canary.gates) or "-",
    )


def _age(seconds: float) -> str:
    """`3d4h`, `1h5m`, `12m30s`, `45s`: the two largest units, rounded down."""
    whole = int(seconds)
    parts = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m"), (whole % 60, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    return "".join(f"{n}{unit}" for n, unit in parts[first:first + 2] if n) or "0s"


def _as_json(c: LiveCanary, wave: Wave, declared: clock.Declared, now: float) -> dict:
    pause = pause_before_next(c.canary, wave.step)
    in_step, _, left = _times(c, wave, declared, now)
    return {
        "namespace": c.namespace,
        "service": c.info.service.name.value,
        "route": c.route.name.value,
        "file": c.canary.span.file,
        "line": c.canary.span.line,
        "baseline": c.canary.baseline.value,
        "candidate": c.canary.candidate.value,
        "wave": wave.number if c.waved else None,
        "clusters": list(wave.clusters),
        "step": wave.step,
        "steps": c.last,
        "declared": _split(c, wave.step),
        "git": {
            "state": declared.state,
            "commit": declared.commit,
            "committed_at": (datetime.fromtimestamp(declared.since, timezone.utc).isoformat().replace("+00:00", "Z")
                             if declared.since is not None else None),
            "history_truncated": declared.truncated,
        },
        "in_step_seconds": int(in_step) if in_step is not None else None,
        "next": _split(c, wave.step + 1) if wave.step < c.last else None,
        "pause": duration(pause) if pause is not None else None,
        "pause_left_seconds": int(left) if left is not None else None,
        "gates": [_gate(g) for g in c.canary.gates],
    }


def _split(c: LiveCanary, step: int) -> dict:
    baseline, candidate = canary_split(c.canary, step)
    return {"baseline": baseline, "candidate": candidate}


def _gate(gate) -> dict:
    if gate.kind == "success-rate":
        return {"kind": gate.kind, "minimum_percent": number(gate.minimum.value)}
    return {"kind": gate.kind, "quantile": gate.quantile, "maximum_ms": number(gate.maximum.ms)}
