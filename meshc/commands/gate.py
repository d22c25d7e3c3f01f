"""`meshc gate FILE SERVICE --prometheus URL`: measure a canary's health gates.

The verdict is for a CI job deciding whether to promote (docs/canary.md):
0 every gate passes, 1 a gate fails, 2 the gates could not be measured
(no data, Prometheus unreachable or erroring, no gates at all, no such
canary). Exit 2 is never a pass: a candidate nobody measured is not a
healthy one.
"""

from __future__ import annotations

import json
import sys

import click

from meshc.canary import gates
from meshc.commands.options import color, format_for, output_format
from meshc.commands.promote import DEFAULT_TIMEOUT, canary_arguments, check_url, measure_or_exit, open_canary


def _time(ctx, param, value):
    if value is None:
        return None
    try:
        return gates.parse_time(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command("gate")
@canary_arguments
@click.option("--prometheus", "url", required=True, metavar="URL",
              help="The Prometheus HTTP API to query, e.g. http://prometheus.istio-system:9090.")
@click.option("--time", "at", callback=_time, metavar="TIME",
              help="Evaluate at this time (RFC 3339 or unix seconds) instead of now.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="How long to wait for each Prometheus query.")
@output_format
@color
def command(file, service, route, wave, url, at, timeout, output_format, color) -> None:
    """Measure the `analysis` gates of the canary of SERVICE (NAME or
    NAMESPACE/NAME) in FILE: the candidate's success rate and latency over
    the pause before the next step (5m without one). For a canary with
    waves, each wave past step 0 (or the wave --wave names) is measured on
    its own clusters, at its own step.

    Prints each gate with its measured value, threshold and verdict (with
    --output-format json, one JSON object with the queries too, a list of
    them for several waves; a canary that cannot be found is reported as
    JSON diagnostics on stderr). Exits 0 when all pass, 1 when one fails, 2
    when one has no data, Prometheus cannot answer, the canary has no gates
    or no wave past step 0, or it cannot be found (the policy has errors,
    the service, canary or wave is missing or ambiguous).
    """
    check_url(url, "--prometheus")
    # Exit 1 says "unhealthy" (a job may roll back on it): a canary that
    # cannot be found or read gets no verdict instead.
    output_format = format_for(output_format, file)
    _, live, chosen = open_canary(file, service, route, wave, output_format, color, refused=2)
    waves = [chosen] if chosen is not None else [w for w in live.waves if w.step > 0 or not live.waved]
    if not waves and live.canary.gates:
        click.echo(f"error: no wave of {live.namespace}/{live.name} is past step 0: the candidate serves no "
                   "traffic yet, so no verdict", err=True)
        sys.exit(2)
    measured = measure_or_exit(live, waves, url, at, timeout, "nothing to measure, so no verdict "
                               "(add e.g. `analysis success-rate >= 99% p99 <= 500ms` to the canary)")
    results = [r for m in measured for r in m.results]
    if output_format == "json":
        found = [gates.as_json(live, m, url) for m in measured]
        shown = found if live.waved and chosen is None else found[0]
        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(gates.table(live, m) for m in measured))
        click.echo(gates.verdict_line(results), err=True)
    sys.exit(gates.exit_code(results))
