"""The picture as Graphviz dot, read left to right: the gateways that expose
a service, the service as a table whose rows are its routes in the order
they are tried, and the destinations each row sends traffic to.

A table keeps the routes in order (dot would reorder separate nodes to
shorten edges); edges leave from the row of their route.
"""

from __future__ import annotations

from html import escape

from meshc.graph import labels
from meshc.graph.model import ServiceGraph

_HEAD = """\
digraph meshc {
  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.6];
  node [fontname="Helvetica", fontsize=10, shape=box, style="filled", color="#5f6368"];
  edge [fontname="Helvetica", fontsize=9, color="#5f6368", arrowsize=0.7];
"""
SERVICE, ROUTE, SUBSET, OTHER, GATEWAY = "#e8f0fe", "#fef7e0", "#e6f4ea", "#f1f3f4", "#f3e8fd"
MUTED = "#9aa0a6"


def dot(graphs: list[ServiceGraph]) -> str:
    # With rankdir=LR, dot stacks what comes first at the bottom: services
    # and destinations are written last to first so that they read top down.
    out = [_HEAD]
    for n, g in reversed(list(enumerate(graphs, start=1))):
        p = f"s{n}"
        out.append(f'  subgraph cluster_{p} {{\n    label="{_escape(g.key)}"; labeljust=l; '
                   f'style="rounded"; color="{MUTED}";\n')
        out.append(f"    {p} [shape=plain, label=<{_table(g)}>];\n")
        for i, e in enumerate(g.entrances, start=1):
            out.append(f'    {p}_in{i} [label="{_lines(labels.entrance(e))}", shape=cds, fillcolor="{GATEWAY}"];\n')
            condition = labels.entrance_condition(e)
            attrs = f' [label="{_escape(condition)}"]' if condition else ""
            out.append(f"    {p}_in{i} -> {p}:svc:w{attrs};\n")
        ids = {t.key: f"{p}_t{j}" for j, t in enumerate(g.targets, start=1)}
        for t in reversed(g.targets):
            fill = SUBSET if t.key[0] == "subset" else OTHER
            out.append(f'    {ids[t.key]} [label="{_lines(labels.target(t))}", fillcolor="{fill}"];\n')
        for r in g.routes:
            for e in r.edges:
                style = "" if e.primary else f', style=dashed, color="{MUTED}"'
                out.append(f'    {p}:r{r.index}:e -> {ids[e.target.key]} [label="{_escape(e.label)}"{style}];\n')
        out.append("  }\n")
    out.append("}\n")
    return "".join(out)


def _table(g: ServiceGraph) -> str:
    rows = [_row("svc", labels.service(g), SERVICE)]
    rows += [_row(f"r{r.index}", labels.route(r), ROUTE) for r in g.routes]
    return '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="5" COLOR="#5f6368">' + "".join(rows) + \
        "</TABLE>"


def _row(port: str, lines: list[str], color: str) -> str:
    """A table row: its first line in bold (the host, or the route)."""
    cells = [escape(line) for line in lines]
    cells[0] = f"<B>{cells[0]}</B>"
    body = "".join(f'{cell}<BR ALIGN="LEFT"/>' for cell in cells)
    return f'<TR><TD PORT="{port}" BGCOLOR="{color}" ALIGN="LEFT" BALIGN="LEFT">{body}</TD></TR>'


def _lines(lines: list[str]) -> str:
    return "".join(_escape(line) + "\\l" for line in lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
