"""A canary's `analysis` gates as PromQL, for `meshc gate` and the alerts.

`analysis success-rate >= 99% p99 <= 500ms` is a promise about the
candidate, so it is measured on Istio's standard metrics as reported by the
candidate's own sidecars (`reporter="destination"`), for the candidate's
version only, over the time the live step is meant to run: the pause before
the next step, 5m without one. `measure` builds that PromQL, once, for both
`meshc gate` (gates.py) and the PrometheusRule alerts (backends/alerts.py),
so an alert fires on exactly what the gate would refuse.
"""

from __future__ import annotations

from typing import Optional

from meshc.backends.documents import duration, number
from meshc.language import ir
from meshc.model.resolve import ServiceInfo

DEFAULT_WINDOW = "5m"
QUANTILES = {"p50": "0.5", "p75": "0.75", "p90": "0.9", "p95": "0.95", "p99": "0.99", "p999": "0.999"}
VERSION_LABEL = "version"


def pause_before_next(canary: ir.Canary) -> Optional[ir.Duration]:
    """How long the live step should run before the next one: the pause of
    the gap between step `at` and `at + 1`. None at the baseline (no traffic
    to watch yet), at the last step, or without `pause`. One duration applies
    to every gap; otherwise there is one per gap (MESH311 checks the count)."""
    gaps = len(canary.steps) - 1
    if not canary.pauses or canary.at == 0 or canary.at > gaps:
        return None
    if len(canary.pauses) == 1:
        return canary.pauses[0]
    return canary.pauses[canary.at - 1] if len(canary.pauses) == gaps else None


def window(canary: ir.Canary) -> str:
    """The range gates measure over (and alerts wait for): the pause before
    the next step, 5m when there is none."""
    pause = pause_before_next(canary)
    return duration(pause) if pause is not None else DEFAULT_WINDOW


def candidate_version(info: ServiceInfo, canary: ir.Canary) -> str:
    """The `destination_version` Istio reports for the candidate: the value
    of its subset's `version` label, which Istio copies from the pod's
    `version` label. A subset selected by other labels has no such value in
    the policy; its name stands in, so such pods need `version: SUBSET`."""
    subset = info.subset(canary.candidate.value)
    labels = {label.key: label.value for label in subset.labels} if subset is not None else {}
    return labels.get(VERSION_LABEL, canary.candidate.value)


def measure(gate: ir.Gate, host: str, version: str, range_: str) -> str:
    """PromQL for what a gate measures on the candidate over `range_`: its
    success rate (a ratio, 0–1) or a latency quantile (milliseconds). Hosts
    and versions are validated DNS names and label values: no quoting needed."""
    labels = f'reporter="destination",destination_service="{host}",destination_version="{version}"'
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
