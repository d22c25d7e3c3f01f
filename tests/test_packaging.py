"""meshc as users get it: a wheel, installed, run from another directory.

The grammar and the schemas are package data; a source checkout would hide
a missing `package-data` entry, so this builds the wheel and runs it with
site-packages (and so the editable install) out of the way.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("wheel")
    # pip builds in an isolated environment, as it does for users.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(build), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = build.glob("meshc-*.whl")
    target = build / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    return target


def run_installed(site_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m meshc ARGS` seeing only the wheel and meshc's dependencies."""
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    code = (
        "import sys; sys.path[:0] = sys.argv[1].split(':'); sys.argv = ['meshc'] + sys.argv[2:];"
        "import meshc; assert meshc.__file__.startswith(sys.path[0]), meshc.__file__;"
        "from meshc.cli import main; main()"
    )
    paths = ":".join([str(site_dir), *deps])
    return subprocess.run([sys.executable, "-S", "-c", code, paths, *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_wheel_contains_the_grammar_schemas_and_commands(wheel_site):
    assert (wheel_site / "meshc/grammar/mesh.lark").is_file()
    assert (wheel_site / "meshc/grammar/mesh.tables.json").is_file()
    assert (wheel_site / "meshc/grammar/mesh.lalr.json").is_file()
    assert (wheel_site / "meshc/schemas_data/virtualservice.schema.json").is_file()
    assert (wheel_site / "meshc/commands/check.py").is_file()
    assert (wheel_site / "meshc/lsp/keyword_help.json").is_file()
    entry_points = next(wheel_site.glob("meshc-*.dist-info")) / "entry_points.txt"
    assert "meshc = meshc.cli:main" in entry_points.read_text()
    # every package of the source tree (pyproject.toml lists them one by one)
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "meshc").rglob("__init__.py")}
    assert sorted(p for p in packages if not (wheel_site / p / "__init__.py").is_file()) == []


def test_installed_wheel_checks_and_renders_from_anywhere(wheel_site, tmp_path):
    policy = tmp_path / "policy"
    shutil.copytree(ROOT / "examples", policy)
    checked = run_installed(wheel_site, tmp_path, "check", "policy")
    assert checked.returncode == 0, checked.stderr
    rendered = run_installed(wheel_site, tmp_path, "render", "policy", "-o", "out")
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "out/hangzhou/kustomization.yaml").is_file()
    tested = run_installed(wheel_site, tmp_path, "test", "policy")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    validated = subprocess.run(
        [sys.executable, "-S", "-c",
         "import sys; sys.path[:0] = sys.argv[1].split(':');"
         "from meshc.output import schemas; print(sorted(schemas.KINDS)[0]);"
         # the parser comes from the shipped tables, not from building them
         "from meshc.language import parse; assert parse.parser().source_path == '<deserialized>';"
         "assert parse._driver() is not None",
         ":".join([str(wheel_site), *site.getsitepackages()])],
        capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stderr


def test_pre_commit_hooks_run_real_commands():
    from click.testing import CliRunner
    from ruamel.yaml import YAML

    from meshc.cli import cli

    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"meshc-check", "meshc-fmt"}
    for hook in hooks:
        program, *args = hook["entry"].split()
        assert program == "meshc" and hook["files"] == r"\.mesh$"
        assert CliRunner().invoke(cli, [*args, "--help"]).exit_code == 0


def test_wheel_carries_the_licence_and_an_spdx_expression(wheel_site):
    info = next(wheel_site.glob("meshc-*.dist-info"))
    licence = (info / "licenses" / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence  # the full text, not a stub
    metadata = (info / "METADATA").read_text()
    assert "License-Expression: Apache-2.0" in metadata


def test_sdist_holds_tests_docs_and_examples(tmp_path):
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "No module named build" in done.stderr:
        pytest.skip("needs the build package (the test extra installs it)")
    assert done.returncode == 0, done.stderr
    (sdist,) = tmp_path.glob("meshc-*.tar.gz")
    import tarfile

    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for expected in ("LICENSE", "README.md", "pyproject.toml", "tests/conftest.py", "tests/test_cli.py",
                     "tests/sarif/sarif-schema-2.1.0.json", "docs/gitops.md", "examples/s01-canary.mesh",
                     "golden/examples/check.txt", "schemas/meshc-diagnostics.schema.json", "grammar/mesh.lark",
                     ".pre-commit-hooks.yaml"):
        assert expected in names, expected
    assert not any("__pycache__" in name for name in names)
