"""evaluator(render(policy)) == interpreter(policy), request by request
(issue 7, item 3): for every example cluster over an exhaustive grid of
requests built from the conditions the policy tests, and for generated
policies × their grids.

The generated-policy budget is small by default (for each of the two
generators, `policies()` and `fleet_policies()`, and for which clusters
serve fleet policies' requests); a long run:
MESHC_DIFFERENTIAL_EXAMPLES=2000 pytest tests/semantics/test_differential.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from differential import disagreements, report, serving_disagreements
from hypothesis import HealthCheck, given, settings

from meshc.backends.istio import render
from meshc.model.topology import Topology
from meshc.pipeline import compile_paths, discover
from meshc.semantics.grid import requests_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from strategies_policy import fleet_policies, policies  # noqa: E402
from test_properties import compiled_cleanly, render_cleanly, written  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("MESHC_DIFFERENTIAL_EXAMPLES", "30"))


def _examples():
    (paths,) = discover([str(ROOT / "examples")])
    compiled = compile_paths(paths)
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    return compiled.policy, render(compiled.policy)


POLICY, RENDERING = _examples()


@pytest.mark.parametrize("cluster", Topology(POLICY).names)
def test_every_example_request_goes_where_the_policy_says(cluster):
    requests = requests_for(POLICY, cluster)
    assert len(requests) > 100
    found = disagreements(POLICY, RENDERING, cluster, requests)
    assert not found, report(found)


SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(policies())
def test_generated_policies_route_as_they_say(policy):
    _agree(policy)


@SETTINGS
@given(fleet_policies())
def test_generated_fleet_policies_route_as_they_say(policy):
    """Primaries and remotes, placement, `local`, cluster subsets, `from
    cluster`, `failover priority`: every caller cluster, a remote's
    through its primary's documents."""
    _agree(policy)


@SETTINGS
@given(fleet_policies())
def test_generated_fleet_policies_are_served_by_the_clusters_they_say(policy):
    """Which clusters' pods take each destination of each request, from
    every caller cluster, as tiers of them fail: the rendered documents
    read as pilot and Envoy do (tests/multicluster_eval.py) against the
    interpreter (`failover`, `failover priority`, `distribute`, cluster
    subsets, `local`, networks and east-west gateways)."""
    with written(policy.files()) as (_, paths):
        compiled = compiled_cleanly(paths)
        rendering = render_cleanly(compiled)
    for cluster in Topology(compiled.policy).names:
        requests = requests_for(compiled.policy, cluster, per_place=10)
        found = serving_disagreements(compiled.policy, rendering, cluster, requests)
        assert not found, report(found) + "\n\nThe policy:\n" + "\n".join(policy.files().values())


def _agree(policy):
    with written(policy.files()) as (_, paths):
        compiled = compiled_cleanly(paths)
        rendering = render_cleanly(compiled)
    for cluster in Topology(compiled.policy).names:
        found = disagreements(compiled.policy, rendering, cluster, requests_for(compiled.policy, cluster, per_place=60))
        assert not found, report(found) + "\n\nThe policy:\n" + "\n".join(policy.files().values())
