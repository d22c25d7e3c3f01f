"""Hover: what a diagnostic means (`meshc explain`), the Istio a service,
route, subset or gateway renders (per cluster, shortened), and help for a
keyword from docs/language.md.

The keyword help is `keyword_help.json`, extracted from docs/language.md by
tests/test_editor_files.py (`pytest --update-golden` regenerates it), so the
server needs no copy of the docs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from importlib import resources
from typing import Any, Optional

from lsprotocol import types

from meshc.backends.documents import Document
from meshc.commands.explain import describe
from meshc.diagnostics.codes import CODES
from meshc.language import syntax as s
from meshc.language.source import SourceFile
from meshc.lsp import convert, vocabulary
from meshc.lsp.symbols import Symbol, at
from meshc.lsp.workspace import Analysis
from meshc.output.emit import dump

# Rendered YAML beyond this many lines per cluster group is cut.
MAX_LINES = 40
_WORD = re.compile(r"[A-Za-z0-9_-]+")
# Parts of a statement, not statements: a keyword in them is explained by
# the statement around them (`to` in `allow W to GET` is `allow`'s).
_CLAUSES = (s.AllowFrom, s.AllowTo, s.Disjunction, s.Conjunction, s.Destination, s.SubsetRef, s.ServiceRef)


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: types.HoverParams) -> Optional[types.Hover]:
        found = ls.analysis(params.text_document.uri)
        if found is None:
            return None
        analysis, source = found
        text = describe_at(analysis, source, convert.offset(source, params.position, ls.codec))
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


def describe_at(analysis: Analysis, source: SourceFile, offset: int) -> Optional[str]:
    """Markdown for whatever is at `offset`: diagnostics there first."""
    parts = [_diagnostic(d) for d in analysis.diagnostics
             if d.span.file == source.path and d.span.start <= offset <= max(d.span.end, d.span.start + 1)]
    symbol = at(analysis.symbols, source.path, offset)
    if symbol is not None:
        parts.append(_symbol(analysis, symbol))
    else:
        keyword = _keyword_at(analysis.tree(source.path), source, offset)
        if keyword is not None:
            parts.append(keyword)
    return "\n\n---\n\n".join(parts) if parts else None


# ------------------------------------------------------------ diagnostics
def _diagnostic(d) -> str:
    head = f"**{d.severity.value}[{d.code}]** {d.message}"
    if d.help:
        head += f"\n\nhelp: {d.help}"
    code = CODES.get(d.code)
    return head + ("\n\n" + describe(code) if code else "")


# ---------------------------------------------------------------- symbols
def _symbol(analysis: Analysis, symbol: Symbol) -> str:
    kind = symbol.kind
    title = f"**{kind}** `{'/'.join(symbol.key[1:])}`"
    picked = _PICKERS.get(kind)
    if picked is None:
        return title + _declarations(analysis, symbol)
    if analysis.rendering is None:
        return title + "\n\n*Istio: not rendered while the policy has errors.*"
    return title + _rendered(analysis, picked(symbol))


def _declarations(analysis: Analysis, symbol: Symbol) -> str:
    """The lines that declare a name without a resource of its own (a
    cluster, a region, a namespace)."""
    lines = []
    for sym in analysis.symbols:
        if sym.key == symbol.key and sym.declaration:
            line = analysis.source(sym.span.file).line_text(sym.span.line).strip()
            if line not in lines:
                lines.append(line)
    return "\n\n```mesh\n" + "\n".join(lines) + "\n```" if lines else ""


def _service_docs(symbol: Symbol):
    _, ns, name = symbol.key

    def pick(doc: Document) -> Optional[dict]:
        if doc.namespace == ns and doc.name == name \
                and doc.kind in ("VirtualService", "DestinationRule", "ServiceEntry", "Service"):
            return {f"{doc.kind} {doc.name}": doc.body["spec"]}
        return None
    return pick


def _entries(kind: str, ns: str, owner: str, field: str, names: tuple[str, ...]):
    """The entries of a list in one resource (a VirtualService's `http`, a
    DestinationRule's `subsets`) that carry one of `names`."""

    def pick(doc: Document) -> Optional[dict]:
        if (doc.kind, doc.namespace, doc.name) != (kind, ns, owner):
            return None
        found = [x for x in doc.body["spec"].get(field, ()) if x.get("name") in names]
        return {f"{kind} {owner}": {field: found}} if found else None
    return pick


def _gateway_docs(symbol: Symbol):
    name = symbol.key[1]

    def pick(doc: Document) -> Optional[dict]:
        if doc.kind == "Gateway" and doc.name == name:
            return {f"Gateway {doc.namespace}/{name}": doc.body["spec"]}
        return None
    return pick


_PICKERS = {
    "service": _service_docs,
    # a route is its entry, and blue-green's preview entry
    "route": lambda sym: _entries("VirtualService", sym.key[1], sym.key[2], "http", (sym.name, f"{sym.name}-preview")),
    "subset": lambda sym: _entries("DestinationRule", sym.key[1], sym.key[2], "subsets", (sym.name,)),
    "gateway": _gateway_docs,
}


def _rendered(analysis: Analysis, pick) -> str:
    """What the picked documents look like in each cluster, clusters that
    render them alike listed together."""
    groups: dict[str, list[str]] = {}
    for cluster, docs in analysis.rendering.clusters.items():
        picked: dict[str, Any] = {}
        for doc in docs:
            found = pick(doc)
            if found:
                picked.update(found)
        if picked:
            groups.setdefault(_shorten(dump(picked)), []).append(cluster)
    if not groups:
        return "\n\n*Renders no Istio resource of its own.*"
    return "".join(f"\n\nIn {', '.join(clusters)}:\n```yaml\n{text}```" for text, clusters in groups.items())


def _shorten(text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) <= MAX_LINES:
        return text
    return "".join(lines[:MAX_LINES]) + f"# … {len(lines) - MAX_LINES} more lines (meshc render)\n"


# --------------------------------------------------------------- keywords
@functools.lru_cache(maxsize=None)
def keyword_help() -> dict[str, str]:
    return json.loads(resources.files("meshc.lsp").joinpath("keyword_help.json").read_text(encoding="utf-8"))


def _keyword_at(tree: Optional[s.File], source: SourceFile, offset: int) -> Optional[str]:
    """Help for the statement a keyword at `offset` belongs to."""
    word = _word_at(source.text, offset)
    if word is None or word not in vocabulary.keywords().values():
        return None
    help = keyword_help()
    for node in reversed(_path_to(tree, offset) if tree is not None else []):
        if isinstance(node, _CLAUSES):
            continue
        first = _WORD.match(source.text, node.span.start)
        if first and first.group() in help:
            return help[first.group()]
    return help.get(word)


def _word_at(text: str, offset: int) -> Optional[str]:
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        start -= 1
    m = _WORD.match(text, start)
    return m.group() if m and m.end() >= offset else None


def _path_to(node: Any, offset: int) -> list:
    """The syntax nodes that contain `offset`, outermost first."""
    path = []
    while True:
        path.append(node)
        for child in _children(node):
            if child.span.start <= offset < child.span.end:
                node = child
                break
        else:
            return path


def _children(node: Any):
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(item) and not isinstance(item, (s.Word, s.Comment)):
                yield item
