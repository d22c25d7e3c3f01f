"""`meshc lsp` driven by a real LSP client (pytest-lsp) over stdio, with
the capabilities VS Code announces: diagnostics, navigation, hover,
completion, formatting, outline and quick fixes on copies of the examples.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")

from helpers import ROOT  # noqa: E402
from lsprotocol import types  # noqa: E402
from pygls.uris import from_fs_path  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

from meshc.language.fmt import format_text  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 20.0  # seconds; generous for a loaded CI machine


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """examples/ as a policy directory, plus one directory per diagnostics
    fixture (each its own policy, as tests/test_diagnostics.py compiles them)."""
    root = tmp_path_factory.mktemp("lsp")
    shutil.copytree(ROOT / "examples", root / "examples")
    for fixture in sorted((ROOT / "tests" / "diagnostics").glob("*.mesh")):
        (root / "fixtures" / fixture.stem).mkdir(parents=True)
        shutil.copy(fixture, root / "fixtures" / fixture.stem / fixture.name)
    return root


def make_client() -> LanguageClient:
    """pytest-lsp's client, keeping each file's last publishDiagnostics with
    its version (so a test waits for the answer to its own edit, not a late
    one to an earlier) and the capabilities the server registers."""
    client = LanguageClient(converter_factory=default_converter)
    client.published, client.registrations = {}, []

    def publish(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        ls.published[params.uri] = params

    def register(ls: LanguageClient, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)

    features = {**DEFAULT_CLIENT_FEATURES, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish,
                types.CLIENT_REGISTER_CAPABILITY: register}
    register_lsp_features(client, features)
    return client


SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "meshc", "lsp"], client_factory=make_client)


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient, workspace: Path):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=from_fs_path(str(workspace)),
        workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(workspace)), name="policies")],
    ))
    yield
    await lsp_client.shutdown_session()


# ----------------------------------------------------------------- helpers
_VERSIONS = itertools.count(1)


def uri(path: Path) -> str:
    return from_fs_path(str(path))


async def published(client: LanguageClient, *paths: Path, version: int | None = None) -> list[list[types.Diagnostic]]:
    """The diagnostics of `paths` published since `forget`, for `version`
    of the document when given."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT

    def arrived(p: Path) -> bool:
        params = client.published.get(uri(p))
        return params is not None and (version is None or params.version == version)
    while not all(arrived(p) for p in paths):
        assert loop.time() < deadline, f"no diagnostics for {[p.name for p in paths]}"
        await asyncio.sleep(0.01)
    return [list(client.published[uri(p)].diagnostics) for p in paths]


def forget(client: LanguageClient, *paths: Path) -> None:
    for p in paths:
        client.published.pop(uri(p), None)


async def open_file(client: LanguageClient, path: Path, text: str | None = None) -> list[types.Diagnostic]:
    version = next(_VERSIONS)
    forget(client, path)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri(path), language_id="mesh", version=version,
        # The file's exact text, as an editor holds it (read_text would turn a lone CR into LF).
        text=path.read_bytes().decode("utf-8") if text is None else text)))
    (found,) = await published(client, path, version=version)
    return found


def close_file(client: LanguageClient, path: Path) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path))))


def change(client: LanguageClient, path: Path, start: tuple[int, int], end: tuple[int, int], text: str) -> int:
    """Send one incremental edit; its version."""
    version = next(_VERSIONS)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text)]))
    return version


def position_of(path: Path, needle: str, nth: int = 0, shift: int = 0) -> types.Position:
    """The position of the `nth` occurrence of `needle` (plus `shift` characters)."""
    text = path.read_text(encoding="utf-8")
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += shift
    line = text.count("\n", 0, offset)
    return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def text_at(path: Path, rng: types.Range) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert rng.start.line == rng.end.line
    return lines[rng.start.line][rng.start.character:rng.end.character]


def utf16(line: str, column: int) -> int:
    return len(line[: column - 1].encode("utf-16-le")) // 2


# ------------------------------------------------------------- diagnostics
async def test_diagnostics_are_meshc_checks(client: LanguageClient, workspace: Path):
    """Every diagnostics fixture, opened in the editor, shows exactly what
    `meshc check` prints for it: codes, severities, messages, spans, helps and
    related locations."""
    fixtures = sorted((workspace / "fixtures").iterdir())
    checked = subprocess.run(
        [sys.executable, "-m", "meshc", "check", "--output-format", "json", *map(str, fixtures)],
        capture_output=True, text=True, cwd=workspace)
    expected: dict[str, list[dict]] = {}
    for d in json.loads(checked.stdout):
        expected.setdefault(str((workspace / d["location"]["file"]).resolve()), []).append(d)
    assert len(expected) > 60

    for directory in fixtures:
        (path,) = directory.glob("*.mesh")
        if path.name.startswith("MESH004"):
            # Not UTF-8: an editor would not hold it as text, so it is read
            # from disk while another file of its policy is open.
            sibling = directory / "other.mesh"
            sibling.write_text("", encoding="utf-8")
            forget(client, path)
            await open_file(client, sibling)
            (found,) = await published(client, path)
            lines = path.read_bytes().decode("utf-8", "replace").split("\n")
        else:
            found = await open_file(client, path)
            lines = path.read_bytes().decode("utf-8").split("\n")
        want = expected.get(str(path.resolve()), [])
        assert len(found) == len(want), (path.name, [d.message for d in found], [d["message"] for d in want])
        for got, d in zip(found, want):
            loc = d["location"]
            assert got.code == d["code"] and got.source == "meshc"
            assert got.severity == (types.DiagnosticSeverity.Error if d["severity"] == "error"
                                    else types.DiagnosticSeverity.Warning)
            assert got.message == d["message"] + (f"\nhelp: {d['help']}" if d["help"] else "")
            assert (got.range.start.line, got.range.start.character) == \
                (loc["line"] - 1, utf16(lines[loc["line"] - 1], loc["column"]))
            assert (got.range.end.line, got.range.end.character) == \
                (loc["end_line"] - 1, utf16(lines[loc["end_line"] - 1] if loc["end_line"] <= len(lines) else "",
                                            loc["end_column"]))
            related = [(r.message, r.location.uri, r.location.range.start.line + 1)
                       for r in got.related_information or ()]
            assert related == [(lbl["message"], uri((workspace / lbl["location"]["file"]).resolve()),
                                lbl["location"]["line"]) for lbl in d["labels"]]
        close_file(client, path)


async def test_clean_examples_have_no_diagnostics(client: LanguageClient, workspace: Path):
    path = workspace / "examples" / "s01-canary.mesh"
    assert await open_file(client, path) == []


async def test_unsaved_edits_win_over_the_disk_and_reach_other_files(client: LanguageClient, workspace: Path):
    """Renaming a cluster in the (unsaved) fleet file makes the service that
    runs there report an unknown cluster, in a file that is not open; closing
    the buffer without saving brings the disk's text back."""
    fleet, geo = workspace / "examples" / "fleet.mesh", workspace / "examples" / "s04-failover.mesh"
    await open_file(client, fleet)
    start = position_of(fleet, "cluster beijing", shift=len("cluster "))
    forget(client, fleet, geo)
    change(client, fleet, (start.line, start.character), (start.line, start.character + len("beijing")), "bj")
    fleet_diags, geo_diags = await published(client, fleet, geo)
    assert fleet_diags == []
    unknown = [d for d in geo_diags if d.code == "MESH202"]
    assert unknown and text_at(geo, unknown[0].range) == "beijing"
    assert "cluster beijing" in fleet.read_text(encoding="utf-8")  # nothing written

    forget(client, geo)
    close_file(client, fleet)
    (geo_diags,) = await published(client, geo)
    assert geo_diags == []


async def test_typing_publishes_for_the_latest_text(client: LanguageClient, workspace: Path):
    """Several quick edits are debounced; the diagnostics published last are
    those of the text after the last edit, with its version."""
    path = workspace / "examples" / "s12-mirroring.mesh"
    await open_file(client, path)
    mirror = position_of(path, "mirror v2", shift=len("mirror "))
    forget(client, path)
    for n, typed in enumerate("xyz"):
        version = change(client, path, (mirror.line, mirror.character + n), (mirror.line, mirror.character + n), typed)
    (found,) = await published(client, path, version=version)
    assert [d.code for d in found] == ["MESH201"]
    assert "`xyzv2` is not a subset" in found[0].message
    version = change(client, path, (mirror.line, mirror.character), (mirror.line, mirror.character + 3), "")
    assert await published(client, path, version=version) == [[]]
    close_file(client, path)


# -------------------------------------------------------------- navigation
async def definition(client: LanguageClient, path: Path, pos: types.Position) -> list[tuple[str, str]]:
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=pos))
    return [(Path(loc.uri).name, text_at(Path(loc.uri.removeprefix("file://")), loc.range)) for loc in found or ()]


async def test_definition_of_subsets_services_gateways_clusters_and_routes(client: LanguageClient, workspace: Path):
    ex = workspace / "examples"
    s01, s11, s04 = ex / "s01-canary.mesh", ex / "s11-ingress.mesh", ex / "s04-failover.mesh"
    s03 = ex / "s03-blue-green.mesh"
    for path in (s01, s11, s04, s03):
        await open_file(client, path)
    # `to v2` goes to `subsets by version v1 v2`
    (target,) = await definition(client, s01, position_of(s01, "to v2", shift=4))
    assert target == ("s01-canary.mesh", "v2")
    loc = (await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(s01)), position=position_of(s01, "to v2", shift=4))))[0]
    assert loc.range.start == position_of(s01, "v1 v2", shift=3)
    # `service user-service-v2 in web` in a gateway route goes to the service, in its namespace
    assert await definition(client, s11, position_of(s11, "service user-service-v2 in web", shift=9)) == \
        [("s11-ingress.mesh", "user-service-v2")]
    # `expose via payment-gateway` goes to the gateway
    assert await definition(client, s03, position_of(s03, "via payment-gateway", shift=5)) == \
        [("s03-blue-green.mesh", "payment-gateway")]
    # `in hangzhou beijing` goes to the fleet, in another file
    assert await definition(client, s04, position_of(s04, "in hangzhou", shift=4)) == [("fleet.mesh", "hangzhou")]
    # a region in `failover` goes to the clusters in that region (hangzhou and its remote shanghai)
    assert await definition(client, s04, position_of(s04, "failover cn-east", shift=10)) == \
        [("fleet.mesh", "cn-east"), ("fleet.mesh", "cn-east")]
    # `from cluster shanghai` and a subset's `in beijing` go to the fleet too
    assert await definition(client, s04, position_of(s04, "from cluster shanghai", shift=13)) == \
        [("fleet.mesh", "shanghai")]
    assert await definition(client, s04, position_of(s04, "      in beijing", shift=9)) == [("fleet.mesh", "beijing")]
    # a wave's clusters go to the fleet
    s17 = ex / "s17-fleet-waves.mesh"
    await open_file(client, s17)
    assert await definition(client, s17, position_of(s17, "wave beijing", shift=5)) == [("fleet.mesh", "beijing")]
    # a route is its own definition
    assert await definition(client, s01, position_of(s01, "route primary", shift=7)) == \
        [("s01-canary.mesh", "primary")]


async def test_references_span_files(client: LanguageClient, workspace: Path):
    s01 = workspace / "examples" / "s01-canary.mesh"
    await open_file(client, s01)
    found = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri(s01)), position=position_of(s01, "v1 v2", shift=3),
        context=types.ReferenceContext(include_declaration=True)))
    lines = sorted((loc.range.start.line, text_at(s01, loc.range)) for loc in found if loc.uri == uri(s01))
    assert lines == [(6, "v2"), (11, "v2"), (14, "v2")]  # declared, `to v2`, canary candidate
    tests = workspace / "examples" / "s01-canary.test.mesh"  # and the expectations of its tests
    assert [text_at(tests, loc.range) for loc in found if loc.uri == uri(tests)] == ["v2"] * 6
    # a namespace used in several files: every block declares it
    found = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri(s01)), position=position_of(s01, "production"),
        context=types.ReferenceContext(include_declaration=True)))
    assert sorted({Path(loc.uri).name for loc in found}) == [
        "s01-canary.mesh", "s01-canary.test.mesh", "s05-namespace-defaults.mesh", "s05-namespace-defaults.test.mesh",
        "s09-zero-trust.mesh", "s09-zero-trust.test.mesh"]


async def test_document_symbols_outline_namespaces_services_and_routes(client: LanguageClient, workspace: Path):
    s11 = workspace / "examples" / "s11-ingress.mesh"
    await open_file(client, s11)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri(s11))))

    def tree(items):
        return [(s.name, s.detail, tree(s.children or [])) for s in items]
    assert tree(symbols) == [
        ("istio-system", "namespace", [("main-gateway", "gateway", [
            ("api.example.com", "host", [("users", "route", []), ("api-v2", "route", [])])])]),
        ("web", "namespace", [
            ("user-service", "service", []),
            ("user-service-v2", "service", []),
            ("api-gateway", "service", []),
            ("recommendation-service", "service", [("canary", "route", []), ("premium", "route", []),
                                                   ("default", "route", [])]),
        ]),
    ]


# ------------------------------------------------------------------- hover
async def hover(client: LanguageClient, path: Path, pos: types.Position) -> str:
    found = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=pos))
    return found.contents.value if found else ""


async def test_hover_shows_the_istio_a_route_and_a_service_render(client: LanguageClient, workspace: Path):
    s01 = workspace / "examples" / "s01-canary.mesh"
    await open_file(client, s01)
    route = await hover(client, s01, position_of(s01, "route primary", shift=8))
    assert "In hangzhou, beijing, shenzhen:" in route
    assert "- name: primary" in route and "weight: 90" in route and "weight: 10" in route
    assert "canary-override" not in route  # only this route's entry
    service = await hover(client, s01, position_of(s01, "service user-service {", shift=8))
    assert "VirtualService user-service:" in service and "DestinationRule user-service:" in service
    subset = await hover(client, s01, position_of(s01, "to v2", shift=3))
    assert "subsets:" in subset and "version: v2" in subset
    # a route of a gateway's `host` block is its entry of the gateway's VirtualService
    s11 = workspace / "examples" / "s11-ingress.mesh"
    await open_file(client, s11)
    edge = await hover(client, s11, position_of(s11, "route users", shift=8))
    assert "VirtualService main-gateway-api-example-com:" in edge and "- name: users" in edge
    assert "weight: 90" in edge and "api-v2" not in edge


async def test_hover_explains_keywords_from_the_language_reference(client: LanguageClient, workspace: Path):
    s01 = workspace / "examples" / "s01-canary.mesh"
    await open_file(client, s01)
    steps = await hover(client, s01, position_of(s01, "steps"))
    assert steps.startswith("**`canary`**") and "A canary moves traffic" in steps
    header = await hover(client, s01, position_of(s01, "header canary"))
    assert "HTTPMatchRequest" in header


async def test_hover_on_a_diagnostic_explains_its_code(client: LanguageClient, workspace: Path):
    path = workspace / "fixtures" / "MESH201_unknown-subset" / "MESH201_unknown-subset.mesh"
    await open_file(client, path)
    text = await hover(client, path, position_of(path, "v3"))
    assert "**error[MESH201]**" in text and "### Why is this bad?" in text
    close_file(client, path)


# -------------------------------------------------------------- completion
async def complete(client: LanguageClient, path: Path, text: str, pos: types.Position) -> list[str]:
    await open_file(client, path, text)
    found = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), position=pos))
    return [item.label for item in found.items]


async def test_completion_offers_what_the_parser_accepts_and_declared_names(client: LanguageClient,
                                                                            workspace: Path):
    s01 = workspace / "examples" / "s01-canary.mesh"
    text = s01.read_text(encoding="utf-8")
    await open_file(client, s01)  # the names come from the last text that parsed
    # after `to `: the subsets of the service, and `service`
    typed = text.replace("      to v2\n", "      to \n")
    pos = position_of(s01, "to v2", shift=3)
    labels = await complete(client, s01, typed, pos)
    assert {"v1", "v2", "service"} <= set(labels) and "route" not in labels
    # a statement in a route: route statements, not service ones
    typed = text.replace("      to v2\n", "      ti\n")
    labels = await complete(client, s01, typed, types.Position(line=pos.line, character=8))
    assert {"to", "timeout", "canary", "mirror", "retry"} <= set(labels)
    assert not {"route", "subsets", "port", "v1"} & set(labels)
    # after `port 80 `: the protocols
    typed = text.replace("port 80 http", "port 80 ")
    labels = await complete(client, s01, typed, position_of(s01, "port 80 ", shift=8))
    assert set(labels) == {"http", "http2", "https", "grpc", "tcp", "tls"}
    # after `expose via `: the gateways of the policy, from other files
    typed = text.replace("    timeout 10s\n", "    expose via \n")
    labels = await complete(client, s01, typed, position_of(s01, "timeout 10s", shift=11))
    assert set(labels) == {"main-gateway", "payment-gateway", "catalog-gateway"}
    # after `on ` in a service: the fleet's clusters
    typed = text.replace("    timeout 10s\n", "    on \n")
    labels = await complete(client, s01, typed, position_of(s01, "timeout 10s", shift=3))
    assert {"hangzhou", "beijing", "shenzhen"} <= set(labels)
    # after `wave ` in a canary: the fleet's clusters too
    typed = text.replace("        analysis success-rate >= 99% p99 <= 500ms\n",
                         "        analysis success-rate >= 99% p99 <= 500ms\n        wave \n")
    line = typed.splitlines().index("        wave ")
    labels = await complete(client, s01, typed, types.Position(line=line, character=13))
    assert {"hangzhou", "beijing", "shenzhen"} <= set(labels)
    await open_file(client, s01, text)


# ---------------------------------------------------------- edits and fixes
async def test_formatting_gives_meshc_fmt_output(client: LanguageClient, workspace: Path):
    path = workspace / "examples" / "s12-mirroring.mesh"
    messy = path.read_text(encoding="utf-8").replace("    route primary {\n      to v1\n",
                                                    "  route   primary {  to v1\n")
    await open_file(client, path, messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    (edit,) = edits
    assert edit.range.start == types.Position(line=0, character=0)
    assert edit.range.end == types.Position(line=messy.count("\n"), character=0)
    assert edit.new_text == format_text(messy, "x.mesh") == path.read_text(encoding="utf-8")
    # a text that does not parse is left alone
    await open_file(client, path, messy + "}")
    assert not await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)),
        options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    await open_file(client, path, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("typo, fixed, code", [
    ("to v1\n      mirror v2", "to vv1\n      mirror v2", "MESH201"),          # unknown subset
    ("mirror v2", "miror v2", "MESH001"),                                     # misspelt keyword
])
async def test_quick_fix_applies_the_single_suggestion(client: LanguageClient, workspace: Path, typo, fixed, code):
    path = workspace / "examples" / "s12-mirroring.mesh"
    good = path.read_text(encoding="utf-8")
    bad = good.replace(typo, fixed)
    (diagnostic,) = await open_file(client, path, bad)
    assert diagnostic.code == code
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    (action,) = actions
    assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
    (edit,) = action.edit.changes[uri(path)]
    lines = bad.split("\n")
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = line[:edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    assert "\n".join(lines) == good
    assert await open_file(client, path, good) == []


async def test_no_quick_fix_for_a_hint_about_another_place(client: LanguageClient, workspace: Path):
    """`did you mean `or`?` on a contradiction points at a whole condition:
    replacing it would be wrong, so no fix is offered."""
    path = workspace / "fixtures" / "MESH308_impossible-match" / "MESH308_impossible-match.mesh"
    found = await open_file(client, path)
    assert found and all("did you mean `or`?" in d.message for d in found if d.code == "MESH308")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(path)), range=found[0].range,
        context=types.CodeActionContext(diagnostics=found)))
    assert not actions
    close_file(client, path)


async def test_files_changed_on_disk_are_watched(client: LanguageClient, workspace: Path):
    """The server asks to watch .mesh files; a file created next to an open
    one joins its policy, and deleting it clears its diagnostics."""
    assert any(r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES for r in client.registrations)
    s12 = workspace / "examples" / "s12-mirroring.mesh"
    await open_file(client, s12)
    extra = workspace / "examples" / "extra.mesh"
    extra.write_text("namespace orders {\n  service audit {\n    port 80 http\n    route all { to v9 }\n  }\n}\n",
                     encoding="utf-8")
    forget(client, extra)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=uri(extra), type=types.FileChangeType.Created)]))
    (found,) = await published(client, extra)
    assert [d.code for d in found] == ["MESH201"]
    extra.unlink()
    forget(client, extra)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=uri(extra), type=types.FileChangeType.Deleted)]))
    assert await published(client, extra) == [[]]
    close_file(client, s12)


async def test_positions_count_utf16_units_as_lsp_does(client: LanguageClient, workspace: Path):
    """meshc counts characters; VS Code counts UTF-16 units: a name after
    characters outside the BMP is underlined where the editor shows it."""
    path = workspace / "fixtures" / "MESH201_unknown-subset" / "MESH201_unknown-subset.mesh"
    text = path.read_text(encoding="utf-8").replace("to v3", 'when header x = "😀😀" to v3')
    (found,) = [d for d in await open_file(client, path, text) if d.code == "MESH201"]
    line = text.split("\n")[found.range.start.line]
    start = len(line.encode("utf-16-le")[: found.range.start.character * 2].decode("utf-16-le"))
    assert line[start:start + 2] == "v3" and found.range.end.character - found.range.start.character == 2
    close_file(client, path)


@pytest_lsp.fixture(scope="module", config=SERVER)
async def old_istio_client(lsp_client: LanguageClient, workspace: Path):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("neovim"), root_uri=from_fs_path(str(workspace)),
        initialization_options={"istioVersion": "1.18"}))
    yield
    await lsp_client.shutdown_session()


async def test_the_istio_version_of_clusters_without_one_is_an_option(old_istio_client: LanguageClient,
                                                                     workspace: Path):
    """As `meshc check --istio-version 1.18`: two mirrors need Istio 1.20."""
    path = workspace / "fixtures" / "two-mirrors" / "policy.mesh"
    path.parent.mkdir()
    path.write_text("namespace shop {\n  service cart {\n    subsets by version v1 v2 v3\n"
                    "    route primary {\n      to v1\n      mirror v2 10%\n      mirror v3 10%\n    }\n  }\n}\n",
                    encoding="utf-8")
    found = await open_file(old_istio_client, path)
    assert [d.code for d in found] == ["MESH601"]


async def test_a_fifo_beside_an_open_file_does_not_hang_the_server(client: LanguageClient, workspace: Path):
    """The server reads an open file's siblings from disk: a FIFO named
    x.mesh there blocked it for good; now it is left out like any file that
    cannot be read. (Last in this module: a hung server would stop the rest.)"""
    directory = workspace / "fifo"
    directory.mkdir()
    os.mkfifo(directory / "x.mesh")
    path = directory / "a.mesh"
    path.write_text("namespace a {\n}\n", encoding="utf-8")
    assert await open_file(client, path) == []
