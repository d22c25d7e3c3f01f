"""The picture as a Mermaid flowchart, for pull requests and docs (GitHub
renders ```mermaid blocks): one subgraph per service, read left to right
(gateways, the service, its routes numbered in the order they are tried,
their destinations)."""

from __future__ import annotations

from meshc.graph import labels
from meshc.graph.dot import GATEWAY, MUTED, OTHER, ROUTE, SERVICE, SUBSET
from meshc.graph.model import ServiceGraph

_CLASSES = {"service": SERVICE, "route": ROUTE, "subset": SUBSET, "other": OTHER, "gateway": GATEWAY}


def mermaid(graphs: list[ServiceGraph]) -> str:
    # Long host names stay on one line; boxes wrap only past 400 pixels.
    out = ['%%{init: {"flowchart": {"wrappingWidth": 400}}}%%', "flowchart LR"]
    members: dict[str, list[str]] = {kind: [] for kind in _CLASSES}
    # Left to right, Mermaid stacks the first subgraph at the bottom: services
    # are written last to first so that they read top down.
    for n, g in reversed(list(enumerate(graphs, start=1))):
        p = f"s{n}"
        out.append(f'  subgraph {p}["{_text(g.key)}"]')
        out.append("    direction LR")
        out.append(f'    {p}_svc["{_lines(labels.service(g))}"]')
        members["service"].append(f"{p}_svc")
        for i, e in enumerate(g.entrances, start=1):
            out.append(f'    {p}_in{i}{{{{"{_lines(labels.entrance(e))}"}}}}')
            members["gateway"].append(f"{p}_in{i}")
            condition = labels.entrance_condition(e)
            out.append(f'    {p}_in{i} -->' + (f'|"{_text(condition)}"|' if condition else "") + f" {p}_svc")
        for r in g.routes:
            out.append(f'    {p}_r{r.index}["{_lines(labels.route(r))}"]')
            members["route"].append(f"{p}_r{r.index}")
            out.append(f"    {p}_svc --- {p}_r{r.index}")
        ids = {t.key: f"{p}_t{j}" for j, t in enumerate(g.targets, start=1)}
        for t in g.targets:
            out.append(f'    {ids[t.key]}["{_lines(labels.target(t))}"]')
            members["subset" if t.key[0] == "subset" else "other"].append(ids[t.key])
        for r in g.routes:
            for e in r.edges:
                arrow = "-->" if e.primary else "-.->"
                out.append(f'    {p}_r{r.index} {arrow}|"{_text(e.label)}"| {ids[e.target.key]}')
        out.append("  end")
        out.append(f"  style {p} fill:#ffffff,stroke:{MUTED}")
    for kind, color in _CLASSES.items():
        out.append(f"  classDef {kind} fill:{color},stroke:#5f6368,color:#202124")
        if members[kind]:
            out.append(f"  class {','.join(members[kind])} {kind}")
    return "\n".join(out) + "\n"


def _lines(lines: list[str]) -> str:
    return "<br/>".join(_text(line) for line in lines)


def _text(text: str) -> str:
    """Text inside a quoted label: Mermaid reads `#name;` as an entity and
    labels as HTML, so these characters go as entities."""
    return "".join(_ENTITIES.get(c, c) for c in text)


_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}
