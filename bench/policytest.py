#!/usr/bin/env python3
"""Benchmark `meshc test`, `meshc route` and `meshc check` side by side (issue 9).

    .venv/bin/python bench/policytest.py [--services 1000] [--cases 10000] [--repeats 5] [--json FILE]

Writes the workload of bench/run.py (N services in namespace prod, C = 3
clusters) and, beside it, `tests.mesh`: policy tests with `--cases` request
cases in all (for each service, the canary header expected at v2 in every
cluster, and plain requests expected at the 90/10 split from one cluster
each). Then, in fresh processes taking turns, times:

- `meshc check DIR` (the policy, tests included);
- `meshc route DIR --service prod/svc-NNNN` (one request, every cluster);
- `meshc test DIR` (every case, compile included);

and prints the medians with the issue's targets: `meshc test` of 10,000
cases at N = 1000 in at most 5 s, `meshc route` within 1.5x `meshc check`.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import CLUSTERS, BenchError, measure, meshc_cli, write_workload  # noqa: E402  (bench/run.py)

TEST_LIMIT = 5.0
"""Seconds `meshc test` may take for 10,000 cases at N = 1000, compile included."""
ROUTE_LIMIT = 1.5
"""`meshc route` within this factor of `meshc check`."""


def tests_source(n: int, cases: int, clusters: int) -> str:
    """Tests with `cases` request cases over services svc-0000 to svc-(n-1):
    per service, the canary header expected at v2 and plain requests at the
    90/10 split, each request a case in every cluster (the last request
    from one cluster only, to make up the count)."""
    requests = [(i, "override", 'with header canary = "true"') for i in range(n)]
    requests += [(i, "split", f'with path = "/a/{i}"') for i in range(n)]
    requests += [(i, "override", f'with header canary = "true" and path = "/b/{i}"') for i in range(n)]
    requests += [(i, "split", f'with method = POST and path = "/c/{i}"') for i in range(n)]
    out: dict[tuple[int, str], list[str]] = {}
    made = 0
    for i, kind, said in requests:
        if made >= cases:
            break
        left = cases - made
        if left < clusters:
            said += f" and from cluster c{i % clusters}"
        out.setdefault((i, kind), []).append(f"  request service svc-{i:04d} in prod {said}\n")
        made += min(left, clusters)
    expect = {"override": "  expect route canary\n  expect to v2\n",
              "split": "  expect route default\n  expect to v1 90%, v2 10%\n  expect timeout 10s\n"}
    return "\n".join(f"test {kind}-{i} {{\n" + "".join(lines) + expect[kind] + "}\n"
                     for (i, kind), lines in sorted(out.items()))


def cases_of(output: str) -> int:
    return json.loads(output)["summary"]["cases"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the samples to this file")
    args = parser.parse_args(argv)
    meshc = meshc_cli()
    with tempfile.TemporaryDirectory(prefix="meshc-bench-tests-") as name:
        policy = write_workload(Path(name) / "policy", args.services, CLUSTERS)
        (policy / "tests.mesh").write_text(tests_source(args.services, args.cases, CLUSTERS), encoding="utf-8")
        commands = {
            "meshc check": [meshc, "check", str(policy)],
            "meshc route": [meshc, "route", str(policy), "--service", f"prod/svc-{args.services // 2:04d}"],
            "meshc test": [meshc, "test", str(policy)],
        }
        done = subprocess.run([meshc, "test", str(policy), "--output-format", "json"], capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"meshc test failed on the workload:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        cases = cases_of(done.stdout)
        for cmd in commands.values():  # warm the page cache and the .pyc files
            measure(cmd)
        samples: dict[str, list] = {label: [] for label in commands}
        for _ in range(args.repeats):
            for label, cmd in commands.items():
                samples[label].append(measure(cmd))
    wall = {label: statistics.median(s.wall for s in found) for label, found in samples.items()}
    cpu = {label: statistics.median(s.cpu for s in found) for label, found in samples.items()}
    rss = {label: max(s.rss_mb for s in found) for label, found in samples.items()}
    print(f"policy tests, N = {args.services} services, C = {CLUSTERS} clusters, {cases} test cases; "
          f"median of {args.repeats} fresh processes")
    print(f"  {'command':<14}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}")
    for label in commands:
        print(f"  {label:<14}{wall[label]:>9.3f}{cpu[label]:>9.3f}{rss[label]:>9.0f}")
    ratio = wall["meshc route"] / wall["meshc check"]
    checks = [
        (wall["meshc test"] <= TEST_LIMIT,
         f"meshc test, {cases} cases: {wall['meshc test']:.2f} s <= {TEST_LIMIT:g} s, compile included"),
        (ratio <= ROUTE_LIMIT, f"meshc route {wall['meshc route']:.2f} s <= {ROUTE_LIMIT:g}x meshc check "
                               f"{wall['meshc check']:.2f} s (ratio {ratio:.2f})"),
    ]
    for ok, what in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {what}")
    if args.json:
        args.json.write_text(json.dumps({
            "services": args.services, "cases": cases, "clusters": CLUSTERS,
            "samples": {k: [vars(s) for s in v] for k, v in samples.items()},
            "median_wall": wall, "median_cpu": cpu, "targets": [{"pass": ok, "target": what} for ok, what in checks],
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
