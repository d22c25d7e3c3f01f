"""`meshc test` on the tables written as `test` blocks (policies/*/tests.mesh),
and on deliberately wrong expectations (wrong/*.test.mesh): exit codes,
locations, and the text, JSON and JUnit reports saying the same."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.independent.meshc_cli import HERE, POLICIES, run
from tests.independent.tables import TABLES

TEST_NAME = re.compile(r"^test ([a-z0-9-]+) \{", re.M)


def declared_tests(directory: Path) -> dict[str, tuple[str, int]]:
    """Every `test NAME {` under directory: name -> (file, line)."""
    out = {}
    for path in sorted(directory.rglob("*.mesh")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if m := TEST_NAME.match(line):
                out[m.group(1)] = (str(path), number)
    return out


def test_every_table_row_is_a_test_block():
    """The same expectations in both places (rows `meshc test` cannot state
    are named here: --istio-version is not a request attribute, and a
    connection with no HTTP answer has no status to expect)."""
    names = set(declared_tests(POLICIES))
    not_expressible = {"istio-default-retries-1.23", "unknown-sni",
                       "geo-cluster-label-is-the-proxys"}   # in test_discrepancies.py
    for policy, rows in TABLES.items():
        for r in rows:
            if r.id in not_expressible:
                continue
            assert r.id in names or any(n.startswith(r.id + "-") for n in names), (policy, r.id)


def test_the_tables_pass_in_every_format():
    declared = declared_tests(POLICIES)
    text = run("test", POLICIES)
    assert text.exit_code == 0, text.output
    assert re.search(rf"\b{len(declared)} passed\b", text.stdout)
    assert "coverage: 100.0%" in text.stdout

    report = run("test", POLICIES, "--output-format", "json")
    assert report.exit_code == 0
    data = json.loads(report.stdout)
    assert {t["name"] for t in data["tests"]} == set(declared)
    assert all(t["outcome"] == "passed" and not t["failures"] for t in data["tests"])
    for t in data["tests"]:
        file, line = declared[t["name"]]
        where = (str(Path(t["location"]["file"]).resolve()), t["location"]["line"], t["location"]["column"])
        assert where == (file, line, 6)
    assert data["summary"]["tests"] == data["summary"]["passed"] == len(declared)
    assert data["summary"]["failed"] == 0
    assert data["coverage"]["percent"] == 100.0

    junit = run("test", POLICIES, "--output-format", "junit")
    assert junit.exit_code == 0
    root = ET.fromstring(junit.stdout)
    cases = root.findall(".//testcase")
    assert {c.get("name") for c in cases} == set(declared)
    assert root.get("failures") == "0" and root.get("tests") == str(len(declared))
    assert not root.findall(".//failure")
    for suite in root.findall("testsuite"):   # a suite per file
        assert {c.get("file") for c in suite.findall("testcase")} == {suite.get("name")}


# -- deliberately wrong expectations --

@pytest.fixture(scope="module")
def wrong_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wrong")
    for path in sorted((HERE / "wrong").glob("*.test.mesh")):
        policy = path.name.removesuffix(".test.mesh")
        shutil.copytree(POLICIES / policy, root / policy)
        shutil.copy(path, root / policy / path.name)
    return root


def wrong_expectations(root: Path) -> dict[str, tuple[str, int, int, str]]:
    """test name -> (file, test line, line of the WRONG expect, its text)."""
    out = {}
    for path in sorted(root.glob("*/*.test.mesh")):
        current = None
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if m := TEST_NAME.match(line):
                current = (m.group(1), number)
            if "# WRONG" in line:
                text = line.split("#")[0].strip().removeprefix("expect ")
                out[current[0]] = (str(path), current[1], number, text)
    return out


# where each wrong test must fail: caller clusters, and what meshc must find
FAILS_IN = {
    "wrong-weights": ({"beijing"}, ["80%", "20%"]),
    "wrong-timeout-in-beijing-only": ({"beijing"}, ["8s"]),
    "wrong-route": ({"hangzhou", "shanghai", "beijing"}, ["report"]),
    "wrong-retry": ({"hangzhou"}, ["off"]),
    "wrong-step": ({"hangzhou", "shanghai", "beijing"}, ["80%", "20%"]),
    "wrong-served-by": ({"shanghai"}, ["beijing"]),
    "wrong-lb": ({"beijing"}, ["RANDOM"]),
    "wrong-status": ({"default"}, ["404"]),
    "wrong-rewrite": ({"default"}, ["/health"]),
    "wrong-mirror": ({"default"}, ["25%"]),
    "wrong-fault": ({"default"}, ["0.5%"]),
    "wrong-default-retries": ({"default"}, ["retry 2"]),
}


def test_wrong_expectations_fail_with_their_location_in_text(wrong_tree):
    wrong = wrong_expectations(wrong_tree)
    assert set(wrong) == set(FAILS_IN)
    result = run("test", wrong_tree)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert re.search(rf"\b{len(wrong)} failed\b", out)
    for name, (file, test_line, line, text) in wrong.items():
        header = re.search(rf"^_+ {re.escape(name)} \({re.escape(file)}:{test_line}:6\) _+$", out, re.M)
        assert header, name
        section = out[header.end():].split("\n___", 1)[0]
        assert f"{file}:{line}:3\n  expected: {text}\n  actual:   " in section, (name, section[:400])
        clusters, truths = FAILS_IN[name]
        failed_in = set()
        for m in re.finditer(r"^  in ([a-z, ]+);", section, re.M):
            failed_in |= set(m.group(1).split(", "))
        assert failed_in == clusters, name
        actual = re.findall(r"^  actual:   (.*)$", section, re.M)
        assert all(all(t in a for t in truths) for a in actual), (name, actual)
        assert "meshc route:" in section
    for right in ("right-timeout-in-beijing", "right-redirect"):
        assert not re.search(rf"^_+ {right} ", out, re.M)


def test_wrong_expectations_json_and_junit_say_the_same(wrong_tree):
    wrong = wrong_expectations(wrong_tree)
    report = run("test", wrong_tree, "--output-format", "json")
    assert report.exit_code == 1
    data = json.loads(report.stdout)
    failed = {t["name"]: t for t in data["tests"] if t["outcome"] == "failed"}
    assert set(failed) == set(wrong)
    assert data["summary"]["failed"] == len(wrong)
    assert data["summary"]["passed"] == data["summary"]["tests"] - len(wrong)
    for name, (file, test_line, line, text) in wrong.items():
        t = failed[name]
        assert (t["location"]["file"], t["location"]["line"]) == (file, test_line)
        clusters = set()
        for failure in t["failures"]:
            clusters |= set(failure["clusters"])
            for e in failure["expectations"]:
                assert (e["location"]["file"], e["location"]["line"], e["location"]["column"]) == (file, line, 3)
                assert e["expected"] == text
                assert all(truth in e["actual"] for truth in FAILS_IN[name][1])
            assert failure["request"]["location"]["line"] == test_line + 1
            assert failure["explanation"], name
        assert clusters == FAILS_IN[name][0], name

    junit = run("test", wrong_tree, "--output-format", "junit")
    assert junit.exit_code == 1
    root = ET.fromstring(junit.stdout)
    assert root.get("failures") == str(len(wrong))
    by_name = {c.get("name"): c for c in root.iter("testcase")}
    assert set(by_name) == {t["name"] for t in data["tests"]}
    for name, case in by_name.items():
        failure = case.find("failure")
        if name not in wrong:
            assert failure is None, name
            continue
        file, test_line, line, text = wrong[name]
        assert (case.get("file"), case.get("line")) == (file, str(test_line))
        assert failure is not None and f"expected {text}" in failure.get("message")
        assert f"{file}:{line}:3" in failure.text
        for e in (e for f in failed[name]["failures"] for e in f["expectations"]):
            assert f"actual:   {e['actual']}" in failure.text


def test_fail_under_reads_the_coverage(tmp_path):
    """Only the live step of the canary and one of two routes: 2 of 6 (the
    qa route, steps 0, 1, 3, 4 and frontend's live route not reached)."""
    shutil.copy(POLICIES / "canary" / "policy.mesh", tmp_path / "policy.mesh")
    (tmp_path / "t.mesh").write_text(
        "test only-main {\n  request service checkout in web\n  expect route main\n}\n")
    data = json.loads(run("test", tmp_path, "--output-format", "json").stdout)
    counts = data["coverage"]["counts"]
    assert counts["route"] == {"reached": 1, "total": 3}
    assert counts["canary step"] == {"reached": 1, "total": 5}
    assert data["coverage"]["percent"] == 25.0
    assert run("test", tmp_path, "--fail-under", "25").exit_code == 0
    assert run("test", tmp_path, "--fail-under", "26").exit_code == 1
