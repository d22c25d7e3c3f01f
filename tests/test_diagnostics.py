"""Every registered diagnostic code, shown on a fixture.

tests/diagnostics/MESHnnn_name.mesh triggers the code; `# expect: CODE...`
comments mark the line each diagnostic must point at, and
tests/diagnostics/MESHnnn_name.txt holds the exact full-format output
(rewritten by `pytest --update-golden`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import diagnose, expectations

from meshc import report
from meshc.codes import CODES
from meshc.diagnostics import Severity

HERE = Path(__file__).parent / "diagnostics"
FIXTURES = sorted(HERE.glob("MESH*.mesh"))


def test_every_code_has_a_fixture():
    covered = {p.name.split("_", 1)[0] for p in FIXTURES}
    assert sorted(set(CODES) - covered) == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_fixture_is_named_after_its_code(code):
    names = [p.stem for p in FIXTURES if p.name.startswith(code + "_")]
    assert names == [f"{code}_{CODES[code].name}"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_gives_its_diagnostics_where_marked(path, in_repo, golden):
    compiled, found = diagnose(path)
    expected = expectations(path)
    assert expected, "the fixture marks no expected diagnostic"
    got = sorted((d.span.line, d.code) for d in found)
    assert sorted(expected) == got
    for d in found:
        assert d.span.file == f"tests/diagnostics/{path.name}"
        assert d.span.line >= 1 and d.span.column >= 1
    golden.check(path.with_suffix(".txt"), report.render(found, compiled.sources, "full"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_cli_exit_code_follows_severity(path, in_repo, tmp_path):
    from click.testing import CliRunner

    from meshc.cli import cli

    _, found = diagnose(path)
    if any(d.code == "MESH601" for d in found):
        pytest.skip("reported by render, not check")
    # Alone in a directory: a file is checked with the rest of its directory.
    alone = tmp_path / path.name
    alone.write_bytes(path.read_bytes())
    result = CliRunner().invoke(cli, ["check", str(alone)])
    has_error = any(d.severity is Severity.ERROR for d in found)
    strict = CliRunner().invoke(cli, ["check", "--strict", str(alone)])
    assert result.exit_code == (1 if has_error else 0), result.output
    assert strict.exit_code == 1
