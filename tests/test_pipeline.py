"""A policy's files are checked together, and one broken file does not hide
what the others have."""

from __future__ import annotations

from click.testing import CliRunner

from meshc.cli import cli
from meshc.pipeline import compile_paths, discover

OWN_MISTAKE = 'namespace a {\n  service s {\n    subsets by version v1\n    route r { to v9 }\n  }\n}\n'
BROKEN = "namespace b {\n  service t {{\n}\n"
USES_A_GATEWAY = "namespace c {\n  service u {\n    expose via gw host x.example.com\n  }\n}\n"


def _codes(tmp_path, files: dict[str, bytes | str], *args: str) -> list[tuple[str, int, str]]:
    for name, text in files.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    (paths,) = discover([str(tmp_path / n) for n in args] or [str(tmp_path)])
    compiled = compile_paths(paths)
    assert compiled.policy is None  # nothing may be rendered from an incomplete policy
    return [(d.span.file.rsplit("/", 1)[-1], d.span.line, d.code) for d in compiled.diagnostics]


def test_a_sibling_syntax_error_does_not_hide_a_files_own_mistakes(tmp_path):
    found = _codes(tmp_path, {"a.mesh": OWN_MISTAKE, "b.mesh": BROKEN}, "a.mesh")
    assert found == [("a.mesh", 4, "MESH201"), ("b.mesh", 2, "MESH001")]


def test_an_unreadable_sibling_does_not_hide_them_either(tmp_path):
    found = _codes(tmp_path, {"a.mesh": OWN_MISTAKE, "b.mesh": b"namespace \xff {}\n"})
    assert found == [("a.mesh", 4, "MESH201"), ("b.mesh", 1, "MESH004")]


def test_names_the_broken_file_may_declare_are_not_reported(tmp_path):
    # `gw` may be the gateway b.mesh was meant to declare.
    found = _codes(tmp_path, {"b.mesh": BROKEN, "c.mesh": USES_A_GATEWAY})
    assert found == [("b.mesh", 2, "MESH001")]


def test_check_exits_1_and_shows_every_file(tmp_path):
    (tmp_path / "a.mesh").write_text(OWN_MISTAKE)
    (tmp_path / "b.mesh").write_text(BROKEN)
    result = CliRunner().invoke(cli, ["check", "--output-format", "concise", str(tmp_path / "a.mesh")])
    assert result.exit_code == 1
    assert "a.mesh:4:" in result.output and "b.mesh:2:" in result.output
