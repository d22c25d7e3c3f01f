"""`meshc promote FILE SERVICE`: move a canary to its next step, in the file.

The step is the `at N` of the canary clause, or of each `wave` of a fleet
canary; promote rewrites those numbers (or adds ` at N`) and nothing else,
so the change is a commit of a line or two that the clusters of a wave
apply at once (docs/canary.md). With `--output OUT` it renders OUT again
(refusing first when OUT is stale), and with `--commit` it commits the
move with its gate evidence. The helpers here are shared with `rollback`
and `gate`, which name a canary the same way.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, NoReturn, Optional, Sequence
from urllib.parse import urlsplit

import click

from meshc.canary import gates, moves
from meshc.canary import steps as canary
from meshc.commands.options import color, format_for, output_format, use_color
from meshc.diagnostics import report
from meshc.files import LockError, RewriteError, diff_names, locked, unified_diff, write_atomically
from meshc.model.waves import Wave
from meshc.pipeline import Compiled, InputError

DEFAULT_TIMEOUT = 10.0


def canary_arguments(command):
    """FILE SERVICE [--route NAME] [--wave N]: how promote, rollback and gate name a canary."""
    command = click.option("--wave", metavar="N|CLUSTER",
                           help="One wave of a canary with waves: its number (from 1) or a cluster in it.")(command)
    command = click.option("--route", metavar="NAME", help="The route whose canary is meant, when the service has several.")(command)
    command = click.argument("service")(command)
    return click.argument("file", type=click.Path(exists=True, dir_okay=False))(command)


def publishing(command):
    """--output OUT and --commit: how promote and rollback publish a move."""
    command = click.option("--commit", "commit_", is_flag=True,
                           help="Commit the move with git (the file, and OUT with --output), its gate evidence "
                                "as trailers.")(command)
    return click.option("--output", "-o", "out", type=click.Path(file_okay=False), metavar="OUT",
                        help="The rendered tree (`meshc render -o OUT`): refuse when it is stale, render the move "
                             "into it.")(command)


def open_canary(file: str, service: str, route: Optional[str], wave: Optional[str], fmt: str, color_: str,
                refused: int = 1) -> tuple[Compiled, canary.LiveCanary, Optional[Wave]]:
    """The canary SERVICE [--route] names in FILE and the wave --wave
    names; on a refusal its diagnostics are printed (stderr: stdout carries
    diffs and tables) and the command exits with `refused`."""
    if not service or service.count("/") > 1 or service.startswith("/") or service.endswith("/"):
        raise click.BadParameter(f"`{service}` is not NAME or NAMESPACE/NAME", param_hint="SERVICE")
    try:
        compiled = canary.compile_file(file)
        live = canary.locate(compiled, file, service, route)
        return compiled, live, canary.choose_wave(compiled, live, wave)
    except InputError as err:
        raise click.UsageError(str(err)) from None
    except canary.Refused as refusal:
        refuse(refusal, fmt, color_, refused)


def refuse(refusal: canary.Refused, fmt: str, color_: str, code: int = 1) -> NoReturn:
    sys.stderr.write(report.render(refusal.diagnostics, refusal.sources, fmt, use_color(color_, sys.stderr)))
    if refusal.policy_errors and fmt in ("full", "concise"):
        click.echo(report.summary(refusal.diagnostics, len(refusal.sources)), err=True)
    sys.exit(code)


def prepare(file: str, compiled: Compiled, out: Optional[str], commit_: bool, fmt: str, color_: str) -> Optional[str]:
    """Before anything is measured or written: exit 1 when OUT is stale or,
    for --commit, the repository holds other changes (2 without one).
    Returns the repository's root for --commit."""
    from meshc.canary import commit
    from meshc.commands import publish

    if out is not None:
        publish.fresh_or_exit(file, compiled, out, fmt, color_)
    if not commit_:
        return None
    root = _or_exit(lambda: commit.repository(file), 2)
    _or_exit(lambda: commit.preflight(root, list(compiled.sources) + ([out] if out else [])), 1)
    return root


def move(file: str, compiled: Compiled, live: canary.LiveCanary, step: moves.Move, dry_run: bool,
         verb: tuple[str, str], out: Optional[str], root: Optional[str], fmt: str, color_: str,
         evidence: Optional[Sequence[gates.Measurement]] = None, url: Optional[str] = None) -> canary.LiveCanary:
    """Write the move (or, dry, print the diffs) and say so, rendering OUT
    and committing in the repository at `root` as asked (`prepare` checked
    both); `verb` is the action and what was done (`promote`, `promoted`).
    Returns the canary as moved."""
    from meshc.canary import commit
    from meshc.commands import publish

    text, again, after = canary.moved(compiled, live, step)
    shown = live.canary.span.file
    files = publish.files_or_exit(file, again, fmt, color_) if out is not None else None
    if dry_run:
        sys.stdout.write(unified_diff(compiled.sources[shown].text, text, *diff_names(shown)))
        if files is not None:
            sys.stdout.write(publish.output_diff(out, files))
        sys.stdout.flush()  # what it does to traffic follows the diffs, on stderr
        for line in traffic_lines(compiled, again):
            click.echo(line, err=True)
    else:
        try:
            write_atomically(file, text, compiled.sources[shown].text)
        except RewriteError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except OSError as err:
            click.echo(f"error: cannot write {shown}: {err.strerror or err}", err=True)
            sys.exit(2)
        if files is not None:
            publish.write_or_exit(out, files, shown)
    done = f"would {verb[0]}" if dry_run else verb[1]
    moved = [w for w in live.waves if w.number in step]
    for w in moved:
        click.echo(f"{done} {live.title(w)}: {_step(live, w, step[w.number], '→')}", err=True)
    changes = moves.changes(live, after)
    click.echo("clusters that change:", err=True)
    for clusters, before, now in changes:
        click.echo(f"  {', '.join(clusters)}: {before} → {now}", err=True)
    if root is not None:
        texts = [(f"{canary.describe(w)} " if live.waved else "") + _step(live, w, step[w.number], "->") for w in moved]
        message = commit.message(verb[0], live, texts, changes, evidence, url)
        if dry_run:
            click.echo("would commit:\n" + "\n".join(f"  {line}" if line else "" for line in message.splitlines()),
                       err=True)
        else:
            paths = [file] + ([out] if out else [])
            sha = _or_exit(lambda: commit.commit(root, paths, message), 2)
            click.echo(f"committed {sha[:12]}: {message.splitlines()[0]}", err=True)
    return after


def _step(live: canary.LiveCanary, wave: Wave, to: int, arrow: str) -> str:
    """`step A → B (SPLIT)`."""
    return f"step {wave.step} {arrow} {to} ({live.show_split(to)})"


def _or_exit(call, code: int):
    from meshc.canary.commit import CommitError

    try:
        return call()
    except CommitError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(code)


def traffic_lines(compiled: Compiled, again: Compiled) -> list[str]:
    """What the move does to traffic, as `meshc diff` says it (one line per
    change)."""
    from meshc.semdiff import changes
    from meshc.semdiff.report import line
    from meshc.traffic.readings import Readings

    return [line(c) for c in changes(Readings(compiled.policy), Readings(again.policy))]


@click.command("promote")
@canary_arguments
@click.option("--to", "to", type=int, metavar="N", help="The step to move to (default: the next one); with waves, "
                                                        "of the wave --wave names.")
@click.option("--skip", is_flag=True, help="With --to: allow skipping the steps between the declared one and N.")
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@click.option("--require-healthy", metavar="URL",
              help="Promote only if the canary's health gates pass in the Prometheus at URL (exit as `meshc gate` otherwise).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="With --require-healthy: how long to wait for each Prometheus query.")
@publishing
@output_format
@color
def command(file, service, route, wave, to, skip, dry_run, require_healthy, timeout, out, commit_, output_format,
            color) -> None:
    """Move the canary of SERVICE (NAME or NAMESPACE/NAME) in FILE to its
    next step, or to step N: only `at` numbers change. For a canary with
    waves, every wave that may move takes one step (the first, and each
    whose wave before has reached the step that starts it), or only the
    wave --wave names. Moving past steps (`--to` beyond the next one)
    needs --skip, and says which.

    Exits 0 when promoted, 1 when refused (the policy has errors, the canary
    is missing, ambiguous or finished, a wave is not ready, OUT is stale,
    or, with --require-healthy, a gate fails), 2 on a usage, I/O or git
    error or when the gates cannot be measured.
    """
    if require_healthy is not None:
        check_url(require_healthy, "--require-healthy")
    output_format = format_for(output_format, file)
    with editing(file, dry_run):
        compiled, live, chosen = open_canary(file, service, route, wave, output_format, color)
        if to is not None and live.waved and chosen is None:
            raise click.UsageError(f"--to moves one wave of {live.name}: add --wave N")
        try:
            step = moves.promotion(compiled, live, chosen, to)
        except canary.Refused as refusal:
            refuse(refusal, output_format, color)
        wave = chosen or live.waves[0]
        skipped = list(range(wave.step + 1, step[wave.number])) if to is not None else []
        if skipped and not skip:
            raise click.UsageError(
                f"--to {to} skips {_steps(live, skipped)} of {live.title(wave)}, never run nor gated; "
                f"add --skip to go straight from step {wave.step} to {to}, or promote one step at a time")
        root = prepare(file, compiled, out, commit_, output_format, color)
        evidence = healthy(live, moves.evidence(live, step), require_healthy, timeout) if require_healthy else None
        after = move(file, compiled, live, step, dry_run, ("promote", "promoted"), out, root, output_format, color,
                     evidence, require_healthy)
        if skipped:
            click.echo(f"{'would skip' if dry_run else 'skipped'} {_steps(live, skipped)}", err=True)
    if all(w.step == live.last for w in after.waves):
        click.echo(f"{live.name} now sends all traffic to {live.canary.candidate.value}; "
                   f"{moves.retire_hint(live)}", err=True)


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


def measure_or_exit(live: canary.LiveCanary, waves: Sequence[Wave], url: str, at, timeout: float,
                    no_gates: str, consequence: str = "") -> list[gates.Measurement]:
    """The gates of each wave, measured; exit 2 (no verdict) when the
    canary has no gates or Prometheus cannot answer."""
    if not live.canary.gates:
        click.echo(f"error: {live.namespace}/{live.name} has no `analysis` gates: {no_gates}", err=True)
        sys.exit(2)
    at = gates.now() if at is None else at
    try:
        return [gates.evaluate(live, wave, url, at, timeout) for wave in waves]
    except gates.PrometheusError as err:
        click.echo(f"error: {err}{consequence}", err=True)
        sys.exit(2)


def healthy(live: canary.LiveCanary, waves: Sequence[Wave], url: str, timeout: float) -> list[gates.Measurement]:
    """The evidence, when every gate of the waves that speak for the move
    passes; otherwise exit with the code `meshc gate` would (1 unhealthy,
    2 unknown), having written nothing."""
    measured = measure_or_exit(live, waves, url, None, timeout,
                               "there is nothing to require; promote without --require-healthy", "; not promoted")
    sys.stderr.write("\n".join(gates.table(live, m) for m in measured))
    results = [r for m in measured for r in m.results]
    code = gates.exit_code(results)
    click.echo(gates.verdict_line(results) + ("; not promoted" if code else ""), err=True)
    if code:
        sys.exit(code)
    return measured


def check_url(url: str, option: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"`{url}` is not an http(s) URL such as http://prometheus:9090", param_hint=f"'{option}'")
