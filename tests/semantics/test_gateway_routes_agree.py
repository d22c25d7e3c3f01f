"""The routes of a gateway's `host` block, read twice: the evaluator of the
rendered YAML and the interpreter of the source agree on every request of
the grid (meshc/semantics/grid.py) that either of them sends to one of
those routes, in generated policies (tests/strategies_policy.py).
`MESHC_EVALUATE_EXAMPLES` (as for the evaluator's properties) raises the
budget for a long run."""

from __future__ import annotations

import os
from dataclasses import replace

from hypothesis import HealthCheck, event, given, settings
from strategies_policy import policies
from test_interpret_support import normal
from test_properties import compiled_cleanly, written

from meshc.backends.istio import render
from meshc.output.emit import dump_all
from meshc.semantics.evaluate import Evaluator
from meshc.semantics.grid import requests_for
from meshc.semantics.interpret import Interpreter
from meshc.semantics.registry import registry

EXAMPLES = int(os.environ.get("MESHC_EVALUATE_EXAMPLES", "10"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(host_block=True, fleet=False))
def test_host_block_routes_read_the_same_rendered_and_interpreted(policy):
    with written(policy.files()) as (_, paths):
        compiled = compiled_cleanly(paths)
    documents = render(compiled.policy).clusters["default"]
    evaluator = Evaluator.from_yaml(dump_all([d.body for d in documents]), registry(compiled.policy, "default"))
    interpreter = Interpreter(compiled.policy, "default")
    home, gateway = policy.gateway()
    names = {route.name for route in gateway.block.routes}
    for request in requests_for(compiled.policy, "default", per_place=60):
        if (request.gateway, request.host) != (f"{home}/{gateway.name}", gateway.block.host):
            continue
        rendered, interpreted = normal(evaluator.evaluate(request)), normal(interpreter.evaluate(request))
        if names.isdisjoint({rendered.entry, interpreted.entry}):
            continue  # an exposure's entry, or nothing: not what this test is about
        if rendered.retries != interpreted.retries and rendered.retries.attempts == interpreted.retries.attempts:
            # default-retry statuses differ by Istio release; the evaluator states 1.24-1.30's
            rendered = replace(rendered, retries=interpreted.retries)
        assert rendered == interpreted, request
        event("compared a request taken by a host block's route")
