"""`meshc explain CODE`: what a diagnostic means and how to fix it."""

from __future__ import annotations

import click

from meshc.diagnostics.codes import CODES, RETIRED, lookup


def describe(code) -> str:
    """One code's entry, as `meshc explain` prints it and docs/diagnostics.md lists it."""
    return (
        f"## {code.code} {code.name} ({code.severity.value})\n\n"
        f"### What it does\n{code.summary}\n\n"
        f"### Why is this bad?\n{code.why}\n\n"
        f"### Example\n```\n{code.example}\n```\n\n"
        f"### Use instead\n```\n{code.fix}\n```\n"
    )


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
        raise click.UsageError(f"unknown code `{code}`; `meshc explain --all` lists them")
    click.echo(describe(found), nl=False)
