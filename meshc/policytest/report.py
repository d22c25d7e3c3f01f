"""`meshc test`'s report, like pytest's: a dot (or `F`) per test, file by
file; each failure with the test's location, the expectation's, expected
against actual, the clusters and steps it failed in, the request and the
`meshc route` explanation; a summary line; the route coverage. Also JSON
and JUnit XML for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Optional

from meshc.policytest.coverage import Coverage
from meshc.policytest.runner import CaseFailure, Result
from meshc.traffic.answer import describe_request, location, where

WIDTH = 80


def _grouped(failed: list[CaseFailure]) -> list[tuple[list[str], CaseFailure]]:
    """Failures that say the same in several clusters, once, with the clusters."""
    groups: dict[tuple, tuple[list[str], CaseFailure]] = {}
    for f in failed:
        key = (f.case.request.span, f.case.steps, tuple((x.span, x.actual) for x in f.failures),
               tuple(f.explanation))
        groups.setdefault(key, ([], f))[0].append(f.case.cluster)
    return list(groups.values())


def text(results: list[Result], coverage: Optional[Coverage], seconds: float) -> str:
    out: list[str] = []
    by_file: dict[str, list[Result]] = {}
    for r in results:
        by_file.setdefault(r.test.span.file, []).append(r)
    for file, found in by_file.items():
        out.append(f"{file} " + "".join("." if r.passed else "F" for r in found))
    failed = [r for r in results if not r.passed]
    if failed:
        out += ["", _rule("FAILURES", "=")]
        for r in failed:
            out.append(_rule(f"{r.test.name.value} ({where(r.test.name.span)})", "_"))
            for clusters, f in _grouped(r.failed):
                out += _failure(clusters, f)
    out.append(_rule(_summary(results, seconds), "="))
    if coverage is not None:
        out += coverage_lines(coverage)
    return "\n".join(out) + "\n"


def _failure(clusters: list[str], f: CaseFailure) -> list[str]:
    out = []
    for x in f.failures:
        out += [where(x.span),
                f"  expected: {x.expected}",
                f"  actual:   {x.actual}"]
    out.append(f"  in {', '.join(clusters)}; {f.case.where}")
    out.append("  request (" + where(f.case.request.span) + "): "
               + describe_request(f.request).replace("\n", "\n  "))
    if f.explanation:
        out.append("  meshc route:")
        out += ["    " + line for line in f.explanation]
    out.append("")
    return out


def _rule(title: str, fill: str) -> str:
    title = f" {title} "
    left = max(3, (WIDTH - len(title)) // 2)
    return fill * left + title + fill * max(3, WIDTH - left - len(title))


def _summary(results: list[Result], seconds: float) -> str:
    failed = sum(not r.passed for r in results)
    passed = len(results) - failed
    cases = sum(r.cases for r in results)
    parts = ([f"{failed} failed"] if failed else []) + [f"{passed} passed"]
    return f"{', '.join(parts)} ({cases} cases) in {seconds:.2f}s"


def coverage_lines(coverage: Coverage) -> list[str]:
    counts = coverage.counts()
    reached = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    parts = ", ".join(f"{kind}s {c[0]}/{c[1]}" for kind, c in counts.items())
    out = [f"coverage: {coverage.percent:.1f}% ({reached} of {total}: {parts})"]
    missed = sorted(coverage.missed(), key=lambda e: (e.span.file, e.span.start, e.what))
    if missed:
        out.append("not reached:")
        out += [f"  {where(e.span)}: {e.what}" for e in missed]
    return out


def as_json(results: list[Result], coverage: Optional[Coverage], seconds: float) -> str:
    tests = []
    for r in results:
        tests.append({
            "name": r.test.name.value, "location": location(r.test.name.span),
            "outcome": "passed" if r.passed else "failed", "cases": r.cases,
            "failures": [{
                "clusters": clusters,
                "steps": [{"namespace": k[0], "service": k[1], "route": k[2], "step": s} for k, s in f.case.steps],
                "request": {"location": location(f.case.request.span), "host": f.request.host,
                            "port": f.request.port, "gateway": f.request.gateway, "method": f.request.method,
                            "path": f.request.path, "headers": dict(f.request.headers)},
                "expectations": [{"location": location(x.span), "expected": x.expected,
                                  "actual": x.actual} for x in f.failures],
                "explanation": f.explanation,
            } for clusters, f in _grouped(r.failed)],
        })
    failed = sum(not r.passed for r in results)
    out: dict = {"tests": tests, "summary": {"tests": len(results), "passed": len(results) - failed,
                                             "failed": failed, "cases": sum(r.cases for r in results),
                                             "seconds": round(seconds, 3)}}
    if coverage is not None:
        out["coverage"] = {
            "percent": round(coverage.percent, 2),
            "counts": {kind: {"reached": c[0], "total": c[1]} for kind, c in coverage.counts().items()},
            "not_reached": [{"kind": e.kind, "what": e.what, "location": location(e.span)}
                            for e in coverage.missed()]}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def junit(results: list[Result], seconds: float) -> str:
    """One `<testsuite>` per file, one `<testcase>` per test."""
    root = ET.Element("testsuites", name="meshc test", tests=str(len(results)),
                      failures=str(sum(not r.passed for r in results)), errors="0", time=f"{seconds:.3f}")
    by_file: dict[str, list[Result]] = {}
    for r in results:
        by_file.setdefault(r.test.span.file, []).append(r)
    for file, found in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(found)),
                              failures=str(sum(not r.passed for r in found)), errors="0", skipped="0")
        for r in found:
            case = ET.SubElement(suite, "testcase", name=r.test.name.value, classname=file, file=file,
                                 line=str(r.test.name.span.line))
            if r.failed:
                body = "\n".join(line for clusters, f in _grouped(r.failed) for line in _failure(clusters, f))
                first = r.failed[0].failures[0]
                ET.SubElement(case, "failure", message=f"expected {first.expected}, got {first.actual}",
                              type="failed").text = body
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
