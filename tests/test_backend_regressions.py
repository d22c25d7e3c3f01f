"""Renderings that routed differently from what the policy says (issue 7),
each pinned by the YAML that now says it. The request-level readings of the
same policies are in tests/semantics/."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_backend import FLEET, dr, render, service, vs

from meshc.cli import cli

GATEWAY = """namespace istio-system {
  gateway gw {
    hosts h.example.com
    https credential cert
  }
}
"""


def exposed(body: str, expose_when: str = "", other: str = "") -> str:
    when = f" when {expose_when}" if expose_when else ""
    return GATEWAY + service(f"expose via gw host h.example.com{when}\n{body}") + other


def gateway_http(tmp_path, text: str) -> list[dict]:
    return vs(render(tmp_path, text), "gw-h-example-com", "istio-system")["http"]


def test_exposure_and_route_conditions_on_one_header_both_hold(tmp_path):
    http = gateway_http(tmp_path, exposed('route canary { when header x-env ^= "p" to v2 }\nroute d { to v1 }',
                                          'header x-env = "prod"'))
    # Exact `prod` is what both allow; `pre` (prefix `p` only) no longer passes.
    assert http[0]["match"] == [{"headers": {"x-env": {"exact": "prod"}}}]
    assert http[1]["match"] == [{"headers": {"x-env": {"exact": "prod"}}}]


def test_a_route_the_exposure_excludes_is_left_out_at_the_gateway(tmp_path):
    http = gateway_http(tmp_path, exposed('route posts { when method = POST to v2 }\nroute d { to v1 }',
                                          "method = GET"))
    assert [h["name"] for h in http] == ["svc-d"]
    assert http[0]["match"] == [{"method": {"exact": "GET"}}]


def test_a_catch_all_exposure_goes_after_header_exposures(tmp_path):
    other = "namespace ns {\n  service beta {\n    port 80 http\n    expose via gw host h.example.com when header x-beta = \"1\"\n  }\n}\n"
    http = gateway_http(tmp_path, exposed("route d { to v1 }", 'path ^= "/"', other))
    assert [h["name"] for h in http] == ["beta-default", "svc-d"]


def test_more_conditions_first_among_equal_path_ranks(tmp_path):
    other = ("namespace ns {\n  service aaa {\n    port 80 http\n"
             "    expose via gw host h.example.com when path ^= \"/api\"\n  }\n}\n")
    http = gateway_http(tmp_path, exposed("route d { to v1 }", 'path ^= "/api" and header x-beta = "1"', other))
    # `aaa` sorts before `svc`, but its exposure would take everything svc's takes.
    assert [h["name"] for h in http] == ["svc-d", "aaa-default"]


def test_an_or_of_path_and_header_ranks_each_alternative(tmp_path):
    other = ("namespace ns {\n  service api {\n    port 80 http\n"
             "    expose via gw host h.example.com when path ^= \"/api\"\n  }\n}\n")
    http = gateway_http(tmp_path, exposed("route d { to v1 }", 'path ^= "/api/v1/users" or header x-v = "1"', other))
    assert [(h["name"], h["match"]) for h in http] == [
        ("svc-d", [{"uri": {"prefix": "/api/v1/users"}}]),
        ("api-default", [{"uri": {"prefix": "/api"}}]),
        ("svc-d-2", [{"headers": {"x-v": {"exact": "1"}}}]),
    ]


def test_one_service_exposing_one_host_twice_gets_distinct_entry_names(tmp_path):
    text = GATEWAY + service('expose via gw host h.example.com when path ^= "/a"\n'
                             'expose via gw host h.example.com when path ^= "/bb"\nroute main { to v1 }')
    names = [h["name"] for h in gateway_http(tmp_path, text)]
    assert names == ["svc-main", "svc-main-2"]


def test_a_subset_keeps_what_its_port_sets(tmp_path):
    spec = dr(render(tmp_path, FLEET + """namespace ns {
  service svc {
    port 80 http { circuit-breaker { max-connections 10 } }
    subsets by version v1 v2
    subset v1 { circuit-breaker { max-pending 5 } }
  }
}
"""))
    v1 = next(s for s in spec["subsets"] if s["name"] == "v1")
    assert v1["trafficPolicy"]["portLevelSettings"] == [{
        "port": {"number": 80},
        "connectionPool": {"tcp": {"maxConnections": 10}, "http": {"http1MaxPendingRequests": 5}},
    }]


def test_a_subset_wins_over_its_port(tmp_path):
    spec = dr(render(tmp_path, FLEET + """namespace ns {
  service svc {
    port 80 http { circuit-breaker { max-connections 10 } }
    subsets by version v1 v2
    subset v1 { circuit-breaker { max-connections 3 } }
  }
}
"""))
    v1 = next(s for s in spec["subsets"] if s["name"] == "v1")
    assert v1["trafficPolicy"]["portLevelSettings"][0]["connectionPool"] == {"tcp": {"maxConnections": 3}}


def test_a_service_target_carries_the_targets_only_port(tmp_path):
    other = "namespace ns {\n  service api {\n    port 8080 http\n  }\n}\n"
    http = vs(render(tmp_path, service("route r { to v1 mirror service api 5% }") + other))["http"]
    assert http[0]["mirror"] == {"host": "api.ns.svc.cluster.local", "port": {"number": 8080}}


def test_routes_that_all_have_a_when_end_in_a_404(tmp_path):
    text = FLEET + """namespace ns {
  service svc {
    port 8080 http
    port 9090 http
    subsets by version v1 v2
    route admin { when port 9090 to v2 }
  }
}
"""
    http = vs(render(tmp_path, text))["http"]
    assert http[-1] == {"name": "not-found", "directResponse": {"status": 404}}


def test_no_404_entry_after_a_route_that_takes_everything(tmp_path):
    http = vs(render(tmp_path, service('route a { when header x = "1" to v2 }\nroute b { when path ^= "/" to v1 }')))["http"]
    assert [h["name"] for h in http] == ["a", "b"]


def test_mesh_only_alternatives_are_left_out_at_the_gateway(tmp_path):
    http = gateway_http(tmp_path, exposed('route admin { when from namespace istio-system or header x-admin = "1" '
                                          'to v2 }\nroute d { to v1 }'))
    assert http[0]["name"] == "svc-admin"
    assert http[0]["match"] == [{"headers": {"x-admin": {"exact": "1"}}}]


def test_what_an_exposure_admits_and_no_route_takes_is_a_404_there(tmp_path):
    other = ("namespace ns {\n  service later {\n    port 80 http\n"
             "    expose via gw host h.example.com\n  }\n}\n")
    http = gateway_http(tmp_path, exposed('route beta { when header x-beta = "1" to v2 }', 'path ^= "/svc"', other))
    assert [h["name"] for h in http] == ["svc-beta", "svc-not-found", "later-default"]
    assert http[1] == {"name": "svc-not-found", "match": [{"uri": {"prefix": "/svc"}}],
                       "directResponse": {"status": 404}}


def test_an_exposure_no_request_at_a_clusters_gateway_meets_renders_no_virtual_service(tmp_path):
    # Found by the schema property on a fleet policy: north serves itself and
    # its remote west, so a route to a `local` service has a copy per caller
    # cluster (`from cluster north`, `from cluster west`), each contradicting
    # the exposure, which admits only east's gateway. Every entry was left
    # out in north and it rendered `http: []`, a VirtualService Istio's
    # validation rejects. Without one, north's gateway answers the host with
    # 404, as the exposure means.
    fleet = FLEET.replace("}\n", "  cluster west remote of north region r2 network n2\n}\n", 1)
    local = "namespace other {\n  service api {\n    port 80 http\n    local\n  }\n}\n"
    text = exposed("route d { to service api in other }", "from cluster east", local).replace(FLEET, fleet)
    east, north = render(tmp_path, text), render(tmp_path, text, "north")
    assert [e["name"] for e in gateway_http(tmp_path, text)] == ["svc-d"]
    assert ("VirtualService", "istio-system", "gw-h-example-com") not in north
    assert ("Gateway", "istio-system", "gw") in north and ("Gateway", "istio-system", "gw") in east
    result = CliRunner().invoke(cli, ["route", str(tmp_path), "--host", "h.example.com", "--via", "gw",
                                      "--all-clusters", "--output-format", "json"])
    assert result.exit_code == 0, result.output
    answers = {tuple(a["clusters"]): a["decision"] for a in json.loads(result.stdout)["answers"]}
    assert answers[("east",)]["entry"] == "svc-d"
    assert answers[("north", "west")]["status"] == 404 and answers[("north", "west")]["virtual_service"] is None
