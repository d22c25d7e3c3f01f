"""Completion: what the parser accepts at the cursor.

The text before the cursor (up to the word being typed) goes through Lark's
interactive parser; `accepts()` lists the terminals that may come next.
Keywords and fixed values (`http`, `strict`, `p99`) come from those
terminals (vocabulary.py), so they follow the grammar. Where a name may
come, the keyword before it says which kind (a subset after `to`, a gateway
after `via`, a cluster after `on` or `in`, ...), and the policy's
declarations supply the names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput
from lsprotocol import types

from meshc.language.source import SourceFile
from meshc.lsp import convert, vocabulary
from meshc.lsp.workspace import Analysis

_LISTED = ("NAME", "HOSTNAME")  # terminals that make up lists of names
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    def completion(ls, params: types.CompletionParams) -> Optional[types.CompletionList]:
        found = ls.analysis(params.text_document.uri)
        if found is None:
            return None
        analysis, source = found
        offset = convert.offset(source, params.position, ls.codec)
        start = offset
        while start > 0 and source.text[start - 1] in _NAME_CHARS:
            start -= 1
        replace = types.Range(start=convert.position(source, *source.position(start), ls.codec),
                              end=params.position)
        items = [
            types.CompletionItem(label=label, kind=kind, detail=detail,
                                 text_edit=types.TextEdit(range=replace, new_text=label))
            for label, kind, detail in candidates(analysis, source, start)
        ]
        return types.CompletionList(is_incomplete=False, items=items)


def candidates(analysis: Analysis, source: SourceFile, start: int) -> list[tuple[str, types.CompletionItemKind, str]]:
    """(label, kind, detail) of what may be written at `start`."""
    context = _Context.read(source.text[:start])
    if context is None:
        return []
    out: list[tuple[str, types.CompletionItemKind, str]] = []
    keywords, values = vocabulary.keywords(), vocabulary.values()
    for terminal in sorted(context.accepted):
        if terminal in keywords:
            out.append((keywords[terminal], types.CompletionItemKind.Keyword, "keyword"))
        for value in values.get(terminal, ()):
            out.append((value, types.CompletionItemKind.EnumMember, terminal.lower().replace("_", " ")))
    if "NAME" in context.accepted:
        kind = context.name_kind()
        if kind is not None:
            out += [(name, types.CompletionItemKind.Reference, kind) for name in _names(analysis, kind, context)]
    return list(dict.fromkeys(out))


def _names(analysis: Analysis, kind: str, context: _Context) -> list[str]:
    """Declared names of a kind, in the scope the cursor is in."""
    if kind == "subset":
        ns, svc = context.target_service or (context.namespace, context.service)
        scope = ("subset", ns, svc)
    elif kind == "service":
        scope = ("service", context.ref_namespace or context.namespace)
    else:
        scope = (kind,)
    return sorted({sym.name for sym in analysis.declared() if sym.key[:-1] == scope})


@dataclass
class _Context:
    """What the tokens before the cursor say: the terminals that may come
    next, the namespace and service blocks around the cursor, and the
    tokens of the statement being written."""

    accepted: set[str]
    tokens: list[Token]
    namespace: str = ""
    service: str = ""
    target_service: Optional[tuple[str, str]] = None
    ref_namespace: Optional[str] = None
    _blocks: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, text: str) -> Optional[_Context]:
        """Read the text before the cursor; None after a syntax error there.

        `on` opens an override only when a name and `{` follow it (its
        terminal looks ahead), so when the text alone does not parse, it is
        read again with a stand-in `_ {` after it, which is never fed.
        """
        for suffix in ("", " _ {"):
            context = cls._feed(text + suffix, len(text))
            if context is not None:
                return context
        return None

    @classmethod
    def _feed(cls, text: str, end: int) -> Optional[_Context]:
        interactive = vocabulary.lark().parse_interactive(text)
        # Only which terminals may follow matters: no syntax nodes are built.
        conf = copy.copy(interactive.parser_state.parse_conf)
        conf.callbacks = {}
        interactive.parser_state.parse_conf = conf
        tokens: list[Token] = []
        try:
            for token in interactive.iter_parse():
                if token.start_pos >= end:
                    break
                if tokens and token.type in _LISTED and tokens[-1].type == token.type \
                        and token.line > tokens[-1].line:
                    return None  # lists end at the end of their line (parse.py): not a list item
                tokens.append(token)
        except UnexpectedCharacters as err:
            if err.pos_in_stream < end:
                return None
        except UnexpectedInput:
            return None
        context = cls(set(interactive.accepts()), tokens)
        context._scopes()
        return context

    def _scopes(self) -> None:
        """Track `namespace N {` and `service S {` blocks around the cursor."""
        header: list[str] = []
        for tok in self.tokens:
            if tok.type in ("NAMESPACE", "SERVICE"):
                header = [tok.type]
            elif header and len(header) == 1 and tok.type == "NAME":
                header.append(str(tok))
            elif tok.type == "LBRACE":
                self._blocks.append(tuple(header) if len(header) == 2 else ("", ""))
                header = []
            elif tok.type == "RBRACE":
                if self._blocks:
                    self._blocks.pop()
                header = []
            elif tok.type != "GLOBAL":
                header = []
        for kind, name in self._blocks:
            if kind == "NAMESPACE":
                self.namespace = name
            elif kind == "SERVICE":
                self.service = name

    def name_kind(self) -> Optional[str]:
        """Which kind of name the statement being written expects next."""
        keyword = self._last_keyword()
        if keyword is None:
            return None
        index, word = keyword
        before = self.tokens[index - 1].type if index > 0 else None
        if word in ("to", "mirror", "canary", "active", "preview"):
            return "subset"
        if word == "service" and before in ("TO", "MIRROR", "COMMA"):
            return "service"
        if word == "in" and before == "NAME" and self._in_target(index):
            return "namespace"
        if word == "subset" and self._in_target(index):
            self.target_service = self._target(index)
            return "subset"
        if word in ("in", "on", "of", "wave") or (word == "cluster" and before == "FROM"):
            return "cluster"  # placement, a subset's cluster, overrides, `remote of`, `from cluster`
        if word == "via":
            return "gateway"
        if word in ("for", "allow"):  # `mtls MODE for WORKLOAD`, `allow WORKLOAD`
            return "service"
        if word == "namespace" and before == "FROM":
            return "namespace"
        if word == "failover":
            return "region"
        return None

    def _last_keyword(self) -> Optional[tuple[int, str]]:
        keywords = vocabulary.keywords()
        for index in range(len(self.tokens) - 1, -1, -1):
            tok = self.tokens[index]
            if tok.type in keywords:
                return index, keywords[tok.type]
            if tok.type in ("LBRACE", "RBRACE"):
                return None
        return None

    def _in_target(self, index: int) -> bool:
        """Whether the keyword at `index` continues a `service NAME` target."""
        return any(t.type == "SERVICE" and i > 0 and self.tokens[i - 1].type in ("TO", "MIRROR", "COMMA")
                   for i, t in self._statement(index))

    def _target(self, index: int) -> tuple[str, str]:
        """(namespace, service) of the `service NAME [in NS]` target before `index`."""
        name, ns = "", self.namespace
        for i, tok in self._statement(index):
            if tok.type == "SERVICE":
                name, ns = str(self.tokens[i + 1]), self.namespace
            elif tok.type == "IN" and name:
                ns = str(self.tokens[i + 1])
        self.ref_namespace = ns
        return ns, name

    def _statement(self, index: int) -> list[tuple[int, Token]]:
        """The tokens from the start of the statement the keyword at `index` is in."""
        start = index
        while start > 0 and self.tokens[start - 1].type not in ("LBRACE", "RBRACE"):
            start -= 1
        return list(enumerate(self.tokens[:index], start=0))[start:]
