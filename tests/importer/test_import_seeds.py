"""The YAML of the seed articles (../shared/seeds), rebuilt into valid YAML
in tests/fixtures/import/seeds (each file names its article and what was
repaired): what imports, what is reported where, and what the proof finds.

The proof's differences here are all ones the loss report explains: a
route the input sends to a subset nobody defines (Istio answers 503), a
`.global` host, and Istio dropping what the language's inheritance keeps
(a wildcard DestinationRule for services with a rule of their own, a
port-level setting replacing the whole policy)."""

from __future__ import annotations

import pytest
from import_support import FIXTURES, assert_canonical, run_import, written
from test_schemas import ISTIO_KINDS, crds, upstream  # noqa: F401 (fixtures)

SEEDS = FIXTURES / "seeds"
STEPS = sorted(p.name for p in (SEEDS / "003-reviews").glob("*.yaml") if not p.name.startswith("3.2-"))


def _import(tmp_path, *names: str):
    done = run_import([str(SEEDS / n) for n in names], tmp_path / "out")
    assert_canonical(tmp_path / "out")
    return done, written(tmp_path / "out")


def test_000_the_canary_the_ab_test_and_what_is_not_the_language(tmp_path):
    done, files = _import(tmp_path, "000-kurator-canary-ab-bluegreen.yaml")
    f = "seeds/000-kurator-canary-ab-bluegreen.yaml"
    assert done.exit_code == 1
    assert done.located() == [
        (f, 16, 3, "MESH821"), (f, 17, 5, "MESH821"),  # the AUTO_PASSTHROUGH gateway: no server to write
        (f, 22, 7, "MESH821"), (f, 24, 7, "MESH822"),
        (f, 63, 3, "MESH830"), (f, 63, 3, "MESH850"),  # a rule of its own: Istio drops the wildcard rule's policy
        (f, 107, 3, "MESH830"), (f, 107, 3, "MESH850"),
        (f, 127, 5, "MESH831"),  # bound to a gateway the article never defines
        (f, 148, 5, "MESH824"), (f, 150, 5, "MESH850"),  # `user-service.global`: no such service since Istio 1.8
        (f, 178, 9, "MESH825"),  # the wildcard rule becomes the namespace's `defaults`
        (f, 192, 15, "MESH822"), (f, 193, 5, "MESH822"), (f, 194, 7, "MESH821"),  # LEAST_CONN, consecutiveErrors
    ]
    text = files["production.mesh"]
    assert "route primary { to v1 90%, v2 10% }" in text  # a weighted split, not an invented canary
    assert 'when header x-user-id ~ "^[0-9]*[02468]$"' in text
    assert "defaults {\n    circuit-breaker {" in text and "lb least-request" in text


def test_001_policies_security_and_a_route_to_a_subset_nobody_defines(tmp_path):
    done, files = _import(tmp_path, "001-kurator-production.yaml")
    f = "seeds/001-kurator-production.yaml"
    assert done.located() == [
        (f, 13, 9, "MESH825"), (f, 43, 9, "MESH825"), (f, 58, 15, "MESH822"), (f, 64, 9, "MESH825"),
        (f, 70, 5, "MESH822"), (f, 70, 5, "MESH850"),  # payment's subset v1: no DestinationRule defines it
        (f, 88, 9, "MESH825"), (f, 111, 9, "MESH825"),
        (f, 119, 5, "MESH822"), (f, 120, 7, "MESH821"),  # consecutiveErrors: pilot reads it no more
        (f, 124, 5, "MESH830"),  # the subset's loadBalancer replaces the service's consistentHash
        (f, 143, 9, "MESH825"), (f, 165, 9, "MESH825"), (f, 177, 9, "MESH825"),
        (f, 208, 3, "MESH821"),  # a MESH_INTERNAL ServiceEntry with endpoints
    ]
    text = files["production.mesh"]
    assert "mtls strict for critical-app" in text
    assert 'allow api-gateway from principal "cluster.local/ns/production/sa/api-consumer" to GET POST ' \
           '"/api/v1/*"' in text
    assert "failover region1 -> region2, region2 -> region3" in text
    assert 'when header x-user-type = "internal" or source version = "v1"\n      to v2 10%, v1 90%' in text
    assert "retry 3 per-try 2s on connect-failure refused-stream unavailable cancelled resource-exhausted" in text


def test_002_the_gray_release_imports_without_loss(tmp_path):
    done, files = _import(tmp_path, "002-multicluster-gray-release.yaml")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr
    assert files["user.mesh"].endswith("""  service user-service {
    subsets by version v1 v2
    timeout 10s
    tls istio-mutual
    route default { to v2 10%, v1 90% }
  }
}
""")


@pytest.mark.parametrize("step, route", [
    ("3.3-all-v1.yaml", "route default { to v1 }"),
    ("3.4-half-v2.yaml", "route default { to v1 50%, v2 50% }"),
    ("3.4-all-v2.yaml", "route default { to v2 }"),
    ("4.1-header-canary.yaml", 'route route-1 {\n      when header user-agent = "canary"\n      to v2\n    }\n'
                               "    route default { to v1 }"),
    ("4.2-cookie-canary.yaml", 'route route-1 {\n      when header cookie ~ ".*canary=true.*"\n      to v2\n    }\n'
                               "    route default { to v1 }"),
])
def test_003_each_step_of_the_traffic_shift_imports_without_loss(step, route, tmp_path):
    assert step in STEPS
    done, files = _import(tmp_path, "003-reviews/3.2-destination-rule.yaml", f"003-reviews/{step}")
    assert (done.exit_code, done.diagnostics) == (0, []), done.stderr
    assert route in files["default.mesh"]


def test_003_every_step_is_tested():
    assert len(STEPS) == 5


def test_004_the_ingress_gateway_and_a_misplaced_outlier_detection(tmp_path):
    done, files = _import(tmp_path, "004-ingress-gateway.yaml")
    f = "seeds/004-ingress-gateway.yaml"
    assert done.located() == [
        (f, 24, 13, "MESH825"), (f, 33, 13, "MESH825"), (f, 45, 9, "MESH825"), (f, 110, 9, "MESH825"),
        # port 8080's own settings replace the whole policy in Istio: what the import keeps, the proof shows
        (f, 114, 3, "MESH830"), (f, 114, 3, "MESH850"),
        # what the article put after `maxRetries`: fields connectionPool.http does not have
        (f, 123, 9, "MESH821"), (f, 124, 9, "MESH821"), (f, 125, 9, "MESH821"),
        (f, 128, 7, "MESH822"), (f, 130, 9, "MESH821"),  # `simple` and `consistentHash` both; the ring size
        (f, 131, 5, "MESH822"), (f, 132, 7, "MESH821"),  # consecutiveErrors
        (f, 136, 7, "MESH821"), (f, 137, 7, "MESH821"),  # minHealthPercent, splitExternalLocalOriginErrors
        (f, 164, 5, "MESH822"), (f, 165, 7, "MESH821"),
    ]
    gateway = files["istio-system.mesh"]
    assert "gateway main-gateway {\n    hosts api.example.com app.example.com\n    redirect-http\n" in gateway
    assert "to service user-service in default port 8080 90%, service user-service-v2 in default port 8080 10%" \
        in gateway
    assert 'cors origins "https://app.example.com" methods GET POST PUT DELETE' in gateway
    assert "fault delay 5s 0.1%\n        fault abort 503 0.01%" in gateway


def test_the_rebuilt_yaml_is_what_istio_accepts_but_what_the_article_got_wrong(upstream):
    """Istio's CRD schemas (../shared/istio) take every rebuilt resource but
    004's resilience rule, as printed: fields connectionPool.http does not
    have, and a loadBalancer that is both `simple` and `consistentHash`."""
    from ruamel.yaml import YAML

    rejected = []
    for path in sorted(SEEDS.rglob("*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") in ISTIO_KINDS:
                rejected += [(path.name, doc["metadata"]["name"], m.split(":")[0]) for m in upstream(doc)]
    resilience = ("004-ingress-gateway.yaml", "user-service-resilience")
    assert rejected == [(*resilience, "spec.trafficPolicy.connectionPool.http"),
                        (*resilience, "spec.trafficPolicy.loadBalancer")]
