"""Lists of names end at the end of their line, so a misspelled keyword on
the next line is an error with a suggestion, never a name."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meshc.cli import cli
from meshc.language.parse import parse
from meshc.language.source import SourceFile

TYPO = """namespace shop {
  service cart {
    port 80 http
    subsets by version v1 v2
    lbb least-request
    route all { to v1 }
  }
}
"""


def _errors(text: str) -> list:
    return parse(SourceFile("x.mesh", text))[1]


def test_misspelled_keyword_after_subsets_is_an_error_with_a_suggestion():
    (err,) = _errors(TYPO)
    assert (err.code, err.span.line, err.span.column) == ("MESH001", 5, 5)
    assert "did you mean `lb`?" in err.help
    assert err.labels[0].span.line == 4


def test_lists_on_one_line_still_parse():
    tree, errors = parse(SourceFile("x.mesh", TYPO.replace("    lbb least-request\n", "    lb least-request\n")))
    assert errors == [] and tree is not None


@pytest.mark.parametrize("text", [
    "namespace a {\n service s {\n  in c1 c2\n  c3\n }\n}\n",
    "namespace a {\n gateway g {\n  hosts a.example.com\n  b.example.com\n  http\n }\n}\n",
    "namespace a {\n service s {\n  cors headers a\n  b\n }\n}\n",
    "namespace a {\n service s {\n  cors expose-headers a\n  b\n }\n}\n",
    "namespace a {\n\n external a.example.com\n b.example.com port 443 https\n}\n",
    "namespace a {\n\n allow w from namespace x\n y\n}\n",
], ids=["in", "hosts", "cors-headers", "cors-expose", "external", "from-namespace"])
def test_every_list_of_names_ends_at_its_line(text):
    assert [(e.code, e.span.line) for e in _errors(text)] == [("MESH001", 4)]


def test_fmt_refuses_instead_of_joining_the_typo_to_the_list(tmp_path):
    path = tmp_path / "cart.mesh"
    path.write_text(TYPO)
    result = CliRunner().invoke(cli, ["fmt", str(path)])
    assert result.exit_code == 1
    assert path.read_text() == TYPO


def test_a_port_statement_after_an_exposure_is_a_port():
    text = ("namespace a {\n service s {\n  port 1 http\n  expose via b host a.example.com\n  port 2 http\n"
            "  expose via b host b.example.com port 1\n  port 3 http\n }\n}\n")
    tree, errors = parse(SourceFile("x.mesh", text))
    assert errors == []
    body = tree.items[0].body[0].body
    assert [type(x).__name__ for x in body] == ["Port", "Expose", "Port", "Expose", "Port"]
    assert (body[1].port, body[3].port.text) == (None, "1")
