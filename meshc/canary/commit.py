"""A canary's move as a git commit: the policy file and the rendered
output it changes, nothing else, with the semantic change in the message
and the gate evidence as trailers (docs/canary.md, "Promotion commits").

The commit must hold the move alone, so it is refused while the index holds
staged changes or the policy's files or the output have uncommitted ones;
git hooks run as for any commit.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from typing import Optional, Sequence

from meshc import git
from meshc.backends.promql import window
from meshc.canary.gates import Measurement
from meshc.canary.steps import LiveCanary
from meshc.language import ir


class CommitError(Exception):
    """git cannot make the commit as asked; one line saying why."""


def repository(path: str) -> str:
    """The root of the git work tree holding `path`."""
    try:
        return git.run(os.path.dirname(os.path.realpath(path)), "rev-parse", "--show-toplevel").decode().strip()
    except git.GitError as err:
        raise CommitError(f"{path} is not in a git work tree ({err}); --commit needs one") from None


def preflight(root: str, paths: Sequence[str]) -> None:
    """Refuse unless the commit would hold the move alone: nothing staged,
    and no uncommitted change to `paths` (the policy's files, the output)."""
    staged = _git(root, "diff", "--cached", "--name-only").split()
    if staged:
        raise CommitError(f"the index has staged changes ({_some(staged)}); --commit commits the move alone: "
                          "commit or unstage them first")
    listed = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *_relative(root, paths))
    dirty = [line[3:] for line in listed.splitlines() if line.strip()]
    if dirty:
        raise CommitError(f"{_some(dirty)} {'has' if len(dirty) == 1 else 'have'} uncommitted changes; "
                          "--commit commits the move alone: commit or stash them first")


def commit(root: str, paths: Sequence[str], message: str) -> str:
    """Stage `paths` (new, changed and removed files) and commit them with
    `message`; the new commit's id."""
    rel = _relative(root, paths)
    _git(root, "add", "--all", "--", *rel)
    try:
        git.run(root, "commit", "--quiet", "--file=-", data=message.encode("utf-8"))
    except git.GitError as err:
        raise CommitError(f"{err}; the move is written and staged, not committed") from None
    return _git(root, "rev-parse", "HEAD").strip()


# ------------------------------------------------------------- message
def message(verb: str, live: LiveCanary, moves: Sequence[str], changes: Sequence[tuple[tuple[str, ...], str, str]],
            evidence: Optional[Sequence[Measurement]], url: Optional[str]) -> str:
    """`verb NS/SERVICE/ROUTE: MOVES`, the clusters that change, and the
    trailers: the canary, each wave's step, and for each gate measured its
    query, window, value, threshold, evaluation time and verdict. `evidence`
    None: the move was not gated (say so, for a promotion)."""
    lines = [f"{verb} {live.namespace}/{live.name}: {'; '.join(moves)}", "", "Clusters that change:"]
    lines += [f"  {', '.join(clusters)}: {before} -> {after}" for clusters, before, after in changes]
    lines += ["", f"Canary: {live.namespace}/{live.name}"]
    lines += [f"Step: {move}" for move in moves]
    if evidence is None:
        if verb == "promote":
            lines.append("Gates: not measured (promoted without --require-healthy)")
        return "\n".join(lines) + "\n"
    lines.append(f"Prometheus: {url}")
    for measured in evidence:
        wave = measured.wave
        where = f", wave {wave.number} ({', '.join(wave.clusters)})" if wave.node is not None else ""
        for result in measured.results:
            check = result.check
            unit = "" if isinstance(check.gate, ir.SuccessRateGate) else " ms"
            lines += [
                f"Gate: {check.title}{where}",
                f"Gate-Query: {check.expr}",
                f"Gate-Window: {window(live.canary, wave.step)}",
                f"Gate-Value: {_number(result.value)}{unit}",
                f"Gate-Threshold: {check.comparison} {_number(check.threshold)}{unit}",
                f"Gate-Time: {_rfc3339(measured.time)}",
                f"Gate-Verdict: {result.verdict}",
            ]
    return "\n".join(lines) + "\n"


def _number(value: Optional[float]) -> str:
    if value is None:
        return "no data"
    return "+Inf" if math.isinf(value) else f"{value:.12g}"


def _rfc3339(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    text = moment.isoformat(timespec="milliseconds" if seconds % 1 else "seconds")
    return text.replace("+00:00", "Z")


# ---------------------------------------------------------------- git
def _git(root: str, *args: str) -> str:
    try:
        return git.run(root, *args).decode("utf-8", "replace")
    except git.GitError as err:
        raise CommitError(str(err)) from None


def _relative(root: str, paths: Sequence[str]) -> list[str]:
    return [os.path.relpath(os.path.realpath(p) if os.path.exists(p) else os.path.abspath(p), root) for p in paths]


def _some(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:3])
    return shown + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
