"""Every registered diagnostic code, shown on a fixture.

tests/diagnostics/MESHnnn_name.mesh triggers the code; `# expect: CODE...`
comments mark the line each diagnostic must point at, and
tests/diagnostics/MESHnnn_name.txt holds the exact full-format output
(rewritten by `pytest --update-golden`). Most canary lifecycle codes (7xx)
come from a command, not from `check`: such a fixture's first line says
which (`# command: meshc promote FILE cart`), and the fixture is run alone
in its directory.

`meshc import` codes (82x-85x) have YAML fixtures, MESHnnn_name.yaml, whose
first line is the command (`# command: meshc import FILE -o OUT`; OTHER
stands for MESHnnn_name.other.yml beside it, a second cluster's input).
`# expect:` marks lines of the YAML; `# expect-elsewhere: CODE` a
diagnostic in another file (the imported policy, or OTHER); `# exit: N` the
exit code when it is not 1.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
from helpers import ROOT, diagnose, expectations

from meshc.diagnostics import Severity, report
from meshc.diagnostics.codes import CODES

HERE = Path(__file__).parent / "diagnostics"
FIXTURES = sorted(HERE.glob("MESH*.mesh"))
IMPORT_FIXTURES = sorted(HERE.glob("MESH*.yaml"))
_COMMAND = re.compile(r"\A# command: meshc (.*?)\s*(?:#|$)", re.M)
_EXPECT_ELSEWHERE = re.compile(r"# expect-elsewhere: ((?:MESH\d{3}\s*)+)")
_EXIT = re.compile(r"^# exit: (\d+)", re.M)
JSON_SCHEMA = json.loads((ROOT / "schemas" / "meshc-diagnostics.schema.json").read_text())


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
    covered = {p.name.split("_", 1)[0] for p in FIXTURES + IMPORT_FIXTURES}
    assert sorted(set(CODES) - covered) == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_fixture_is_named_after_its_code(code):
    names = [p.stem for p in FIXTURES + IMPORT_FIXTURES if p.name.startswith(code + "_")]
    assert names == [f"{code}_{CODES[code].name}"]


@pytest.mark.parametrize("path", IMPORT_FIXTURES, ids=lambda p: p.stem)
def test_import_fixture_gives_its_diagnostics_where_marked(path, golden, tmp_path, monkeypatch):
    """Run the fixture's `meshc import` in a copy (paths read as in the
    repository), in the json and full formats."""
    from click.testing import CliRunner

    from meshc.cli import cli

    text = path.read_bytes().decode("utf-8", "replace")
    args = fixture_command(path)
    assert args is not None and args[0] == "import", "an import fixture starts with `# command: meshc import ...`"
    here = tmp_path / "tests" / "diagnostics"
    here.mkdir(parents=True)
    (here / path.name).write_bytes(path.read_bytes())
    other = path.with_name(path.stem + ".other.yml")
    if other.exists():
        (here / other.name).write_bytes(other.read_bytes())
    monkeypatch.chdir(tmp_path)
    table = {"FILE": f"tests/diagnostics/{path.name}", "OTHER": f"tests/diagnostics/{other.name}", "OUT": "out"}
    argv = [_substitute(a, table) for a in args]
    full = CliRunner().invoke(cli, argv)
    as_json = CliRunner().invoke(cli, argv + ["--output-format", "json"])
    exit_code = int(_EXIT.search(text).group(1)) if _EXIT.search(text) else 1
    assert full.exit_code == as_json.exit_code == exit_code, full.output
    data = json.loads(as_json.stderr)
    jsonschema.Draft202012Validator(JSON_SCHEMA).validate(data)
    found = [(d["location"]["file"], d["location"]["line"], d["code"]) for d in data]
    mine = sorted((line, code) for file, line, code in found if file == table["FILE"])
    assert mine == sorted(expectations(path))
    elsewhere = sorted(code for file, _, code in found if file != table["FILE"])
    expected = sorted(c for line in text.splitlines() for m in _EXPECT_ELSEWHERE.finditer(line) for c in m.group(1).split())
    assert elsewhere == expected
    golden.check(path.with_suffix(".txt"), full.stderr)


def _substitute(arg: str, table: dict[str, str]) -> str:
    """FILE, OTHER and OUT in an argument (`--cluster a=FILE` too)."""
    name, sep, value = arg.partition("=")
    if sep and value in table:
        return f"{name}={table[value]}"
    return table.get(arg, arg)


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
