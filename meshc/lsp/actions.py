"""Edits: formatting (`meshc fmt`) and quick fixes for "did you mean"."""

from __future__ import annotations

import logging
from typing import Optional

from lsprotocol import types

from meshc.language.fmt import FormatError, InternalFormatError, format_text
from meshc.lsp import convert

log = logging.getLogger(__name__)


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params: types.DocumentFormattingParams) -> Optional[list[types.TextEdit]]:
        """The whole document in the canonical layout; nothing while it does
        not parse (the diagnostics say why)."""
        document = ls.workspace.get_text_document(params.text_document.uri)
        text = document.source
        try:
            formatted = format_text(text, document.path)
        except FormatError:
            return None
        except InternalFormatError as err:
            log.error("meshc fmt refused its own output for %s: %s", document.path, err)
            return None
        if formatted == text:
            return []
        last = text.rfind("\n") + 1
        end = types.Position(line=text.count("\n"), character=ls.codec.client_num_units(text[last:]))
        return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end),
                               new_text=formatted)]

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_actions(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
        """One fix per diagnostic whose help proposes a single replacement
        for the word it points at (convert.diagnostic puts it in `data`)."""
        out = []
        for d in params.context.diagnostics:
            replacement = d.data.get("replacement") if d.source == convert.SOURCE and isinstance(d.data, dict) else None
            if replacement:
                out.append(types.CodeAction(
                    title=f"Replace with `{replacement}`",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[d],
                    is_preferred=True,
                    edit=types.WorkspaceEdit(changes={
                        params.text_document.uri: [types.TextEdit(range=d.range, new_text=replacement)]}),
                ))
        return out
