"""Every registered diagnostic code, shown on a fixture.

tests/diagnostics/MESHnnn_name.mesh triggers the code; `# expect: CODE...`
comments mark the line each diagnostic must point at, and
tests/diagnostics/MESHnnn_name.txt holds the exact full-format output
(rewritten by `pytest --update-golden`). Most canary lifecycle codes (7xx)
come from a command, not from `check`: such a fixture's first line says
which (`# command: meshc promote FILE cart`), and the fixture is run alone
in its directory.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from helpers import diagnose, expectations

from meshc.diagnostics import Severity, report
from meshc.diagnostics.codes import CODES

HERE = Path(__file__).parent / "diagnostics"
FIXTURES = sorted(HERE.glob("MESH*.mesh"))
_COMMAND = re.compile(r"\A# command: meshc (.*?)\s*(?:#|$)", re.M)


def fixture_command(path: Path) -> list[str] | None:
    """The arguments of a lifecycle fixture's `# command:` line, FILE kept as a placeholder."""
    m = _COMMAND.match(path.read_bytes().decode("utf-8", "replace"))
    return shlex.split(m.group(1)) if m else None


def run_command(path: Path, args: list[str], tmp_path: Path, monkeypatch) -> tuple[list[tuple], str]:
    """(file, line, column, code) of each diagnostic and the full-format
    text, from running the fixture's command on a copy alone in
    tmp/tests/diagnostics (so paths read as in the repository)."""
    from click.testing import CliRunner

    from meshc.cli import cli

    copy = tmp_path / "tests" / "diagnostics" / path.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("FILE", f"tests/diagnostics/{path.name}") for a in args]
    full = CliRunner().invoke(cli, argv)
    as_json = CliRunner().invoke(cli, argv + ["--output-format", "json"])
    assert full.exit_code == as_json.exit_code == 1, full.output
    found = [(d["location"]["file"], d["location"]["line"], d["location"]["column"], d["code"])
             for d in json.loads(as_json.stderr)]
    return found, full.stderr


def test_every_code_has_a_fixture():
    covered = {p.name.split("_", 1)[0] for p in FIXTURES}
    assert sorted(set(CODES) - covered) == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_fixture_is_named_after_its_code(code):
    names = [p.stem for p in FIXTURES if p.name.startswith(code + "_")]
    assert names == [f"{code}_{CODES[code].name}"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_gives_its_diagnostics_where_marked(path, in_repo, golden, tmp_path, monkeypatch):
    args = fixture_command(path)
    if args is not None:
        found, text = run_command(path, args, tmp_path, monkeypatch)
    else:
        compiled, diagnostics = diagnose(path)
        found = [(d.span.file, d.span.line, d.span.column, d.code) for d in diagnostics]
        text = report.render(diagnostics, compiled.sources, "full")
    expected = expectations(path)
    assert expected, "the fixture marks no expected diagnostic"
    assert sorted(expected) == sorted((line, code) for _, line, _, code in found)
    for file, line, column, _ in found:
        assert file == f"tests/diagnostics/{path.name}"
        assert line >= 1 and column >= 1
    golden.check(path.with_suffix(".txt"), text)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_cli_exit_code_follows_severity(path, in_repo, tmp_path):
    from click.testing import CliRunner

    from meshc.cli import cli

    _, found = diagnose(path)
    # Alone in a directory: a file is checked with the rest of its directory.
    alone = tmp_path / path.name
    alone.write_bytes(path.read_bytes())
    args = fixture_command(path)
    if args is not None:  # a clean policy the command refuses to act on
        command = CliRunner().invoke(cli, [a.replace("FILE", str(alone)) for a in args])
        assert command.exit_code == 1, command.output
        assert CliRunner().invoke(cli, ["check", "--strict", str(alone)]).exit_code == 0
        return
    result = CliRunner().invoke(cli, ["check", str(alone)])
    has_error = any(d.severity is Severity.ERROR for d in found)
    strict = CliRunner().invoke(cli, ["check", "--strict", str(alone)])
    assert result.exit_code == (1 if has_error else 0), result.output
    assert strict.exit_code == 1
