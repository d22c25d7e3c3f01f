"""`meshc test [PATH...]`: run the policy tests (`test` blocks) of the
policies in PATHS against the documents `meshc render` would write."""

from __future__ import annotations

import sys
import time

import click

from meshc.commands import options
from meshc.commands.options import color, file_selection, istio_version, use_color


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output-format", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="A report for people (like pytest's), JSON, or JUnit XML for CI.")
@click.option("-k", "keyword", metavar="TEXT", help="Run only the tests whose name contains TEXT.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PERCENT",
              help="Fail when the route coverage (routes, exposures and canary steps reached) is below PERCENT.")
@istio_version
@color
@file_selection
def command(paths, output_format, keyword, fail_under, istio_version, color, overrides) -> None:
    """Run the tests of the policies in PATHS (directories, searched
    recursively; or files: every test of the policy each belongs to, so a
    changed policy file runs the tests written beside it; the current
    directory by default). Every request
    of a test is evaluated on the rendered documents of each cluster it
    applies to, at the canary steps it names, and must meet every `expect`.

    Exits 0 when every test passes (and the coverage is at least
    --fail-under), 1 when one fails or a policy has errors, 2 on a usage,
    configuration or I/O error.
    """
    from meshc.diagnostics import report as diagnostics
    from meshc.inputs import read
    from meshc.policytest import report
    from meshc.policytest.runner import run, selected, source_text
    from meshc.selection import InputError
    from meshc.traffic.readings import Readings

    started = time.perf_counter()
    paths = paths or (".",)
    try:
        inputs = options.settings_or_exit(lambda: read(paths, overrides))
    except InputError as err:
        raise click.UsageError(str(err)) from None
    results, coverages, broken = [], [], False
    for policy in inputs.policies:
        compiled = policy.compiled
        errors = [d for d in compiled.diagnostics if d.is_error]
        readings = None
        if compiled.ok:
            readings = Readings(compiled.policy, policy.settings.istio_version)
            errors = [d for d in readings.at().rendering.diagnostics if d.is_error]
        if errors:
            broken = True
            sys.stderr.write(diagnostics.render(errors, compiled.sources, "full", use_color(color, sys.stderr)))
            click.echo(diagnostics.summary(errors, len(compiled.sources)) + " No test ran for this policy.", err=True)
            continue
        tests = selected(compiled.policy, keyword)
        done = run(readings, tests, source_text(compiled.sources))
        results += done.results
        coverages.append(done.coverage)
    coverage = _merged(coverages) if coverages else None
    seconds = time.perf_counter() - started
    if output_format == "json":
        sys.stdout.write(report.as_json(results, coverage, seconds))
    elif output_format == "junit":
        sys.stdout.write(report.junit(results, seconds))
    else:
        sys.stdout.write(report.text(results, coverage, seconds))
    if not results and not broken:
        click.echo("no tests ran: the policies have no `test` blocks" + (f" matching `{keyword}`" if keyword else ""),
                   err=True)
    short = fail_under is not None and coverage is not None and coverage.percent < fail_under
    if short:
        click.echo(f"coverage {coverage.percent:.1f}% is below --fail-under {fail_under:g}%", err=True)
    sys.exit(1 if broken or short or any(not r.passed for r in results) else 0)


def _merged(coverages):
    """The coverage of several policies as one (their items kept apart)."""
    from meshc.policytest.coverage import Coverage

    if len(coverages) == 1:
        return coverages[0]
    items, reached = {}, set()
    for n, c in enumerate(coverages):
        items.update({(n,) + k: e for k, e in c.items.items()})
        reached.update((n,) + k for k in c.reached)
    return Coverage(items, reached)
