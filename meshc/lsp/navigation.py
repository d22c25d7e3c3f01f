"""Go to definition, find references and the document outline."""

from __future__ import annotations

from typing import Optional

from lsprotocol import types

from meshc.language import syntax as s
from meshc.lsp import convert
from meshc.lsp.symbols import Symbol, at


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params: types.DefinitionParams) -> Optional[list[types.Location]]:
        return _related(ls, params, declarations=True, references=False)

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def references(ls, params: types.ReferenceParams) -> Optional[list[types.Location]]:
        return _related(ls, params, declarations=params.context.include_declaration, references=True)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbols(ls, params: types.DocumentSymbolParams) -> Optional[list[types.DocumentSymbol]]:
        found = ls.analysis(params.text_document.uri)
        if found is None:
            return None
        analysis, source = found
        tree = analysis.tree(source.path)
        return _Outline(source, ls.codec).file(tree) if tree is not None else None


def _related(ls, params, declarations: bool, references: bool) -> Optional[list[types.Location]]:
    """The occurrences of the name under the cursor: its declarations, its
    uses, or both, in every file of the policy."""
    found = ls.analysis(params.text_document.uri)
    if found is None:
        return None
    analysis, source = found
    symbols = analysis.symbols
    here = at(symbols, source.path, convert.offset(source, params.position, ls.codec))
    if here is None:
        return None
    wanted: list[Symbol] = [
        sym for sym in symbols
        if sym.key == here.key and (declarations if sym.declaration else references)
    ]
    return [convert.location(analysis.source(sym.span.file), sym.span, ls.codec) for sym in wanted]


class _Outline:
    """The outline: the fleet and its clusters; namespaces with their
    gateways and services; gateways with their `host` blocks; services and
    `host` blocks with their routes."""

    def __init__(self, source, codec) -> None:
        self.source, self.codec = source, codec

    def file(self, tree: s.File) -> list[types.DocumentSymbol]:
        out = []
        for item in tree.items:
            if isinstance(item, s.Fleet):
                clusters = [self.symbol(c, c.name, types.SymbolKind.Object, "cluster")
                            for c in item.body if isinstance(c, s.Cluster)]
                out.append(self.symbol(item, item.name, types.SymbolKind.Module, "fleet", clusters))
            elif isinstance(item, s.PolicyTest):
                out.append(self.symbol(item, item.name, types.SymbolKind.Event, "test"))
            else:
                out.append(self.symbol(item, item.name, types.SymbolKind.Namespace, "namespace",
                                       self.namespace(item)))
        return out

    def namespace(self, ns: s.Namespace) -> list[types.DocumentSymbol]:
        out = []
        for stmt in ns.body:
            if isinstance(stmt, s.Gateway):
                hosts = [self.symbol(h, h.host, types.SymbolKind.Object, "host", self.routes(h.body))
                         for h in stmt.body if isinstance(h, s.GatewayHost)]
                out.append(self.symbol(stmt, stmt.name, types.SymbolKind.Interface, "gateway", hosts))
            elif isinstance(stmt, s.Service):
                out.append(self.symbol(stmt, stmt.name, types.SymbolKind.Class, "service", self.routes(stmt.body)))
        return out

    def routes(self, body) -> list[types.DocumentSymbol]:
        return [self.symbol(r, r.name, types.SymbolKind.Method, "route") for r in body if isinstance(r, s.Route)]

    def symbol(self, node, name: s.Word, kind: types.SymbolKind, detail: str,
               children: Optional[list[types.DocumentSymbol]] = None) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=name.text, kind=kind, detail=detail,
            range=convert.to_range(self.source, node.span, self.codec),
            selection_range=convert.to_range(self.source, name.span, self.codec),
            children=children or None,
        )
