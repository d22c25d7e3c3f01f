"""Diagnostics: `meshc check`'s, for every file of the policy an edit touches.

An edit to one file can change what another reports (a duplicate name, a
subset that now exists), so each analysis publishes for every file of the
policy whose diagnostics changed, and always for the files edited.

Edits are debounced on both edges: an edit after a pause is analysed at
once, and edits that follow each other closely (fast typing, a paste, a
search and replace) are analysed together once they pause, so a burst costs
one analysis, of the text it ends with.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from typing import Optional

from lsprotocol import types

from meshc.lsp import convert

log = logging.getLogger(__name__)

# Seconds: edits closer together than this are one burst. Analysing a
# 2,000-line policy after an edit takes 25 to 45 ms of CPU (bench/README.md).
DEBOUNCE = 0.1


class Publisher:
    def __init__(self, server) -> None:
        self.server = server
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last_edit: dict[str, float] = {}
        self._edited: dict[str, set[str]] = {}
        self._published: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self._config_error: Optional[str] = None

    def schedule(self, path: str) -> None:
        """Publish for `path`'s policy: soon after an edit that follows a
        pause, else once the burst of edits pauses."""
        directory = os.path.dirname(path)
        self._edited.setdefault(directory, set()).add(path)
        loop = asyncio.get_running_loop()
        now = loop.time()
        burst = now - self._last_edit.get(directory, -math.inf) < DEBOUNCE
        self._last_edit[directory] = now
        timer = self._timers.pop(directory, None)
        if timer is not None:
            timer.cancel()
        self._timers[directory] = loop.call_later(DEBOUNCE if burst else 0, self.publish, path)

    def publish(self, path: str) -> None:
        """Analyse `path`'s policy now and publish what changed."""
        directory = os.path.dirname(path)
        timer = self._timers.pop(directory, None)
        if timer is not None:
            timer.cancel()
        edited = {convert.uri(p) for p in self._edited.pop(directory, set()) | {path}}
        server = self.server
        try:
            analysis = server.policies.analysis(path)
        except Exception:  # noqa: BLE001 - a bug in meshc must not stop the server
            log.exception("meshc lsp: analysing %s failed", directory)
            server.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Error,
                message=f"meshc: internal error while checking {directory}; please report (details in the log)"))
            return
        problem = server.policies.config_error
        if problem is not None and problem != self._config_error:
            server.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Warning, message=f"meshc: {problem}; using the default settings"))
        self._config_error = problem
        sources = {p: f.source for p, f in analysis.files.items()}
        now = {
            convert.uri(file): [convert.diagnostic(d, sources, server.codec) for d in found]
            for file, found in analysis.by_file().items()
        }
        before = self._published.get(directory, {})
        for gone in (before.keys() | edited) - now.keys():  # deleted, excluded, or no longer .mesh
            now[gone] = []
        for document_uri, found in sorted(now.items()):
            if document_uri in edited or before.get(document_uri, []) != found:
                document = server.workspace.text_documents.get(document_uri)
                server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                    uri=document_uri, diagnostics=found, version=document.version if document else None))
        self._published[directory] = {u: found for u, found in now.items() if found}
