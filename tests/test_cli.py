"""The command line: output formats, exit codes, and what an internal error looks like."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers import ROOT

from meshc import checks
from meshc.cli import cli, main

BAD = "namespace shop {\n  service cart {\n    subsets by version v1 v2\n    route r { to v1 90%, v2 20% }\n  }\n}\n"


@pytest.fixture
def bad(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "shop.mesh").write_text(BAD)
    return "policy/shop.mesh"


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_full_format_is_ruff_like_with_a_summary_on_stderr(bad):
    result = run("check", bad)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:6] == [
        "error[MESH301]: weights of route `r` add up to 110 %, not 100 %",
        " --> policy/shop.mesh:4:15",
        "  |",
        "4 |     route r { to v1 90%, v2 20% }",
        "  |               ^^^^^^^^^^^^^^^^^",
        "  |",
    ]
    assert "help: make them add up to 100 %" in result.stdout
    assert result.stderr == "Found 1 error in 1 file.\n"
    assert "\x1b[" not in result.stdout  # no colour unless asked for


def test_concise_format(bad):
    result = run("check", "--output-format", "concise", bad)
    assert result.stdout == "policy/shop.mesh:4:15: error[MESH301] weights of route `r` add up to 110 %, not 100 %\n"


def test_json_format(bad):
    result = run("check", "--output-format", "json", bad)
    (entry,) = json.loads(result.stdout)
    assert entry["code"] == "MESH301" and entry["name"] == "weights-not-100" and entry["severity"] == "error"
    assert entry["location"] == {"file": "policy/shop.mesh", "line": 4, "column": 15, "end_line": 4, "end_column": 32}
    assert result.stderr == ""


def test_github_format(bad):
    result = run("check", "--output-format", "github", bad)
    assert result.stdout.startswith(
        "::error file=policy/shop.mesh,line=4,col=15,endLine=4,endColumn=32,title=MESH301 weights-not-100::")


def test_colour_when_asked(bad):
    assert "\x1b[" in run("check", "--color", "always", bad).stdout


def test_clean_and_strict(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.mesh").write_text(
        'namespace a {\n  service s {\n    subsets by version v1\n    route r { when header x = "1" to v1 }\n  }\n}\n')
    warned = run("check", "w.mesh")
    assert warned.exit_code == 0 and "warning[MESH309]" in warned.stdout
    assert run("check", "--strict", "w.mesh").exit_code == 1


def test_usage_errors_exit_2(tmp_path):
    assert run("check", str(tmp_path / "missing.mesh")).exit_code == 2
    assert run("explain", "MESH999").exit_code == 2
    assert run("nonsense").exit_code == 2


def test_explain_by_code_or_name():
    by_code, by_name = run("explain", "MESH301"), run("explain", "weights-not-100")
    assert by_code.exit_code == 0 and by_code.stdout == by_name.stdout
    assert "### Why is this bad?" in by_code.stdout


def test_internal_error_is_one_line_and_exit_2(bad, monkeypatch, capsys, tmp_path):
    def broken(policy):
        raise RuntimeError("boom")

    monkeypatch.setattr(checks, "CHECKS", (broken,))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with pytest.raises(SystemExit) as exit_info:
        main(["check", bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("internal error: boom; please report (details in ")
    assert "Traceback" not in err and err.count("\n") == 1
    (crash,) = (tmp_path / "state" / "meshc").iterdir()
    assert err.rstrip().endswith(f"{crash})") and "RuntimeError: boom" in crash.read_text()
    assert crash.stat().st_mode & 0o777 == 0o600 and (tmp_path / "state" / "meshc").stat().st_mode & 0o777 == 0o700
    with pytest.raises(SystemExit):
        main(["--debug", "check", bad])
    assert "Traceback" in capsys.readouterr().err


def test_crash_files_go_to_a_per_user_directory_only(bad, monkeypatch, capsys, tmp_path):
    """~/.local/state/meshc without XDG_STATE_HOME; never a directory others
    can write (nor the temp directory): then no file, and a hint at --debug."""
    monkeypatch.setattr(checks, "CHECKS", (lambda policy: 1 / 0,))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit):
        main(["check", bad])
    assert len(list((tmp_path / "home" / ".local" / "state" / "meshc").iterdir())) == 1
    shared = tmp_path / "shared"
    (shared / "meshc").mkdir(parents=True)
    (shared / "meshc").chmod(0o777)
    monkeypatch.setenv("XDG_STATE_HOME", str(shared))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["check", bad])
    assert capsys.readouterr().err == "internal error: division by zero; please report (run again with --debug for details)\n"
    assert list((shared / "meshc").iterdir()) == []


def test_python_dash_m_works_from_anywhere(tmp_path):
    done = subprocess.run([sys.executable, "-m", "meshc", "check", str(ROOT / "examples")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("All checks passed")


def test_render_reports_a_problem_of_several_clusters_once(tmp_path):
    """A service overridden in one cluster is rendered twice (for that
    cluster and for the others); its problem is still one diagnostic, as
    in check."""
    (tmp_path / "fleet.mesh").write_text("fleet f {\n  cluster a\n  cluster b\n}\n")
    (tmp_path / "shop.mesh").write_text(
        "namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1 v2\n    on a { timeout 5s }\n"
        "    route web-preview { when header x = \"1\" to v1 }\n    route web { blue-green active v1 preview v2 }\n  }\n}\n")
    checked = run("check", "--output-format", "concise", str(tmp_path))
    rendered = run("render", "--output-format", "concise", str(tmp_path), "-o", str(tmp_path / "out"))
    assert checked.exit_code == rendered.exit_code == 1
    assert checked.stdout.count("MESH205") == 1
    assert rendered.stderr.count("MESH205") == 1, rendered.stderr


def test_a_commands_exit_code_comes_back_to_main(tmp_path):
    """A command's sys.exit(N) is returned to main rather than raised past
    it, so that main ends every run with os._exit and skips the
    interpreter's teardown (which cost `meshc import` a second at 6,000
    documents)."""
    from meshc.cli import _run

    bad = tmp_path / "bad.mesh"
    bad.write_text("namespace a {\n", encoding="utf-8")
    assert _run(["check", "-q", str(bad)]) == 1
    assert _run(["check", "-q", str(tmp_path / "missing.mesh")]) == 2
