"""The pause clock and `status` against real git histories: a step counts
from the commit that declared it on HEAD's first-parent history (a merge
commit for a step merged from a branch), and commits that leave the split
as it was do not restart it. Commit times come from GIT_COMMITTER_DATE."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from meshc.cli import cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

POLICY = """\
namespace shop {
  service cart {
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100% at 1
        pause 10m 20m
    }
  }
}
"""
DAY = "2024-05-01T12:{:02d}:00Z"


def git(repo, *args, minute=None):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if minute is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = DAY.format(minute)
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def status(repo, minute: int) -> dict:
    result = CliRunner().invoke(cli, ["status", "--output-format", "json", "--time", DAY.format(minute), str(repo)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    return entry


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "cart.mesh").write_text(POLICY)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "start at step 1", minute=0)
    return tmp_path


def edit(repo, old, new):
    path = repo / "cart.mesh"
    path.write_text(path.read_text().replace(old, new))


def test_time_in_step_and_pause_left(repo):
    entry = status(repo, 4)
    assert entry["git"]["state"] == "committed" and entry["git"]["committed_at"] == "2024-05-01T12:00:00Z"
    assert (entry["in_step_seconds"], entry["pause"], entry["pause_left_seconds"]) == (240, "10m", 360)
    assert status(repo, 30)["pause_left_seconds"] == 0


def test_commits_that_keep_the_split_do_not_restart_the_clock(repo):
    edit(repo, "pause 10m 20m", "pause 10m 20m  # reviewed")
    git(repo, "commit", "-qam", "comment", minute=3)
    edit(repo, "namespace shop {", "# owners: shop team\nnamespace shop {")
    git(repo, "commit", "-qam", "header", minute=5)
    assert status(repo, 6)["in_step_seconds"] == 360
    edit(repo, "at 1", "at 2")
    git(repo, "commit", "-qam", "promote", minute=7)
    entry = status(repo, 8)
    assert (entry["step"], entry["in_step_seconds"], entry["pause"], entry["pause_left_seconds"]) == (2, 60, "20m", 1140)
    edit(repo, "steps 10% 50% 100%", "steps 10% 40% 100%")  # same `at`, another split: a new step
    git(repo, "commit", "-qam", "retune", minute=9)
    assert status(repo, 10)["in_step_seconds"] == 60


def test_a_step_merged_from_a_branch_counts_from_the_merge(repo):
    git(repo, "switch", "-qc", "promote")
    edit(repo, "at 1", "at 2")
    git(repo, "commit", "-qam", "promote on a branch", minute=2)
    git(repo, "switch", "-q", "main")
    (repo / "other.txt").write_text("x")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-qm", "unrelated", minute=5)
    git(repo, "merge", "-q", "--no-ff", "promote", "-m", "merge promote", minute=20)
    entry = status(repo, 25)
    assert entry["step"] == 2 and entry["in_step_seconds"] == 300
    assert entry["git"]["commit"] == git(repo, "rev-parse", "HEAD")


def test_what_git_does_not_say_yet(repo, tmp_path_factory):
    edit(repo, "at 1", "at 2")
    entry = status(repo, 5)
    assert entry["git"]["state"] == "uncommitted" and entry["in_step_seconds"] is None
    table = CliRunner().invoke(cli, ["status", str(repo)]).stdout
    assert "DECLARED" in table and "IN STEP" in table and "uncommitted" in table
    new = repo / "new"
    new.mkdir()
    (new / "x.mesh").write_text(POLICY.replace("cart", "basket"))
    assert status(new, 5)["git"]["state"] == "untracked"
    outside = tmp_path_factory.mktemp("plain")
    (outside / "x.mesh").write_text(POLICY)
    assert status(outside, 5)["git"]["state"] == "not in git"


def test_table_shows_time_in_step_and_left(repo):
    result = CliRunner().invoke(cli, ["status", "--time", DAY.format(4), str(repo)])
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAMESPACE", "SERVICE", "ROUTE", "CANARY", "WAVE", "CLUSTERS", "STEP", "DECLARED",
                              "IN", "STEP", "PAUSE", "LEFT", "NEXT", "GATES"]
    assert row.split() == ["shop", "cart", "primary", "v1", "→", "v2", "-", "all", "1", "of", "3", "v1", "90%", "/",
                           "v2", "10%", "4m", "10m", "6m", "v1", "50%", "/", "v2", "50%", "-"]


def test_each_wave_has_its_own_clock(repo):
    """Waves are written into a canary that was at step 1 everywhere: a
    wave still at that split keeps the clock of the commit that set it;
    moving one wave restarts that wave's clock only."""
    fleet = "fleet prod {\n  cluster a\n  cluster b\n}\n\n"
    (repo / "cart.mesh").write_text(fleet + POLICY.replace("at 1\n        pause 10m 20m",
                                                           "\n        pause 10m 20m\n        wave a at 1\n        wave b"))
    git(repo, "commit", "-qam", "waves: b back to the baseline", minute=3)
    first, second = entries(repo, 4)
    assert (first["wave"], first["clusters"], first["in_step_seconds"]) == (1, ["a"], 240)  # since minute 0
    assert (second["wave"], second["clusters"], second["in_step_seconds"]) == (2, ["b"], 60)
    edit(repo, "wave a at 1", "wave a at 3")
    git(repo, "commit", "-qam", "a to 100 %", minute=6)
    edit(repo, "wave b\n", "wave b at 1\n")
    git(repo, "commit", "-qam", "b starts", minute=8)
    first, second = entries(repo, 10)
    assert (first["step"], first["in_step_seconds"], second["step"], second["in_step_seconds"]) == (3, 240, 1, 120)


def entries(repo, minute: int) -> list[dict]:
    result = CliRunner().invoke(cli, ["status", "--output-format", "json", "--time", DAY.format(minute), str(repo)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
