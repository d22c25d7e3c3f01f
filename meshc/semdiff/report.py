"""A semantic diff as text (one line per change, as the issue words it:
`production/user-service, route primary: v1 90% → 80%, v2 10% → 20% in
hangzhou, beijing`), Markdown for a pull-request comment, or JSON."""

from __future__ import annotations

import json

from meshc.semdiff.changes import Change

NONE = "no change in traffic terms"


def line(c: Change) -> str:
    return f"{c.subject}, {c.what} in {', '.join(c.clusters)}"


def as_text(found: list[Change], examples: bool = True) -> str:
    if not found:
        return NONE + "\n"
    out = []
    for c in found:
        out.append(line(c))
        if examples:
            out += [f"  e.g. {e}" for e in c.examples]
    return "\n".join(out) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def as_markdown(found: list[Change]) -> str:
    if not found:
        return f"**meshc diff**: {NONE}.\n"
    out = ["**meshc diff**: traffic changes", "", "| service | change | clusters |", "| --- | --- | --- |"]
    for c in found:
        what = _cell(c.what)
        if c.examples:
            what += "<br>e.g. " + "; ".join(f"`{_cell(e)}`" for e in c.examples)
        out.append(f"| `{_cell(c.subject)}` | {what} | {', '.join(c.clusters)} |")
    return "\n".join(out) + "\n"


def as_json(found: list[Change]) -> str:
    return json.dumps([{"subject": c.subject, "kind": c.kind, "change": c.what, "clusters": list(c.clusters),
                        "examples": list(c.examples)} for c in found], indent=2, ensure_ascii=False) + "\n"
