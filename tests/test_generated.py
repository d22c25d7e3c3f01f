"""Files generated from the code stay in step with it: the IR's JSON Schema
and the diagnostics reference. `pytest --update-golden` regenerates them."""

from __future__ import annotations

import json

import jsonschema
from helpers import ROOT, rendered

from meshc.commands.explain import retired
from meshc.diagnostics.codes import CODES, RETIRED, describe
from meshc.language.ir import MeshPolicy


def ir_schema_text() -> str:
    schema = MeshPolicy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://meshc.invalid/schemas/meshc-ir.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def diagnostics_doc() -> str:
    head = (
        "# Diagnostics\n\n"
        "Every code `meshc` reports, generated from `meshc/diagnostics/codes.py` (`pytest --update-golden`\n"
        "rewrites this file). `meshc explain CODE` prints one entry. Codes are never reused.\n\n"
        "| code | name | severity |\n| --- | --- | --- |\n"
        + "".join(f"| {c.code} | `{c.name}` | {c.severity.value} |\n" for c in CODES.values())
    )
    gone = "".join("\n" + retired(code, name, why) for code, (name, why) in sorted(RETIRED.items()))
    return head + "\n" + "\n".join(describe(c) for c in CODES.values()) + gone


def test_ir_schema_is_current(golden):
    golden.check(ROOT / "schemas" / "meshc-ir.schema.json", ir_schema_text())


def test_diagnostics_reference_is_current(golden):
    golden.check(ROOT / "docs" / "diagnostics.md", diagnostics_doc())


def test_examples_ir_validates_against_the_ir_schema(in_repo):
    from meshc.pipeline import compile_paths, discover

    (files,) = discover(["examples"])
    policy = compile_paths(files).policy
    schema = json.loads((ROOT / "schemas" / "meshc-ir.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(policy.model_dump_json()))
    assert rendered(["examples"]).clusters
