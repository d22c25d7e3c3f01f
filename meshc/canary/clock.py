"""Since when a canary's step has been declared, from git.

meshc keeps no runtime state: a step is declared by the commit that set it
on the branch being deployed, and its pause runs from that commit's time
(plus however long Argo CD takes to sync). That commit is found on the
first-parent history of HEAD, so a step merged from a feature branch counts
from the merge, not from when it was written on the branch; and it is the
oldest of the latest run of commits that all declare the same split, so a
commit that only reformats the clause or touches other canaries of the
file does not restart the clock. A wave of a fleet canary has its own
clock: a commit that moves another wave does not restart it.

The split compared is the canary's baseline, candidate and the weight of
its `at` step (for a wave, the weight each of its clusters is given: that
of the wave listing it, or of the canary's `at` in a version without
waves), read from each version's syntax tree (no full compile).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from meshc import git
from meshc.canary.steps import LiveCanary
from meshc.language import syntax as s
from meshc.language.source import SourceFile
from meshc.model.waves import Wave

COMMITTED, UNCOMMITTED, UNTRACKED, NO_GIT = "committed", "uncommitted", "untracked", "not in git"
_BATCH = 16  # versions read per git call: most steps are found in the first few


@dataclass(frozen=True)
class Declared:
    """Where git stands on a canary's live step."""

    state: str
    """COMMITTED, or why there is no commit: the work tree changes the
    split (UNCOMMITTED), git does not track the file (UNTRACKED), or the
    file is not in a git work tree (NO_GIT)."""
    commit: Optional[str] = None
    since: Optional[float] = None
    """The commit's committer time, unix seconds."""
    truncated: bool = False
    """A shallow clone's history ended first: the step may be older."""


def declared(path: str, live: LiveCanary, wave: Wave, text: str) -> Declared:
    """Since when the split that `text` (the file at `path` as read)
    declares for a wave of `live` has been committed on HEAD's first-parent
    history."""
    directory = os.path.dirname(os.path.realpath(path))
    root = _git(directory, "rev-parse", "--show-toplevel")
    if root is None:
        return Declared(NO_GIT)
    root = root.decode().strip()
    rel = os.path.relpath(os.path.realpath(path), root).replace(os.sep, "/")
    listed = _git(root, "log", "--first-parent", "--format=%H %ct", "--", rel)
    commits = [line.split() for line in (listed or b"").decode().splitlines()]
    if not commits:
        return Declared(UNTRACKED)
    wanted = _split(text, live, wave)
    start = None
    for i in range(0, len(commits), _BATCH):
        batch = commits[i:i + _BATCH]
        for (commit, when), version in zip(batch, _versions(root, [c for c, _ in batch], rel)):
            if version is None or _split(version, live, wave) != wanted:
                return Declared(COMMITTED, *start) if start else Declared(UNCOMMITTED)
            start = (commit, float(when))
    shallow = (_git(root, "rev-parse", "--is-shallow-repository") or b"").strip() == b"true"
    return Declared(COMMITTED, *start, truncated=shallow)


def _split(text: str, live: LiveCanary, wave: Wave) -> Optional[tuple]:
    """(baseline, candidate, weight of the `at` step, or of each cluster
    the wave lists) of the canary of namespace/service/route in a version of
    the file; None when it has none."""
    from meshc.language.parse import parse

    tree, _ = parse(SourceFile("version.mesh", text))
    if tree is None:
        return None
    for item in tree.items:
        if not (isinstance(item, s.Namespace) and item.name.text == live.namespace):
            continue
        for svc in item.body:
            if not (isinstance(svc, s.Service) and svc.name.text == live.info.service.name.value):
                continue
            for route in svc.body:
                if isinstance(route, s.Route) and route.name.text == live.route.name.value:
                    for stmt in route.body:
                        if isinstance(stmt, s.Canary):
                            return stmt.baseline.text, stmt.candidate.text, _weights(stmt, wave)
    return None


def _weights(stmt: s.Canary, wave: Wave):
    """The weight of the canary's live step, for the wave's clusters."""
    if wave.node is None:
        return _weight(stmt, stmt.at)
    listing = {c.text: w for w in stmt.waves for c in w.clusters}
    return tuple(_weight(stmt, listing[c].at) if c in listing else (_weight(stmt, stmt.at) if not stmt.waves else None)
                 for c in wave.listed)


def _weight(stmt: s.Canary, at: Optional[s.Word]) -> str:
    step = int(at.text) if at is not None else 0
    return stmt.steps[step - 1].text if 0 < step <= len(stmt.steps) else str(step)


def _versions(root: str, commits: list[str], rel: str) -> list[Optional[str]]:
    """The file's text at each commit (None where it did not exist)."""
    return [None if data is None else data.decode("utf-8", "replace").lstrip("\ufeff")
            for data in git.objects(root, [f"{c}:{rel}" for c in commits])]


def _git(cwd: str, *args: str) -> Optional[bytes]:
    try:
        return git.run(cwd, *args)
    except git.GitError:
        return None
