"""`meshc promote FILE SERVICE`: move a canary to its next step, in the file.

The step is the `at N` of the canary clause; promote rewrites that number
(or adds ` at N` after the steps) and nothing else, so the change is a
one-line commit every cluster applies at once (docs/canary.md). The helpers
here are shared with `rollback` and `gate`, which name a canary the same way.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, NoReturn, Optional
from urllib.parse import urlsplit

import click

from meshc.canary import gates
from meshc.canary import steps as canary
from meshc.commands.options import color, format_for, output_format, use_color
from meshc.diagnostics import report
from meshc.files import LockError, RewriteError, locked, unified_diff, write_atomically
from meshc.pipeline import Compiled, InputError

DEFAULT_TIMEOUT = 10.0


def canary_arguments(command):
    """FILE SERVICE [--route NAME]: how promote, rollback and gate name a canary."""
    command = click.option("--route", metavar="NAME", help="The route whose canary is meant, when the service has several.")(command)
    command = click.argument("service")(command)
    return click.argument("file", type=click.Path(exists=True, dir_okay=False))(command)


def open_canary(file: str, service: str, route: Optional[str], fmt: str, color_: str,
                refused: int = 1) -> tuple[Compiled, canary.LiveCanary]:
    """The canary SERVICE [--route] names in FILE; on a refusal its
    diagnostics are printed (stderr: stdout carries diffs and tables) and
    the command exits with `refused`."""
    if not service or service.count("/") > 1 or service.startswith("/") or service.endswith("/"):
        raise click.BadParameter(f"`{service}` is not NAME or NAMESPACE/NAME", param_hint="SERVICE")
    try:
        compiled = canary.compile_file(file)
        return compiled, canary.locate(compiled, file, service, route)
    except InputError as err:
        raise click.UsageError(str(err)) from None
    except canary.Refused as refusal:
        refuse(refusal, fmt, color_, refused)


def refuse(refusal: canary.Refused, fmt: str, color_: str, code: int = 1) -> NoReturn:
    sys.stderr.write(report.render(refusal.diagnostics, refusal.sources, fmt, use_color(color_, sys.stderr)))
    if refusal.policy_errors and fmt in ("full", "concise"):
        click.echo(report.summary(refusal.diagnostics, len(refusal.sources)), err=True)
    sys.exit(code)


def move(file: str, compiled: Compiled, live: canary.LiveCanary, step: int, dry_run: bool, verb: tuple[str, str]) -> None:
    """Write the canary at `step` (or, dry, print the diff) and say so;
    `verb` is the action and what was done (`promote`, `promoted`)."""
    text = canary.moved(compiled, live, step)
    shown = live.canary.span.file
    if dry_run:
        sys.stdout.write(unified_diff(compiled.sources[shown].text, text, f"a/{shown}", f"b/{shown}"))
    else:
        try:
            write_atomically(file, text, compiled.sources[shown].text)
        except RewriteError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except OSError as err:
            click.echo(f"error: cannot write {shown}: {err.strerror or err}", err=True)
            sys.exit(2)
    done = f"would {verb[0]}" if dry_run else verb[1]
    click.echo(f"{done} {live.name}: step {live.at} → {step} ({live.show_split(step)})", err=True)


@click.command("promote")
@canary_arguments
@click.option("--to", "to", type=int, metavar="N", help="The step to move to (default: the next one).")
@click.option("--skip", is_flag=True, help="With --to: allow skipping the steps between the declared one and N.")
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@click.option("--require-healthy", metavar="URL",
              help="Promote only if the canary's health gates pass in the Prometheus at URL (exit as `meshc gate` otherwise).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="With --require-healthy: how long to wait for each Prometheus query.")
@output_format
@color
def command(file, service, route, to, skip, dry_run, require_healthy, timeout, output_format, color) -> None:
    """Move the canary of SERVICE (NAME or NAMESPACE/NAME) in FILE to its
    next step, or to step N: only its `at` number changes. Moving past
    steps (`--to` beyond the next one) needs --skip, and says which.

    Exits 0 when promoted, 1 when refused (the policy has errors, the canary
    is missing, ambiguous or finished; or, with --require-healthy, a gate
    fails), 2 on a usage or I/O error or when the gates cannot be measured.
    """
    if require_healthy is not None:
        check_url(require_healthy, "--require-healthy")
    output_format = format_for(output_format, file)
    with editing(file, dry_run):
        compiled, live = open_canary(file, service, route, output_format, color)
        try:
            step = canary.promotion(compiled, live, to)
        except canary.Refused as refusal:
            refuse(refusal, output_format, color)
        skipped = list(range(live.at + 1, step))
        if skipped and not skip:
            raise click.UsageError(
                f"--to {step} skips {_steps(live, skipped)} of {live.name}, never run nor gated; "
                f"add --skip to go straight from step {live.at} to {step}, or promote one step at a time")
        if require_healthy is not None:
            healthy(live, require_healthy, timeout)
        move(file, compiled, live, step, dry_run, ("promote", "promoted"))
        if skipped:
            click.echo(f"{'would skip' if dry_run else 'skipped'} {_steps(live, skipped)}", err=True)
    if step == live.last:
        click.echo(f"{live.name} now sends all traffic to {live.canary.candidate.value}; "
                   f"{canary.retire_hint(live)}", err=True)


def _steps(live: canary.LiveCanary, steps: list[int]) -> str:
    """`step 3 (v1 80% / v2 20%)` or `steps 3, 4 (...; ...)`."""
    splits = "; ".join(live.show_split(n) for n in steps)
    return f"step{'s' if len(steps) > 1 else ''} {', '.join(map(str, steps))} ({splits})"


@contextlib.contextmanager
def editing(file: str, dry_run: bool) -> Iterator[None]:
    """FILE's lock, held from reading the canary to writing its new step,
    so that concurrent promotions and rollbacks take turns (a dry run
    writes nothing and takes none)."""
    with contextlib.ExitStack() as held:
        if not dry_run:
            try:
                held.enter_context(locked(file))
            except LockError as err:
                click.echo(f"error: {err}", err=True)
                sys.exit(2)
        yield


def measure_or_exit(live: canary.LiveCanary, url: str, at, timeout: float, no_gates: str, consequence: str = ""):
    """The canary's gate results; exit 2 (no verdict) when it has no gates
    or Prometheus cannot answer."""
    if not live.canary.gates:
        click.echo(f"error: {live.namespace}/{live.name} has no `analysis` gates: {no_gates}", err=True)
        sys.exit(2)
    try:
        return gates.evaluate(live, url, at, timeout)
    except gates.PrometheusError as err:
        click.echo(f"error: {err}{consequence}", err=True)
        sys.exit(2)


def healthy(live: canary.LiveCanary, url: str, timeout: float) -> None:
    """Return only when every gate passes; otherwise exit with the code
    `meshc gate` would (1 unhealthy, 2 unknown), having written nothing."""
    results = measure_or_exit(live, url, None, timeout,
                              "there is nothing to require; promote without --require-healthy", "; not promoted")
    sys.stderr.write(gates.table(live, results))
    code = gates.exit_code(results)
    click.echo(gates.verdict_line(results) + ("; not promoted" if code else ""), err=True)
    if code:
        sys.exit(code)


def check_url(url: str, option: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"`{url}` is not an http(s) URL such as http://prometheus:9090", param_hint=f"'{option}'")
