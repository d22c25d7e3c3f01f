"""Where meshc's answer disagrees with the documentation or with Istio, kept
as strict expected failures (each reason says what is expected and why);
tables.py's KNOWN_WRONG rows are the others."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.independent.meshc_cli import POLICIES, run


# Fixed: `meshc route --port N` with a port the service does not declare
# printed `MESHC BUG` and exited 2 while `meshc test` refuses the request
# with MESH207; now a usage error naming the declared ports (also for a
# service with no VirtualService).
@pytest.mark.parametrize("policy, service, port", [("matching", "shop/catalog", "9091"),
                                                   ("resilience", "pay/audit", "9999")])
def test_route_to_a_port_the_service_lacks_is_not_a_meshc_bug(policy, service, port):
    result = run("route", POLICIES / policy, "--service", service, "--port", port)
    assert "MESHC BUG" not in result.output and "meshc bug" not in result.output
    assert result.exit_code == 2 and f"has no port {port}" in result.output


# Fixed: `--header cookie=a=1 --cookie beta=yes` sent `cookie: beta=yes`, the
# cookie given with --header dropped silently (testing.md: all cookies
# become one `cookie` header).
def test_route_keeps_a_cookie_header_given_with_cookies():
    result = run("route", POLICIES / "matching", "--service", "shop/catalog",
                 "--header", "cookie=a=1", "--cookie", "beta=yes", "--output-format", "json")
    cookie = json.loads(result.stdout)["request"]["headers"]["cookie"]
    assert "a=1" in cookie and "beta=yes" in cookie


# Fixed: `--from-cluster shanghai --cluster beijing` answered for beijing as if
# a beijing proxy carried shanghai's cluster label, a caller that cannot
# exist (a shanghai proxy follows hangzhou's configuration); now a usage
# error (docs/testing.md).
def test_route_from_cluster_and_another_cluster_do_not_invent_a_caller():
    result = run("route", POLICIES / "fleet", "--service", "prod/geo", "--from-cluster", "shanghai",
                 "--cluster", "beijing", "--output-format", "json")
    if result.exit_code == 2:
        assert "MESHC BUG" not in result.output
        return
    answers = json.loads(result.stdout)["answers"]
    assert [a["clusters"] for a in answers] == [["shanghai"]]


# Fixed: a test request `with source topology.istio.io/cluster = "shanghai" and
# from cluster hangzhou` was routed as a shanghai caller (route from-shanghai,
# with a MESHC BUG note in the explanation); istiod overwrites the label with
# the proxy's cluster (AugmentLabels), so a hangzhou caller takes route split.
# `meshc check` warns about the label (MESH808); a warning fails no test.
def test_meshc_test_cluster_label_is_the_proxys(tmp_path):
    for path in (POLICIES / "fleet").glob("*.mesh"):
        if path.name != "tests.mesh":
            shutil.copy(path, tmp_path / path.name)
    (tmp_path / "t.mesh").write_text(
        "test label-is-the-proxys {\n"
        '  request service geo in prod with source topology.istio.io/cluster = "shanghai" and from cluster hangzhou\n'
        "  expect route split\n"
        "}\n")
    result = run("test", tmp_path)
    assert result.exit_code == 0, result.output


# Two services exposed on one gateway host, each with its own canary: a
# request for /one reaches service one only.
TWO_CANARIES = """\
namespace istio-system {
  gateway gw {
    hosts a.example.com
    http
  }
}

namespace app {
  service one {
    port 8080 http
    subsets by version v1 v2
    expose via gw host a.example.com when path ^= "/one"
    route main { canary v1 -> v2 steps 50% 100% at 1 }
  }

  service two {
    port 8080 http
    subsets by version v1 v2
    expose via gw host a.example.com when path ^= "/two"
    route main { canary v1 -> v2 STEPS }
  }
}
"""


def two_canaries(tmp_path, two_steps: str, test: str):
    (tmp_path / "policy.mesh").write_text(TWO_CANARIES.replace("STEPS", two_steps))
    (tmp_path / "t.mesh").write_text(test)
    return tmp_path


# Fixed: `every step` on a request for /one also ran the steps of service two's
# canary, which the request never reaches (6 cases instead of 3), and
# reported a failure as 'the canary of app/two route main at step N'.
def test_every_step_runs_only_the_canaries_the_request_reaches(tmp_path):
    two_canaries(tmp_path, "steps 25% 100% at 1",
                 "test one-only-v1 {\n  request host a.example.com via gw with path = \"/one\"\n  every step\n"
                 "  expect to service one in app subset v1\n}\n")
    result = run("test", tmp_path, "--output-format", "json")
    test, = json.loads(result.stdout)["tests"]
    assert test["cases"] == 3       # steps 0, 1 and 2 of one's canary
    assert "app/two" not in json.dumps(test["failures"])


# Fixed: `at 2` on a request for /one was refused with MESH306 because service
# two's canary has one step, though the request never reaches service two.
def test_at_step_is_checked_against_the_canaries_the_request_reaches(tmp_path):
    two_canaries(tmp_path, "steps 100% at 1",
                 "test one-at-2 {\n  request host a.example.com via gw with path = \"/one\"\n  at 2\n"
                 "  expect to service one in app subset v2\n}\n")
    result = run("test", tmp_path)
    assert result.exit_code == 0, result.output
