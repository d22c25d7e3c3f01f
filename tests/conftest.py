"""Shared test options: `pytest --update-golden` rewrites golden files from
the current code, `--update-golden=diff` only shows what would change."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from hypothesis import Phase, settings

# No "explain" phase: on a failing property it re-runs variations of the
# failing policy, which for whole generated policies took minutes and gigabytes.
settings.register_profile("meshc", phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])
settings.load_profile("meshc")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        nargs="?",
        const="write",
        default=None,
        choices=["write", "diff"],
        help="rewrite golden files (or, with =diff, show how they would change)",
    )


class Golden:
    """Compares text with a file under the repository; the one place goldens
    are written, and only when asked."""

    def __init__(self, mode: str | None):
        self.mode = mode

    def check(self, path: Path, actual: str) -> None:
        expected = path.read_text(encoding="utf-8") if path.exists() else None
        if expected == actual:
            return
        rel = path.relative_to(ROOT).as_posix()
        if self.mode == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        diff = "".join(difflib.unified_diff(
            (expected or "").splitlines(keepends=True), actual.splitlines(keepends=True),
            f"a/{rel}", f"b/{rel}"))
        hint = "" if self.mode == "diff" else "\n(run `pytest --update-golden` to accept, after review)"
        pytest.fail(f"{rel} differs from what the code produces:\n{diff}{hint}", pytrace=False)

    def check_tree(self, directory: Path, files: dict[str, str]) -> None:
        """A whole directory of goldens: same files, same bytes."""
        existing = {
            p.relative_to(directory).as_posix()
            for p in directory.rglob("*") if p.is_file()
        } if directory.exists() else set()
        stale = sorted(existing - set(files))
        if stale and self.mode == "write":
            for rel in stale:
                (directory / rel).unlink()
        elif stale:
            pytest.fail(f"golden files no longer produced: {stale}", pytrace=False)
        for rel, text in sorted(files.items()):
            self.check(directory / rel, text)


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(request.config.getoption("--update-golden"))


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with the repository root as working directory (display paths)."""
    monkeypatch.chdir(ROOT)
    return ROOT


def shared_istio_crds() -> Path | None:
    path = SHARED / "istio" / "customresourcedefinitions.gen.yaml"
    return path if path.exists() else None


os.environ.setdefault("NO_COLOR", "1")
