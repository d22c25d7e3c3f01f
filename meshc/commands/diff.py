"""`meshc diff OLD NEW` / `meshc diff --git REV [PATH]`: what changes
between two policies in traffic terms, per service, merged over the
clusters where it is the same."""

from __future__ import annotations

import sys

import click

from meshc.commands import options
from meshc.commands.options import color, file_selection, istio_version, use_color


@click.command("diff")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--git", "rev", metavar="REV",
              help="Compare the policy of PATH (default: the current directory) at git revision REV with it now.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="Lines for people, Markdown for a pull-request comment, or JSON.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when traffic changes (as `git diff --exit-code`).")
@istio_version
@color
@file_selection
def command(paths, rev, fmt, exit_code, istio_version, color, overrides) -> None:
    """Say what changes between the policy in OLD and the policy in NEW
    (directories, or files standing for their directory), or between the
    policy of PATH at git revision REV and now: requests that go elsewhere
    or otherwise (destinations and weights, timeouts, retries, faults,
    mirrors, rewrites), routes and exposures added, removed or reordered,
    and destination policy that changed, with the clusters where each
    change holds.

    Exits 0 (with --exit-code: 0 when nothing changes, 1 when something
    does), 1 when a policy has errors, 2 on a usage, git or I/O error.
    """
    from meshc import git
    from meshc.semdiff import changes, report
    from meshc.semdiff.revision import compiled_at
    from meshc.traffic.readings import Readings

    if rev is not None:
        if len(paths) > 1:
            raise click.UsageError("--git REV compares one PATH with itself at REV")
        path = paths[0] if paths else "."
        new = options.one_policy([path], overrides)
        try:
            old_compiled = compiled_at(rev, path)
        except git.GitError as err:
            raise click.UsageError(f"cannot read {path} at {rev}: {err}") from None
        old_istio = new.settings.istio_version
    else:
        if len(paths) != 2:
            raise click.UsageError("give OLD and NEW, or --git REV [PATH]")
        old = options.one_policy([paths[0]], overrides)
        new = options.one_policy([paths[1]], overrides)
        old_compiled, old_istio = old.compiled, old.settings.istio_version
    before = _readings(old_compiled, old_istio, "the old policy", color)
    after = _readings(new.compiled, new.settings.istio_version, "the new policy", color)
    found = changes(Readings(before, old_istio), Readings(after, new.settings.istio_version))
    write = {"text": report.as_text, "markdown": report.as_markdown, "json": report.as_json}[fmt]
    sys.stdout.write(write(found))
    sys.exit(1 if exit_code and found else 0)


def _readings(compiled, istio, which: str, color: str):
    """The policy to compare; exit 1 with its diagnostics when it has errors.
    A revision with no policy at all is the empty policy."""
    from meshc.diagnostics import report
    from meshc.language import ir
    from meshc.traffic.readings import routable

    if not compiled.sources:
        return ir.MeshPolicy(files=())
    policy, errors = routable(compiled)
    if policy is not None:
        return policy
    sys.stderr.write(report.render(errors, compiled.sources, "full", use_color(color, sys.stderr)))
    click.echo(f"{report.summary(errors, len(compiled.sources))} ({which}: nothing compared)", err=True)
    sys.exit(1)
