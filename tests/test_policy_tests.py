"""`meshc test` (issue 9, items 2 and 4): the examples' tests pass (this is
how the project's test command runs them), a wrong expectation fails with a
located message, every kind of expectation passes and fails on the
decision it is about, steps, clusters and `down` choose the cases, route
coverage counts what was reached, and the reports are what CI reads."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT

from meshc.cli import cli
from tests.independent.test_discrepancies import TWO_CANARIES

POLICY = """\
fleet prod {
  cluster east region r1 zone z1 network n1
  cluster west region r2 zone z2 network n1
}

namespace shop {
  service cart {
    port 80 http
    subsets by version v1 v2
    timeout 5s
    lb least-request
    failover r1 -> r2
    circuit-breaker { eject 5 consecutive 5xx every 10s for 30s }
    on west { timeout 7s }

    route beta {
      when header x-beta = "1" or cookie beta = "yes"
      to v2
      rewrite path "/beta/"
      mirror v1 5%
    }
    route legacy {
      when path ^= "/old"
      to v1
      retry 3 per-try 2s on 5xx 503
      fault abort 500 1%
    }
    route primary {
      canary v1 -> v2 steps 10% 50% 100% at 1
    }
  }
}
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def policy(tmp_path, monkeypatch):
    """A policy directory `p` with POLICY and a `tests.mesh` to write."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "cart.mesh").write_text(POLICY)

    def with_tests(text: str) -> Path:
        (tmp_path / "p" / "tests.mesh").write_text(text)
        return tmp_path / "p"

    return with_tests


def outcome(text: str, *args: str) -> tuple[int, str]:
    result = run("test", "p", *args)
    return result.exit_code, result.stdout + result.stderr


# --------------------------------------------------------------- examples
def test_the_examples_pass_with_full_coverage(in_repo):
    result = run("test", "examples/", "--fail-under", "100")
    assert result.exit_code == 0, result.output
    assert " failed" not in result.stdout and " passed (" in result.stdout
    assert "coverage: 100.0%" in result.stdout


def test_a_wrong_expectation_fails_with_a_located_message(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "examples" / "s01-canary.test.mesh"
    path.write_text(path.read_text() + "\ntest wrong-split {\n  request service user-service in production\n"
                    "  at 2\n  expect to v1 80%, v2 20%\n}\n")
    line = path.read_text().count("\n", 0, path.read_text().rindex("expect to v1 80%")) + 1
    result = run("test", "examples")
    assert result.exit_code == 1
    assert f"examples/s01-canary.test.mesh:{line}:3\n  expected: to v1 80%, v2 20%\n  actual:   to v1 90%, v2 10%" \
        in result.stdout
    assert "1 failed" in result.stdout
    # the explanation of the request follows: the route, where it is written, what was tried first
    assert "route primary of production/user-service at examples/s01-canary.mesh:14:5" in result.stdout
    assert 'header canary = "true" does not hold (at examples/s01-canary.mesh:11:12)' in result.stdout


def test_a_file_runs_the_tests_of_its_policy(in_repo):
    """A file named runs every test of the policy it belongs to: pre-commit
    passes the changed files, and a change to `s12-mirroring.mesh` (which
    holds no test) must run the tests beside it (it ran none: "no tests
    ran"). `-k` still selects by name."""
    every = json.loads(run("test", "examples", "--output-format", "json").stdout)["tests"]
    for named in (["examples/s12-mirroring.mesh"], ["examples/s12-mirroring.test.mesh", "examples/s01-canary.mesh"]):
        result = run("test", *named, "--output-format", "json")
        assert result.exit_code == 0, result.output
        assert [t["name"] for t in json.loads(result.stdout)["tests"]] == [t["name"] for t in every]
    found = json.loads(run("test", "examples/s12-mirroring.mesh", "-k", "s12-", "--output-format", "json").stdout)
    assert [t["name"] for t in found["tests"]] == ["s12-v1-answers-v2-sees-a-copy"]


# ---------------------------------------------------------- expectations
@pytest.mark.parametrize("expectation, holds", [
    ('expect to v2', True),
    ('expect to v2 100%', True),
    ('expect to v1', False),
    ('expect to service cart subset v2', True),
    ('expect to service cart subset v2 port 80', True),
    ('expect route beta', True),
    ('expect route primary', False),
    ('expect timeout 5s', True),
    ('expect timeout 7s', False),
    ('expect rewrite path "/beta/x?q=1"', True),
    ('expect rewrite path "/x?q=1"', False),
    ('expect mirror v1 5%', True),
    ('expect mirror v1 50%', False),
    ('expect retry 2', True),  # Istio's default
    ('expect retry off', False),
    ('expect lb least-request', True),
    ('expect lb round-robin', False),
    ('expect failover r1 -> r2', True),
    ('expect circuit-breaker { eject 5 consecutive 5xx every 10s }', True),
    ('expect circuit-breaker { eject 5 consecutive 5xx every 20s }', False),
    ('expect status 404', False),
])
def test_each_expectation_is_judged_on_what_it_says(policy, expectation, holds):
    policy(f'test t {{\n  request service cart in shop with header x-beta = "1" and path = "/x?q=1" and '
           f'from cluster east\n  {expectation}\n}}\n')
    code, output = outcome("")
    assert code == (0 if holds else 1), output
    if not holds:
        assert "p/tests.mesh:3:3\n  expected: " + expectation.removeprefix("expect ") in output


@pytest.mark.parametrize("expectation, holds", [
    ("expect retry 3 per-try 2s on 5xx 503", True),
    ("expect retry 3 on 503", False),
    ("expect retry 3", True),
    ("expect fault abort 500 1%", True),
    ("expect fault abort 503 1%", False),
    ("expect fault delay 1s 1%", False),
])
def test_retries_and_faults(policy, expectation, holds):
    policy(f'test t {{\n  request service cart in shop with path = "/old/a"\n  {expectation}\n}}\n')
    assert outcome("")[0] == (0 if holds else 1)


def test_the_cookie_and_the_header_are_each_enough(policy):
    policy('test t {\n  request service cart in shop with cookie beta = "yes"\n'
           '  request service cart in shop with cookie session = "a" and cookie beta = "yes"\n'
           '  expect route beta\n}\n')
    assert outcome("")[0] == 0


def test_a_timeout_of_one_cluster(policy):
    policy('test t {\n  request service cart in shop with from cluster west\n  expect timeout 7s\n}\n')
    assert outcome("")[0] == 0
    policy('test t {\n  request service cart in shop\n  expect timeout 7s\n}\n')
    code, output = outcome("")
    assert code == 1 and "in east; at the live steps" in output and "in west" not in output


def test_404_and_redirect_statuses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "gw.mesh").write_text(
        'namespace istio-system {\n  gateway gw {\n    hosts a.example.com\n    https credential c\n'
        '    redirect-http\n  }\n}\nnamespace shop {\n  service cart {\n    port 80 http\n'
        '    expose via gw host a.example.com when path ^= "/cart"\n  }\n}\n'
        'test redirect {\n  request host a.example.com via gw with port 80\n  expect status 301\n}\n'
        'test not-found {\n  request host a.example.com via gw with path = "/other"\n  expect status 404\n}\n'
        'test found {\n  request host a.example.com via gw with path = "/cart/1"\n  expect to service cart\n}\n')
    result = run("test", "p")
    assert result.exit_code == 0, result.output
    assert "3 passed" in result.stdout and "exposures 1/1" in result.stdout


# ------------------------------------------------------ steps and clusters
def test_every_step_runs_each_step_in_each_cluster(policy):
    policy('test t {\n  request service cart in shop with header x-beta = "1"\n  every step\n  expect to v2\n}\n')
    result = json.loads(run("test", "p", "--output-format", "json").stdout)
    assert result["tests"][0]["cases"] == 4 * 2  # steps 0..3, two clusters
    assert result["coverage"]["counts"]["canary step"] == {"reached": 0, "total": 4}


@pytest.mark.parametrize("step, destinations", [
    (0, "to v1"), (1, "to v1 90%, v2 10%"), (2, "to v1 50%, v2 50%"), (3, "to v2"),
])
def test_at_a_step(policy, step, destinations):
    policy(f"test t {{\n  request service cart in shop\n  at {step}\n  expect {destinations}\n}}\n")
    assert outcome("")[0] == 0
    policy(f"test t {{\n  request service cart in shop\n  at {(step + 1) % 4}\n  expect {destinations}\n}}\n")
    code, output = outcome("")
    assert code == 1 and f"the canary of shop/cart route primary at step {(step + 1) % 4}" in output


def test_down_clusters_fail_over(policy):
    policy('test here {\n  request service cart in shop with from cluster east\n  expect served by east\n}\n'
           'test away {\n  request service cart in shop with from cluster east\n  down east\n'
           '  expect served by west\n}\n')
    assert outcome("")[0] == 0


def test_coverage_lists_what_no_test_reached_and_fail_under(policy):
    policy('test t {\n  request service cart in shop with header x-beta = "1"\n  expect to v2\n}\n')
    code, output = outcome("", "--fail-under", "10")
    assert code == 0
    assert "coverage: 14.3% (1 of 7: routes 1/3, canary steps 0/4)" in output
    assert "p/cart.mesh:22:11: route legacy of shop/cart" in output
    code, output = outcome("", "--fail-under", "50")
    assert code == 1 and "coverage 14.3% is below --fail-under 50%" in output


def test_k_selects_tests_by_name(policy):
    policy('test good {\n  request service cart in shop\n  expect route primary\n}\n'
           'test bad {\n  request service cart in shop\n  expect route beta\n}\n')
    assert outcome("", "-k", "good")[0] == 0
    assert outcome("", "-k", "bad")[0] == 1


# ---------------------------------------------------------------- reports
def test_json_and_junit_reports(policy):
    policy('test good {\n  request service cart in shop\n  expect route primary\n}\n'
           'test bad {\n  request service cart in shop\n  expect timeout 1s\n}\n')
    result = run("test", "p", "--output-format", "json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert found["summary"] | {"seconds": 0} == {"tests": 2, "passed": 1, "failed": 1, "cases": 4, "seconds": 0}
    (bad,) = [t for t in found["tests"] if t["outcome"] == "failed"]
    east, west = bad["failures"]  # west's timeout is 7s: a failure of its own
    assert (east["clusters"], west["clusters"]) == (["east"], ["west"])
    assert east["expectations"] == [{"location": {"file": "p/tests.mesh", "line": 7, "column": 3},
                                     "expected": "timeout 1s", "actual": "timeout 5s"}]
    assert west["expectations"][0]["actual"] == "timeout 7s"
    root = ET.fromstring(run("test", "p", "--output-format", "junit").stdout)
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    (case,) = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert case.get("name") == "bad" and "expected timeout 1s, got timeout 5s" in case.find("failure").get("message")


def test_a_policy_with_errors_runs_no_test(policy):
    policy('test t {\n  request service nope in shop\n  expect to v1\n}\n')
    code, output = outcome("")
    assert code == 1 and "error[MESH204]" in output and "No test ran for this policy" in output


@pytest.mark.parametrize("request_", ["service cart in shop with port 81", "host cart.shop.svc.cluster.local with port 81"])
def test_a_port_the_service_lacks(policy, request_):
    """Either way of addressing a service, a port it lacks is MESH207 (as
    `meshc route --port` refuses it)."""
    policy(f"test t {{\n  request {request_}\n  expect to v1\n}}\n")
    code, output = outcome("")
    assert code == 1 and "error[MESH207]" in output and "has no port 81" in output


def test_no_tests(policy):
    (Path("p") / "tests.mesh").unlink(missing_ok=True)
    code, output = outcome("")
    assert code == 0 and "no tests ran" in output


# Two services exposed on one gateway host, each with its own canary (the
# independent check's policy; two's canary has one step here).
TWO_EXPOSURES = TWO_CANARIES.replace("STEPS", "steps 100% at 1")


@pytest.mark.parametrize("path, steps, expect, outcome_", [
    ("/one", "at 2", "to service one in app subset v2", "passed"),
    ("/one", "every step", "route main", "passed"),
    # the steps of the canary the request reaches: two's has 1
    ("/two", "at 2", "to service two in app subset v2", "the canary of app/two route main, which the request "
                                                        "reaches, has only 1 step"),
    ("/nowhere", "every step", "status 404", "the request reaches no service with a canary"),
])
def test_steps_of_the_canaries_a_gateway_request_reaches(tmp_path, monkeypatch, path, steps, expect, outcome_):
    """At a gateway host with several exposures, `at` and `every step` set
    the canaries of the exposure that takes the request, found by evaluating
    it; `meshc check` cannot tell which, so a step that does not fit is a
    located failure of the run (it was MESH306 for any exposure's canary,
    and `every step` ran the others' steps too)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "policy.mesh").write_text(TWO_EXPOSURES)
    (tmp_path / "p" / "t.mesh").write_text(
        f'test t {{\n  request host a.example.com via gw with path = "{path}"\n  {steps}\n  expect {expect}\n}}\n')
    assert run("check", "p").exit_code == 0
    result = run("test", "p", "--output-format", "json")
    (test,) = json.loads(result.stdout)["tests"]
    if outcome_ == "passed":
        assert result.exit_code == 0 and test["outcome"] == "passed", result.output
        assert test["cases"] == (3 if steps == "every step" else 1)  # one's steps 0, 1 and 2
        return
    assert result.exit_code == 1
    (failure,) = test["failures"]
    (said,) = failure["expectations"]
    assert said["location"] == {"file": "p/t.mesh", "line": 3, "column": 3} and said["actual"] == outcome_
