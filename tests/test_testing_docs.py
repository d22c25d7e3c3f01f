"""docs/testing.md says what the commands do: its `test` blocks are valid
tests that pass on the examples, and the output it shows of `meshc
route`, `meshc test` and `meshc promote --dry-run` on the examples is what
they print (lines in order; `...` stands for lines left out)."""

from __future__ import annotations

import re
import shlex
import shutil

import pytest
from click.testing import CliRunner
from helpers import ROOT

from meshc.cli import cli

DOC = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
def _blocks(text: str) -> list[str]:
    """The bodies of the code blocks without a language."""
    out, body, fence = [], None, None
    for line in text.split("\n"):
        if body is None and line.startswith("```"):
            body, fence = [], line
        elif body is not None and line == "```":
            if fence == "```":
                out.append("\n".join(body) + "\n")
            body = None
        elif body is not None:
            body.append(line)
    return out


BLOCKS = _blocks(DOC)
SESSIONS = [b for b in BLOCKS if re.match(r"\$ meshc (route|test|promote) \S*examples", b)]
# `$ meshc ...` then what it prints


def test_the_documented_tests_pass_on_the_examples(tmp_path, monkeypatch):
    tests = [b for b in BLOCKS if b.startswith("test ")]
    assert len(tests) >= 1
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    # renamed: the examples' own tests have some of these names
    text = re.sub(r"^test (\S+)", r"test doc-\1", "\n".join(tests), flags=re.M)
    (tmp_path / "examples" / "docs.test.mesh").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["test", "examples/docs.test.mesh"])
    assert result.exit_code == 0, result.output
    assert " failed" not in result.stdout


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.split("\n")[0][2:60])
def test_the_documented_output_is_what_the_commands_print(session, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    command, *shown = session.rstrip("\n").split("\n")
    result = CliRunner().invoke(cli, shlex.split(command)[2:])
    printed = (result.stdout + result.stderr).split("\n")
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        # times vary from run to run
        wanted = re.sub(r"in \d+\.\d+s", "in <time>", line)
        while at < len(printed) and re.sub(r"in \d+\.\d+s", "in <time>", printed[at]) != wanted:
            at += 1
        assert at < len(printed), f"{line!r} is not printed (in that order) by `{command}`:\n{result.output}"
        at += 1


def test_there_are_sessions_to_check():
    assert {s.split()[2] for s in SESSIONS} == {"route", "test", "promote"}, [s[:40] for s in SESSIONS]
