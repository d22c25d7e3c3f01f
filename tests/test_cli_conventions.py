"""The conventions ruff and black set: quiet and verbose, colour, stdin
with --stdin-filename, line endings, diffs `git apply` takes, "did you
mean", and output that never fails on a terminal that is not UTF-8."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers import ROOT

from meshc.cli import cli

CLEAN = "namespace a {\n  service s {\n    subsets by version v1\n    route r { to v1 }\n  }\n}\n"
UGLY = "namespace a {\nservice s {\nsubsets by version v1\nroute r { to v1 }\n}\n}\n"
USES_GATEWAY = ("namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1\n"
                "    expose via edge host api.example.com\n    route r { to v1 }\n  }\n}\n")
GATEWAY = "namespace istio-system {\n  gateway edge {\n    hosts api.example.com\n    https credential cert\n  }\n}\n"


def run(*args, input=None, env=None):
    return CliRunner().invoke(cli, list(args), input=input, env=env)


def meshc(*args, cwd, env=None, input=None) -> subprocess.CompletedProcess:
    """meshc as a process, for what CliRunner cannot show (stream encodings, real ttys aside)."""
    return subprocess.run([sys.executable, "-m", "meshc", *args], cwd=cwd, capture_output=True, input=input,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "gw.mesh").write_text(GATEWAY)
    (tmp_path / "p" / "cart.mesh").write_text(USES_GATEWAY)
    return tmp_path


def test_quiet_and_verbose(project):
    assert run("check", "p").stderr == "All checks passed (2 files).\n"
    assert run("check", "-q", "p").stderr == ""
    verbose = run("check", "-v", "p").stderr
    assert "checking p/cart.mesh, p/gw.mesh (configuration: none, defaults)" in verbose
    assert run("render", "-q", "p", "-o", "out").stderr == ""
    (project / "p" / "cart.mesh").write_text(USES_GATEWAY.replace("  service", "service"))
    assert run("fmt", "-q", "p").stderr == ""
    assert "p/gw.mesh already formatted" in run("fmt", "-v", "p").stderr
    assert run("check", "-q", "-v", "p").exit_code == 2


@pytest.mark.parametrize("env, colour", [
    ({}, False), ({"FORCE_COLOR": "1"}, True), ({"CLICOLOR_FORCE": "1"}, True),
    ({"FORCE_COLOR": "0"}, False), ({"NO_COLOR": "1"}, False),
])
def test_colour_follows_the_environment(project, env, colour):
    (project / "p" / "cart.mesh").write_text(USES_GATEWAY.replace("to v1", "to v9"))
    base = {"NO_COLOR": None, "FORCE_COLOR": None, "CLICOLOR_FORCE": None}
    out = run("check", "p", env={**base, **env}).stdout
    assert ("\x1b[" in out) is colour


def test_color_always_colours_whatever_stream_it_writes_to(project):
    (project / "p" / "cart.mesh").write_text(USES_GATEWAY.replace("to v1", "to v9"))
    assert "\x1b[" in run("render", "--color", "always", "p", "--stdout").stderr
    assert "\x1b[" not in run("render", "--color", "never", "p", "--stdout", env={"FORCE_COLOR": "1"}).stderr
    (project / "p" / "cart.mesh").write_text("namespace {")
    assert "\x1b[" in run("fmt", "--color", "always", "p").stderr
    assert "\x1b[" not in run("fmt", "p").stderr


def test_check_stdin_uses_the_rest_of_the_directory(project):
    text = (project / "p" / "cart.mesh").read_text()
    ok = run("check", "--stdin-filename", "p/cart.mesh", "-", input=text)
    assert ok.exit_code == 0, ok.output
    bad = run("check", "--stdin-filename", "p/cart.mesh", "-", input=text.replace("via edge", "via edge2"))
    assert bad.exit_code == 1 and " --> p/cart.mesh:5:16" in bad.stdout
    alone = run("check", "-", input=text)  # without a name: stdin alone, so the gateway is missing
    assert alone.exit_code == 1 and "<stdin>:5:16" in alone.stdout
    # a buffer not yet saved: the name need not exist
    fresh = run("check", "--stdin-filename", "p/new.mesh", "-", input=CLEAN)
    assert fresh.exit_code == 0, fresh.output
    assert run("check", "--stdin-filename", "p/cart.mesh", "p").exit_code == 2


def test_fmt_stdin_filename_names_it_and_follows_force_exclude(project):
    formatted = run("fmt", "--stdin-filename", "p/ugly.mesh", "-", input=UGLY)
    assert formatted.stdout == CLEAN and formatted.stderr == "reformatted p/ugly.mesh\n1 file reformatted.\n"
    (project / "meshc.toml").write_text('extend-exclude = ["ugly.mesh"]\n')
    passed = run("fmt", "--force-exclude", "--stdin-filename", "p/ugly.mesh", "-", input=UGLY)
    assert passed.exit_code == 0 and passed.stdout == UGLY


def test_fmt_keeps_crlf_and_a_byte_order_mark(project):
    path = project / "p" / "win.mesh"
    path.write_bytes(b"\xef\xbb\xbf" + UGLY.replace("\n", "\r\n").encode())
    assert run("fmt", "p/win.mesh").exit_code == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + CLEAN.replace("\n", "\r\n").encode()
    again = run("fmt", "--check", "p/win.mesh")
    assert again.exit_code == 0 and "1 file would be left unchanged" in again.stderr
    piped = meshc("fmt", "-", cwd=project, input=b"\xef\xbb\xbf" + UGLY.replace("\n", "\r\n").encode())
    assert piped.stdout == b"\xef\xbb\xbf" + CLEAN.replace("\n", "\r\n").encode()
    lf = project / "p" / "lf.mesh"
    lf.write_text(UGLY)
    run("fmt", "p/lf.mesh")
    assert lf.read_bytes() == CLEAN.encode()


def _git(cwd, *args):
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_fmt_diff_applies_with_git_apply(project):
    _git(project, "init", "-q")
    (project / "p" / "cart.mesh").write_text(USES_GATEWAY.replace("  service", "service"))
    crlf = project / "p" / "win.mesh"
    crlf.write_bytes(UGLY.replace("service s", "service w").replace("\n", "\r\n").encode())
    diff = run("fmt", "--diff", "p").stdout_bytes  # bytes: the CRLF file's lines keep their \r
    assert diff.startswith(b"--- a/p/cart.mesh\n+++ b/p/cart.mesh\n")
    (project / "fix.patch").write_bytes(diff)
    _git(project, "apply", "fix.patch")
    assert run("fmt", "--check", "p").exit_code == 0
    assert crlf.read_bytes() == CLEAN.replace("service s", "service w").replace("\n", "\r\n").encode()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_render_check_diff_applies_with_git_apply(project):
    _git(project, "init", "-q")
    assert run("render", "p", "-o", "deploy").exit_code == 0
    (project / "p" / "cart.mesh").write_text(USES_GATEWAY.replace("route r { to v1 }", "route r {\n      timeout 5s\n      to v1\n    }"))
    (project / "p" / "gw.mesh").unlink()
    (project / "p" / "gw2.mesh").write_text(GATEWAY.replace("edge", "edge"))
    drift = run("render", "p", "-o", "deploy", "--check")
    assert drift.exit_code == 1 and "--- a/deploy/default/shop/virtualservice-cart.yaml" in drift.stdout
    (project / "drift.patch").write_text(drift.stdout)
    _git(project, "apply", "drift.patch")
    assert run("render", "p", "-o", "deploy", "--check").exit_code == 0


def test_did_you_mean(project):
    assert "did you mean `check`?" in run("chek", "p").stderr
    assert "did you mean `MESH301`?" in run("explain", "MSH301").stderr
    assert "did you mean `weights-not-100`?" in run("explain", "weight-not-100").stderr
    shutil.copytree(ROOT / "examples", project / "examples")
    for args in (["render", "examples", "--stdout", "--cluster", "bejing"],
                 ["render", "examples", "-o", "out", "--cluster", "bejing"],
                 ["namespaces", "examples", "--cluster", "bejing"]):
        result = run(*args)
        assert result.exit_code == 2 and "did you mean `beijing`?" in result.stderr, args


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_every_command_works_when_stdout_is_not_utf8(tmp_path, encoding):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "examples" / "zz-unicode.mesh").write_text("# café → ☕\nnamespace z { mtls strict }\n")
    env = {"PYTHONIOENCODING": encoding, "LC_ALL": "C"}
    for args in (["status", "examples"], ["check", "examples"], ["check", "--output-format", "full", "examples"],
                 ["render", "examples", "--stdout", "--cluster", "beijing"], ["explain", "--all"],
                 ["fmt", "--diff", "examples"], ["namespaces", "examples"],
                 ["promote", "examples/s01-canary.mesh", "user-service", "--dry-run"]):
        done = meshc(*args, cwd=tmp_path, env=env)
        assert done.returncode == 0, (args, done.stderr)
        assert b"internal error" not in done.stderr and b"Traceback" not in done.stderr
    status = meshc("status", "examples", cwd=tmp_path, env=env).stdout.decode(encoding)
    assert "v1 -> v2" in status
