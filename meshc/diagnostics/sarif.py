"""Diagnostics as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

One run, tool `meshc`, one rule per code that occurs, with `meshc explain`'s
text as its help. Locations are relative to the directory meshc ran in
(`%SRCROOT%`), columns count Unicode code points as meshc's do, and labels
become related locations. Tested against the OASIS schema
(tests/sarif/sarif-schema-2.1.0.json).
"""

from __future__ import annotations

import json
from typing import Sequence
from urllib.parse import quote

from meshc import __version__
from meshc.diagnostics import Diagnostic, Severity
from meshc.diagnostics.codes import CODES, describe
from meshc.language.source import Span

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def render(diagnostics: Sequence[Diagnostic]) -> str:
    codes = sorted({d.code for d in diagnostics})
    index = {code: i for i, code in enumerate(codes)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "meshc",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(code) for code in codes],
            }},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The directory meshc ran in."}}},
            "results": [_result(d, index[d.code]) for d in diagnostics],
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(code: str) -> dict:
    entry = CODES[code]
    return {
        "id": entry.code,
        "name": entry.name,
        "shortDescription": {"text": entry.summary},
        "fullDescription": {"text": entry.why},
        "help": {"text": describe(entry), "markdown": describe(entry)},
        "defaultConfiguration": {"level": _level(entry.severity)},
    }


def _result(d: Diagnostic, rule_index: int) -> dict:
    result = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": _level(d.severity),
        "message": {"text": d.message + (f"\nhelp: {d.help}" if d.help else "")},
        "locations": [_location(d.span)],
    }
    if d.labels:
        result["relatedLocations"] = [
            {**_location(label.span), "id": i, "message": {"text": label.message}}
            for i, label in enumerate(d.labels)
        ]
    return result


def _location(span: Span) -> dict:
    # Display paths are relative to the working directory unless the file
    # lies outside it; those become file: URIs of their own.
    artifact = ({"uri": "file://" + quote(span.file)} if span.file.startswith("/")
                else {"uri": quote(span.file), "uriBaseId": "%SRCROOT%"})
    return {"physicalLocation": {
        "artifactLocation": artifact,
        "region": {"startLine": span.line, "startColumn": span.column,
                   "endLine": span.end_line, "endColumn": span.end_column},
    }}


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"
