"""The language server: pygls over stdio, one feature module per concern.

Documents are synchronised incrementally; every feature asks the workspace
for the analysis of the policy the document belongs to, which is computed
once per change of that policy and shared by diagnostics, hover,
navigation and completion.
"""

from __future__ import annotations

from typing import BinaryIO, Optional

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from meshc import __version__
from meshc.language.source import SourceFile
from meshc.language.values import ISTIO_VERSIONS
from meshc.lsp import actions, completion, convert, diagnostics, hover, navigation
from meshc.lsp.workspace import Analysis, Workspace

class MeshServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("meshc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.policies = Workspace()
        self.publisher = diagnostics.Publisher(self)

    def analysis(self, document_uri: str) -> Optional[tuple[Analysis, SourceFile]]:
        """The analysis of a document's policy and the document's source, or
        None for a document that is not a .mesh file on disk."""
        path = convert.path(document_uri)
        if path is None:
            return None
        analysis = self.policies.analysis(path)
        source = analysis.source(path)
        return (analysis, source) if source is not None else None

    @property
    def codec(self):
        return self.workspace.position_codec


def create() -> MeshServer:
    server = MeshServer()
    _lifecycle(server)
    for feature in (navigation, hover, completion, actions):
        feature.register(server)
    return server


def _lifecycle(server: MeshServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: MeshServer, params: types.InitializeParams) -> None:
        options = params.initialization_options or {}
        version = options.get("istioVersion") if isinstance(options, dict) else None
        if version in ISTIO_VERSIONS:
            ls.policies.istio_version = version
        elif version:
            ls.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Warning,
                message=f"meshc: istioVersion `{version}` is not one meshc knows ({ISTIO_VERSIONS[0]} to "
                        f"{ISTIO_VERSIONS[-1]}); the configuration's (or the newest) is used"))

    @server.feature(types.INITIALIZED)
    def initialized(ls: MeshServer, params: types.InitializedParams) -> None:
        watch = ls.client_capabilities.workspace
        watch = watch.did_change_watched_files if watch else None
        if watch and watch.dynamic_registration:
            # Files created, deleted or changed outside the editor change the policy too.
            ls.client_register_capability(types.RegistrationParams(registrations=[types.Registration(
                id="meshc-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[types.FileSystemWatcher(glob_pattern="**/*.mesh")]),
            )]))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: MeshServer, params: types.DidOpenTextDocumentParams) -> None:
        path = convert.path(params.text_document.uri)
        if path is not None:
            ls.policies.open(path, params.text_document.text)
            ls.publisher.publish(path)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: MeshServer, params: types.DidChangeTextDocumentParams) -> None:
        path = convert.path(params.text_document.uri)
        if path is not None:
            ls.policies.open(path, ls.workspace.get_text_document(params.text_document.uri).source)
            ls.publisher.schedule(path)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: MeshServer, params: types.DidCloseTextDocumentParams) -> None:
        path = convert.path(params.text_document.uri)
        if path is not None:
            ls.policies.close(path)
            ls.publisher.publish(path)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: MeshServer, params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            path = convert.path(change.uri)
            if path is not None:
                ls.policies.invalidate(path)
                ls.publisher.schedule(path)


def start(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Serve over the given streams until the client says exit."""
    create().start_io(stdin, stdout)
