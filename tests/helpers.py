"""Helpers shared by tests: compiling fixtures, reading `# expect:` marks,
rendering to documents."""

from __future__ import annotations

import re
from pathlib import Path

from meshc.backends.istio import Rendering, render
from meshc.commands.check import checked
from meshc.config import Settings
from meshc.pipeline import Compiled, compile_paths, discover

ROOT = Path(__file__).resolve().parent.parent
_EXPECT = re.compile(r"# expect: ((?:MESH\d{3}\s*)+)")


def diagnose(path: Path) -> tuple[Compiled, list]:
    """Diagnostics of one file compiled alone, as `meshc check` reports
    them: render's included, suppressions applied."""
    compiled = compile_paths([str(path.relative_to(ROOT))])
    return compiled, checked(compiled, Settings())


def expectations(path: Path) -> list[tuple[int, str]]:
    """(line, code) for every `# expect: CODE...` mark in a fixture."""
    text = path.read_bytes().decode("utf-8", "replace")
    return [
        (number, code)
        for number, line in enumerate(text.splitlines(), start=1)
        for m in _EXPECT.finditer(line)
        for code in m.group(1).split()
    ]


def rendered(paths: list[str]) -> Rendering:
    """Render files (exactly these), or the one policy of a directory; it
    must compile cleanly."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        (paths,) = discover(paths)
    compiled = compile_paths(paths)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    rendering = render(compiled.policy)
    assert not rendering.diagnostics, [d.message for d in rendering.diagnostics]
    return rendering


def find(rendering: Rendering, cluster: str, kind: str, namespace: str, name: str) -> dict:
    for doc in rendering.clusters[cluster]:
        if (doc.kind, doc.namespace, doc.name) == (kind, namespace, name):
            return doc.body
    raise AssertionError(f"no {kind} {namespace}/{name} in cluster {cluster}")
