"""meshc as a process among others: what it reads, what it writes, and how
it fails on its standard streams. Real processes throughout, since what is
tested is the process's own behaviour (its temp directory, its file
descriptors, its exit status)."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

POLICY = ("namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1 v2\n"
          "    route r { canary v1 -> v2 steps 10% 50% 100% at 1 }\n  }\n}\n")


def meshc(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 60,
          **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshc", *args], env=env or dict(os.environ), cwd=cwd,
                          capture_output=True, timeout=timeout, **kwargs)


@pytest.fixture
def policy(tmp_path) -> Path:
    directory = tmp_path / "policy"
    directory.mkdir()
    shutil.copy(ROOT / "examples" / "fleet.mesh", directory)
    (directory / "shop.mesh").write_text(POLICY)
    return directory


@pytest.fixture
def isolated(tmp_path) -> dict:
    """An environment whose temp, home, cache and state directories are
    empty directories of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for name in ("TMPDIR", "HOME"):
        (tmp_path / name).mkdir()
        env[name] = str(tmp_path / name)
    return env


def _everything_in(*directories: Path) -> list[str]:
    return sorted(str(p) for d in directories for p in d.rglob("*"))


# ---------------------------------------------------------------- item 1: nothing written outside OUT
def test_commands_write_nothing_outside_the_output_directory(policy, isolated, tmp_path):
    """check, render, fmt (check, diff and in place), status and promote
    leave the temp and home directories empty: no parser cache, no state."""
    out = tmp_path / "out"
    runs = [
        ("check", str(policy)), ("render", str(policy), "-o", str(out)), ("render", str(policy), "-o", str(out), "--check"),
        ("fmt", "--check", str(policy)), ("fmt", "--diff", str(policy)), ("fmt", str(policy)),
        ("status", str(policy)), ("promote", str(policy / "shop.mesh"), "shop/cart"),
    ]
    for args in runs:
        done = meshc(*args, env=isolated, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr.decode())
    assert (out / "hangzhou" / "kustomization.yaml").is_file()
    assert _everything_in(Path(isolated["TMPDIR"]), Path(isolated["HOME"])) == []


def _lark_cache_name(env: dict) -> Path:
    """Where Lark's `cache=True` (meshc's parser until 0.1) keeps the tables
    of meshc's grammar: a name anyone who can read the grammar can compute."""
    code = ("from importlib import resources; from lark import Lark;"
            "grammar = resources.files('meshc.grammar').joinpath('mesh.lark').read_text(encoding='utf-8');"
            "Lark(grammar, parser='lalr', lexer='contextual', maybe_placeholders=True, keep_all_tokens=True, cache=True)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    (found,) = Path(env["TMPDIR"]).glob(".lark_cache_*")
    return found


class _Planted:
    """A pickle that runs a shell command when loaded."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_planted_parser_cache_is_never_loaded(policy, isolated, tmp_path):
    """Another user of a shared runner can create files in /tmp: a pickle
    at Lark's cache name would run code as the meshc user, a FIFO there
    would block every command. meshc reads neither."""
    planted = _lark_cache_name(isolated)
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_Planted(f"touch {marker}"))
    planted.write_bytes(planted.read_bytes().split(b"\n", 1)[0] + b"\n" + payload + payload)
    done = meshc("check", str(policy), env=isolated)
    assert done.returncode == 0, done.stderr.decode()
    assert not marker.exists(), "meshc unpickled a file from the temp directory"

    planted.unlink()
    os.mkfifo(planted)
    done = meshc("check", str(policy), env=isolated, timeout=30)  # a FIFO read would block until the timeout
    assert done.returncode == 0, done.stderr.decode()


# ---------------------------------------------------------------- item 2: special files
def _sparse_17_mib(path: Path) -> None:
    path.touch()
    os.truncate(path, 17 * 2**20)


SPECIAL = {
    "fifo": (os.mkfifo, "is a FIFO"),
    "device": (lambda path: path.symlink_to("/dev/zero"), "is a character device"),
    "too-large": (_sparse_17_mib, "larger than 16 MiB"),
}


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_only_regular_files_of_bounded_size_are_read(policy, tmp_path, kind):
    """A FIFO named x.mesh blocked every command forever, a symlink to
    /dev/zero read until memory ran out: each command now refuses the file,
    saying why, with exit 2 and nothing written."""
    make, reason = SPECIAL[kind]
    make(policy / "x.mesh")
    out = tmp_path / "out"
    for args in (["check", str(policy)], ["check", str(policy / "x.mesh")], ["render", str(policy), "-o", str(out)],
                 ["fmt", str(policy)], ["fmt", str(policy / "x.mesh")], ["status", str(policy)],
                 ["promote", str(policy / "shop.mesh"), "shop/cart"]):
        done = meshc(*args, timeout=30)
        stderr = done.stderr.decode()
        assert done.returncode == 2, (args, stderr)
        assert "x.mesh: " in stderr and reason in stderr and "Traceback" not in stderr, (args, stderr)
    assert not out.exists()
    assert "at 1 }" in (policy / "shop.mesh").read_text()


def test_stdin_is_read_within_the_same_limit():
    done = meshc("fmt", "-", input=b"#" * (17 * 2**20))
    assert done.returncode == 2 and "<stdin>: larger than 16 MiB" in done.stderr.decode(), done.stderr[-300:]
    assert done.stdout == b""


# ---------------------------------------------------------------- item 3: the standard streams
def _shell(command: str, env: dict) -> subprocess.CompletedProcess:
    """`python -m meshc` under sh, for redirections such as `>&-`."""
    return subprocess.run(["sh", "-c", f"exec {sys.executable} -m meshc {command}"], env=env,
                          capture_output=True, timeout=60)



@pytest.mark.parametrize("command, stream", [
    ("check --output-format json {policy} >&-", "stdout"),
    ("render --stdout --cluster hangzhou {policy} >/dev/full", "stdout"),
    ("check {policy} 2>/dev/full", "stderr"),
    ("check {policy} 2>&-", "stderr"),
])
def test_a_closed_or_full_standard_stream_is_an_io_error(policy, isolated, command, stream):
    """One line on stderr when it can still take one, exit 2, and no crash
    file: writing the output failed, meshc did not."""
    if "/dev/full" in command and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    done = _shell(command.format(policy=policy), isolated)
    assert done.returncode == 2, done.stderr.decode()
    stderr = done.stderr.decode()
    if stream == "stdout":
        assert stderr.startswith("error: cannot write to stdout: ") and stderr.count("\n") == 1, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert _everything_in(Path(isolated["TMPDIR"]), Path(isolated["HOME"])) == []


def test_a_reader_that_stops_early_is_not_told_success(tmp_path, isolated):
    """`meshc render --stdout | head`: when the reader goes away before the
    stream is written, meshc exits 2 (click alone would exit 0) and says so."""
    (tmp_path / "fleet.mesh").write_text("fleet f {\n  cluster c1\n}\n")
    services = "".join(f"  service s{i} {{\n    port 80 http\n    timeout {i + 1}s\n  }}\n" for i in range(2000))
    (tmp_path / "big.mesh").write_text("namespace big {\n" + services + "}\n")
    child = subprocess.Popen([sys.executable, "-m", "meshc", "render", "--stdout", str(tmp_path)], env=isolated,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.read(100)
    child.stdout.close()
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 2, stderr
    assert stderr == "error: cannot write to stdout: Broken pipe; the output is incomplete\n", stderr
