#!/usr/bin/env python3
"""How `meshc check` and `meshc render` grow with their input (issue 14, item 4).

    .venv/bin/python bench/growth.py [--repeats 3] [--quick] [--json FILE]

Three workloads, each at several sizes, every run a fresh process:

1. routes: one service with N routes whose `when`s mix exact and prefix
   headers, path prefixes, methods with headers, cookies or queries, and
   regexes (the reachability check compares each route with those before it);
2. errors on one line: K routes on a single line, each with weights that do
   not add up, so `check` prints K full diagnostics of that line;
3. policy size: the examples (every scenario, namespaces and hosts renamed
   per copy) repeated up to S MB in one file, beside the examples' fleet.

Prints the median wall and CPU seconds per size, the growth per doubling
(t(2n)/t(n), normalised to a doubling; 2 is linear, 4 quadratic) and the
issue's targets. Sources and outputs live in a temporary directory (TMPDIR
chooses where). See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MESHC = [sys.executable, "-m", "meshc"]

ROUTES = (500, 1000, 2000, 5000)
ERRORS = (500, 1000, 2000)
MEGABYTES = (1, 2, 5, 10)
TARGETS = {("routes", 5000, "check"): 5.0, ("routes", 5000, "render"): 5.0,
           ("policy", 10, "check"): 10.0, ("policy", 10, "render"): 10.0}


# ------------------------------------------------------------------ workloads
def routes_policy(n: int) -> str:
    kinds = ['header x-user = "u{i}"', 'path ^= "/api/v{i}/"', 'method = GET and header x-tenant = "t{i}"',
             'cookie session = "s{i}" or query q{i} = "1"', 'header x-re ~ "r{i}[0-9]*"', 'header x-p ^= "p{i}-"']
    routes = "".join(f"    route r{i} {{\n      when {kinds[i % len(kinds)].format(i=i)}\n      to v{1 + i % 2}\n    }}\n"
                     for i in range(n))
    return ("namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1 v2\n"
            + routes + "    route default { to v1 }\n  }\n}\n")


def errors_policy(k: int) -> str:
    routes = " ".join(f'route r{i} {{ when header h = "{i}" to v1 90%, v2 20% }}' for i in range(k))
    return f"namespace a {{ service b {{ port 80 http subsets by version v1 v2 {routes} route d {{ to v1 }} }} }}\n"


def examples_policy(megabytes: float) -> str:
    scenarios = [p.read_text(encoding="utf-8") for p in sorted((REPO / "examples").glob("s*.mesh"))]

    def copy(k: int) -> str:
        text = "".join(scenarios)
        text = re.sub(r"namespace ([a-z0-9-]+) \{", lambda m: f"namespace {m.group(1)}-k{k} {{", text)
        text = re.sub(r"\bin ([a-z][a-z0-9-]*)\b", lambda m: f"in {m.group(1)}-k{k}", text)
        return text.replace("example.com", f"k{k}.example.com").replace("example.org", f"k{k}.example.org")

    parts, size, k = [], 0, 0
    while size < megabytes * 1_000_000:
        parts.append(copy(k))
        size += len(parts[-1])
        k += 1
    return "".join(parts)


def write(directory: Path, text: str, fleet: bool) -> Path:
    directory.mkdir(parents=True)
    if fleet:
        shutil.copy(REPO / "examples" / "fleet.mesh", directory)
    (directory / "policy.mesh").write_text(text, encoding="utf-8")
    return directory


# ------------------------------------------------------------------ measuring
def run(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh meshc process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(MESHC + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"meshc {' '.join(args)}: exit {done.returncode}\n{done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(policy: Path, command: str, out: Path, repeats: int) -> dict:
    samples = []
    for i in range(repeats):
        if command == "check":
            args = ["check", str(policy)]
        else:
            target = out / f"{policy.name}-{i}"
            args = ["render", str(policy), "-o", str(target)]
        samples.append(run(args))
    return {"wall": statistics.median(s[0] for s in samples), "cpu": statistics.median(s[1] for s in samples),
            "runs": repeats}


def growth(sizes: list, seconds: list) -> list[str]:
    """t(b)/t(a) per pair of sizes, normalised to a doubling: (t(b)/t(a)) ** (log 2 / log(b/a))."""
    import math

    return [f"{(seconds[i + 1] / seconds[i]) ** (math.log(2) / math.log(sizes[i + 1] / sizes[i])):.2f}"
            for i in range(len(sizes) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="only the two smallest sizes of each workload")
    parser.add_argument("--json", type=Path, help="write the figures to FILE")
    options = parser.parse_args()

    plans = [("routes", ROUTES, routes_policy, False, ("check", "render")),
             ("errors", ERRORS, errors_policy, False, ("check",)),
             ("policy", MEGABYTES, examples_policy, True, ("check", "render"))]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="meshc-growth-") as tmp:
        tmp_path = Path(tmp)
        for name, sizes, make, fleet, commands in plans:
            sizes = sizes[:2] if options.quick else sizes
            for size in sizes:
                policy = write(tmp_path / f"{name}-{size}", make(size), fleet)
                for command in commands:
                    print(f"{name} {size} {command} ...", file=sys.stderr, flush=True)
                    figures[(name, size, command)] = measure(policy, command, tmp_path / "out", options.repeats)
    units = {"routes": "routes", "errors": "errors", "policy": "MB"}
    print(f"meshc growth, median of {options.repeats} fresh processes each (wall / CPU seconds)\n")
    for name, sizes, _, _, commands in plans:
        sizes = [s for s in sizes if (name, s, commands[0]) in figures]
        for command in commands:
            walls = [figures[(name, s, command)]["wall"] for s in sizes]
            cpus = [figures[(name, s, command)]["cpu"] for s in sizes]
            print(f"{name} ({units[name]}), {command}")
            print("  size      " + "".join(f"{s:>10}" for s in sizes))
            print("  wall s    " + "".join(f"{w:>10.2f}" for w in walls))
            print("  cpu s     " + "".join(f"{c:>10.2f}" for c in cpus))
            print("  growth x2 " + " " * 10 + "".join(f"{g:>10}" for g in growth(sizes, cpus)) + "   (CPU; 2 = linear)")
            print()
    print("targets (wall seconds)")
    for key, limit in TARGETS.items():
        if key in figures:
            wall = figures[key]["wall"]
            print(f"  {'PASS' if wall <= limit else 'FAIL'}  {key[0]} {key[1]} {key[2]}: {wall:.2f} s <= {limit:.0f} s "
                  f"(CPU {figures[key]['cpu']:.2f} s)")
    if options.json:
        options.json.write_text(json.dumps({" ".join(map(str, k)): v for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
