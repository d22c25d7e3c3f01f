"""`meshc status PATH...`: every canary, its live split and what comes next.

What is live is what the files say (the `at` of each canary), because every
cluster renders exactly that; status reads the files, never a cluster.
"""

from __future__ import annotations

import json
import sys

import click

from meshc.backends.documents import duration, number
from meshc.backends.promql import describe, pause_before_next
from meshc.canary.gates import columns
from meshc.canary.steps import LiveCanary, canaries
from meshc.commands.options import color, use_color
from meshc.diagnostics import report
from meshc.model.resolve import canary_split
from meshc.pipeline import InputError, compile_paths, discover

HEADER = ("NAMESPACE", "SERVICE", "ROUTE", "CANARY", "STEP", "LIVE", "NEXT", "PAUSE", "GATES")


@click.command("status")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--output-format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table for people, or a JSON list of objects.")
@color
def command(paths: tuple[str, ...], output_format: str, color: str) -> None:
    """Show every canary in the policies of PATHS (directories, or files
    with the rest of their directory): step, live and next split, the pause
    before the next step and the health gates.

    Exits 0, 1 when a policy has errors (they are printed and its canaries
    left out), 2 on a usage or I/O error.
    """
    try:
        results = [compile_paths(files) for files in discover(paths)]
    except InputError as err:
        raise click.UsageError(str(err)) from None
    live = [c for r in results if r.ok for c in canaries(r.policy)]
    failed = [r for r in results if not r.ok]
    if output_format == "json":
        sys.stdout.write(json.dumps([_as_json(c) for c in live], indent=2, ensure_ascii=False) + "\n")
    elif live:
        sys.stdout.write(columns([HEADER] + [_row(c) for c in live]))
    else:
        click.echo("no canaries", err=True)
    for r in failed:
        sys.stderr.write(report.render(r.diagnostics, r.sources, "full", use_color(color, sys.stderr)))
        click.echo(report.summary(r.diagnostics, len(r.sources)), err=True)
    sys.exit(1 if failed else 0)


def _row(c: LiveCanary) -> tuple[str, ...]:
    pause = pause_before_next(c.canary)
    return (
        c.namespace,
        c.info.service.name.value,
        c.route.name.value,
        f"{c.canary.baseline.value} → {c.canary.candidate.value}",
        f"{c.at} of {c.last}",
        c.show_split(c.at),
        c.show_split(c.at + 1) if c.at < c.last else "-",
        duration(pause) if pause is not None else "-",
        ", ".join(describe(g) for g in c.canary.gates) or "-",
    )


def _as_json(c: LiveCanary) -> dict:
    pause = pause_before_next(c.canary)
    return {
        "namespace": c.namespace,
        "service": c.info.service.name.value,
        "route": c.route.name.value,
        "file": c.canary.span.file,
        "line": c.canary.span.line,
        "baseline": c.canary.baseline.value,
        "candidate": c.canary.candidate.value,
        "step": c.at,
        "steps": c.last,
        "live": _split(c, c.at),
        "next": _split(c, c.at + 1) if c.at < c.last else None,
        "pause": duration(pause) if pause is not None else None,
        "gates": [_gate(g) for g in c.canary.gates],
    }


def _split(c: LiveCanary, step: int) -> dict:
    baseline, candidate = canary_split(c.canary, step)
    return {"baseline": baseline, "candidate": candidate}


def _gate(gate) -> dict:
    if gate.kind == "success-rate":
        return {"kind": gate.kind, "minimum_percent": number(gate.minimum.value)}
    return {"kind": gate.kind, "quantile": gate.quantile, "maximum_ms": number(gate.maximum.ms)}
