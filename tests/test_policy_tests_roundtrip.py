"""A test written from what the policy says passes on what Istio will do:
for every request of the grid (meshc/semantics/grid.py) a `test` block is
written in the language, its `with` the request's attributes and its
`expect`s the interpreter's decision (the independent reading of the
.mesh source: destinations and shares, the route, a status), and `meshc
test` (the evaluator over the rendered documents) must pass every one. It
goes through everything a test goes through: parsing, lowering, the
checks, requests built from `with`, targets resolved from the language's
words, shares compared.

On the examples, and on generated policies (`policies()` and
`fleet_policies()`) with a small budget by default
(MESHC_ROUNDTRIP_EXAMPLES=200 for a long run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from hypothesis import HealthCheck, given, settings
from helpers import ROOT

from meshc.language.source import SourceFile
from meshc.pipeline import compile_paths, compile_sources, discover
from meshc.policytest.runner import run, source_text
from meshc.semantics.decision import Decision
from meshc.semantics.grid import requests_for
from meshc.semantics.interpret import Interpreter
from meshc.semantics.request import Request
from meshc.traffic import text
from meshc.traffic.readings import Readings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strategies_policy import fleet_policies, policies  # noqa: E402
from test_properties import compiled_cleanly, written  # noqa: E402

EXAMPLES = int(os.environ.get("MESHC_ROUNDTRIP_EXAMPLES", "8"))


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def written_request(r: Request, gateways: dict[str, str]) -> str:
    said = f"request host {r.host}" + (f" via {gateways[r.gateway]}" if r.gateway else "")
    attributes = [f"port {r.port}", f"method = {r.method}", f"path = {quoted(r.path)}"]
    attributes += [f"header {k} = {quoted(v)}" for k, v in r.headers]
    attributes += [f"source {k} = {quoted(v)}" for k, v in r.source_labels]
    attributes += [f"from namespace {r.source_namespace}", f"from cluster {r.source_cluster}"]
    return said + " with " + " and ".join(attributes)


def expectations(d: Decision, readings: Readings, why) -> Optional[list[str]]:
    """What the policy says of the request, as `expect` statements (None:
    nothing a test can say, such as a host meshc does not declare)."""
    if d.kind in ("respond", "redirect"):
        return None if d.status is None else [f"expect status {d.status}"]
    found = []
    for share in d.destinations:
        target = text.declared(readings.index, share.target)
        if target.info is None:
            return None
        service = f"service {target.info.service.name.value} in {target.info.namespace.name.value}"
        found.append(service + (f" subset {target.subset}" if target.subset else "")
                     + f" {text.percent(share.share)}")
    out = ["expect to " + ", ".join(found)]
    routes = {r.span: r.name.value for info in readings.index.services.values() for r in info.service.routes}
    routes.update({r.span: r.name.value for b in readings.index.gateway_hosts() for r in b.block.routes})
    if why.route in routes:
        out.append(f"expect route {routes[why.route]}")
    return out


def written_tests(readings: Readings, per_place: int) -> str:
    gateways = {f"{ns.name.value}/{name}": name for name, (ns, _) in readings.index.gateways.items()}
    out = []
    for cluster in readings.clusters:
        interpreter = Interpreter(readings.policy, cluster, readings.release(cluster))
        for request in requests_for(readings.policy, cluster, per_place=per_place):
            if request.source_cluster != cluster:
                continue  # a caller this cluster's configuration does not program
            why = interpreter.explain(request)
            said = expectations(why.decision, readings, why)
            if said is not None:
                out.append(f"test t{len(out)} {{\n  {written_request(request, gateways)}\n"
                           + "".join(f"  {e}\n" for e in said) + "}\n")
    return "\n".join(out)


def passes(compiled, per_place: int) -> int:
    """Write the tests beside the policy, run them; how many ran."""
    readings = Readings(compiled.policy)
    added = SourceFile("roundtrip.test.mesh", written_tests(readings, per_place))
    again = compile_sources(list(compiled.sources.values()) + [added])
    errors = [f"{d.span}: {d.message}" for d in again.diagnostics if d.is_error]
    assert again.ok, errors[:5]
    tests = [t for t in again.policy.tests if t.span.file == added.path]
    done = run(Readings(again.policy), tests, source_text(again.sources), explain=False)
    failed = [(r.test.name.value, [(x.expected, x.actual) for x in f.failures], f.request)
              for r in done.results for f in r.failed]
    assert not failed, failed[:3]
    return len(done.results)


def test_the_examples_pass_what_the_policy_says():
    (paths,) = discover([str(ROOT / "examples")])
    assert passes(compile_paths(paths), per_place=40) > 400


SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(policies())
def test_generated_policies_pass_what_they_say(policy):
    with written(policy.files()) as (_, paths):
        compiled = compiled_cleanly(paths)
        passes(compiled, per_place=15)


@SETTINGS
@given(fleet_policies())
def test_generated_fleet_policies_pass_what_they_say(policy):
    """Remotes, `local`, cluster subsets, `from cluster`: tests written with
    `from cluster C` for every caller cluster."""
    with written(policy.files()) as (_, paths):
        compiled = compiled_cleanly(paths)
        passes(compiled, per_place=15)
