"""The language server's analysis, without a client: the workspace (buffers
over disk, one parse per text), symbols against the IR, completion and
keyword help on every example. The protocol itself is tests/test_lsp.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

pytest.importorskip("lsprotocol")

from meshc.backends.documents import slug  # noqa: E402
from meshc.lsp import hover, vocabulary  # noqa: E402
from meshc.lsp.completion import candidates  # noqa: E402
from meshc.lsp.workspace import Workspace  # noqa: E402
from meshc.model.resolve import Index  # noqa: E402
from meshc.pipeline import compile_paths, discover  # noqa: E402

EXAMPLES = sorted((ROOT / "examples").glob("*.mesh"))


@pytest.fixture(scope="module")
def examples() -> Workspace:
    return Workspace()


def analysis_of(ws: Workspace, path: Path):
    analysis = ws.analysis(str(path))
    return analysis, analysis.source(str(path))


# --------------------------------------------------------------- workspace
def test_only_the_changed_file_is_parsed_again(tmp_path, monkeypatch):
    for f in EXAMPLES:
        shutil.copy(f, tmp_path)
    parsed = []
    from meshc.lsp import workspace as module
    real = module.parse
    monkeypatch.setattr(module, "parse", lambda src: parsed.append(Path(src.path).name) or real(src))
    ws = Workspace()
    edited = tmp_path / "s12-mirroring.mesh"
    ws.analysis(str(edited))
    assert sorted(parsed) == sorted(f.name for f in EXAMPLES)
    parsed.clear()
    ws.open(str(edited), edited.read_text(encoding="utf-8").replace("20%", "30%"))
    assert ws.analysis(str(edited)).diagnostics == []
    assert parsed == ["s12-mirroring.mesh"]
    parsed.clear()
    ws.analysis(str(edited))  # nothing changed: the analysis is kept
    ws.close(str(edited))     # the disk's text again, whose parse is kept
    assert ws.analysis(str(edited)).diagnostics == []
    assert parsed == []


def test_buffers_join_the_policy_of_their_directory(tmp_path):
    """A new, unsaved file is part of its directory's policy; a file deleted
    from disk leaves it."""
    shutil.copy(ROOT / "examples" / "s12-mirroring.mesh", tmp_path)
    new = tmp_path / "new.mesh"
    ws = Workspace()
    ws.open(str(new), "namespace orders { service order-service { port 80 http } }")
    codes = [d.code for d in ws.analysis(str(new)).diagnostics]
    assert codes == ["MESH205"]  # the service is declared twice, in two files
    (tmp_path / "s12-mirroring.mesh").unlink()
    ws.invalidate(str(new))
    assert ws.analysis(str(new)).diagnostics == []


def test_the_analysis_is_meshc_checks_for_the_examples(examples):
    analysis, _ = analysis_of(examples, EXAMPLES[0])
    assert analysis.diagnostics == [] and analysis.rendering is not None
    assert sorted(analysis.files) == sorted(str(f) for f in EXAMPLES)


# ----------------------------------------------------------------- symbols
def test_symbols_declare_what_the_ir_declares(examples):
    """Two readings of the examples agree: the symbol walk over syntax
    trees and the lowered IR declare the same services, subsets and routes."""
    (files,) = discover([str(ROOT / "examples")])
    policy = compile_paths(files).policy
    from_ir = set()
    for info in Index(policy).all_services():
        ns, svc = info.key
        from_ir.add(("service", ns, svc))
        from_ir |= {("subset", ns, svc, s.name.value) for s in info.service.subsets}
        from_ir |= {("route", ns, svc, r.name.value) for r in info.service.routes}
    for block in Index(policy).gateway_hosts():  # a route of the VirtualService GATEWAY-HOST
        owner = f"{block.gateway.name.value}-{slug(block.block.host)}"
        from_ir |= {("route", block.namespace.name.value, owner, r.name.value) for r in block.block.routes}
    assert ("route", "istio-system", "main-gateway-api-example-com", "users") in from_ir
    analysis, _ = analysis_of(examples, EXAMPLES[0])
    declared = {sym.key for sym in analysis.symbols if sym.declaration and sym.kind in ("service", "subset", "route")}
    assert declared == from_ir


def test_every_reference_in_the_examples_has_a_declaration(examples):
    analysis, _ = analysis_of(examples, EXAMPLES[0])
    declared = {sym.key for sym in analysis.symbols if sym.declaration}
    dangling = []
    for sym in analysis.symbols:
        line = analysis.source(sym.span.file).line_text(sym.span.line).strip()
        # `allow W` and `mtls ... for W` name workloads, which need not be services of the policy
        if not sym.declaration and sym.key not in declared and not line.startswith(("allow", "mtls")):
            dangling.append((sym.key, line))
    assert dangling == []


def test_a_file_with_a_syntax_error_still_declares_its_last_names(tmp_path):
    path = tmp_path / "a.mesh"
    text = "namespace a {\n  service b {\n    port 80 http\n    subsets by version v1 v2\n  }\n}\n"
    path.write_text(text, encoding="utf-8")
    ws = Workspace()
    ws.analysis(str(path))
    ws.open(str(path), text.replace("  }\n}", "    route r { to "))
    analysis = ws.analysis(str(path))
    assert analysis.symbols == []  # nothing to navigate in a file that does not parse
    assert {sym.name for sym in analysis.declared() if sym.kind == "subset"} == {"v1", "v2"}


# -------------------------------------------------------------- completion
def complete_at(ws: Workspace, path: Path, text: str, marker: str = "|") -> list[str]:
    """Labels offered where `marker` stands in `text` (the marker removed)."""
    offset = text.index(marker)
    ws.open(str(path), text.replace(marker, ""))
    analysis, source = analysis_of(ws, path)
    start = offset
    while start and (source.text[start - 1].isalnum() or source.text[start - 1] in "-_"):
        start -= 1
    return [label for label, _, _ in candidates(analysis, source, start)]


@pytest.mark.parametrize("text, expected", [
    ("|", {"fleet", "namespace"}),
    ("namespace a { |", {"service", "gateway", "mtls", "allow", "defaults", "external", "}"} - {"}"}),
    ("namespace a { service b { port 80 http  route r { when header x = \"1\" | } } }", {"and", "or", "to", "canary"}),
    ("namespace a { service b { lb |", {"hash", "round-robin", "random", "least-request", "passthrough"}),
    ("namespace a { mtls |", {"strict", "permissive", "disable"}),
    ("namespace a { service b { route r { canary v1 -> v2 steps 10% analysis | } } }",
     {"success-rate", "p50", "p99", "p999"}),
    ("namespace a { service b { retry 3 on |", {"5xx", "connect-failure", "reset"}),
])
def test_completion_lists_what_the_grammar_accepts(tmp_path, text, expected):
    labels = complete_at(Workspace(), tmp_path / "a.mesh", text)
    assert expected <= set(labels), labels


def test_completion_names_follow_the_scope(tmp_path):
    policy = (
        "namespace a {\n"
        "  service web { port 80 http subsets by version v1 v2 }\n"
        "  service api { port 80 http subsets by track blue green\n"
        "    route r { to | }\n"
        "  }\n"
        "}\n"
        "namespace other { service db { port 5432 tcp subsets by version main } }\n"
    )
    ws = Workspace()
    path = tmp_path / "a.mesh"
    path.write_text(policy.replace("|", "blue"), encoding="utf-8")
    ws.analysis(str(path))  # names come from the last text that parsed
    assert set(complete_at(ws, path, policy)) == {"blue", "green", "service"}
    assert set(complete_at(ws, path, policy.replace("to |", "to service |"))) == {"api", "web"}
    assert set(complete_at(ws, path, policy.replace("to |", "to service web subset |"))) == {"v1", "v2"}
    assert set(complete_at(ws, path, policy.replace("to |", "to service db in other subset |"))) == {"main"}
    assert {"a", "other"} <= set(complete_at(ws, path, policy.replace("to |", "to service db in |")))


def test_no_completion_after_a_syntax_error_before_the_cursor(tmp_path):
    assert complete_at(Workspace(), tmp_path / "a.mesh", "namespace a { service b { port http |") == []


# ------------------------------------------------------------ keyword help
def test_every_keyword_in_the_examples_has_help_on_hover(examples):
    """Hovering any keyword of any example explains the statement it is in."""
    keywords = set(vocabulary.keywords().values())
    missing = []
    for path in EXAMPLES:
        analysis, source = analysis_of(examples, path)
        tree = analysis.tree(str(path))
        names = {(sym.span.start) for sym in analysis.symbols}
        code = re.sub(r"#[^\n]*|\"[^\"\n]*\"", lambda m: " " * len(m.group()), source.text)
        for m in re.finditer(r"[a-z][a-z0-9-]*", code):
            if m.group() in keywords and m.start() not in names and not hover._keyword_at(tree, source, m.start()):
                missing.append((path.name, m.group()))
    assert missing == []


def test_the_base_install_does_not_import_the_language_server():
    """`meshc check` and `meshc --help` (which lists `lsp`) never load pygls."""
    code = (
        "import sys; from meshc.cli import cli; from click.testing import CliRunner;"
        "r = CliRunner().invoke(cli, ['--help']); assert 'lsp' in r.output, r.output;"
        "r = CliRunner().invoke(cli, ['check', sys.argv[1]]); assert r.exit_code == 0, r.output;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'meshc.lsp')];"
        "assert not bad and 'meshc.lsp' not in sys.modules, bad"
    )
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_meshc_lsp_without_the_extra_says_how_to_install_it():
    code = "import sys; sys.modules['pygls'] = None; from meshc.cli import main; main(['lsp'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "pip install 'meshc[lsp]'" in done.stderr and "Traceback" not in done.stderr


def test_edits_inside_a_service_reparse_only_that_service(tmp_path, monkeypatch):
    """While typing in a service, through texts that do not parse and back,
    each text that parses is reparsed from the last one that did."""
    for f in EXAMPLES:
        shutil.copy(f, tmp_path)
    from meshc.lsp import workspace as module
    calls = []
    real = module.reparse
    monkeypatch.setattr(module, "reparse", lambda old, tree, new: calls.append(new.text) or real(old, tree, new))
    ws = Workspace()
    path = tmp_path / "s12-mirroring.mesh"
    text = path.read_text(encoding="utf-8")
    for typed in (text, text.replace("20%", "2"), text.replace("20%", "25%"), text.replace("20%", "30%")):
        ws.open(str(path), typed)
        ws.analysis(str(path))
    # the first text is parsed whole; `2` (no %) does not parse and is parsed whole to word the error
    assert calls == [text.replace("20%", "2"), text.replace("20%", "25%"), text.replace("20%", "30%")]
    assert [d.code for d in ws.analysis(str(path)).diagnostics] == []


# ----------------------------------------------------------- configuration
def test_the_configuration_applies_as_for_meshc_check(tmp_path):
    """ignore, per-file-ignores, suppression comments and extend-exclude:
    the editor reports what `meshc check DIR` reports, nothing more."""
    import json as json_

    from click.testing import CliRunner

    from meshc.cli import cli

    no_default = "namespace {ns} {{ service s {{ port 80 http route r {{ when header a = \"1\" to service s }} }} }}\n"
    (tmp_path / "meshc.toml").write_text('extend-exclude = ["drafts-*.mesh"]\n'
                                         '[per-file-ignores]\n"quiet.mesh" = ["no-default-route"]\n',
                                         encoding="utf-8")
    (tmp_path / "loud.mesh").write_text(no_default.format(ns="a"), encoding="utf-8")
    (tmp_path / "quiet.mesh").write_text(no_default.format(ns="b"), encoding="utf-8")
    (tmp_path / "silenced.mesh").write_text(
        "namespace c {\n  service s {  # meshc: ignore[MESH309]\n    port 80 http\n"
        "    route r { when header a = \"1\" to service s }\n  }\n}\n", encoding="utf-8")
    (tmp_path / "drafts-1.mesh").write_text("namespace d { service s { port 80 http route r { to v9 } } }\n",
                                            encoding="utf-8")
    analysis = Workspace().analysis(str(tmp_path / "loud.mesh"))
    assert sorted(Path(p).name for p in analysis.files) == ["loud.mesh", "quiet.mesh", "silenced.mesh"]
    got = [(Path(d.span.file).name, d.code, d.span.line) for d in analysis.diagnostics]
    result = CliRunner().invoke(cli, ["check", "--output-format", "json", str(tmp_path)])
    want = [(Path(d["location"]["file"]).name, d["code"], d["location"]["line"])
            for d in json_.loads(result.stdout)]
    assert got == want == [("loud.mesh", "MESH309", 1)]


def test_a_wrong_configuration_is_reported_and_the_defaults_used(tmp_path):
    (tmp_path / "meshc.toml").write_text('ignore = ["MESH999"]\n', encoding="utf-8")
    shutil.copy(ROOT / "examples" / "s12-mirroring.mesh", tmp_path)
    ws = Workspace()
    analysis = ws.analysis(str(tmp_path / "s12-mirroring.mesh"))
    assert analysis.diagnostics == [] and "MESH999" in ws.config_error
