"""`meshc promote`, `rollback` and `status`: the live step is the `at` of a
canary, and the commands change that number and not one other byte."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, find, rendered
from hypothesis import given, settings
from hypothesis import strategies as st

from meshc.cli import cli

S1 = "examples/s01-canary.mesh"
EVERY_CLUSTER = "hangzhou, shanghai, beijing, shenzhen"


def meshc(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def examples(tmp_path, monkeypatch) -> Path:
    """A copy of examples/ (one policy), with the copy's parent as working directory."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "examples"


def test_promote_rewrites_only_the_at_number(examples):
    before = (examples / "s01-canary.mesh").read_text()
    result = meshc("promote", S1, "user-service")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "promoted user-service/primary: step 2 → 3 (v1 80% / v2 20%)\n"
        "clusters that change:\n"
        f"  {EVERY_CLUSTER}: v1 90% / v2 10% → v1 80% / v2 20%\n")
    assert (examples / "s01-canary.mesh").read_text() == before.replace("100% at 2", "100% at 3")


def test_dry_run_prints_a_diff_and_writes_nothing(examples):
    before = (examples / "s01-canary.mesh").read_bytes()
    result = meshc("promote", S1, "production/user-service", "--route", "primary", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == """\
--- a/examples/s01-canary.mesh
+++ b/examples/s01-canary.mesh
@@ -12,7 +12,7 @@
       to v2
     }
     route primary {
-      canary v1 -> v2 steps 5% 10% 20% 50% 100% at 2
+      canary v1 -> v2 steps 5% 10% 20% 50% 100% at 3
         pause 5m 10m 10m 15m
         analysis success-rate >= 99% p99 <= 500ms
     }
"""
    assert result.stderr.startswith(
        "production/user-service, route primary: v1 90% → 80%, v2 10% → 20% in hangzhou, shanghai, beijing, shenzhen\n"
        "would promote user-service/primary: step 2 → 3 (v1 80% / v2 20%)\n"
        "clusters that change:\n")
    assert (examples / "s01-canary.mesh").read_bytes() == before


def test_the_last_step_says_how_to_retire_the_canary_and_then_refuses(examples):
    result = meshc("promote", S1, "user-service", "--to", "5", "--skip")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "promoted user-service/primary: step 2 → 5 (v1 0% / v2 100%)\n"
        "clusters that change:\n"
        f"  {EVERY_CLUSTER}: v1 90% / v2 10% → v1 0% / v2 100%\n"
        "skipped steps 3, 4 (v1 80% / v2 20%; v1 50% / v2 50%)\n"
        "user-service/primary now sends all traffic to v2; retire the canary: "
        "replace its `canary v1 -> v2 ...` clause with `to v2`\n"
    )
    again = meshc("promote", S1, "user-service")
    assert again.exit_code == 1
    assert again.stderr.startswith("error[MESH704]: `user-service/primary` is already at its last step (5 of 5")
    assert "100% at 5" in (examples / "s01-canary.mesh").read_text()


def test_rollback_returns_to_the_baseline_once(examples):
    result = meshc("rollback", S1, "user-service")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("rolled back user-service/primary: step 2 → 0 (v1 100% / v2 0%)\n")
    assert "100% at 0\n" in (examples / "s01-canary.mesh").read_text()
    r = rendered(["examples"])
    for cluster in ("hangzhou", "beijing", "shenzhen"):
        http = find(r, cluster, "VirtualService", "production", "user-service")["spec"]["http"]
        assert [d["weight"] for d in http[-1]["route"]] == [100, 0]
    again = meshc("rollback", S1, "user-service")
    assert again.exit_code == 1
    assert again.stderr.startswith("error[MESH705]")


def test_promote_adds_at_after_the_last_step_when_absent(tmp_path):
    path = tmp_path / "shop.mesh"
    text = ("namespace shop {\n  service cart {\n    subsets by version v1 v2\n"
            "    route primary {\n      canary v1 -> v2 steps 10%\n        50% 100%  # no at yet\n"
            "        pause 5m\n    }\n  }\n}\n")
    path.write_text(text)
    result = meshc("promote", str(path), "cart")
    assert result.exit_code == 0, result.output
    assert path.read_text() == text.replace("50% 100%  #", "50% 100% at 1  #")


def test_a_policy_with_errors_is_refused_with_its_diagnostics(examples):
    (examples / "broken.mesh").write_text("namespace x {\n  service y {\n    route r { to v9 }\n  }\n}\n")
    before = (examples / "s01-canary.mesh").read_bytes()
    result = meshc("promote", S1, "user-service")
    assert result.exit_code == 1
    assert "error[MESH201]" in result.stderr and "examples/broken.mesh:3:" in result.stderr
    assert result.stderr.rstrip().endswith(f"in {len(list(examples.glob('*.mesh')))} files.")
    assert (examples / "s01-canary.mesh").read_bytes() == before


def test_service_in_several_namespaces_needs_its_namespace(tmp_path):
    path = tmp_path / "two.mesh"
    body = "service cart { subsets by version v1 v2 route r { canary v1 -> v2 steps 50% 100% at 1 } }"
    path.write_text(f"namespace a {{ {body} }}\nnamespace b {{ {body} }}\n")
    ambiguous = meshc("promote", str(path), "cart")
    assert ambiguous.exit_code == 1
    assert "error[MESH703]: service `cart` is declared in 2 namespaces" in ambiguous.stderr
    assert "help: name one: `a/cart` or `b/cart`" in ambiguous.stderr
    chosen = meshc("promote", str(path), "b/cart")
    assert chosen.exit_code == 0, chosen.output
    assert path.read_text().count("at 2") == 1 and path.read_text().index("at 2") > path.read_text().index("namespace b")


def test_a_service_declared_in_another_file_names_that_file(examples):
    result = meshc("promote", S1, "checkout")
    assert result.exit_code == 1
    assert "error[MESH701]: examples/s01-canary.mesh declares no service `checkout`" in result.stderr
    assert "help: `checkout` is declared in examples/s13-progressive-delivery.mesh; name that file" in result.stderr


@pytest.mark.parametrize("args", [
    ["promote", "missing.mesh", "cart"],
    ["promote", S1, "a/b/c"],
    ["rollback", S1, "/cart"],
    ["promote", "examples", "cart"],
])
def test_usage_errors_exit_2(examples, args):
    result = meshc(*args)
    assert result.exit_code == 2, result.output


def test_mode_byte_order_mark_and_line_endings_are_kept_through_a_symlink(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    path = tmp_path / "real" / "crlf.mesh"
    text = ("namespace shop {\r\n  service cart {\r\n    subsets by version v1 v2\r\n"
            "    route r { canary v1 -> v2 steps 50% 100% at 1 }\r\n  }\r\n}\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    os.chmod(path, 0o640)
    link = tmp_path / "links" / "cart.mesh"
    link.symlink_to(path)
    result = meshc("promote", str(link), "cart")
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert path.read_bytes() == b"\xef\xbb\xbf" + text.replace("at 1", "at 2").encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["crlf.mesh"]  # no temporary file left


def test_status_lists_every_canary(examples):
    result = meshc("status", "examples")
    assert result.exit_code == 0, result.output
    assert result.stdout == """\
NAMESPACE   SERVICE       ROUTE    CANARY           WAVE    CLUSTERS           STEP    DECLARED                 IN STEP     PAUSE  LEFT  NEXT                     GATES
production  user-service  primary  v1 → v2          -       all                2 of 5  v1 90% / v2 10%          not in git  10m    -     v1 80% / v2 20%          success-rate >= 99%, p99 <= 500ms
geo         profile       primary  v1 → v2-beijing  -       all                1 of 3  v1 90% / v2-beijing 10%  not in git  -      -     v1 50% / v2-beijing 50%  -
bookstore   reviews       shift    v1 → v2          -       all                1 of 2  v1 50% / v2 50%          not in git  -      -     v1 0% / v2 100%          -
delivery    checkout      primary  v1 → v2          -       all                1 of 4  v1 90% / v2 10%          not in git  5m     -     v1 75% / v2 25%          success-rate >= 95%, p95 <= 1s
catalog     search        primary  v1 → v2          1 of 3  hangzhou shanghai  3 of 4  v1 50% / v2 50%          not in git  10m    -     v1 0% / v2 100%          success-rate >= 99%, p95 <= 300ms
catalog     search        primary  v1 → v2          2 of 3  beijing            1 of 4  v1 95% / v2 5%           not in git  10m    -     v1 75% / v2 25%          success-rate >= 99%, p95 <= 300ms
catalog     search        primary  v1 → v2          3 of 3  shenzhen           0 of 4  v1 100% / v2 0%          not in git  -      -     v1 95% / v2 5%           success-rate >= 99%, p95 <= 300ms
"""


def test_status_as_json(examples):
    result = meshc("status", "--output-format", "json", "examples/s01-canary.mesh")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)[0]
    assert first == {
        "namespace": "production", "service": "user-service", "route": "primary",
        "file": "examples/s01-canary.mesh", "line": 15, "baseline": "v1", "candidate": "v2",
        "wave": None, "clusters": ["hangzhou", "shanghai", "beijing", "shenzhen"], "step": 2, "steps": 5,
        "declared": {"baseline": 90, "candidate": 10}, "next": {"baseline": 80, "candidate": 20},
        "git": {"state": "not in git", "commit": None, "committed_at": None, "history_truncated": False},
        "in_step_seconds": None, "pause": "10m", "pause_left_seconds": None,
        "gates": [{"kind": "success-rate", "minimum_percent": 99},
                  {"kind": "latency", "quantile": "p99", "maximum_ms": 500}],
    }


def test_status_of_a_policy_with_errors_exits_1(tmp_path):
    (tmp_path / "bad.mesh").write_text("namespace x { service y { route r { canary v1 -> v2 steps 50% 100% } } }\n")
    result = meshc("status", str(tmp_path))
    assert result.exit_code == 1
    assert "error[MESH201]" in result.stderr


# --------------------------------------------------------------- properties
# A canary clause written any way the grammar allows: tokens separated by
# spaces, newlines, tabs and comments (some that look like `at` clauses).
SEPARATORS = st.sampled_from([" ", "  ", "\n        ", "\t", "  # at 3 100%\n        ", " # -> steps\n  "])


@st.composite
def canary_files(draw, with_at: bool):
    """(text pieces, index of the `at` number piece or None, index of the
    last step, steps, at). Pieces joined make the file; another service's
    canary follows, which must never change."""
    inner = draw(st.lists(st.integers(1, 99), unique=True, max_size=4).map(sorted))
    steps = inner + [100]
    at = draw(st.integers(0, len(steps))) if with_at else draw(st.one_of(st.none(), st.integers(0, len(steps))))
    words = ["canary", "v1", "->", "v2", "steps"] + [f"{s}%" for s in steps]
    last_step = len(words) - 1
    at_index = None
    if at is not None:
        words += ["at", str(at)]
        at_index = len(words) - 1
    if len(steps) > 1 and draw(st.booleans()):
        words += ["pause"] + draw(st.sampled_from([["5m"], [f"{n + 1}m" for n in range(len(steps) - 1)]]))
    if draw(st.booleans()):
        words += ["analysis", "success-rate", ">=", "99.5%", "p99", "<=", "500ms"]
    pieces = ["# canary at 1\nnamespace shop {\n  service cart {\n    subsets by version v1 v2\n    route primary {\n      "]
    first = len(pieces)
    for n, word in enumerate(words):
        pieces.append(word)
        if n < len(words) - 1:
            pieces.append(draw(SEPARATORS))
    pieces.append(draw(st.sampled_from(["\n    }\n", "  # end\n    }\n", " }\n"])))
    pieces.append("  }\n  service other {\n    subsets by version v1 v2\n"
                  "    route primary { canary v1 -> v2 steps 50% 100% at 1 }\n  }\n}\n")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    pieces = [p.replace("\n", newline) for p in pieces]
    index = {n: first + 2 * n for n in range(len(words))}  # word n's piece
    return pieces, (index[at_index] if at_index is not None else None), index[last_step], steps, at


def _run(pieces: list[str], *args: str) -> tuple[bytes, bytes, int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shop.mesh"
        before = "".join(pieces).encode()
        path.write_bytes(before)
        code = meshc(args[0], str(path), "cart", *args[1:]).exit_code
        return before, path.read_bytes(), code


PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(canary_files(with_at=False))
def test_promote_changes_only_the_at_clause(case):
    pieces, at_piece, last_piece, steps, at = case
    live = at or 0
    before, after, code = _run(pieces, "promote")
    if live == len(steps):
        assert (code, after) == (1, before)
        return
    assert code == 0
    if at_piece is None:
        expected = pieces[: last_piece + 1] + [f" at {live + 1}"] + pieces[last_piece + 1:]
    else:
        expected = pieces[:at_piece] + [str(live + 1)] + pieces[at_piece + 1:]
    assert after == "".join(expected).encode()


@PROPERTY
@given(canary_files(with_at=True))
def test_rollback_then_promote_to_the_original_step_restores_the_file(case):
    pieces, _, _, steps, at = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shop.mesh"
        before = "".join(pieces).encode()
        path.write_bytes(before)
        rolled = meshc("rollback", str(path), "cart")
        if at == 0:
            assert rolled.exit_code == 1 and path.read_bytes() == before
            return
        assert rolled.exit_code == 0, rolled.output
        assert meshc("promote", str(path), "cart", "--to", str(at), "--skip").exit_code == 0
        assert path.read_bytes() == before


@PROPERTY
@given(canary_files(with_at=False))
def test_after_promote_every_cluster_renders_the_next_step(case):
    pieces, _, _, steps, at = case
    live = at or 0
    if live == len(steps):
        return
    fleet = "fleet f {\n  cluster a\n  cluster b istio 1.20\n}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shop.mesh"
        path.write_text(fleet + "".join(pieces))
        assert meshc("promote", str(path), "cart").exit_code == 0
        r = rendered([str(path)])
    nxt = steps[live]
    for cluster in ("a", "b"):
        (http,) = find(r, cluster, "VirtualService", "shop", "cart")["spec"]["http"]
        assert [d["weight"] for d in http["route"]] == [100 - nxt, nxt]
        (other,) = find(r, cluster, "VirtualService", "shop", "other")["spec"]["http"]
        assert [d["weight"] for d in other["route"]] == [50, 50]


def test_promote_past_the_next_step_needs_skip_and_says_what_it_skips(examples):
    before = (examples / "s01-canary.mesh").read_text()
    refused = meshc("promote", S1, "user-service", "--to", "4")
    assert refused.exit_code == 2
    assert "--to 4 skips step 3 (v1 80% / v2 20%) of user-service/primary" in refused.stderr
    assert (examples / "s01-canary.mesh").read_text() == before
    assert meshc("promote", S1, "user-service", "--to", "3").exit_code == 0  # the next step needs nothing
    done = meshc("promote", S1, "user-service", "--to", "5", "--skip")
    assert done.exit_code == 0 and "skipped step 4 (v1 50% / v2 50%)" in done.stderr
