"""render's parallel path (meshc/parallel.py) against its serial path: the
same bytes, messages and exit codes; the forked renderer is discarded when
the checks fail and replaced by the parent's own run when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from run import write_workload  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _meshc(cwd: Path, jobs: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MESHC_JOBS": str(jobs)}
    return subprocess.run([sys.executable, "-m", "meshc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _both(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """`meshc ARGS` run serially and in parallel, each in a directory of
    its own at the same depth (so relative paths print alike); their
    results must match, output directory included."""
    runs = []
    for jobs in (1, 2):
        cwd = tmp_path / f"jobs-{jobs}"
        cwd.mkdir()
        runs.append(_meshc(cwd, jobs, *args))
    serial, parallel = runs
    assert (parallel.returncode, parallel.stdout, parallel.stderr) == \
           (serial.returncode, serial.stdout, serial.stderr)
    assert _tree(tmp_path / "jobs-1") == _tree(tmp_path / "jobs-2")
    return serial, parallel


def _fleet_policy(directory: Path, services: int) -> Path:
    """bench/run.py's workload, ten services a file, shared by three
    clusters (documents shared between clusters are serialised once)."""
    return write_workload(directory, services, 3, per_file=10)


def test_the_examples_render_to_the_same_bytes(tmp_path):
    serial, _ = _both(tmp_path, "render", str(ROOT / "examples"), "-o", "out")
    assert serial.returncode == 0, serial.stderr
    assert (tmp_path / "jobs-2" / "out" / "hangzhou" / "kustomization.yaml").is_file()


def test_a_fleet_of_services_renders_to_the_same_bytes(tmp_path):
    policy = _fleet_policy(tmp_path / "policy", 60)
    serial, _ = _both(tmp_path, "render", str(policy), "-o", "out")
    assert serial.returncode == 0, serial.stderr
    assert len(_tree(tmp_path / "jobs-2" / "out")) == 3 * (2 * 60 + 2)


@pytest.mark.parametrize("args", [
    ("--stdout", "--cluster", "beijing"),
    ("--cluster", "hangzhou", "-o", "out"),
    ("--check", "-o", "missing"),
], ids=["stdout", "one-cluster", "check"])
def test_other_render_modes_give_the_same_results(tmp_path, args):
    _both(tmp_path, "render", str(ROOT / "examples"), *args)


def test_namespaces_are_the_same(tmp_path):
    serial, _ = _both(tmp_path, "namespaces", str(ROOT / "examples"), "--output-format", "json")
    assert serial.returncode == 0 and "hangzhou" in serial.stdout


def test_a_policy_that_fails_its_checks_writes_nothing_and_says_so_once(tmp_path):
    """The forked renderer works on a policy the checks then reject: it is
    discarded, and the checks' errors are reported once."""
    policy = _fleet_policy(tmp_path / "policy", 20)
    with (policy / "services-001.mesh").open("a") as f:
        f.write("namespace prod {\n  service bad {\n    port 80 http\n    route r { to v9 }\n  }\n}\n")
    serial, _ = _both(tmp_path, "render", str(policy), "-o", "out")
    assert serial.returncode == 1
    assert serial.stderr.count("MESH201") == 1, serial.stderr
    assert not (tmp_path / "jobs-2" / "out").exists()


def test_an_unknown_cluster_is_a_usage_error_after_the_diagnostics(tmp_path):
    serial, _ = _both(tmp_path, "render", str(ROOT / "examples"), "--cluster", "nowhere", "-o", "out")
    assert serial.returncode == 2 and "no cluster `nowhere`" in serial.stderr


# ----------------------------------------------------------- Forked itself

@pytest.mark.parametrize("runnable, jobs", [(1, 2), (2, 1), (5, 1)])
def test_a_second_process_only_when_a_cpu_is_idle(monkeypatch, runnable, jobs):
    from meshc import parallel

    monkeypatch.delenv(parallel.JOBS, raising=False)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(parallel, "_runnable", lambda: runnable)
    assert parallel.jobs() == jobs
    monkeypatch.setenv(parallel.JOBS, "2")
    assert parallel.jobs() == 2


_PROBE = """
import os, signal, sys, time
from meshc.parallel import Forked

parent = os.getpid()

def where(*_):
    return os.getpid()

def fails_in_child():
    if os.getpid() != parent:
        raise RuntimeError("child")
    return "parent"

def killed_in_child():
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return "parent"

def forever():
    time.sleep(600)

case = sys.argv[1]
if case == "child":
    print(Forked(where).result() != parent)
elif case == "error":
    print(Forked(fails_in_child).result())
elif case == "killed":
    print(Forked(killed_in_child).result())
elif case == "cancel":
    job = Forked(forever)
    started = time.monotonic()
    job.cancel()
    print(time.monotonic() - started < 5)
"""


@pytest.mark.parametrize("case, jobs, expected", [
    ("child", 2, "True"),      # computed in the child
    ("child", 1, "False"),     # MESHC_JOBS=1: computed here
    ("error", 2, "parent"),    # the child's exception: the parent computes it again
    ("killed", 2, "parent"),   # the child killed: likewise
    ("cancel", 2, "True"),     # a child no longer needed is stopped at once
])
def test_forked(tmp_path, case, jobs, expected):
    probe = tmp_path / "probe.py"
    probe.write_text(_PROBE)
    done = subprocess.run([sys.executable, str(probe), case], env={**os.environ, "MESHC_JOBS": str(jobs)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
