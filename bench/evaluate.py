#!/usr/bin/env python3
"""Benchmark the route evaluator on the bench workload's rendered output (issue 7).

    .venv/bin/python bench/evaluate.py [--services 1000] [--requests 200000] [--repeats 5] [--json FILE]

Renders the workload of bench/run.py (N services in namespace prod, C = 3
clusters) through meshc's API, loads cluster c0's directory with the
evaluator's loader, and times `Evaluator.evaluate` over a fixed mix of
requests in one process: every service, with and without the canary
header, a few paths, from two client namespaces. Prints requests/s (the
median of the repeats) next to the loading time; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import CLUSTERS, write_workload  # noqa: E402  (bench/run.py, not a package)

TARGET = 20_000
"""Requests per second the issue asks for, after loading."""


def render(source: Path, out: Path) -> None:
    """`meshc render SOURCE -o OUT` through the API, checked clean."""
    from meshc.backends.istio import render as backend
    from meshc.checks import run_checks
    from meshc.language.lower import lower
    from meshc.language.parse import parse
    from meshc.output import manifests
    from meshc.output import writer as output
    from meshc.pipeline import discover, read_source

    sources = [read_source(path)[0] for path in discover([source])[0]]
    parsed = [parse(src) for src in sources]
    policy, lowered = lower([tree for tree, _ in parsed])
    rendering = backend(policy)
    problems = [d for _, diags in parsed for d in diags] + lowered + run_checks(policy) + rendering.diagnostics
    if problems:
        raise SystemExit(f"the workload has diagnostics: {problems[0].message}")
    output.write_tree(out, manifests.files(rendering, sorted({s.path.rsplit('/', 1)[-1] for s in sources})))


def requests(n: int, count: int, seed: int = 7) -> list:
    """A fixed mix of requests over the N services."""
    from meshc.semantics.request import Request

    rnd = random.Random(seed)
    paths = ["/", "/api/v1/items", "/health", "/static/app.js?v=3"]
    out = []
    for _ in range(count):
        i = rnd.randrange(n)
        headers = {"canary": "true"} if rnd.random() < 0.2 else {}
        out.append(Request.make(f"svc-{i:04d}.prod.svc.cluster.local", 80, path=rnd.choice(paths), headers=headers,
                                source_namespace=rnd.choice(["prod", "web"])))
    return out


def measure(n: int, count: int, repeats: int) -> dict:
    from meshc.semantics.evaluate import Evaluator, load_directory
    from meshc.semantics.request import Registry, ServicePort

    with tempfile.TemporaryDirectory(prefix="meshc-bench-eval-") as name:
        tmp = Path(name)
        source = write_workload(tmp / "src", n, CLUSTERS)
        render(source, tmp / "out")
        start = time.perf_counter()
        documents = load_directory(tmp / "out" / "c0")
        loaded = time.perf_counter()
        registry = Registry({f"svc-{i:04d}.prod.svc.cluster.local": (ServicePort(80, "http"),) for i in range(n)})
        evaluator = Evaluator(documents, registry)
        built = time.perf_counter()
    batch = requests(n, count)
    kinds: dict[str, int] = {}
    for r in batch[: min(count, 2000)]:  # sanity: the workload routes through its VirtualServices
        kind = evaluator.evaluate(r).kind
        kinds[kind] = kinds.get(kind, 0) + 1
    if set(kinds) != {"route"}:
        raise SystemExit(f"unexpected decisions on the workload: {kinds}")
    rates = []
    for _ in range(repeats):
        evaluate = evaluator.evaluate
        start_run = time.perf_counter()
        for r in batch:
            evaluate(r)
        rates.append(count / (time.perf_counter() - start_run))
    return {"services": n, "documents": len(documents), "requests": count, "repeats": repeats,
            "load_s": loaded - start, "build_s": built - loaded, "rates": rates,
            "median_rps": statistics.median(rates), "target_rps": TARGET}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000, help="number of services N (default: 1000)")
    parser.add_argument("--requests", type=int, default=200_000, help="requests per repeat (default: 200000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats; the median is reported (default: 5)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = measure(args.services, args.requests, args.repeats)
    print(f"evaluator, N = {figures['services']} services, cluster c0 ({figures['documents']} documents)")
    print(f"  load {figures['load_s']:.2f} s, index {figures['build_s']:.3f} s")
    print(f"  {figures['median_rps']:,.0f} requests/s (median of {figures['repeats']} x {figures['requests']:,})")
    ok = figures["median_rps"] >= TARGET
    print(f"  {'PASS' if ok else 'FAIL'}  >= {TARGET:,} requests/s in one process after loading")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
