"""`meshc rollback FILE SERVICE`: send all of a canary's traffic back to its baseline.

Rollback writes `at 0`, so every cluster returns to the baseline with the
next sync, and the route keeps both destinations: no stale rule is left
behind (design S1). `git revert` of the promotion commit is the other way.
"""

from __future__ import annotations

import click

from meshc.canary import steps as canary
from meshc.commands.options import color, format_for, output_format
from meshc.commands.promote import canary_arguments, editing, move, open_canary, refuse


@click.command("rollback")
@canary_arguments
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@output_format
@color
def command(file, service, route, dry_run, output_format, color) -> None:
    """Move the canary of SERVICE (NAME or NAMESPACE/NAME) in FILE back to
    step 0, all traffic to the baseline: only its `at` number changes.

    Exits 0 when rolled back, 1 when refused (the policy has errors, the
    canary is missing or ambiguous, or it is at its baseline already), 2 on
    a usage or I/O error.
    """
    output_format = format_for(output_format, file)
    with editing(file, dry_run):
        compiled, live = open_canary(file, service, route, output_format, color)
        try:
            step = canary.rollback(compiled, live)
        except canary.Refused as refusal:
            refuse(refusal, output_format, color)
        move(file, compiled, live, step, dry_run, ("roll back", "rolled back"))
