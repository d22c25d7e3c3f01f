"""Canary alerts: the PrometheusRule rendered for services whose canary has
health gates, checked with the real promtool (Debian's `prometheus` package;
skipped without it): `promtool check rules` accepts every rendered rule
group, and `promtool test rules` shows each alert firing on a failing
candidate and staying silent on a healthy one."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import ROOT, rendered
from ruamel.yaml import YAML

from meshc.canary import gates
from meshc.canary.steps import canaries, compile_file
from meshc.output import manifests

S13 = ROOT / "examples" / "s13-progressive-delivery.mesh"

# Every quantile, a fractional success rate, two gated canaries in one
# service, one canary without gates and a service that runs in one cluster.
VARIED = """\
fleet f {
  cluster a region r1 network n1 gateway 10.0.0.1
  cluster b region r2 network n1 gateway 10.0.0.2 istio 1.20
}
namespace shop {
  service cart {
    port 80 http
    subsets by version v1 v2
    subset canary { track = "canary" }
    route mobile {
      when header x-client = "mobile"
      canary v1 -> canary steps 1% 100% at 1 pause 30s analysis success-rate >= 99.9% p50 <= 20ms p75 <= 40ms p90 <= 90ms
    }
    route primary {
      canary v1 -> v2 steps 5% 50% 100% at 2 pause 1m 1h analysis p95 <= 1500ms p999 <= 2s success-rate >= 95%
    }
  }
  service search {
    port 80 http
    subsets by version v1 v2
    route primary { canary v1 -> v2 steps 50% 100% at 1 }
  }
  service api {
    in a
    port 8080 http
    subsets by version v1 v2
    route primary { canary v1 -> v2 steps 50% 100% analysis p99 <= 1s }
  }
}
"""


def _files(paths: list[str]) -> dict[str, str]:
    """The output files `meshc render` writes for these paths."""
    return manifests.files(rendered(paths), [])


def _rules(files: dict[str, str]) -> dict[str, dict]:
    yaml = YAML(typ="safe")
    return {path: yaml.load(io.StringIO(text)) for path, text in files.items() if "/prometheusrule-" in path}


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool (Debian's prometheus package) is not installed")
    return path


@pytest.fixture
def varied(tmp_path) -> Path:
    path = tmp_path / "varied" / "shop.mesh"
    path.parent.mkdir()
    path.write_text(VARIED)
    return path


def test_services_with_gated_canaries_get_a_prometheus_rule_in_every_primary(in_repo, varied):
    examples = _rules(_files(["examples"]))
    clusters = {"hangzhou", "beijing", "shenzhen"}  # not shanghai, a remote: it holds only Service stubs
    assert set(examples) == {f"{c}/{ns}/prometheusrule-{name}-canary.yaml" for c in clusters
                             for ns, name in [("production", "user-service"), ("delivery", "checkout"), ("catalog", "search")]}
    assert set(_rules(_files([str(varied)]))) == {f"{c}/shop/prometheusrule-{name}-canary.yaml"
                                                   for c in "ab" for name in ("cart", "api")}
    body = examples["hangzhou/delivery/prometheusrule-checkout-canary.yaml"]
    assert body["apiVersion"] == "monitoring.coreos.com/v1"
    assert body["kind"] == "PrometheusRule"
    assert body["metadata"] == {"name": "checkout-canary", "namespace": "delivery",
                                "labels": {"app.kubernetes.io/managed-by": "meshc"}}


def test_s13_alerts_error_rate_above_5_percent_and_p95_above_1s_for_5m(in_repo):
    body = _rules(_files(["examples"]))["beijing/delivery/prometheusrule-checkout-canary.yaml"]
    (group,) = body["spec"]["groups"]
    errors, latency = group["rules"]
    (live,) = [c for c in canaries(compile_file(str(S13)).policy) if c.namespace == "delivery"]
    success, p95 = gates.checks(live, live.waves[0])
    labels = {"namespace": "delivery", "service": "checkout", "route": "primary"}
    assert errors["alert"] == "CanaryErrorRateHigh"
    assert errors["expr"] == f"1 - ({success.expr}) > 0.05"
    assert (errors["for"], errors["labels"]) == ("5m", {"severity": "critical", **labels, "gate": "success-rate"})
    assert latency["alert"] == "CanaryLatencyHigh"
    assert latency["expr"] == f"{p95.expr} > 1000"
    assert (latency["for"], latency["labels"]) == ("5m", {"severity": "warning", **labels, "gate": "p95"})
    assert errors["annotations"]["summary"] == \
        "canary v2 of delivery/checkout (route primary): error rate above 5% for 5m"
    assert latency["annotations"]["summary"] == \
        "canary v2 of delivery/checkout (route primary): p95 latency above 1s for 5m"


def test_promtool_accepts_every_rendered_rule_group(in_repo, varied, promtool, tmp_path):
    bodies = {**_rules(_files(["examples"])), **_rules(_files([str(varied)]))}
    assert len(bodies) == 13
    rule_files = []
    for n, (path, body) in enumerate(sorted(bodies.items())):
        rule_file = tmp_path / f"{n}.rules.yaml"
        rule_file.write_text(json.dumps(body["spec"]))  # JSON is YAML; promtool reads either
        rule_files.append(str(rule_file))
    result = subprocess.run([promtool, "check", "rules", "--lint=all", "--lint-fatal", *rule_files],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rule_files)


# ------------------------------------------------------ promtool test rules
LABELS = ('reporter="destination",destination_service="checkout.delivery.svc.cluster.local",'
          'destination_version="v2"')


def _input_series(ok: int, errors: int, buckets: dict[str, int]) -> list[dict]:
    """Counters growing by these many requests a minute, for 20 minutes."""
    series = [
        {"series": f'istio_requests_total{{{LABELS},response_code="200"}}', "values": f"0+{ok}x20"},
        {"series": f'istio_requests_total{{{LABELS},response_code="503"}}', "values": f"0+{errors}x20"},
    ]
    series += [{"series": f'istio_request_duration_milliseconds_bucket{{{LABELS},le="{le}"}}',
                "values": f"0+{count}x20"} for le, count in buckets.items()]
    return series


def _expected(rule: dict, value: str) -> dict:
    """The alert promtool should report, `$value` filled in."""
    annotations = {key: text.replace("{{ $value | humanizePercentage }}", value)
                   .replace('{{ $value | printf "%.0f" }}', value) for key, text in rule["annotations"].items()}
    return {"exp_labels": rule["labels"], "exp_annotations": annotations}


def test_alerts_fire_on_a_failing_candidate_and_stay_silent_on_a_healthy_one(in_repo, promtool, tmp_path):
    body = _rules(_files(["examples"]))["hangzhou/delivery/prometheusrule-checkout-canary.yaml"]
    (tmp_path / "rules.yaml").write_text(json.dumps(body["spec"]))
    errors, latency = body["spec"]["groups"][0]["rules"]
    # 10 % errors and every request between 1s and 2s (p95 = 1950ms) ...
    failing = _input_series(540, 60, {"1000": 0, "2000": 600, "+Inf": 600})
    # ... against 1 % errors and every request under 250ms.
    healthy = _input_series(594, 6, {"250": 600, "1000": 600, "2000": 600, "+Inf": 600})

    def case(series, at, error_alerts, latency_alerts):
        return {"interval": "1m", "input_series": series, "alert_rule_test": [
            {"eval_time": at, "alertname": "CanaryErrorRateHigh", "exp_alerts": error_alerts},
            {"eval_time": at, "alertname": "CanaryLatencyHigh", "exp_alerts": latency_alerts},
        ]}

    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [
        # pending, not yet firing: the breach has not lasted the 5m window
        case(failing, "4m", [], []),
        case(failing, "15m", [_expected(errors, "10%")], [_expected(latency, "1950")]),
        case(healthy, "15m", [], []),
    ]}
    (tmp_path / "tests.yaml").write_text(json.dumps(tests))
    result = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_waves_alerts_watch_its_own_clusters(in_repo, promtool, tmp_path):
    """The same recorded traffic, failing only from callers in beijing: the
    rules beijing renders (wave 2) fire, hangzhou's (wave 1) stay silent."""
    files = _rules(_files(["examples"]))
    labels = LABELS.replace("checkout.delivery", "search.catalog")

    def series(caller: str, ok: int, errors: int) -> list[dict]:
        caller_labels = f'{labels},source_cluster="{caller}"'
        return [{"series": f'istio_requests_total{{{caller_labels},response_code="200"}}', "values": f"0+{ok}x20"},
                {"series": f'istio_requests_total{{{caller_labels},response_code="503"}}', "values": f"0+{errors}x20"}]

    traffic = series("hangzhou", 600, 0) + series("beijing", 540, 60)
    for cluster, fired in [("hangzhou", False), ("beijing", True)]:
        body = files[f"{cluster}/catalog/prometheusrule-search-canary.yaml"]
        (tmp_path / "rules.yaml").write_text(json.dumps(body["spec"]))
        errors = body["spec"]["groups"][0]["rules"][0]
        expected = [_expected(errors, "10%")] if fired else []
        tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [
            {"interval": "1m", "input_series": traffic, "alert_rule_test": [
                {"eval_time": "15m", "alertname": "CanaryErrorRateHigh", "exp_alerts": expected}]}]}
        (tmp_path / "tests.yaml").write_text(json.dumps(tests))
        result = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (cluster, result.stdout + result.stderr)
