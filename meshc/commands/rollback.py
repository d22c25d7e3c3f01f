"""`meshc rollback FILE SERVICE`: send all of a canary's traffic back to its baseline.

Rollback writes `at 0` (in every wave, or in the wave --wave names and the
waves after it that have started), so those clusters return to the
baseline with the next sync, and the route keeps both destinations: no
stale rule is left behind (design S1). `git revert` of the promotion commit
is the other way.
"""

from __future__ import annotations

import click

from meshc.canary import moves
from meshc.canary import steps as canary
from meshc.commands.options import color, format_for, output_format
from meshc.commands.promote import canary_arguments, editing, move, open_canary, prepare, publishing, refuse


@click.command("rollback")
@canary_arguments
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@publishing
@output_format
@color
def command(file, service, route, wave, dry_run, out, commit_, output_format, color) -> None:
    """Move the canary of SERVICE (NAME or NAMESPACE/NAME) in FILE back to
    step 0, all traffic to the baseline: only `at` numbers change. For a
    canary with waves, every wave, or the wave --wave names and each later
    wave that has started (it started on that wave's evidence).

    Exits 0 when rolled back, 1 when refused (the policy has errors, the
    canary is missing or ambiguous, it is at its baseline already, or OUT
    is stale), 2 on a usage, I/O or git error.
    """
    output_format = format_for(output_format, file)
    with editing(file, dry_run):
        compiled, live, chosen = open_canary(file, service, route, wave, output_format, color)
        try:
            step = moves.rollback(compiled, live, chosen)
        except canary.Refused as refusal:
            refuse(refusal, output_format, color)
        root = prepare(file, compiled, out, commit_, output_format, color)
        move(file, compiled, live, step, dry_run, ("roll back", "rolled back"), out, root, output_format, color)
