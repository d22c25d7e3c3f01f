"""String literals: characters that no YAML tool or request carries, and
empty values, reported at the string (meshc/language/strings.py)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ruamel.yaml import YAML

from meshc.backends.istio import render
from meshc.output import manifests
from meshc.pipeline import compile_sources, decode

# Every C0 control but tab, LF and CR (a lone CR ends the file's lines:
# MESH005), DEL, every C1 control, the BMP noncharacters; and characters
# that are fine (tab, no-break space, line separators, other noncharacters).
UNSAFE = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + list(range(0x7F, 0xA0)) + [0xFFFE, 0xFFFF]
SAFE = [0x09, 0x20, 0xA0, 0x2028, 0x2029, 0xFEFF, 0xFDD0, 0x1FFFE, 0x10FFFF]

CONTEXTS = {
    "header value": 'route r {{ when header x-h = "{s}" to v1 }}',
    "cookie value": 'route r {{ when cookie c = "{s}" to v1 }}',
    "query value": 'route r {{ when query q = "{s}" to v1 }}',
    "path": 'route r {{ when path ^= "/{s}" to v1 }}',
    "rewritten path": 'route r {{ when path ^= "/a" to v1 rewrite path "/{s}" }}',
    "CORS origin": 'route r {{ when path ^= "/a" to v1 cors origins "https://{s}" }}',
    "principal": "",
    "authorization path": "",
}


def policy(context: str, string: str) -> str:
    if context == "principal":
        allow, route = f'allow cart from principal "{string}"', ""
    elif context == "authorization path":
        allow, route = f'allow cart to GET "/{string}"', ""
    else:
        allow, route = "", CONTEXTS[context].format(s=string)
    return (f"namespace shop {{\n  {allow}\n  service cart {{\n    port 80 http\n    subsets by version v1 v2\n"
            f"    {route}\n    route default {{ to v1 }}\n  }}\n}}\n")


def diagnostics(text: str) -> list:
    compiled = compile_sources([decode("p.mesh", text.encode())[0]])
    found = list(compiled.diagnostics)
    if compiled.ok:
        found += render(compiled.policy).diagnostics
    # No gateway exposes `cart`, so its CORS also gets MESH327, which is not
    # what these tests are about.
    return [d for d in found if d.code != "MESH327"]


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_an_unsafe_character_is_reported_at_the_character(context):
    for code in UNSAFE:
        text = policy(context, f"ab{chr(code)}c")
        found = [(d.code, d.span.line, d.span.column) for d in diagnostics(text)]
        line = 2 if context in ("principal", "authorization path") else 6
        column = text.split("\n")[line - 1].index(chr(code)) + 1
        assert found == [("MESH117", line, column)], (context, hex(code), found)
        assert context in diagnostics(text)[0].message


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_safe_characters_pass(context):
    for code in SAFE:
        assert [d.code for d in diagnostics(policy(context, f"ab{chr(code)}c")) if d.is_error] == [], hex(code)


@pytest.mark.parametrize("context", ["principal", "authorization path", "CORS origin", "rewritten path"])
def test_an_empty_value_is_reported(context):
    text = policy(context, "").replace('"/"', '""').replace('"https://"', '""')
    found = diagnostics(text)
    assert [(d.code, d.message.split(":")[0]) for d in found] == [("MESH118", f"empty {context}")], found


def test_an_empty_exact_path_is_reported_and_empty_prefixes_are_mesh115():
    exact = diagnostics(policy("path", "").replace('^= "/"', '= ""'))
    assert [d.code for d in exact] == ["MESH118"]
    assert [d.code for d in diagnostics(policy("path", "").replace('^= "/"', '^= ""'))] == ["MESH115"]
    assert [d.code for d in diagnostics(policy("path", "").replace('^= "/"', '~ ""'))] == ["MESH115"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_every_header_value_check_accepts_survives_kubectl_kustomize(tmp_path):
    """DEL, the C1 controls and U+FFFE/U+FFFF used to pass check and then
    make `kubectl kustomize` fail for the whole cluster (U+0085 came out as
    a space): whatever check accepts now comes out of kustomize unchanged."""
    values = {}
    for code in UNSAFE + SAFE:
        value = f"v{chr(code)}w"
        if not diagnostics(policy("header value", value)):
            values[f"r{code:x}"] = value
    assert set(values) == {f"r{code:x}" for code in SAFE}
    routes = "".join(f'    route {name} {{ when header x-h = "{v}" to v1 }}\n' for name, v in values.items())
    text = policy("header value", "x").replace('    route r { when header x-h = "x" to v1 }\n', routes)
    compiled = compile_sources([decode("p.mesh", text.encode())[0]])
    assert compiled.ok, compiled.diagnostics
    for path, content in manifests.files(render(compiled.policy), ["p.mesh"]).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content, encoding="utf-8")
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path / "default")], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    (service,) = [d for d in YAML(typ="safe").load_all(built.stdout) if d["kind"] == "VirtualService"]
    read = {r["name"]: r["match"][0]["headers"]["x-h"]["exact"] for r in service["spec"]["http"] if "match" in r}
    assert read == values
