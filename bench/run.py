#!/usr/bin/env python3
"""Benchmark `meshc render` against the Jsonnet peer (issues 3 and 16).

    .venv/bin/python bench/run.py [--sizes 100,1000,5000] [--repeats 5]
                                  [--large-repeats 3] [--instructions] [--json FILE]

For N services across C = 3 clusters it generates a policy with the same
intent as ../shared/bench-peer/istio.libsonnet and prints, in one run:

1. `meshc render DIR -o OUT` and the peer (`run_peer.py N C OUT.yaml`), each
   a whole fresh process, run alternately (A B, then B A): the medians of
   their wall and CPU times and peak RSS, and the medians of the per-pair
   ratios, so that load from other users of the machine hits both alike;
2. meshc's time per stage, measured in-process in a fresh process per run;
3. the growth of the time per 10x N;
4. render on one CPU and on two: meshc renders in one thread by design
   (bench/README.md says why), so two CPUs should not change its time;
5. the cold `meshc check` of a one-service file next to
   `python -c "import lark, pydantic, ruamel.yaml, click"`, alternately
   (with --instructions, also both commands' instruction counts under
   valgrind, which the machine's load does not change);
6. the issues' targets with PASS/FAIL;
7. the route evaluator's requests/s on the N = 1000 output (bench/evaluate.py);
8. `meshc test` (10,000 cases), `meshc route` and `meshc check` side by side
   at N = 1000 (bench/policytest.py).

The peer runs from its own virtual environment, bench/.peer, created with
gojsonnet on first use. Progress goes to stderr, the tables to stdout. See
bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEER_DIR = REPO.parent / "shared" / "bench-peer"
PEER_VENV = BENCH / ".peer"
PEER_PACKAGE = "gojsonnet==0.22.0"

CLUSTERS = 3
SIZES = (100, 1000, 5000)
LARGE = 1000
"""Sizes above this are repeated `--large-repeats` times (the peer needs 11 to 17 s at N = 5000)."""
SERVICES_PER_FILE = 100
IMPORT_LINE = "import lark, pydantic, ruamel.yaml, click"
STAGES = ("import", "read", "parse", "lower", "checks", "backend", "emitted", "emit", "write")
CPU_COUNTS = (("1 CPU", 1), ("2 CPUs", 2))
"""Section 4's configurations: (label, CPUs the process may use)."""

# Targets of the issues.
TARGET_NS = (1000, 5000)
TARGET_SPEEDUP = 0.5
"""meshc at N in TARGET_NS in at most this fraction of the peer's wall time."""
LINEAR_LIMIT = 12.0
"""A normalised growth per 10x N above this (linear is 10) is not linear."""
CHECK_LIMIT = 2.0
"""`meshc check` of one small file within this factor of the import line."""


class BenchError(Exception):
    """A measurement that could not be made or whose output is wrong."""


@dataclass
class Sample:
    """One whole-process run: wall seconds, CPU seconds (user + system, all
    threads) and peak resident set size."""

    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Peer:
    """How to run the peer, or why it cannot run."""

    python: Optional[Path] = None
    script: Optional[Path] = None
    problem: str = ""

    def command(self, n: int, out: Path) -> list[str]:
        """`run_peer.py N C OUT.yaml` with the peer's interpreter."""
        return [str(self.python), str(self.script), str(n), str(CLUSTERS), str(out)]


@dataclass
class SizeResult:
    """Every sample taken for one N (meshc[i] and peer[i] ran one after
    the other)."""

    n: int
    runs: int
    meshc: list[Sample] = field(default_factory=list)
    peer: list[Sample] = field(default_factory=list)
    stages: list[dict[str, float]] = field(default_factory=list)
    by_cpus: dict[str, list[Sample]] = field(default_factory=dict)
    """Section 4: samples per CPU_COUNTS label."""
    documents: dict[str, dict[str, int]] = field(default_factory=dict)


# ------------------------------------------------------------- the workload


def fleet_source(clusters: int) -> str:
    """A fleet of clusters c0, c1, ... alternating between region-a and
    region-b, so that failover region-a -> region-b means something."""
    lines = [f"  cluster c{k} region region-{'ab'[k % 2]}\n" for k in range(clusters)]
    return "fleet bench {\n" + "".join(lines) + "}\n"


def service_source(i: int) -> str:
    """Service svc-NNNN with the policy of the peer's istio.libsonnet."""
    return f"""\
  service svc-{i:04d} {{
    port 80 http
    subsets by version v1 v2
    timeout 10s
    retry 3 per-try 2s on connect-failure refused-stream 5xx
    circuit-breaker {{
      max-connections 100
      max-pending 1024
      eject 7 consecutive 5xx every 5s for 15s max 100%
    }}
    failover region-a -> region-b
    route canary {{
      when header canary = "true"
      to v2
    }}
    route default {{
      to v1 90%, v2 10%
    }}
  }}
"""


def namespace_source(first: int, stop: int) -> str:
    """Namespace prod holding services first..stop-1."""
    return "namespace prod {\n" + "".join(service_source(i) for i in range(first, stop)) + "}\n"


def write_workload(directory: Path, n: int, clusters: int, per_file: int = SERVICES_PER_FILE) -> Path:
    """One policy: fleet.mesh, then services-NNN.mesh per `per_file` services."""
    directory.mkdir(parents=True)
    (directory / "fleet.mesh").write_text(fleet_source(clusters), encoding="utf-8")
    for first in range(0, n, per_file):
        text = namespace_source(first, min(n, first + per_file))
        (directory / f"services-{first // per_file:03d}.mesh").write_text(text, encoding="utf-8")
    return directory


def write_one_service(directory: Path, clusters: int) -> Path:
    """The workload for N = 1 in a single file, for the cold `check`."""
    directory.mkdir(parents=True)
    path = directory / "service.mesh"
    path.write_text(fleet_source(clusters) + "\n" + namespace_source(0, 1), encoding="utf-8")
    return path


# --------------------------------------------------- measuring one process


def measure(cmd: list[str], cpus: Optional[int] = None) -> Sample:
    """Run `cmd` once in a fresh process under a wrapper of its own, so that
    the child's peak RSS (a max over all children waited for) is this
    command's alone; the wrapper times the child, not its own start-up.
    `cpus`: run it on that many of the CPUs this process may use (their
    affinity). Dirty pages of earlier runs are flushed first (os.sync), so
    that their writeback is not billed to this run. CPU time includes the
    command's children."""
    os.sync()
    wrapper = [sys.executable, str(Path(__file__).resolve()), "_measure", f"--cpus={cpus or 0}", "--", *cmd]
    done = subprocess.run(wrapper, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return Sample(**json.loads(done.stdout))


def measure_child(argv: list[str]) -> int:
    """In the wrapper process, given `--cpus=K -- CMD...`: run CMD (on the
    first K CPUs of this process's affinity when K > 0), print its wall
    time, CPU time and peak RSS as JSON, and exit with its code."""
    split = argv.index("--")
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv[:split])
    cmd = argv[split + 1:]
    if int(options["cpus"]) and hasattr(os, "sched_setaffinity"):  # elsewhere: every CPU
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: int(options["cpus"])])
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.buffer.write(done.stderr)
        return done.returncode
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS, KiB on Linux
    print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": kib / 1024}))
    return 0


def stage_times(source: Path, out: Path) -> dict[str, float]:
    """meshc's time per stage for one render, in a fresh process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "_stages", str(source), str(out)]
    os.sync()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"stage timing of {source}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def stages_child(argv: list[str]) -> int:
    """In a fresh process, given [SOURCE, OUT]: render SOURCE to OUT through
    meshc's API, one stage at a time, with the cyclic GC off as in
    meshc/cli.py, and print each stage's seconds as JSON."""
    import gc

    source, out = argv
    gc.disable()
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[stage] = now - clock
        clock = now

    from meshc.backends.istio import render
    from meshc.checks import run_checks
    from meshc.language.lower import lower
    from meshc.language.parse import parse
    from meshc.output import manifests
    from meshc.output import writer as output
    from meshc.pipeline import discover, read_source
    from meshc.semantics.emitted import check_emitted

    lap("import")
    sources = [read_source(path)[0] for path in discover([source])[0]]
    lap("read")
    parsed = [parse(src) for src in sources]  # the first call also loads the parser's tables
    lap("parse")
    policy, lowered = lower([tree for tree, _ in parsed])
    lap("lower")
    checked = run_checks(policy)
    lap("checks")
    rendering = render(policy)
    lap("backend")
    dead = check_emitted(rendering)
    lap("emitted")
    files = manifests.files(rendering, sorted({src.path.rsplit("/", 1)[-1] for src in sources}))
    lap("emit")
    output.write_tree(out, files)
    lap("write")
    diagnostics = [d for _, diags in parsed for d in diags] + lowered + checked + rendering.diagnostics + dead
    if diagnostics:
        print(f"the workload has diagnostics: {diagnostics[0].message}", file=sys.stderr)
        return 1
    print(json.dumps(times))
    return 0


# ------------------------------------------------------------------ the peer


def peer_ready(python: Path) -> bool:
    """Whether `python` exists and imports go-jsonnet."""
    if not python.exists():
        return False
    return subprocess.run([str(python), "-c", "import _gojsonnet"], capture_output=True).returncode == 0


def setup_peer(peer_dir: Path, venv: Path) -> Peer:
    """The peer's interpreter, creating its venv with gojsonnet on first use."""
    script = peer_dir / "run_peer.py"
    if not script.exists():
        return Peer(problem=f"{script} not found (--peer DIR names the bench-peer directory)")
    python = venv / "bin" / "python"
    if peer_ready(python):
        return Peer(python, script)
    progress(f"creating {venv} with {PEER_PACKAGE} (first run only)")
    steps = ([sys.executable, "-m", "venv", str(venv)], [str(python), "-m", "pip", "install", "-q", PEER_PACKAGE])
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True)
        except OSError as err:
            return Peer(problem=f"{' '.join(step)}: {err}")
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
            return Peer(problem=f"{' '.join(step)} failed: " + " / ".join(tail))
    if not peer_ready(python):
        return Peer(problem=f"{python} cannot import _gojsonnet after installing {PEER_PACKAGE}")
    return Peer(python, script)


# ------------------------------------------------------------- sanity checks


def kinds(text: str) -> Counter:
    """Count the top-level `kind:` of every document in YAML text."""
    found: Counter = Counter()
    for line in text.splitlines():
        if line.startswith("kind: "):
            found[line[len("kind: "):].strip().strip('"')] += 1
    return found


def meshc_kinds(out: Path) -> Counter:
    """Documents meshc wrote under OUT (kustomization.yaml files excluded)."""
    found: Counter = Counter()
    for path in out.rglob("*.yaml"):
        if path.name != "kustomization.yaml":
            found += kinds(path.read_text(encoding="utf-8"))
    return found


def expect_documents(who: str, found: Counter, n: int) -> dict[str, int]:
    """A VirtualService and a DestinationRule per service per cluster, nothing else."""
    expected = Counter({"VirtualService": n * CLUSTERS, "DestinationRule": n * CLUSTERS})
    if found != expected:
        raise BenchError(f"N={n}: {who} wrote {dict(found)}, expected {dict(expected)}")
    return dict(found)


# ------------------------------------------------------------- measurements


def compile_bytecode() -> None:
    """Write meshc's .pyc files, as installing it does (pip compiles a
    wheel's modules; an editable install leaves that to the first run,
    which PYTHONDONTWRITEBYTECODE would prevent for every run)."""
    import meshc

    package = Path(meshc.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, capture_output=True)


def warm_up(meshc: str, peer: Peer, tmp: Path, one_service: Path) -> None:
    """One untimed run of each command: fills the page cache, so that the
    first timed run is not an outlier."""
    source = write_workload(tmp / "warm-src", SERVICES_PER_FILE, CLUSTERS)
    commands = [[meshc, "render", str(source), "-o", str(tmp / "warm-out")],
                [meshc, "check", str(one_service)],
                [sys.executable, "-c", IMPORT_LINE]]
    if peer.python:
        commands.append(peer.command(SERVICES_PER_FILE, tmp / "warm.yaml"))
    for cmd in commands:
        measure(cmd)


def bench_size(n: int, runs: int, meshc: str, peer: Peer, tmp: Path) -> SizeResult:
    """Render N services `runs` times with meshc and the peer, alternately
    (meshc first in even runs, the peer first in odd ones), then with the
    stage timer and in section 4's configurations, so that load on a shared
    machine hits all of them.

    Every run writes to a new path and nothing is deleted until the whole
    benchmark ends: on ext4, creating thousands of files just after deleting
    thousands costs up to ten times more, which would bill one run for the
    previous run's clean-up."""
    result = SizeResult(n, runs, by_cpus={label: [] for label, _ in CPU_COUNTS})
    source = write_workload(tmp / f"src-{n}", n, CLUSTERS)
    for run in range(runs):
        progress(f"N={n}: run {run + 1}/{runs}")
        out = tmp / f"out-{n}-{run}"
        yaml = tmp / f"peer-{n}-{run}.yaml"
        order = ["meshc", "peer"] if run % 2 == 0 else ["peer", "meshc"]
        for who in order:
            if who == "meshc":
                result.meshc.append(measure([meshc, "render", str(source), "-o", str(out)]))
            elif peer.python:
                result.peer.append(measure(peer.command(n, yaml)))
        if run == 0:
            result.documents["meshc"] = expect_documents("meshc", meshc_kinds(out), n)
            if peer.python:
                result.documents["peer"] = expect_documents("the peer", kinds(yaml.read_text(encoding="utf-8")), n)
        result.stages.append(stage_times(source, tmp / f"stages-{n}-{run}"))
        configurations = CPU_COUNTS if run % 2 == 0 else CPU_COUNTS[::-1]
        for label, cpus in configurations:
            target = tmp / f"cpus-{n}-{run}-{cpus}"
            result.by_cpus[label].append(measure([meshc, "render", str(source), "-o", str(target)], cpus))
    return result


def bench_check(meshc: str, one_service: Path, runs: int) -> dict[str, list[Sample]]:
    """Cold `meshc check` of one file and the import line, alternately."""
    samples: dict[str, list[Sample]] = {"check": [], "imports": []}
    commands = {"check": [meshc, "check", str(one_service)], "imports": [sys.executable, "-c", IMPORT_LINE]}
    for run in range(runs):
        progress(f"cold check: run {run + 1}/{runs}")
        for who in (("check", "imports") if run % 2 == 0 else ("imports", "check")):
            samples[who].append(measure(commands[who]))
    return samples


def instructions(cmd: list[str]) -> Optional[int]:
    """Instructions `cmd` executes, counted by valgrind's callgrind (a
    fixed hash seed: the same work every run); None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                          env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
    counts = re.findall(r"Collected : (\d+)", done.stderr)
    return sum(int(c) for c in counts) if done.returncode == 0 and counts else None


# ---------------------------------------------------------------- analysis


def median(values: Sequence[float]) -> Optional[float]:
    """The median, or None when nothing was measured (no peer)."""
    return statistics.median(values) if values else None


def median_walls(samples: list[Sample]) -> Optional[float]:
    """Median wall seconds of whole-process samples."""
    return median([s.wall for s in samples])


def median_cpu(samples: list[Sample]) -> Optional[float]:
    """Median CPU seconds of whole-process samples."""
    return median([s.cpu for s in samples])


def median_ratio(a: list[Sample], b: list[Sample], what: str = "wall") -> Optional[float]:
    """The median of a[i]/b[i] (samples taken one after the other): the
    load of the moment divides out, which a ratio of medians leaves in."""
    return median([getattr(x, what) / getattr(y, what) for x, y in zip(a, b)])


def ratio_cell(a: list[Sample], b: list[Sample], what: str = "wall") -> str:
    """The median of the per-pair ratios a[i]/b[i] and, in brackets, their
    smallest and largest: how much the machine's load moved them."""
    ratios = [getattr(x, what) / getattr(y, what) for x, y in zip(a, b)]
    if not ratios:
        return "n/a"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def median_stages(result: SizeResult) -> dict[str, float]:
    """Median seconds of each stage, and of their sum."""
    medians = {stage: statistics.median(run[stage] for run in result.stages) for stage in STAGES}
    medians["total"] = statistics.median(sum(run.values()) for run in result.stages)
    return medians


def growth(times: dict[int, Optional[float]]) -> dict[str, Optional[float]]:
    """Time ratio between consecutive sizes, normalised linearly to a 10x
    step (t(5000)/t(1000) x 2): 10 means linear."""
    sizes = sorted(times)
    out: dict[str, Optional[float]] = {}
    for small, large in zip(sizes, sizes[1:]):
        if times[small] and times[large]:
            out[f"{small}->{large}"] = times[large] / times[small] * 10 * small / large
        else:
            out[f"{small}->{large}"] = None
    return out


def growth_table(results: list[SizeResult]) -> dict[str, dict[str, Optional[float]]]:
    """Growth of meshc's render, the peer, and meshc's stages without the
    imports (the fixed cost that makes small sizes look sublinear)."""
    return {
        "meshc render": growth({r.n: median_walls(r.meshc) for r in results}),
        "peer": growth({r.n: median_walls(r.peer) for r in results}),
        "meshc stages after import": growth({r.n: median_stages(r)["total"] - median_stages(r)["import"]
                                             for r in results}),
    }


def targets(results: list[SizeResult], growths: dict, check: dict[str, list[Sample]]) -> list[tuple[str, str]]:
    """(PASS|FAIL|SKIP, what) for each target of the issues."""
    out = []
    for n in TARGET_NS:
        at = next((r for r in results if r.n == n), None)
        if at is None or not at.peer:
            out.append(("SKIP", f"N={n}, C={CLUSTERS}: needs N={n} and the peer"))
            continue
        out.append((verdict(median_ratio(at.meshc, at.peer) <= TARGET_SPEEDUP),
                    f"N={n}, C={CLUSTERS}: meshc's wall time <= {TARGET_SPEEDUP:g}x the peer's: median ratio "
                    f"{ratio_cell(at.meshc, at.peer)} (meshc {median_walls(at.meshc):.2f} s, "
                    f"peer {median_walls(at.peer):.2f} s; CPU ratio {ratio_cell(at.meshc, at.peer, 'cpu')})"))
    meshc_rows = [row for row in growths if row.startswith("meshc")]
    ratios = [r for row in meshc_rows for r in growths[row].values() if r is not None]
    if not ratios:
        out.append(("SKIP", "growth linear: needs two sizes"))
    else:
        out.append((verdict(max(ratios) <= LINEAR_LIMIT),
                    f"growth linear: meshc per 10x N at most {max(ratios):.1f} <= {LINEAR_LIMIT:g} "
                    f"({' and '.join(meshc_rows)}; 10 is linear)"))
    out.append((verdict(median_ratio(check["check"], check["imports"]) <= CHECK_LIMIT),
                f"cold check <= {CHECK_LIMIT:g}x the import line: median ratio "
                f"{ratio_cell(check['check'], check['imports'])} (check {median_walls(check['check']):.3f} s, "
                f"import line {median_walls(check['imports']):.3f} s; "
                f"CPU ratio {ratio_cell(check['check'], check['imports'], 'cpu')})"))
    return out


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


# ------------------------------------------------------------------ output


def fmt(value: Optional[float], spec: str) -> str:
    """A figure for a table cell; n/a when it was not measured."""
    return "n/a" if value is None else format(value, spec)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """a / b, or None when either is missing."""
    return a / b if a is not None and b else None


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A titled table, first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(title)
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        print("  " + "  ".join(cells).rstrip())
    print()


def report(results: list[SizeResult], check: dict[str, list[Sample]], growths: dict,
           verdicts: list[tuple[str, str]], peer: Peer, machine: dict,
           counted: Optional[dict[str, Optional[int]]]) -> None:
    """Print every table to stdout."""
    print(f"meshc bench: {machine['cpus']} CPUs, Python {machine['python']}, "
          f"load average {machine['load_before']:.2f} before, {machine['load_after']:.2f} after, "
          f"{machine['seconds']:.0f} s in all, outputs written under {machine['tmpdir']}")
    if peer.problem:
        print(f"peer not measured: {peer.problem}")
    print()
    print_table(
        f"1. render, C = {CLUSTERS} clusters: whole fresh processes, meshc and the peer alternately; medians, "
        "and medians of the per-pair ratios (their range)",
        ["N", "runs", "docs", "meshc s", "peer s", "wall ratio", "meshc cpu", "peer cpu", "cpu ratio",
         "meshc MB", "peer MB"],
        [[str(r.n), str(r.runs), str(2 * r.n * CLUSTERS),
          fmt(median_walls(r.meshc), ".3f"), fmt(median_walls(r.peer), ".3f"),
          ratio_cell(r.meshc, r.peer),
          fmt(median_cpu(r.meshc), ".3f"), fmt(median_cpu(r.peer), ".3f"),
          ratio_cell(r.meshc, r.peer, "cpu"),
          fmt(median([s.rss_mb for s in r.meshc]), ".0f"), fmt(median([s.rss_mb for s in r.peer]), ".0f")]
         for r in results])
    print_table(
        "2. meshc per stage (the serial path): median seconds, in-process, fresh process per run, GC off",
        ["N", *STAGES, "total", "render wall"],
        [[str(r.n), *(f"{median_stages(r)[s]:.3f}" for s in (*STAGES, "total")), fmt(median_walls(r.meshc), ".3f")]
         for r in results])
    steps = list(next(iter(growths.values())))
    print_table(
        "3. growth per 10x N: time ratio, normalised linearly (t(5000)/t(1000) x 2); 10 = linear",
        ["", *steps],
        [[who, *(fmt(by_step[s], ".1f") for s in steps)] for who, by_step in growths.items()])
    labels = [label for label, _ in CPU_COUNTS]
    print_table(
        "4. meshc render on one CPU and on two (one thread by design): median wall (CPU) seconds; "
        f"speed-up = median of per-run ratios to `{labels[0]}` (their range)",
        ["N", *labels, *(f"speed-up, {label}" for label in labels[1:])],
        [[str(r.n), *(f"{median_walls(r.by_cpus[label]):.3f} ({median_cpu(r.by_cpus[label]):.3f})"
                      for label in labels),
          *(ratio_cell(r.by_cpus[labels[0]], r.by_cpus[label]) for label in labels[1:])]
         for r in results])
    rows = [["meshc check FILE (one service)", f"{median_walls(check['check']):.3f}",
             f"{median_cpu(check['check']):.3f}"],
            [f'python -c "{IMPORT_LINE}"', f"{median_walls(check['imports']):.3f}",
             f"{median_cpu(check['imports']):.3f}"],
            ["per-pair ratios: median (range)", ratio_cell(check["check"], check["imports"]),
             ratio_cell(check["check"], check["imports"], "cpu")]]
    header = ["command", "wall s", "cpu s"]
    if counted:
        header.append("instructions")
        check_i, line_i = counted.get("check"), counted.get("imports")
        rows[0].append(fmt(check_i and check_i / 1e6, ".0f") + " M")
        rows[1].append(fmt(line_i and line_i / 1e6, ".0f") + " M")
        rows[2].append(fmt(ratio(check_i, line_i), ".2f"))
    print_table(f"5. cold start: {len(check['check'])} fresh processes each, alternately", header, rows)
    print("6. targets (issue 3, item 7; issue 16)")
    for mark, what in verdicts:
        print(f"  {mark}  {what}")


def bench_script(script: str, what: str, n: int) -> tuple[str, Optional[dict]]:
    """Another bench/ script (`evaluate.py`, issue 7; `policytest.py`,
    issue 9) in a fresh process for N services: its report and its figures."""
    with tempfile.TemporaryDirectory(prefix="meshc-bench-") as name:
        figures = Path(name) / "figures.json"
        done = subprocess.run([sys.executable, str(BENCH / script), "--services", str(n),
                               "--json", str(figures)], capture_output=True, text=True)
        if not figures.exists():
            return f"{what} not measured: exit {done.returncode}: {done.stderr.strip()[-500:]}", None
        return done.stdout.rstrip(), json.loads(figures.read_text(encoding="utf-8"))


def raw_figures(results: list[SizeResult], check: dict, growths: dict, verdicts: list, peer: Peer,
                machine: dict, counted: Optional[dict]) -> dict:
    """Everything measured, for --json."""
    return {
        "machine": machine,
        "clusters": CLUSTERS,
        "peer": {"package": PEER_PACKAGE, "problem": peer.problem},
        "sizes": [asdict(r) for r in results],
        "check": {who: [asdict(s) for s in samples] for who, samples in check.items()},
        "instructions": counted,
        "growth": growths,
        "targets": [{"result": mark, "target": what} for mark, what in verdicts],
    }


def progress(message: str) -> None:
    """A progress line on stderr, keeping stdout for the tables."""
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- main


def meshc_cli() -> str:
    """The meshc command next to the running interpreter (the venv's)."""
    path = Path(sys.executable).with_name("meshc")
    if not path.exists():
        raise BenchError(f"no meshc next to {sys.executable}: "
                         "run with the venv's python (.venv/bin/python bench/run.py)")
    return str(path)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    """The command line of a benchmark run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=lambda s: sorted({int(x) for x in s.split(",")}), default=list(SIZES),
                        help="comma-separated numbers of services (default: 100,1000,5000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure; medians are reported (default: 5)")
    parser.add_argument("--large-repeats", type=int, default=3,
                        help=f"runs for N > {LARGE}, at most --repeats (default: 3)")
    parser.add_argument("--peer", type=Path, default=PEER_DIR, help="the bench-peer directory (default: %(default)s)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the cold check's instructions with valgrind (about a minute)")
    parser.add_argument("--json", type=Path, help="also write every raw figure to this file")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.large_repeats < 1 or min(args.sizes) < 1:
        parser.error("sizes and repeats must be positive")
    return args


def runs_for(n: int, args: argparse.Namespace) -> int:
    """--repeats, or --large-repeats (if fewer) above N = LARGE."""
    return min(args.repeats, args.large_repeats) if n > LARGE else args.repeats


def run(args: argparse.Namespace) -> None:
    """The whole benchmark: measure, then print (and save) the figures."""
    started = time.perf_counter()
    meshc = meshc_cli()
    peer = setup_peer(args.peer, PEER_VENV)
    if peer.problem:
        progress(f"the peer will not be measured: {peer.problem}")
    compile_bytecode()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="meshc-bench-") as name:
        tmp = Path(name)
        one_service = write_one_service(tmp / "one", CLUSTERS)
        warm_up(meshc, peer, tmp, one_service)
        results = [bench_size(n, runs_for(n, args), meshc, peer, tmp) for n in args.sizes]
        check = bench_check(meshc, one_service, args.repeats)
        counted = None
        if args.instructions:
            progress("cold check: counting instructions")
            counted = {"check": instructions([meshc, "check", str(one_service)]),
                       "imports": instructions([sys.executable, "-c", IMPORT_LINE])}
    progress(f"evaluator: N={TARGET_NS[0]}")
    evaluator_text, evaluator_figures = bench_script("evaluate.py", "evaluator", TARGET_NS[0])
    progress(f"policy tests: N={TARGET_NS[0]}")
    tests_text, tests_figures = bench_script("policytest.py", "policy tests", TARGET_NS[0])
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
               "tmpdir": tempfile.gettempdir(),
               "load_before": load_before, "load_after": os.getloadavg()[0],
               "seconds": time.perf_counter() - started}
    growths = growth_table(results)
    verdicts = targets(results, growths, check)
    report(results, check, growths, verdicts, peer, machine, counted)
    print()
    print("7. " + evaluator_text)
    print()
    print("8. " + tests_text)
    if args.json:
        figures = raw_figures(results, check, growths, verdicts, peer, machine, counted)
        figures["evaluator"] = evaluator_figures
        figures["policy_tests"] = tests_figures
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


INTERNAL = {"_measure": measure_child, "_stages": stages_child}
"""Modes in which this script runs as a child of itself (not for users)."""


def main(argv: Optional[list[str]] = None) -> int:
    """Run the benchmark, or one of the INTERNAL child modes."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in INTERNAL:
        return INTERNAL[argv[0]](argv[1:])
    try:
        run(parse_args(argv))
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
