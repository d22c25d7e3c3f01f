"""docs/import.md says what `meshc import` does: the sessions it shows
print what it shows (lines in order; `...` stands for lines left out), the
.mesh it shows is what they write, and its table of codes is the registry's
(every `meshc import` code, with its name and severity)."""

from __future__ import annotations

import re
import shlex
import shutil

import pytest
from click.testing import CliRunner
from import_support import ROOT, written

from meshc.cli import cli
from meshc.diagnostics.codes import CODES
from meshc.language.fmt import format_text

DOC = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)]


BLOCKS = _blocks(DOC)
SESSIONS = [(i, body) for i, (lang, body) in enumerate(BLOCKS) if not lang and body.startswith("$ meshc import ")]


def _run(session: str, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "tests" / "fixtures" / "import", tmp_path / "tests" / "fixtures" / "import")
    monkeypatch.chdir(tmp_path)
    command = session.split("\n", 1)[0]
    return CliRunner().invoke(cli, shlex.split(command)[2:])


@pytest.mark.parametrize("index, session", SESSIONS, ids=[str(i) for i, _ in SESSIONS])
def test_the_sessions_print_what_they_show_and_write_the_mesh_shown(index, session, tmp_path, monkeypatch):
    result = _run(session, tmp_path, monkeypatch)
    printed = (result.stdout + result.stderr).split("\n")
    at = 0
    for line in session.rstrip("\n").split("\n")[1:]:
        if line.strip() == "...":
            continue
        while at < len(printed) and printed[at] != line:
            at += 1
        assert at < len(printed), f"{line!r} is not printed (in that order):\n{result.output}"
        at += 1
    after = BLOCKS[index + 1] if index + 1 < len(BLOCKS) else None
    if after is not None and after[0] == "mesh":
        files = "".join(text.split("\n", 1)[1] for text in written(tmp_path / "imported").values())
        assert after[1] in files


def test_there_are_sessions_with_and_without_losses():
    assert len(SESSIONS) == 2 and BLOCKS[SESSIONS[0][0] + 1][0] == "mesh"


def test_the_mesh_shown_is_in_fmts_layout():
    shown = [body for lang, body in BLOCKS if lang == "mesh"]
    assert shown and all(format_text(body, "doc.mesh") == body for body in shown)


def test_the_table_of_codes_is_the_registry():
    rows = re.findall(r"^\| (MESH\d{3}) \| `([a-z0-9-]+)` \| (\w+) \|", DOC, re.M)
    registered = [(c, CODES[c].name, CODES[c].severity.value) for c in sorted(CODES) if "MESH820" <= c < "MESH860"]
    assert rows == registered
