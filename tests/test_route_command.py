"""`meshc route` (issue 9, item 1): where one request goes in each
cluster, answered from the rendered documents, with the provenance the
interpreter gives; clusters that agree shown once; `--at`; JSON; a
disagreement between the two readings said loudly."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from meshc.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_the_route_its_when_options_and_what_was_tried_first(in_repo):
    result = run("route", "examples", "--service", "production/user-service", "--header", "canary=true",
                 "--cluster", "beijing")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("GET http://user-service.production.svc.cluster.local:80/\n  canary: true\n")
    assert "\nbeijing:\n" in out
    assert "route canary-override of production/user-service at examples/s01-canary.mesh:10:5" in out
    assert 'when header canary = "true" at examples/s01-canary.mesh:11:12' in out
    assert "  to v2 100%\n" in out
    assert "timeout 10s  (service at examples/s01-canary.mesh:8:13)" in out
    # namespace defaults (S5) reach the destination's policy, each field with where it is written
    assert "loadBalancer.simple LEAST_REQUEST  (namespace defaults at examples/s05-namespace-defaults.mesh:14:5)" in out
    assert "tried first" not in out


def test_clusters_that_agree_are_shown_once(in_repo):
    result = run("route", "examples", "--service", "production/user-service")
    assert result.exit_code == 0, result.output
    # shenzhen runs Istio 1.20, whose default retries include 503
    assert "\nhangzhou, shanghai, beijing:\n" in result.stdout and "\nshenzhen:\n" in result.stdout
    assert result.stdout.count("route primary of production/user-service") == 2
    assert "tried first:\n    route canary-override at examples/s01-canary.mesh:10:5\n" \
           '      header canary = "true" does not hold (at examples/s01-canary.mesh:11:12)\n' \
           "      Istio: headers.canary expected exact 'true', got nothing" in result.stdout


@pytest.mark.parametrize("step, split", [("0", "to v1 100%"), ("3", "to v1 80%, v2 20%"), ("5", "to v2 100%")])
def test_at_another_step(in_repo, step, split):
    result = run("route", "examples", "--service", "production/user-service", "--at", step, "--cluster", "hangzhou")
    assert result.exit_code == 0, result.output
    assert f"  {split}  (canary v1 -> v2 at step {step} of 5; its live step is 2)" in result.stdout


def test_a_gateway_host_and_json(in_repo):
    result = run("route", "examples", "--host", "pay.example.com", "--via", "payment-gateway",
                 "--header", "x-preview=true", "--output-format", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["request"]["gateway"] == "istio-system/payment-gateway" and found["request"]["port"] == 443
    answer, older = found["answers"]  # shenzhen's Istio 1.20 also retries 503 by default
    assert (answer["clusters"], older["clusters"]) == (["hangzhou", "shanghai", "beijing"], ["shenzhen"])
    assert answer["decision"]["retries"]["statuses"] == [] and older["decision"]["retries"]["statuses"] == [503]
    assert answer["route"] == {"of": "payments/payment-service", "name": "live",
                               "location": {"file": "examples/s03-blue-green.mesh", "line": 19, "column": 5}}
    (destination,) = answer["decision"]["destinations"]
    assert destination["target"]["written"] == "green" and destination["percent"] == 100.0


def test_from_a_remote_cluster(in_repo):
    result = run("route", "examples", "--service", "geo/user-service", "--from-cluster", "shanghai")
    assert result.exit_code == 0, result.output
    assert "\nshanghai:\n  route shanghai-callers" in result.stdout
    assert "  to hangzhou 100%\n" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--service", "production/nope"], "no service `nope` in namespace `production`"),
    (["--service", "production/user-service", "--cluster", "pekin"], "no cluster `pekin`"),
    (["--service", "production/user-service", "--at", "9"], "has 5 steps"),
    (["--service", "payments/payment", "--at", "1"], "no service this request reaches has a canary"),
    (["--host", "x.example.com", "--via", "nope"], "no gateway `nope`"),
    # a port the service does not declare: no listener takes it (MESH207 in a test)
    (["--service", "production/user-service", "--port", "81"], "has no port 81 (declared ports: 80)"),
    (["--host", "user-service.production.svc.cluster.local", "--port", "81"], "has no port 81"),
    ([], "give --service NS/NAME or --host HOST"),
    # a caller runs in one cluster: --from-cluster and another --cluster invented one
    (["--service", "geo/user-service", "--from-cluster", "shanghai", "--cluster", "beijing"],
     "--from-cluster shanghai puts the caller in shanghai, and --cluster beijing asks about callers elsewhere"),
    (["--service", "geo/user-service", "--from-cluster", "shanghai", "--all-clusters"], "and --all-clusters"),
])
def test_usage_errors(in_repo, args, message):
    result = run("route", "examples", *args)
    assert result.exit_code == 2 and message in result.output


def test_a_disagreement_is_said_loudly(in_repo, monkeypatch):
    from dataclasses import replace

    from meshc.semantics.interpret import Interpreter

    explain = Interpreter.explain

    def wrong(self, request):
        found = explain(self, request)
        return replace(found, decision=replace(found.decision, timeout_ms=1))

    monkeypatch.setattr(Interpreter, "explain", wrong)
    result = run("route", "examples", "--service", "production/user-service", "--cluster", "beijing")
    assert result.exit_code == 2
    assert "MESHC BUG: the rendered documents and the policy disagree on this request" in result.stdout
    assert "meshc bug" in result.stderr and "beijing" in result.stderr


def test_a_policy_with_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x.mesh").write_text("namespace x {\n  service y {\n    route r { to v9 }\n  }\n}\n")
    result = run("route", "p", "--service", "x/y")
    assert result.exit_code == 1 and "error[MESH201]" in result.stderr


@pytest.mark.parametrize("args, said, retries", [
    (["--host", "nowhere.example.org"], "the PassthroughCluster", "retry off"),
    (["--service", "web/user-service-v2"], "Istio's default route", "retry 2 on"),
    (["--service", "geo/global-api", "--port", "8443"], "port 8443 does not carry HTTP: proxied as TCP", "retry off"),
])
def test_requests_no_route_takes(in_repo, args, said, retries):
    """Found by `meshc route`: a host nobody declares got Istio's default
    retries from the interpreter, none from the evaluator."""
    result = run("route", "examples", *args, "--cluster", "hangzhou")
    assert result.exit_code == 0, result.output
    assert said in result.stdout and f"  {retries}" in result.stdout and "MESHC BUG" not in result.stdout


def test_cookies_join_a_cookie_header(in_repo):
    """`--header cookie=...` and `--cookie` make one `cookie` header, the
    header's cookies first (a `cookie` given both ways was dropped)."""
    from meshc.semantics.request import Request

    made = Request.make("h", 80, headers={"Cookie": "a=1; b=2"}, cookies={"beta": "yes"})
    assert made.header("cookie") == "a=1; b=2; beta=yes"
    result = run("route", "examples", "--service", "production/user-service", "--cluster", "beijing",
                 "--header", "cookie=a=1", "--cookie", "canary=true")
    assert "  cookie: a=1; canary=true\n" in result.stdout


def test_a_caller_cannot_claim_another_cluster_by_label(in_repo):
    """istiod sets topology.istio.io/cluster on every proxy to its own
    cluster (pilot/pkg/serviceregistry/util/label/label.go AugmentLabels),
    over the workload's label: a hangzhou caller labelled shanghai is a
    hangzhou caller, in both readings, and the answer says the value was
    not sent. (The rendered reading let the label win: MESHC BUG, exit 2.)"""
    args = ["route", "examples", "--service", "geo/user-service",
            "--source-label", "topology.istio.io/cluster=shanghai", "--source-label", "app=web"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "note: istiod sets topology.istio.io/cluster to each caller's own cluster" in result.stdout
    assert "  from namespace default, app=web\n" in result.stdout
    assert "\nhangzhou, beijing:\n  route split" in result.stdout
    assert "\nshanghai:\n  route shanghai-callers" in result.stdout
    found = json.loads(run(*args, "--output-format", "json").stdout)
    assert found["request"]["source_labels"] == {"app": "web"} and len(found["notes"]) == 1
    assert json.loads(run("route", "examples", "--service", "geo/user-service", "--output-format",
                          "json").stdout)["notes"] == []


@pytest.mark.parametrize("args", [
    ["--service", "geo/user-service"],  # the `from cluster shanghai` route is left out of the others' proxies
    ["--service", "production/user-service"],
    ["--service", "catalog/search", "--at", "4"],  # waves at different live steps
    ["--host", "pay.example.com", "--via", "payment-gateway"],
])
def test_text_and_json_show_the_same_cluster_groups(in_repo, args):
    """JSON split clusters that text showed once (each caller's own cluster
    label in `tried[].istio[].actual`), and text split clusters whose only
    difference, the canary's live step, JSON did not carry."""
    text = run("route", "examples", *args).stdout
    headers = [line[:-1] for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    found = json.loads(run("route", "examples", *args, "--output-format", "json").stdout)
    assert headers == [", ".join(a["clusters"]) for a in found["answers"]]


def test_at_sets_the_canary_of_the_exposure_that_takes_the_request(tmp_path, monkeypatch):
    """`--at` at a gateway host with several exposures: the canary of the
    one that takes the request, refused only when that one lacks the step."""
    from test_policy_tests import TWO_EXPOSURES

    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.mesh").write_text(TWO_EXPOSURES)
    base = ["route", ".", "--host", "a.example.com", "--via", "gw", "--at", "2"]
    result = run(*base, "--path", "/one")
    assert result.exit_code == 0, result.output
    assert "  to service one in app subset v2 100%  (canary v1 -> v2 at step 2 of 2; its live step is 1)" \
        in result.stdout
    refused = run(*base, "--path", "/two")
    assert refused.exit_code == 2 and "the canary of route `main` of app/two has 1 step" in refused.output


def test_a_lower_case_method_is_sent_as_given_with_a_warning(in_repo):
    """Methods are case-sensitive (Envoy matches `:method` exactly): `get`
    is answered as sent, and meshc says it meets no `method = GET`."""
    result = run("route", "examples", "--service", "production/user-service", "--cluster", "beijing",
                 "--method", "get")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("get http://")
    assert "warning: HTTP methods are case-sensitive" in result.stderr and "`method = GET`" in result.stderr
    assert "warning" not in run("route", "examples", "--service", "production/user-service").stderr


def test_a_condition_both_the_exposure_and_the_route_test_is_said_once(tmp_path):
    policy = tmp_path / "p.mesh"
    policy.write_text("""fleet f {
  cluster a
  cluster b
}

namespace shop {
  gateway gw {
    hosts shop.example.com
    http
  }
  service cart {
    port 80 http
    subsets by version v1 v2
    expose via gw host shop.example.com when from cluster a
    route beta {
      when from cluster a and header g absent
      to v2
    }
    route default { to v1 }
  }
}
""", encoding="utf-8")
    result = run("route", str(policy), "--via", "gw", "--host", "shop.example.com", "--cluster", "a")
    assert result.exit_code == 0, result.output
    assert "    when from cluster a and header g absent at " in result.stdout
