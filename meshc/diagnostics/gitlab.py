"""Diagnostics as a GitLab Code Quality report (`artifacts: reports: codequality`).

A JSON array of issues with `description`, `check_name`, `fingerprint`,
`severity` and `location` (path and lines), the fields GitLab requires
(docs: ci/testing/code_quality, "Code Quality report format"). The
fingerprint leaves out the line, so an issue keeps its identity when lines
above it move; repeats of one message in one file are numbered.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Sequence

from meshc.diagnostics import Diagnostic, Severity


def render(diagnostics: Sequence[Diagnostic]) -> str:
    seen: Counter = Counter()
    issues = []
    for d in diagnostics:
        key = (d.code, d.span.file, d.message)
        seen[key] += 1
        fingerprint = hashlib.sha256("\0".join([*key, str(seen[key])]).encode()).hexdigest()
        issues.append({
            "type": "issue",
            "check_name": d.code,
            "description": f"{d.code} {d.name}: {d.message}",
            "categories": ["Bug Risk"],
            "severity": "major" if d.severity is Severity.ERROR else "minor",
            "fingerprint": fingerprint,
            "location": {"path": d.span.file, "lines": {"begin": d.span.line, "end": d.span.end_line}},
        })
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
