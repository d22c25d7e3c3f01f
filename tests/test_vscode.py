"""The VS Code extension (editors/vscode) with the real npm tools: the
TextMate grammar passes vscode-tmgrammar-test on every example, the
extension packages with `@vscode/vsce package`, and its client starts
`meshc lsp`. Skipped cleanly without node and npm, or when npm cannot fetch
the tools; the installed tools are kept in pytest's cache between runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT

VSCODE = ROOT / "editors" / "vscode"
NPM_TIMEOUT = 600


@pytest.fixture(scope="module")
def extension(request, tmp_path_factory) -> Path:
    """A copy of editors/vscode with its npm dependencies installed
    (`npm ci`), kept in pytest's cache while package-lock.json is unchanged
    (in a temporary directory when the cache is off)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed")
    lock = hashlib.sha256((VSCODE / "package-lock.json").read_bytes()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    cached = Path(cache.mkdir(f"vscode-{lock}")) if cache is not None else tmp_path_factory.mktemp("vscode")
    work = cached / "extension"
    if work.exists():
        shutil.rmtree(work / "test", ignore_errors=True)
    shutil.copytree(VSCODE, work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules", "*.vsix"))
    if not (work / "node_modules" / ".package-lock.json").exists():
        try:
            done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=work, capture_output=True,
                                  text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci timed out (no network?)")
        if done.returncode != 0:
            shutil.rmtree(work / "node_modules", ignore_errors=True)
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
            pytest.skip(f"npm ci failed (no network?): {first}")
    return work


def npx(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["npx", "--no-install", *args], cwd=work, capture_output=True, text=True,
                          timeout=NPM_TIMEOUT)


def test_grammar_passes_its_tests_on_every_example(extension):
    done = npx(extension, "vscode-tmgrammar-test", "test/*.mesh.test")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {line.split()[1] for line in done.stdout.splitlines() if "run successfuly" in line}
    assert tested == {f"test/{p.name}.test" for p in (ROOT / "examples").glob("*.mesh")}


def test_grammar_tests_can_fail(extension):
    """A wrong assertion fails: the runner is not vacuous. A subset named
    like a keyword is the grammar's known limit (it has no parser)."""
    bad = extension / "test" / "wrong.mesh.test"
    bad.write_text('# SYNTAX TEST "source.mesh" "wrong"\nnamespace a { }\n'
                   "# <--------- string.quoted.double.mesh\n", encoding="utf-8")
    try:
        done = npx(extension, "vscode-tmgrammar-test", "test/wrong.mesh.test")
    finally:
        bad.unlink()
    assert done.returncode != 0 and "missing required scopes: string.quoted.double.mesh" in done.stdout


def test_extension_packages_with_vsce(extension, tmp_path):
    vsix = tmp_path / "meshc.vsix"
    done = npx(extension, "vsce", "package", "--skip-license", "--out", str(vsix))
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("extension/package.json"))
    assert {"extension/extension.js", "extension/language-configuration.json",
            "extension/syntaxes/mesh.tmLanguage.json", "extension/readme.md"} <= names
    assert any(n.startswith("extension/node_modules/vscode-languageclient/") for n in names)
    assert not any(n.startswith("extension/test/") for n in names)
    assert manifest["contributes"]["languages"][0]["extensions"] == [".mesh"]


_CLIENT_CHECK = r"""
// Load extension.js with `vscode` and the language client stubbed, activate
// it, and print how it starts the server.
const Module = require('module');
const seen = {};
const settings = { path: 'meshc', istioVersion: '1.22' };
const stubs = {
  vscode: {
    workspace: {
      getConfiguration: (section) => ({ get: (key) => settings[key] }),
      onDidChangeConfiguration: () => ({ dispose() {} }),
    },
    commands: { registerCommand: (name) => { seen.command = name; return { dispose() {} }; },
                executeCommand: async () => {} },
    window: { showErrorMessage: (text) => { seen.error = text; } },
  },
  'vscode-languageclient/node': {
    TransportKind: { stdio: 0 },
    LanguageClient: class {
      constructor(id, name, server, client) { Object.assign(seen, { id, server, client }); }
      async start() { seen.started = true; }
      async stop() {}
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request in stubs ? stubs[request] : load.call(this, request, ...rest);
};
const extension = require(process.argv[1]);
extension.activate({ subscriptions: [] }).then(() => console.log(JSON.stringify(seen)));
"""


def test_client_starts_meshc_lsp_over_stdio():
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    done = subprocess.run(["node", "-e", _CLIENT_CHECK, str(VSCODE / "extension.js")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["server"] == {"command": "meshc", "args": ["lsp"], "transport": 0}
    assert seen["client"]["documentSelector"] == [{"scheme": "file", "language": "mesh"}]
    assert seen["client"]["initializationOptions"] == {"istioVersion": "1.22"}
    assert seen["started"] and seen["command"] == "meshc.restartServer"


def test_the_extension_contributes_the_language_and_its_grammar():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "mesh"
    assert (VSCODE / grammar["path"]).is_file() and (VSCODE / language["configuration"]).is_file()
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#" and ["{", "}"] in config["brackets"]
    ignored = (ROOT / "editors" / "vscode" / ".gitignore").read_text(encoding="utf-8").split()
    assert "node_modules/" in ignored
