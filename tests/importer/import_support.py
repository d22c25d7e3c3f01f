"""Running `meshc import` in tests, and reading back what it wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from meshc.backends.istio import Rendering, render
from meshc.cli import cli
from meshc.language.fmt import format_text
from meshc.output.emit import dump
from meshc.pipeline import compile_paths, discover

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"


@dataclass
class Imported:
    exit_code: int
    diagnostics: list[dict]
    stderr: str
    out: Path

    def where(self, file: str = "") -> list[tuple[str, int, str]]:
        """(file name, line, code) of every diagnostic in files ending with `file`."""
        return sorted((Path(d["location"]["file"]).name, d["location"]["line"], d["code"])
                      for d in self.diagnostics if d["location"]["file"].endswith(file))

    def located(self) -> list[tuple[str, int, int, str]]:
        """(the file's directory and name, line, column, code) of every diagnostic."""
        return sorted(("/".join(Path(d["location"]["file"]).parts[-2:]), d["location"]["line"],
                       d["location"]["column"], d["code"]) for d in self.diagnostics)

    def codes(self) -> list[str]:
        return sorted(d["code"] for d in self.diagnostics)


def run_import(args: list[str], out: Path) -> Imported:
    """`meshc import ARGS -o OUT` with diagnostics as JSON."""
    done = CliRunner().invoke(cli, ["import", *args, "-o", str(out), "--output-format", "json"])
    text = done.stderr.strip()
    found = json.loads(text) if text.startswith("[") else []
    return Imported(done.exit_code, found, done.stderr, out)


def written(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.mesh"))}


def assert_canonical(out: Path) -> None:
    """Every written file parses and is in fmt's layout (what the proof
    compiles is the tree each was printed from: this is that they agree)."""
    for name, text in written(out).items():
        assert format_text(text, name) == text, name


def rendered(out: Path) -> Rendering:
    """The written policy, compiled and rendered; it must compile cleanly."""
    (paths,) = discover([str(out)])
    compiled = compile_paths(paths)
    assert compiled.ok, [f"{d.span}: {d.code} {d.message}" for d in compiled.diagnostics if d.is_error]
    rendering = render(compiled.policy)
    assert not [d for d in rendering.diagnostics if d.is_error]
    return rendering


def documents(rendering: Rendering) -> dict[str, str]:
    """`CLUSTER/PATH` -> the document's YAML, without headers."""
    return {f"{cluster}/{doc.path}": dump(doc.body) for cluster, docs in rendering.clusters.items() for doc in docs}
