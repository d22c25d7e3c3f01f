"""`meshc explain CODE`: what a diagnostic means and how to fix it."""

from __future__ import annotations

import click

from meshc.diagnostics.codes import BY_NAME, CODES, RETIRED, describe, lookup
from meshc.suggest import did_you_mean


def retired(code: str, name: str, why: str) -> str:
    """A retired code's entry: meshc no longer reports it."""
    return f"## {code} {name} (retired)\n\nmeshc no longer reports this code: {why}\n"


@click.command("explain")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Explain every code.")
def command(code: str | None, show_all: bool) -> None:
    """Explain diagnostic CODE (`MESH301` or its name, `weights-not-100`)."""
    if show_all:
        click.echo("\n".join(describe(c) for c in CODES.values()), nl=False)
        return
    if code is None:
        raise click.UsageError("give a code such as MESH301, or --all")
    found = lookup(code)
    if found is None and code.upper() in RETIRED:
        name, why = RETIRED[code.upper()]
        click.echo(retired(code.upper(), name, why), nl=False)
        return
    if found is None:
        hint = did_you_mean(code.upper(), CODES) or did_you_mean(code.lower(), BY_NAME)
        raise click.UsageError(f"unknown code `{code}`; {hint or '`meshc explain --all` lists them'}")
    click.echo(describe(found), nl=False)
