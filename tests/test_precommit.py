"""The pre-commit hooks, run by the real `pre-commit` in temporary git repositories.

The hooks repository is a copy of this checkout (tracked and new files, as
they are now) committed and tagged with the `rev` the README documents, so
the README's snippet is run as written, its URL aside. pre-commit builds its
own environment for the hooks (`language: python`) once per test session.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT
from ruamel.yaml import YAML

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GATEWAY = "namespace istio-system {\n  gateway edge {\n    hosts api.example.com\n    https credential cert\n  }\n}\n"
CART = ("namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1\n"
        "    expose via edge host api.example.com\n    route r { to v1 }\n  }\n}\n")
FLEET = "fleet prod {\n  cluster east region r1\n  cluster west region r2\n}\n"
ORDERS = ("namespace shop {\n  service orders {\n    subsets by version v1\n    route r { to v1 }\n"
          "    on west { timeout 5s }\n  }\n}\n")


IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```yaml\n(# \.pre-commit-config\.yaml.*?)```", text, re.S)
    return block


@pytest.fixture(scope="session")
def hooks_repo(tmp_path_factory) -> Path:
    """This checkout as a hooks repository, tagged with the README's rev."""
    repo = tmp_path_factory.mktemp("hooks") / "meshc"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / rel)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "meshc")
    rev = YAML(typ="safe").load(readme_snippet())["repos"][0]["rev"]
    git(repo, "tag", rev)
    return repo


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory) -> Path:
    if not (Path(sys.executable).parent / "pre-commit").exists() and shutil.which("pre-commit") is None:
        pytest.skip("needs pre-commit (the test extra installs it)")
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def policy_repo(tmp_path, hooks_repo, pre_commit_home):
    """A git repository with a two-file policy committed and the README's
    configuration installed as its pre-commit hook."""
    repo = tmp_path / "policies"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    config = readme_snippet().replace("https://git.example.com/platform/meshc", str(hooks_repo))
    (repo / ".pre-commit-config.yaml").write_text(config)
    (repo / "p").mkdir()
    (repo / "p" / "gw.mesh").write_text(GATEWAY)
    (repo / "p" / "cart.mesh").write_text(CART)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "policy")
    policies = Repo(repo, pre_commit_home)
    assert policies.run("pre-commit", "install").returncode == 0
    return policies


@dataclass
class Repo:
    path: Path
    home: Path

    def __truediv__(self, rel: str) -> Path:
        return self.path / rel

    def run(self, *command: str) -> subprocess.CompletedProcess:
        """A command in the repository, with pre-commit (from this environment) on PATH."""
        env = {**os.environ, "PRE_COMMIT_HOME": str(self.home), **IDENTITY,
               "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
        return subprocess.run(list(command), cwd=self.path, capture_output=True, text=True, timeout=600, env=env)

    def git(self, *args: str) -> None:
        git(self.path, *args)

    def commit(self) -> subprocess.CompletedProcess:
        """`git commit` through the installed hooks; `.committed` says whether it went through."""
        before = head(self.path)
        done = self.run("git", "commit", "-m", "change")
        done.committed = head(self.path) != before  # type: ignore[attr-defined]
        done.output = done.stdout + done.stderr  # type: ignore[attr-defined]  # git prints hook output on stderr
        return done


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


# ----------------------------------------------------------------- tests
def test_a_good_commit_passes(policy_repo):
    (policy_repo / "p" / "cart.mesh").write_text(CART.replace("    route r", "    # the only route\n    route r"))
    policy_repo.git("add", "-A")
    done = policy_repo.commit()
    assert done.committed, done.output


def test_deleting_the_file_that_defines_a_referenced_gateway_fails(policy_repo):
    policy_repo.git("rm", "-q", "p/gw.mesh")
    done = policy_repo.commit()
    assert not done.committed
    assert "error[MESH203]: gateway `edge` is not declared" in done.output
    assert "p/cart.mesh:5:16" in done.output


def test_renaming_it_out_of_the_policy_fails(policy_repo):
    (policy_repo / "elsewhere").mkdir()
    policy_repo.git("mv", "p/gw.mesh", "elsewhere/gw.mesh")
    done = policy_repo.commit()
    assert not done.committed and "MESH203" in done.output


def test_deleting_the_fleet_file_that_overrides_name_fails(policy_repo):
    (policy_repo / "p" / "fleet.mesh").write_text(FLEET)
    (policy_repo / "p" / "orders.mesh").write_text(ORDERS)
    policy_repo.git("add", "-A")
    assert policy_repo.commit().committed
    policy_repo.git("rm", "-q", "p/fleet.mesh")
    done = policy_repo.commit()
    assert not done.committed and "MESH202" in done.output and "`west`" in done.output


def test_an_untracked_copy_does_not_satisfy_a_reference(policy_repo):
    policy_repo.git("rm", "-q", "--cached", "p/gw.mesh")  # deleted from the commit, still on disk
    assert (policy_repo / "p" / "gw.mesh").exists()
    done = policy_repo.commit()
    assert not done.committed and "MESH203" in done.output


def test_an_unstaged_edit_does_not_satisfy_a_reference(policy_repo):
    (policy_repo / "p" / "cart.mesh").write_text(CART.replace("via edge", "via edge2"))
    policy_repo.git("add", "p/cart.mesh")
    (policy_repo / "p" / "gw.mesh").write_text(GATEWAY.replace("gateway edge", "gateway edge2"))  # not staged
    done = policy_repo.commit()
    assert not done.committed and "gateway `edge2` is not declared" in done.output
    # meshc itself reads the index, whatever pre-commit does with the work tree
    direct = policy_repo.run(sys.executable, "-m", "meshc", "check", "--staged")
    assert direct.returncode == 1 and "edge2" in direct.stdout


def test_the_format_hook_rewrites_and_fails_the_commit(policy_repo):
    (policy_repo / "p" / "cart.mesh").write_text(CART.replace("  service cart", "service cart"))
    policy_repo.git("add", "-A")
    done = policy_repo.commit()
    assert not done.committed and "meshc fmt" in done.output and "Failed" in done.output
    assert (policy_repo / "p" / "cart.mesh").read_text() == CART


def test_all_files_checks_every_policy(policy_repo):
    assert policy_repo.run("pre-commit", "run", "--all-files").returncode == 0
    (policy_repo / "p" / "cart.mesh").write_text(CART.replace("to v1", "to v9"))
    policy_repo.git("commit", "-qam", "broken", "--no-verify")
    done = policy_repo.run("pre-commit", "run", "--all-files")
    assert done.returncode == 1 and "MESH201" in done.stdout


def test_readme_snippet_is_a_complete_config_with_a_released_rev():
    config = YAML(typ="safe").load(readme_snippet())
    (entry,) = config["repos"]
    from meshc import __version__

    assert entry["rev"] == f"v{__version__}"
    hooks = {h["id"] for h in YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in entry["hooks"]} <= hooks
    tags = subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True)
    if tags.returncode != 0 or not tags.stdout.strip():
        pytest.skip("no git tags in this checkout (a clone without tags, or an sdist)")
    assert entry["rev"] in tags.stdout.split(), f"tag {entry['rev']} does not exist: the README documents it"
