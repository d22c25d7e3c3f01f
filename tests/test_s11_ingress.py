"""S11 (examples/s11-ingress.mesh): the edge's behaviour exists only at the
gateway. Read from the rendered YAML with Istio's rules for which
VirtualService a proxy applies (pilot's httproute.go: a sidecar applies
the VirtualServices bound to `mesh`, i.e. without `gateways` or listing
`mesh`; a gateway those naming it)."""

from __future__ import annotations

import pytest
from helpers import ROOT, rendered

USER = "user-service.web.svc.cluster.local"
USER_V2 = "user-service-v2.web.svc.cluster.local"
API = "api-gateway.web.svc.cluster.local"
CORS = {
    "allowOrigins": [{"exact": "https://app.example.com"}],
    "allowMethods": ["GET", "POST", "PUT", "DELETE"],
    "allowHeaders": ["content-type", "authorization", "x-request-id"],
    "maxAge": "24h",
}


@pytest.fixture(scope="module")
def clusters() -> dict[str, list]:
    return rendered([str(ROOT / "examples")]).clusters


def _mesh_bound(doc) -> bool:
    gateways = doc.body["spec"].get("gateways")
    return not gateways or "mesh" in gateways


def test_mesh_callers_of_the_edge_services_get_istios_default_route(clusters):
    """No VirtualService a sidecar applies names user-service (or the
    other services the edge routes to): mesh callers reach them by plain
    Kubernetes routing, with no split, fault, retries or CORS."""
    for cluster, docs in clusters.items():
        for doc in docs:
            if doc.kind == "VirtualService" and _mesh_bound(doc):
                assert not {USER, USER_V2, API} & set(doc.body["spec"]["hosts"]), (cluster, doc.name)


def test_gateway_callers_of_api_example_com_are_routed_as_written(clusters):
    for cluster, docs in clusters.items():
        (vs,) = [d for d in docs if d.kind == "VirtualService" and "api.example.com" in d.body["spec"]["hosts"]]
        assert (vs.namespace, vs.body["spec"]["gateways"]) == ("istio-system", ["main-gateway"])
        users, api = vs.body["spec"]["http"]
        # `/api/v1/users...` or `x-api-version: v1`, in that order, before `/api/v2`
        assert users["match"] == [{"uri": {"prefix": "/api/v1/users"}},
                                  {"headers": {"x-api-version": {"exact": "v1"}}}]
        assert users["route"] == [
            {"destination": {"host": USER, "port": {"number": 8080}}, "weight": 90},
            {"destination": {"host": USER_V2, "port": {"number": 8080}}, "weight": 10},
        ]
        assert users["timeout"] == "30s"
        assert users["retries"] == {"attempts": 3, "perTryTimeout": "10s",
                                    "retryOn": "5xx,reset,connect-failure,refused-stream"}
        assert users["fault"] == {"delay": {"fixedDelay": "5s", "percentage": {"value": 0.1}},
                                  "abort": {"httpStatus": 503, "percentage": {"value": 0.01}}}
        assert users["corsPolicy"] == CORS
        assert api["match"] == [{"uri": {"prefix": "/api/v2"}}]
        assert api["route"] == [{"destination": {"host": API, "port": {"number": 8080}}}]
        assert api["corsPolicy"] == CORS
        assert not {"timeout", "retries", "fault"} & set(api), cluster


def test_user_service_keeps_its_destination_rule(clusters):
    for docs in clusters.values():
        (dr,) = [d for d in docs if d.kind == "DestinationRule" and d.body["spec"]["host"] == USER]
        (port,) = dr.body["spec"]["trafficPolicy"]["portLevelSettings"]
        assert port["port"] == {"number": 8080}
        assert port["connectionPool"]["tcp"]["maxConnections"] == 200
