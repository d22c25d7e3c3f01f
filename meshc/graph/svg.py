"""The picture as SVG, drawn by Graphviz's `dot` (Debian: graphviz)."""

from __future__ import annotations

import shutil
import subprocess

from meshc.graph.dot import dot
from meshc.graph.model import ServiceGraph


class GraphvizError(Exception):
    """`dot` is not installed, or failed."""


def svg(graphs: list[ServiceGraph]) -> str:
    program = shutil.which("dot")
    if program is None:
        raise GraphvizError("--format svg needs Graphviz's `dot` on the PATH (Debian and Ubuntu: "
                            "apt-get install graphviz); --format dot gives its input")
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot(graphs), capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GraphvizError(f"running {program} failed: {err}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise GraphvizError(f"{program} failed (exit {done.returncode}): {first}")
    return done.stdout
