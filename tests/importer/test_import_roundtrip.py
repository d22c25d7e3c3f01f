"""Round trip (issue 10, item 5): for generated policies, import(render(P))
renders byte for byte what P renders, and has P's IR up to what the YAML
carries.

What the YAML does not carry is the freedom of writing, not meaning: which
block a route option or a policy setting was written in (the service, the
route, `on CLUSTER`: only what applies in each cluster is rendered), the
order of the conditions of an `and`, service ports (a Service is rendered
only as a stub), and a canary's steps, pauses and gates (its route renders
the live split; the gates render as PrometheusRule alerts, which the import
reports as lost). So the IR is compared in a projection that resolves
those: every route's options and every subset's policy as they apply in
each cluster, canaries as their live split in each cluster (a canary's
waves come back with the shares seen as steps).

The budget is small by default; a long run:
MESHC_IMPORT_ROUNDTRIP_EXAMPLES=500 pytest tests/importer/test_import_roundtrip.py
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Optional
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from import_support import rendered, run_import

from meshc.language import ir
from meshc.language.fmt import without_spans
from meshc.model.conditions import MESH_ONLY
from meshc.model.resolve import Index, ServiceInfo, canary_split, merge, weights
from meshc.model.topology import Topology
from meshc.model.waves import live_step
from meshc.output.manifests import files as manifest_files

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from strategies_policy import policies  # noqa: E402
from test_properties import compiled_cleanly, render_cleanly, written  # noqa: E402

EXAMPLES = int(os.environ.get("MESHC_IMPORT_ROUNDTRIP_EXAMPLES", "25"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(policies(max_namespaces=2, max_routes=2))
def test_import_of_the_render_renders_the_same_and_means_the_same(policy):
    assert_round_trip(policy.files())


# Policies the property once found wrong, kept as plain cases.
FOUND = {
    "two blue-green routes in one service": """namespace a {
  service b {
    port 80 http
    subsets by version v1 v2
    route one { when header x = "1" blue-green active v1 preview v2 }
    route two { blue-green active v2 preview v1 }
  }
}
""",
    "a blue-green route whose name is 63 characters long": """namespace a {
  service b {
    port 80 http
    subsets by version v1 v2
    route xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy { blue-green active v1 preview v2 }
  }
}
""",
    "an exposed blue-green route whose name is 63 characters long": """namespace a {
  gateway web { hosts h0.example.com https credential tls-cert }
  service b {
    port 80 http
    subsets by version v1 v2
    expose via web host h0.example.com
    route xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy { blue-green active v1 preview v2 }
  }
}
""",
    "an exposure whose port no destination at the gateway shows": """namespace a {
  gateway web {
    hosts h0.example.com
    https credential tls-cert
    host h0.example.com {
      route edge { when header x absent to service v1 port 1 }
    }
  }
  service v1 {
    port 1 http
    port 2 http
    expose via web host h0.example.com port 1
    route a { to service v1 port 2 0%, service other port 1 100% }
  }
  service other { port 1 http }
}
""",
    "an exposure of a service named like a service of another namespace": """namespace a {
  gateway web { hosts h0.example.com https credential tls-cert }
  service a {
    port 1 http
    fault abort 503 1%
  }
}
namespace b {
  service a {
    port 1 http
    expose via web host h0.example.com
    route first { when header g = "x" }
    route other { when query q = "y" to service a in a }
    route last { to service a in a mirror service a }
  }
}
""",
}
FLEET = """fleet prod {
  cluster a region r1
  cluster b region r2
  cluster c remote of b region r2
  cluster d region r3
}
"""
WAVES = {
    "three waves": """namespace shop {
  service cart {
    port 80 http
    subsets by version v1 v2
    route main { canary v1 -> v2 steps 5% 25% 100% wave a at 3 wave b after 2 at 2 wave d at 0 }
  }
}
""",
    "two waves at the same step, one ahead": """namespace shop {
  service cart {
    port 80 http
    subsets by version v1 v2
    route main { canary v1 -> v2 steps 10% 50% 100% wave a d at 2 wave b after 1 at 1 }
  }
}
""",
}


@pytest.mark.parametrize("source", FOUND.values(), ids=FOUND.keys())
def test_import_of_the_render_of_cases_found(source):
    assert_round_trip({"policy.mesh": source})


FOUND_IN_FLEETS = {
    "route options in one cluster only": """namespace shop {
  defaults { lb least-request }
  service cart {
    port 80 http
    port 81 http
    on a { fault delay 1ms 1% fault abort 200 0.1% cors credentials }
  }
}
""",
    "other route options in each cluster": """namespace shop {
  service cart {
    port 80 http
    on a { fault abort 200 1% }
    on b { cors credentials }
    on d { timeout 1s }
  }
}
""",
}


@pytest.mark.parametrize("source", WAVES.values(), ids=WAVES.keys())
def test_a_split_that_differs_per_cluster_comes_back_as_waves(source):
    assert_round_trip({"00-fleet.mesh": FLEET, "policy.mesh": source})


@pytest.mark.parametrize("source", FOUND_IN_FLEETS.values(), ids=FOUND_IN_FLEETS.keys())
def test_import_of_the_render_of_fleet_cases_found(source):
    assert_round_trip({"00-fleet.mesh": FLEET, "policy.mesh": source})


def assert_round_trip(files: dict[str, str]) -> None:
    """import(render(files)) renders byte for byte what the files do and has
    their IR in the projection below."""
    with written(files) as (directory, paths):
        original = compiled_cleanly(paths)
        rendering = render_cleanly(original)
        with tempfile.TemporaryDirectory(prefix="meshc-roundtrip-") as tmp:
            out = Path(tmp) / "rendered"
            for rel, text in manifest_files(rendering, ["policy.mesh"]).items():
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_text(text, encoding="utf-8")
            args = [str(out / "default")]
            if original.policy.fleet is not None:
                args = ["--fleet", os.path.join(directory, "00-fleet.mesh")]
                args += [a for c in Topology(original.policy).names for a in ("--cluster", f"{c}={out / c}")]
            done = run_import(args, Path(tmp) / "imported")
            alerts = [d for d in done.diagnostics if d["code"] == "MESH820"
                      and "/prometheusrule-" in d["location"]["file"]]
            assert [d for d in done.diagnostics if d not in alerts] == [], done.stderr + "\n" + "".join(files.values())
            again = rendered(done.out)
            imported_policy = _compiled(done.out)
    hidden = _hidden_ports(original.policy, imported_policy)
    before = {k: v for k, v in _documents(rendering, hidden).items() if "/prometheusrule-" not in k}
    assert _documents(again, hidden) == before
    assert projection(imported_policy, hidden) == projection(original.policy, hidden)


def _hidden_ports(original: ir.MeshPolicy, imported: ir.MeshPolicy) -> dict[str, Optional[int]]:
    """Hosts of services whose ports the YAML does not all show: host -> the
    one port it shows (the import declares it, and meshc then writes it into
    destinations without a port, as Istio would pick it), or None."""
    before, after = Index(original).services, Index(imported).services
    out = {}
    for key, info in before.items():
        shown = len(after[key].service.ports) if key in after else 0
        if shown < len(info.service.ports):
            out[info.host] = after[key].service.ports[0].number if shown == 1 else None
    return out


def _documents(rendering, hidden: dict[str, int]) -> dict[str, str]:
    """Every document's YAML, a destination's port to a host of `hidden` left out."""
    from meshc.output.emit import dump

    def strip(dest):
        if isinstance(dest, dict) and hidden.get(dest.get("host")) == (dest.get("port") or {}).get("number"):
            return {k: v for k, v in dest.items() if k != "port"}
        return dest

    out = {}
    for cluster, docs in rendering.clusters.items():
        for doc in docs:
            body = doc.body
            if doc.kind == "VirtualService" and hidden:
                body = copy.deepcopy(body)
                for http in body["spec"].get("http", ()):
                    for r in http.get("route", ()):
                        r["destination"] = strip(r["destination"])
                    if "mirror" in http:
                        http["mirror"] = strip(http["mirror"])
                    for m in http.get("mirrors", ()):
                        m["destination"] = strip(m["destination"])
            out[f"{cluster}/{doc.path}"] = dump(body)
    return out


def _compiled(out: Path) -> ir.MeshPolicy:
    from meshc.pipeline import compile_paths, discover

    (paths,) = discover([str(out)])
    return compile_paths(paths).policy


def projection(policy: ir.MeshPolicy, hidden: dict[str, int]) -> dict:
    """The IR as the rendered YAML carries it (see the module docstring);
    the ports of the `hidden` hosts are left out of destinations."""
    index = Index(policy)
    index.hidden = hidden
    clusters = Topology(policy).names
    services = {}
    for info in index.all_services():
        svc = info.service
        routes = [_route(index, info, r, clusters) for r in svc.routes]
        if not svc.routes:
            options = {c: _plain(info.options(None, c)) for c in clusters}
            if any(_set(o) for o in options.values()):
                routes = [("default", (), None, [], options)]
        subsets = [(s.name.value, _plain(s.labels), {c: _plain(merge(info.policy(c), s.policy)) for c in clusters})
                   for s in svc.subsets if s.labels]
        policies = {c: _plain(info.policy(c)) for c in clusters}
        exposes = [{**_plain(e), "port": e.port if _port_shows(info) else None} for e in svc.exposes]
        if routes or subsets or any(_set(p) for p in policies.values()) or exposes or svc.local:
            services[info.key] = {"routes": routes, "subsets": subsets, "policy": policies, "exposes": exposes,
                                  "local": svc.local is not None}
    blocks = {(b.namespace.name.value,) + b.key: [_route(index, b, r, clusters) for r in b.block.routes]
              for b in index.gateway_hosts()}
    namespaces = {}
    for ns in policy.namespaces:
        gateways = [{**_plain(g), "host_routes": None} for g in ns.gateways]
        found = {"defaults": _plain(ns.defaults), "mtls": sorted(map(repr, _plain(ns.mtls))),
                 "allows": sorted(map(repr, _plain(ns.allows))), "gateways": gateways,
                 "externals": _plain(ns.externals)}
        if any(_set(x) for x in found.values()):
            namespaces[ns.name.value] = found
    return {"fleet": _plain(policy.fleet), "services": services, "blocks": {k: v for k, v in blocks.items() if v},
            "namespaces": namespaces}


def _route(index: Index, owner, route: ir.Route, clusters: list[str]) -> tuple:
    """A route with its conditions as a set, its destinations resolved (the
    namespace, and the port Istio would pick anyway) and its options as they
    apply in each cluster."""
    return (route.name.value, _matches(route.matches), {c: _action(index, owner, route.action, c) for c in clusters},
            sorted(repr((_target(index, owner, m.target), m.percent.value if m.percent else 100.0))
                   for m in route.mirrors),
            {c: _plain(owner.options(route, c)) for c in clusters})


def _port_shows(info) -> bool:
    """Whether an exposure's port shows in the YAML: on the service's own
    destinations that name no port (a subset, the service itself), in the
    routes rendered at the gateway (not those whose every alternative tests
    the port or the source, which are the gateway's own there)."""
    for route in info.service.routes or ():
        if route.matches and all(any(isinstance(c, MESH_ONLY) for c in m.conditions) for m in route.matches):
            continue
        if not isinstance(route.action, ir.Forward):
            return True
        targets = [d.target for d in route.action.destinations] + [m.target for m in route.mirrors]
        if any(isinstance(t, ir.SubsetTarget) or (t.service.value == info.service.name.value and t.port is None
                                                  and t.namespace in (None,) + (t.namespace,))
               for t in targets):
            return True
    return not info.service.routes


def _target(index: Index, owner, target) -> tuple:
    if isinstance(target, ir.SubsetTarget):
        return owner.key, target.subset.value, None
    other = index.target_service(owner, target)
    port = target.port
    if port is None and other is not None and len(other.service.ports) == 1:
        port = other.service.ports[0].number
    if other is not None and other.host in index.hidden and index.hidden[other.host] in (port, None):
        port = None
    return other.key if other else target.service.value, target.subset.value if target.subset else None, port


def _action(index: Index, owner, action, cluster: str):
    if isinstance(action, ir.Canary):  # its live split in the cluster (the step of its wave)
        baseline, candidate = canary_split(action, live_step(action, index.topology, cluster))
        return [((owner.key, action.baseline.value, None), baseline), ((owner.key, action.candidate.value, None),
                                                                        candidate)]
    if isinstance(action, ir.Forward):
        shares = weights(action) if len(action.destinations) > 1 else [None]
        return [(_target(index, owner, d.target), w) for d, w in zip(action.destinations, shares)]
    if action is None and isinstance(owner, ServiceInfo):  # no `to`: the service itself
        ports = owner.service.ports
        port = ports[0].number if len(ports) == 1 and owner.host not in index.hidden else None
        return [((owner.key, None, port), None)]
    return _plain(action)


def _matches(matches) -> tuple:
    return tuple(sorted(repr(sorted(map(repr, without_spans(m.model_dump())["conditions"]))) for m in matches))


def _plain(node):
    if node is None:
        return None
    if isinstance(node, (list, tuple)):
        return [_plain(n) for n in node]
    return without_spans(node.model_dump()) if hasattr(node, "model_dump") else node


def _set(value) -> bool:
    """Whether a projected value says anything (not only empty settings)."""
    if isinstance(value, dict):
        return any(_set(v) for v in value.values())
    if isinstance(value, list):
        return any(_set(v) for v in value)
    return value not in (None, False, ())
