"""A gateway's `host` blocks (docs/language.md, "Routes of the gateway"):
what they render, where, in which order, and what the checks say about
them. Request-level behaviour of S11 is in tests/semantics."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from meshc.cli import cli

FLEET = """fleet prod {
  cluster east region r1
  cluster north region r2 istio 1.20
}
"""

SERVICES = """namespace web {
  service users {
    port 8080 http
    subsets by version v1 v2
    timeout 3s
    expose via edge host a.example.com when header x-beta = "1"
    route beta { when cookie beta = "1" to v2 }
    route all { to v1 }
  }
  service users-v2 { port 8080 http }
  service multi {
    port 80 http
    port 443 http
    port 9090 grpc
  }
}
"""


def gateway(host_blocks: str = "", hosts: str = "a.example.com b.example.com", servers: str = "http") -> str:
    return f"namespace edge-ns {{\n  gateway edge {{\n    hosts {hosts}\n    {servers}\n{host_blocks}\n  }}\n}}\n"


def policy(host_blocks: str = "", **kw) -> str:
    return FLEET + gateway(host_blocks, **kw) + SERVICES


def run(tmp_path, text: str, *args: str):
    (tmp_path / "p.mesh").write_text(text)
    return CliRunner().invoke(cli, [*args[:1], str(tmp_path / "p.mesh"), *args[1:]])


def render(tmp_path, text: str, cluster: str = "east") -> dict:
    """{(kind, namespace, name): document} of one cluster."""
    result = run(tmp_path, text, "render", "--stdout", "--cluster", cluster)
    assert result.exit_code == 0, result.output
    return {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d
            for d in YAML(typ="safe").load_all(result.stdout)}


def check(tmp_path, text: str) -> list[tuple[int, str]]:
    """(line, code) of every diagnostic `meshc check` reports."""
    import json

    result = run(tmp_path, text, "check", "--output-format", "json")
    return sorted((d["location"]["line"], d["code"]) for d in json.loads(result.stdout or "[]"))


def http(docs: dict, name: str = "edge-a-example-com", ns: str = "edge-ns") -> list[dict]:
    return docs[("VirtualService", ns, name)]["spec"]["http"]


EDGE = """    host a.example.com {
      cors origins "https://app.example.com" methods GET
      timeout 30s
      route split {
        when path ^= "/api/v1/users" or header x-api-version = "v1"
        to service users in web 90%, service users-v2 in web 10%
        fault delay 5s 0.1%
        on north { timeout 40s }
      }
      route old { when path ^= "/old" to service users in web subset v1  retry 2  rewrite path "/" }
    }
"""


def test_host_routes_change_only_the_gateway_virtual_service_of_their_host(tmp_path):
    """The mesh VirtualServices (and everything else) are the same with and
    without the host block; the gateway's gets the block's entries first."""
    for cluster in ("east", "north"):
        without = render(tmp_path, policy(), cluster)
        with_block = render(tmp_path, policy(EDGE), cluster)
        key = ("VirtualService", "edge-ns", "edge-a-example-com")
        assert {k: v for k, v in with_block.items() if k != key} == {k: v for k, v in without.items() if k != key}
        assert [e["name"] for e in http(with_block)] == ["split", "old"] + [e["name"] for e in http(without)]
        assert http(with_block)[2:] == http(without)


def test_host_route_entries(tmp_path):
    split, old, *_ = http(render(tmp_path, policy(EDGE)))
    assert split["match"] == [{"uri": {"prefix": "/api/v1/users"}}, {"headers": {"x-api-version": {"exact": "v1"}}}]
    assert split["route"] == [
        {"destination": {"host": "users.web.svc.cluster.local", "port": {"number": 8080}}, "weight": 90},
        {"destination": {"host": "users-v2.web.svc.cluster.local", "port": {"number": 8080}}, "weight": 10},
    ]
    # the block's options, setting by setting; not the service's `timeout 3s`
    assert split["timeout"] == "30s"
    assert split["fault"] == {"delay": {"fixedDelay": "5s", "percentage": {"value": 0.1}}}
    assert split["corsPolicy"] == {"allowOrigins": [{"exact": "https://app.example.com"}], "allowMethods": ["GET"]}
    assert old["route"] == [{"destination": {"host": "users.web.svc.cluster.local", "subset": "v1",
                                             "port": {"number": 8080}}}]
    assert (old["retries"], old["rewrite"], old["timeout"]) == ({"attempts": 2}, {"uri": "/"}, "30s")
    assert "corsPolicy" in old


def test_a_route_override_changes_its_cluster_only(tmp_path):
    assert http(render(tmp_path, policy(EDGE), "east"))[0]["timeout"] == "30s"
    north = render(tmp_path, policy(EDGE), "north")
    assert http(north)[0]["timeout"] == "40s"
    assert north[("VirtualService", "edge-ns", "edge-a-example-com")]["apiVersion"] == "networking.istio.io/v1beta1"


def test_a_host_without_exposures_gets_a_virtual_service_of_its_own(tmp_path):
    docs = render(tmp_path, policy("    host b.example.com { route all { to service users in web } }"))
    spec = docs[("VirtualService", "edge-ns", "edge-b-example-com")]["spec"]
    assert spec == {"hosts": ["b.example.com"], "gateways": ["edge"], "http": [
        {"name": "all", "route": [{"destination": {"host": "users.web.svc.cluster.local", "port": {"number": 8080}}}]}]}


def test_targets_default_to_the_gateways_namespace_and_mirrors_work(tmp_path):
    text = policy("    host b.example.com {\n      route all {\n        to service local-svc\n"
                  "        mirror service users in web subset v2 20%\n      }\n    }") + \
        "namespace edge-ns {\n  service local-svc { port 9000 http }\n}\n"
    (entry,) = http(render(tmp_path, text), "edge-b-example-com")
    assert entry["route"] == [{"destination": {"host": "local-svc.edge-ns.svc.cluster.local",
                                               "port": {"number": 9000}}}]
    assert entry["mirror"] == {"host": "users.web.svc.cluster.local", "subset": "v2", "port": {"number": 8080}}
    assert entry["mirrorPercentage"] == {"value": 20}


def test_host_routes_come_before_the_exposures_whatever_their_rank(tmp_path):
    """An exposure with an exact path ranks first among exposures, but a
    host route (here one on a header) is still tried before it."""
    text = policy('    host a.example.com { route h { when header x-h = "1" to service users-v2 in web } }') \
        .replace('expose via edge host a.example.com when header x-beta = "1"',
                 'expose via edge host a.example.com when path = "/exact"')
    assert [e["name"] for e in http(render(tmp_path, text))] == ["h", "users-beta", "users-all"]


def test_a_target_with_several_ports_needs_one_the_gateway_serves(tmp_path):
    to_multi = '    host b.example.com { route m { to service multi in web } }'
    assert check(tmp_path, policy(to_multi)) == []  # arrives on 80, which multi has
    assert check(tmp_path, policy(to_multi, servers="http port 8443")) == [(9, "MESH322")]
    assert check(tmp_path, policy(to_multi.replace("in web", "in web port 9090"), servers="http port 8443")) == []


def test_a_host_route_named_like_an_exposure_entry_collides(tmp_path):
    text = policy('    host a.example.com { route users-all { when path ^= "/x" to service users in web } }')
    result = run(tmp_path, text, "check")
    assert result.exit_code == 1
    assert "MESH205" in result.stdout and "`users-all`" in result.stdout


@pytest.mark.parametrize("block, expected", [
    # reachability among the block's routes, and of the exposures after them
    ('route a { to service users in web }\n route b { when path ^= "/b" to service users in web }',
     [(10, "MESH307"), (18, "MESH307")]),
    ('route a { when header x-beta = "1" to service users in web }', [(17, "MESH307")]),
    ('route a { when header x-beta = "1" and path ^= "/p" to service users in web }', []),
    # conditions as in a service's routes
    ('route a { when header x = "1" and header x = "2" to service users in web }', [(9, "MESH308")]),
    ('route a { when path ^= "/a" and path ^= "/a/b" to service users in web }', [(9, "MESH316")]),
    ('route a { when method = GET to service users in web 60%, service users-v2 in web 30% }', [(9, "MESH301")]),
    ('route a { when method = GET to service users in web 60.5%, service users-v2 in web rest }', [(9, "MESH303")]),
    ('rewrite path "/v2"\n route a { when header x = "1" to service users in web }', [(9, "MESH312")]),
    ('route a { when header x = "1" to service users in web  retry 0 per-try 1s }', [(9, "MESH317")]),
    ('route a { when header x = "1" to service nobody in web }', [(9, "MESH204")]),
    ('route a { when header x = "1" to service users in web subset v9 }', [(9, "MESH201")]),
    ('route a { when header x = "1" to service users in web  on south { timeout 1s } }', [(9, "MESH202")]),
    ('route a { when port 80 to service users in web }', [(9, "MESH325")]),
    # which cluster's gateway routes the request is a fair question
    ('route a { when from cluster east to service users in web }', []),
    ('route a { when from cluster mars to service users in web }', [(9, "MESH202")]),
    ('route a { when header x = "1" to v1 }', [(9, "MESH326")]),
])
def test_checks_on_host_blocks(tmp_path, block, expected):
    text = policy(f"    host a.example.com {{ {block} }}")
    assert check(tmp_path, text) == expected


def test_cors_on_a_service_no_gateway_exposes_is_a_warning(tmp_path):
    text = policy().replace("service users-v2 { port 8080 http }",
                            'service users-v2 { port 8080 http  cors origins "https://x.example.com" }')
    assert check(tmp_path, text) == [(21, "MESH327")]
    exposed = policy().replace("timeout 3s", 'cors origins "https://x.example.com"')
    assert check(tmp_path, exposed) == []
