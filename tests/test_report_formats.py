"""CI report formats: SARIF 2.1.0 (validated against the OASIS schema),
GitLab Code Quality, JUnit XML, and the JSON Schema of `--output-format json`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from click.testing import CliRunner
from helpers import ROOT, diagnose

from meshc.cli import cli
from meshc.diagnostics import report
from meshc.diagnostics.codes import CODES

FIXTURES = sorted((ROOT / "tests" / "diagnostics").glob("MESH*.mesh"))
IMPORT_FIXTURES = sorted((ROOT / "tests" / "diagnostics").glob("MESH*.yaml"))
SARIF_SCHEMA = json.loads((ROOT / "tests" / "sarif" / "sarif-schema-2.1.0.json").read_text())
JSON_SCHEMA = json.loads((ROOT / "schemas" / "meshc-diagnostics.schema.json").read_text())
LABELLED = "namespace a {\n  service s {\n    subsets by version v1\n    route r { to v1 }\n    route r { to v1 }\n  }\n}\n"


@pytest.fixture(scope="module")
def every_diagnostic():
    """The diagnostics of every fixture (so every code check reports), with their sources."""
    diagnostics, sources = [], {}
    for path in FIXTURES:
        compiled, found = diagnose(path)
        diagnostics += found
        sources.update(compiled.sources)
    return diagnostics, sources


def test_sarif_is_valid_sarif_2_1_0(every_diagnostic, in_repo):
    diagnostics, sources = every_diagnostic
    log = json.loads(report.render(diagnostics, sources, "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({d.code for d in diagnostics})
    assert len(run["results"]) == len(diagnostics)
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert result["level"] == CODES[rule["id"]].severity.value
    mesh301 = next(r for r in rules if r["id"] == "MESH301")
    assert "### Why is this bad?" in mesh301["help"]["markdown"]  # `meshc explain` text


def test_sarif_locations_and_related_locations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "x.mesh").write_text(LABELLED)
    result = CliRunner().invoke(cli, ["check", "--output-format", "sarif", "a b"])
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    entry = log["runs"][0]["results"][0]
    assert entry["ruleId"] == "MESH205"
    location = entry["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "a%20b/x.mesh", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 5, "startColumn": 11, "endLine": 5, "endColumn": 12}
    (related,) = entry["relatedLocations"]
    assert related["physicalLocation"]["region"]["startLine"] == 4 and related["message"]["text"]
    assert log["runs"][0]["columnKind"] == "unicodeCodePoints"


def test_clean_run_is_a_valid_empty_sarif_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.mesh").write_text("namespace a { mtls strict }\n")
    log = json.loads(CliRunner().invoke(cli, ["check", "--output-format", "sarif", "."]).stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


def test_json_output_follows_its_schema(every_diagnostic):
    diagnostics, sources = every_diagnostic
    data = json.loads(report.render(diagnostics, sources, "json"))
    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)
    jsonschema.Draft202012Validator(JSON_SCHEMA).validate(data)
    # the codes a command reports (`# command:` fixtures, and `meshc
    # import`'s YAML ones, whose JSON tests/test_diagnostics.py validates)
    # are not `check`'s
    commands = {p.name.split("_", 1)[0] for p in FIXTURES + IMPORT_FIXTURES
                if p.read_bytes().startswith(b"# command:")}
    assert {d["code"] for d in data} == set(CODES) - commands
    broken = [{**data[0], "severity": "fatal"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(JSON_SCHEMA).validate(broken)


def test_gitlab_code_quality(every_diagnostic):
    diagnostics, sources = every_diagnostic
    issues = json.loads(report.render(diagnostics, sources, "gitlab"))
    assert len(issues) == len(diagnostics)
    for issue, d in zip(issues, diagnostics):
        # the fields GitLab requires (ci/testing/code_quality.md, "Code Quality report format")
        assert issue["description"] and issue["check_name"] == d.code
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert issue["location"]["path"] == d.span.file
        assert issue["location"]["lines"]["begin"] == d.span.line
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    # a fingerprint leaves the line out: moving the issue down keeps it
    moved = [d.__class__(**{**d.__dict__, "span": d.span._replace(line=d.span.line + 3)}) for d in diagnostics]
    assert [i["fingerprint"] for i in json.loads(report.render(moved, sources, "gitlab"))] == \
           [i["fingerprint"] for i in issues]


def test_junit_xml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "bad.mesh").write_text(LABELLED.replace("service s", "service t").replace("<", ""))
    (tmp_path / "p" / "good.mesh").write_text("namespace b { mtls strict }\n")
    result = CliRunner().invoke(cli, ["check", "--output-format", "junit", "p"])
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout.encode())
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "2"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == ["p/bad.mesh", "p/good.mesh"]
    case, _ = suites["p/bad.mesh"].findall("testcase")
    assert case.get("name") == "MESH205 duplicate-name" and case.get("line") == "5"
    failure = case.find("failure")
    assert failure.get("type") == "error" and failure.text.startswith("p/bad.mesh:5:11: ")
    (passed,) = suites["p/good.mesh"].findall("testcase")
    assert passed.find("failure") is None
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))


def test_formats_are_selectable_from_the_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.mesh").write_text(LABELLED)
    (tmp_path / "meshc.toml").write_text('output-format = "junit"\n')
    assert CliRunner().invoke(cli, ["check", "."]).stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_github_format_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.mesh").write_text(LABELLED)
    out = CliRunner().invoke(cli, ["check", "--output-format", "github", "."]).stdout
    assert out.startswith("::error file=x.mesh,line=5,col=11,endLine=5,endColumn=12,title=MESH205 duplicate-name::")


