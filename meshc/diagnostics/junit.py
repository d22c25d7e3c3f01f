"""Diagnostics as JUnit XML, for CI systems that show test reports.

One `<testsuite>` per checked file; each diagnostic is a `<testcase>` named
after its code with a `<failure>` (type `error` or `warning`, since JUnit
has no warnings), and a file without diagnostics has one passing testcase,
so that a clean run still shows what was checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterable, Sequence

from meshc.diagnostics import Diagnostic


def render(diagnostics: Sequence[Diagnostic], files: Iterable[str]) -> str:
    by_file: dict[str, list[Diagnostic]] = {f: [] for f in sorted(files)}
    for d in diagnostics:
        by_file.setdefault(d.span.file, []).append(d)
    root = ET.Element("testsuites", name="meshc check", tests="0", failures="0", errors="0")
    total = failures = 0
    for file, found in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(max(1, len(found))),
                              failures=str(len(found)), errors="0", skipped="0")
        for d in found:
            case = ET.SubElement(suite, "testcase", name=f"{d.code} {d.name}", classname=file,
                                 file=file, line=str(d.span.line))
            text = f"{d.span}: {d.message}" + (f"\nhelp: {d.help}" if d.help else "")
            ET.SubElement(case, "failure", message=d.message, type=d.severity.value).text = text
        if not found:
            ET.SubElement(suite, "testcase", name="no diagnostics", classname=file, file=file)
        total += max(1, len(found))
        failures += len(found)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
