"""The evaluator stays out of the compiler's way: `meshc render` never
imports it (only the dead-entry analysis it runs on what it emits)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_render_does_not_import_the_evaluator(tmp_path):
    script = (
        "import sys\n"
        "from meshc.cli import main\n"
        "try:\n"
        f"    main(['render', {str(ROOT / 'examples')!r}, '-o', {str(tmp_path / 'out')!r}])\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('meshc.semantics'))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().split(",")
    assert "meshc.semantics.evaluate.dead" in loaded
    assert "meshc.semantics.evaluate.evaluator" not in loaded
    assert (tmp_path / "out").is_dir()
