"""Configuration files, file selection and suppressions, end to end through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from meshc.cli import cli

WARN = 'namespace a {\n  service s {\n    subsets by version v1\n    route r { when header x = "1" to v1 }\n  }\n}\n'
CLEAN = "namespace a {\n  service s {\n    subsets by version v1\n    route r { to v1 }\n  }\n}\n"
BROKEN = "namespace a {\n  service s {\n    route r { to v9 }\n  }\n}\n"


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "w.mesh").write_text(WARN)
    return tmp_path


def codes(result) -> list[str]:
    return [d["code"] for d in json.loads(result.stdout)]


# ----------------------------------------------------------- configuration
def test_pyproject_table_is_found_from_the_paths(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.meshc]\nstrict = true\nignore = []\n')
    assert run("check", "p").exit_code == 1  # strict from the file
    assert run("check", "--no-strict", "p").exit_code == 0  # the command line wins


def test_meshc_toml_wins_over_pyproject_in_one_directory_and_the_nearest_directory_wins(project):
    (project / "pyproject.toml").write_text("[tool.meshc]\nstrict = true\n")
    (project / "meshc.toml").write_text("strict = false\n")
    assert run("check", "p").exit_code == 0
    (project / "p" / ".meshc.toml").write_text("strict = true\n")
    assert run("check", "p").exit_code == 1
    shown = run("check", "--show-settings", "p")
    assert "# configuration file: p/.meshc.toml" in shown.stdout and "strict = true" in shown.stdout


def test_pyproject_without_a_meshc_table_is_not_a_configuration(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert "none (defaults)" in run("check", "--show-settings", "p").stdout


def test_each_policy_uses_its_own_configuration(project):
    (project / "q").mkdir()
    (project / "q" / "w.mesh").write_text(WARN)
    (project / "q" / "meshc.toml").write_text('ignore = ["no-default-route"]\n')
    result = run("check", "--output-format", "json", "p", "q")
    assert [d["location"]["file"] for d in json.loads(result.stdout)] == ["p/w.mesh"]


def test_config_and_isolated_options(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "strict.toml"
    other.write_text("strict = true\n")
    (project / "meshc.toml").write_text('ignore = ["MESH309"]\n')
    assert run("check", "p").exit_code == 0
    assert run("check", "--config", str(other), "p").exit_code == 1
    isolated = run("check", "--isolated", "--output-format", "json", "p")
    assert codes(isolated) == ["MESH309"]
    assert run("check", "--config", str(other), "--isolated", "p").exit_code == 2
    assert run("check", "--config", str(project / "missing.toml"), "p").exit_code == 2


@pytest.mark.parametrize("text, words", [
    ("ignroe = []\n", ["unknown key `ignroe`", "did you mean `ignore`?"]),
    ("strict = 1\n", ["strict", "expected true or false"]),
    ('output-format = "sarff"\n', ["output-format", "expected one of"]),
    ('istio-version = "1.2"\n', ["istio-version"]),
    ('ignore = ["MESH301"]\n', ["MESH301 (weights-not-100) is an error and cannot be ignored"]),
    ('ignore = ["MESH3O9"]\n', ["`MESH3O9` is not a meshc code", "did you mean"]),
    ("strict = \n", ["not valid TOML"]),
    ('[clusters.east]\nexclude-kinds = ["PrometheusRules"]\n', ["did you mean `PrometheusRule`?"]),
])
def test_configuration_errors_exit_2_naming_the_file(project, text, words):
    (project / "meshc.toml").write_text(text)
    result = run("check", "p")
    assert result.exit_code == 2, result.output
    assert "meshc.toml" in result.stderr and all(w in result.stderr for w in words), result.stderr
    assert "Traceback" not in result.output


def test_settings_from_the_file_reach_render(project):
    (project / "meshc.toml").write_text('istio-version = "1.20"\noutput-format = "concise"\n')
    (project / "p" / "w.mesh").write_text(CLEAN)
    stream = run("render", "p", "--stdout").stdout
    assert "apiVersion: networking.istio.io/v1beta1" in stream  # v1 only from 1.22
    assert "apiVersion: networking.istio.io/v1\n" in run("render", "p", "--stdout", "--istio-version", "1.22").stdout
    (project / "p" / "w.mesh").write_text(WARN)
    assert run("render", "p", "--stdout").stderr.startswith("p/w.mesh:2:11: warning[MESH309]")


def test_show_settings_prints_what_is_in_force(project):
    (project / "pyproject.toml").write_text(
        '[tool.meshc]\nextend-exclude = ["legacy/"]\n[tool.meshc.per-file-ignores]\n"old/*.mesh" = ["MESH309"]\n')
    result = run("check", "--show-settings", "--ignore", "MESH318", "p")
    assert result.exit_code == 0
    for line in ('# configuration file: pyproject.toml', 'istio-version = "1.30"', 'extend-exclude = ["legacy/"]',
                 'ignore = ["MESH318"]', '"old/*.mesh" = ["MESH309"]', 'respect-gitignore = true'):
        assert line in result.stdout, result.stdout


# ----------------------------------------------------------- file selection
def test_exclude_and_extend_exclude_from_file_and_command_line(project):
    for d in ("p/gen", "p/keep", "node_modules/x", ".hidden"):
        (project / d).mkdir(parents=True)
        (project / d / "x.mesh").write_text(WARN)
    files = run("check", "--show-files", ".").stdout.split()
    assert files == ["p/w.mesh", "p/gen/x.mesh", "p/keep/x.mesh"]
    (project / "meshc.toml").write_text('extend-exclude = ["gen/"]\n')
    assert run("check", "--show-files", ".").stdout.split() == ["p/w.mesh", "p/keep/x.mesh"]
    assert run("check", "--show-files", "--extend-exclude", "keep", ".").stdout.split() == ["p/w.mesh"]
    # `exclude` replaces the defaults: node_modules and hidden directories are searched again
    replaced = run("check", "--show-files", "--exclude", "gen/,keep/", ".").stdout.split()
    assert replaced == [".hidden/x.mesh", "node_modules/x/x.mesh", "p/w.mesh"]


def test_gitignore_is_respected_by_default(project):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "p" / "build").mkdir()
    (project / "p" / "build" / "x.mesh").write_text(BROKEN)
    (project / "p" / "scratch.mesh").write_text(BROKEN)
    (project / "p" / "keep.mesh").write_text(CLEAN.replace("service s", "service t"))
    (project / ".gitignore").write_text("build/\n*.mesh\n!w.mesh\n")
    (project / "p" / ".gitignore").write_text("!keep.mesh\n")
    (project / ".git" / "info" / "exclude").write_text("")
    assert run("check", "--show-files", ".").stdout.split() == ["p/keep.mesh", "p/w.mesh"]
    assert run("check", ".").exit_code == 0
    everything = run("check", "--show-files", "--no-respect-gitignore", ".").stdout.split()
    assert everything == ["p/keep.mesh", "p/scratch.mesh", "p/w.mesh", "p/build/x.mesh"]
    (project / ".git" / "info" / "exclude").write_text("keep.mesh\n")
    assert run("check", "--show-files", ".").stdout.split() == ["p/keep.mesh", "p/w.mesh"]  # p/.gitignore wins


def test_a_named_file_is_checked_even_when_excluded_unless_force_exclude(project):
    (project / "meshc.toml").write_text('extend-exclude = ["w.mesh"]\n')
    assert run("check", "p/w.mesh").exit_code == 0
    assert "MESH309" in run("check", "p/w.mesh").stdout
    forced = run("check", "-v", "--force-exclude", "p/w.mesh")
    assert forced.exit_code == 0 and forced.stdout == ""
    assert "skipped p/w.mesh: excluded" in forced.stderr
    (project / "meshc.toml").write_text('extend-exclude = ["p/"]\nforce-exclude = true\n')
    assert run("check", "p/w.mesh").stdout == ""  # excluded through its directory
    assert run("fmt", "--check", "p/w.mesh").exit_code == 0


def test_siblings_of_a_named_file_are_selected_like_a_search(project):
    (project / "p" / "draft.mesh").write_text(BROKEN)
    assert run("check", "p/w.mesh").exit_code == 1
    (project / "meshc.toml").write_text('extend-exclude = ["draft.mesh"]\n')
    assert run("check", "p/w.mesh").exit_code == 0


@pytest.mark.parametrize("command, code", [("check", 0), ("fmt", 0), ("status", 0), ("render", 2)])
def test_a_directory_without_mesh_files(tmp_path, monkeypatch, command, code):
    """check, fmt and status have nothing to do (exit 0, like ruff and
    black); render refuses, since rendering nothing would empty OUT."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    args = [command, "empty"] + (["-o", "out"] if command == "render" else [])
    result = run(*args)
    assert result.exit_code == code, result.output
    assert "no .mesh files" in result.stderr.lower() or "no canaries" in result.stderr
    assert not (tmp_path / "out").exists()


def test_no_path_means_the_current_directory(project):
    assert run("check").exit_code == 0 and "MESH309" in run("check").stdout
    assert run("fmt", "--check").exit_code == 1  # WARN is not in the canonical layout
    (project / "p" / "w.mesh").write_text(CLEAN)
    assert run("fmt", "--check").exit_code == 0


# ----------------------------------------------------------- suppressions and ignores
SUPPRESSED = """\
namespace a {
  service trailing {  # meshc: ignore[MESH309]
    subsets by version v1
    route r { when header x = "1" to v1 }
  }

  # meshc: ignore[no-default-route]
  service own-line {
    subsets by version v1

    route r { when header x = "1" to v1 }
  }

  service inside {
    subsets by version v1
    route r { when header x = "1" to v1 }  # meshc: ignore[MESH309]
  }
}
"""


def test_a_suppression_silences_its_statement_only(project):
    (project / "p" / "w.mesh").write_text(SUPPRESSED)
    result = run("check", "--output-format", "json", "p")
    found = [(d["code"], d["location"]["line"]) for d in json.loads(result.stdout)]
    # `inside`'s warning points at the service name, outside the route the comment trails
    assert found == [("MESH309", 14), ("MESH005", 16)]


def test_suppressions_survive_formatting(project):
    (project / "p" / "w.mesh").write_text(SUPPRESSED.replace("  service trailing {  # meshc", "  service trailing\n  {  # meshc"))
    before = json.loads(run("check", "--output-format", "json", "p").stdout)
    assert run("fmt", "p").exit_code == 0
    after = json.loads(run("check", "--output-format", "json", "p").stdout)
    assert [d["code"] for d in before] == [d["code"] for d in after] == ["MESH309", "MESH005"]


def test_ignore_per_file_ignores_exit_zero_and_statistics(project):
    (project / "p" / "x.mesh").write_text(BROKEN.replace("service s", "service t"))
    assert run("check", "p").exit_code == 1
    assert run("check", "--exit-zero", "p").exit_code == 0
    stats = run("check", "--statistics", "p")
    assert stats.stdout == "1  MESH201  unknown-subset  (error)\n1  MESH309  no-default-route  (warning)\n"
    assert json.loads(run("check", "--statistics", "--output-format", "json", "p").stdout)[0] == {
        "code": "MESH201", "name": "unknown-subset", "severity": "error", "count": 1}
    assert "MESH309" not in run("check", "--ignore", "no-default-route", "p").stdout
    assert run("check", "--ignore", "MESH201", "p").exit_code == 2  # errors cannot be ignored
    (project / "meshc.toml").write_text('[per-file-ignores]\n"p/w*.mesh" = ["MESH309"]\n')
    assert codes(run("check", "--output-format", "json", "p")) == ["MESH201"]


def test_unused_suppressions_wait_for_a_complete_check(project):
    """With errors, render's checks do not run: a suppression they would
    use is not reported as unused."""
    (project / "p" / "w.mesh").write_text(CLEAN.replace("route r { to v1 }", "route r { to v1 }  # meshc: ignore[MESH309]"))
    assert codes(run("check", "--output-format", "json", "p")) == ["MESH005"]
    (project / "p" / "x.mesh").write_text(BROKEN.replace("service s", "service t"))
    assert codes(run("check", "--output-format", "json", "p")) == ["MESH201"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "p.mesh", ".git", ".h.mesh", "node_modules", "venv", "__pycache__", "venvs",
                                 "x.venv", "_", "Node_modules", "-", ".x"]), min_size=1, max_size=4),
       st.booleans())
def test_the_default_exclusions_read_as_pathspec_reads_them(parts, is_dir):
    """selection.py matches the default `exclude` without pathspec; it must
    say what pathspec's gitignore reading says."""
    import pathspec

    from meshc.config import DEFAULT_EXCLUDE
    from meshc.selection import _default_excluded

    rel = "/".join(parts)
    expected = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDE).match_file(rel + ("/" if is_dir else ""))
    assert _default_excluded(rel, is_dir) == expected, rel
