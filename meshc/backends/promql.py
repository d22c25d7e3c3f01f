"""A canary's `analysis` gates as PromQL, for `meshc gate` and the alerts.

`analysis success-rate >= 99% p99 <= 500ms` is a promise about the
candidate, so it is measured on Istio's standard metrics as reported by the
candidate's own sidecars (`reporter="destination"`), for the candidate's
version only, over the time the live step is meant to run: the pause before
the next step, 5m without one. A canary with waves is measured wave by
wave, on the traffic its clusters' proxies split: series whose cluster
label (the fleet's `cluster-label`, Istio's `source_cluster` by default)
names a cluster of the wave. `measure` builds that PromQL, once, for both
`meshc gate` (gates.py) and the PrometheusRule alerts (backends/alerts.py),
so an alert fires on exactly what the gate would refuse.
"""

from __future__ import annotations

from typing import Optional

from meshc.backends.documents import duration, number
from meshc.language import ir
from meshc.model.resolve import ServiceInfo
from meshc.model.waves import Wave, cluster_label

DEFAULT_WINDOW = "5m"
QUANTILES = {"p50": "0.5", "p75": "0.75", "p90": "0.9", "p95": "0.95", "p99": "0.99", "p999": "0.999"}
VERSION_LABEL = "version"


def pause_before_next(canary: ir.Canary, step: int) -> Optional[ir.Duration]:
    """How long `step` should run before the next one: the pause of the gap
    between `step` and `step + 1`. None at the baseline (no traffic to watch
    yet), at the last step, or without `pause`. One duration applies to
    every gap; otherwise there is one per gap (MESH311 checks the count)."""
    gaps = len(canary.steps) - 1
    if not canary.pauses or step == 0 or step > gaps:
        return None
    if len(canary.pauses) == 1:
        return canary.pauses[0]
    return canary.pauses[step - 1] if len(canary.pauses) == gaps else None


def window(canary: ir.Canary, step: int) -> str:
    """The range gates measure over (and alerts wait for) at `step`: the
    pause before the next step, 5m when there is none."""
    pause = pause_before_next(canary, step)
    return duration(pause) if pause is not None else DEFAULT_WINDOW


def wave_matcher(policy: ir.MeshPolicy, wave: Wave) -> str:
    """The label matcher that keeps a wave's clusters, `,LABEL=~"A|B"`
    (`,LABEL="A"` for one), to add to a gate's labels; nothing for a
    canary without waves, whose one wave is the whole fleet. Cluster
    names are DNS labels: nothing to escape in a regex."""
    if wave.node is None:
        return ""
    label = cluster_label(policy)
    if len(wave.clusters) == 1:
        return f',{label}="{wave.clusters[0]}"'
    return f',{label}=~"{"|".join(wave.clusters)}"'


def candidate_version(info: ServiceInfo, canary: ir.Canary) -> str:
    """The `destination_version` Istio reports for the candidate: the value
    of its subset's `version` label, which Istio copies from the pod's
    `version` label. A subset selected by other labels has no such value in
    the policy; its name stands in, so such pods need `version: SUBSET`."""
    subset = info.subset(canary.candidate.value)
    labels = {label.key: label.value for label in subset.labels} if subset is not None else {}
    return labels.get(VERSION_LABEL, canary.candidate.value)


def measure(gate: ir.Gate, host: str, version: str, range_: str, clusters: str = "") -> str:
    """PromQL for what a gate measures on the candidate over `range_`: its
    success rate (a ratio, 0–1) or a latency quantile (milliseconds), in the
    clusters `clusters` keeps (a `wave_matcher`). Hosts and versions are
    validated DNS names and label values: no quoting needed."""
    labels = f'reporter="destination",destination_service="{host}",destination_version="{version}"{clusters}'
    if isinstance(gate, ir.SuccessRateGate):
        return (f'sum(rate(istio_requests_total{{{labels},response_code!~"5.."}}[{range_}]))'
                f" / sum(rate(istio_requests_total{{{labels}}}[{range_}]))")
    return (f"histogram_quantile({QUANTILES[gate.quantile]}, sum by (le) "
            f"(rate(istio_request_duration_milliseconds_bucket{{{labels}}}[{range_}])))")


def describe(gate: ir.Gate) -> str:
    """A gate as written: `success-rate >= 99%`, `p99 <= 500ms`."""
    if isinstance(gate, ir.SuccessRateGate):
        return f"success-rate >= {number(gate.minimum.value)}%"
    return f"{gate.quantile} <= {duration(gate.maximum)}"
