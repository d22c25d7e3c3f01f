"""PrometheusRule alerts that watch canaries with health gates.

A gate is checked when someone (or CI) asks; the alerts watch in between:
for every service whose routes have a canary with `analysis`, each cluster
gets a PrometheusRule `SERVICE-canary` whose rules fire when the candidate
breaks a gate for as long as the live step is meant to run (the pause
before the next step, 5m without one). The measured expressions come from
promql.measure, so an alert and `meshc gate` never disagree on what is
measured. Error rate is alerted as `1 - success rate` so that `$value` in
the annotations is the error rate itself. Besides `severity`, `namespace`,
`service` and `route`, each alert carries the label `gate` (`success-rate`,
`p99`, ...): two latency gates of one canary would otherwise be the same
alert twice. A canary with waves is watched wave by wave: a cluster's rules
measure its wave's clusters at its wave's step, and carry the label `wave`.
"""

from __future__ import annotations

from typing import Optional

from meshc.backends.documents import Document, document, duration, number
from meshc.backends.promql import candidate_version, describe, measure, wave_matcher, window
from meshc.language import ir
from meshc.model.resolve import ServiceInfo
from meshc.model.topology import Topology
from meshc.model.waves import Wave, wave_of

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"

# A candidate returning errors hurts users now; a slow one degrades them.
ERROR_SEVERITY = "critical"
LATENCY_SEVERITY = "warning"


def canary_alerts(info: ServiceInfo, policy: ir.MeshPolicy, topology: Topology, cluster: str) -> Optional[Document]:
    """The service's PrometheusRule in `cluster`, or None when no canary of
    it has gates. A canary with waves is watched in the wave `cluster` is
    in, at that wave's step, on the wave's clusters."""
    namespace, service = info.namespace.name.value, info.service.name.value
    rules, nodes = [], []
    for route in info.service.routes:
        canary = route.action
        wave = wave_of(canary, topology, cluster) if isinstance(canary, ir.Canary) and canary.gates else None
        if wave is not None:
            nodes.append(canary)
            rules += [_rule(info, route.name.value, canary, gate, wave, wave_matcher(policy, wave))
                      for gate in canary.gates]
    if not rules:
        return None
    spec = {"groups": [{"name": f"{namespace}.{service}.canary", "rules": rules}]}
    return document(API_VERSION, KIND, namespace, f"{service}-canary", spec, nodes)


def _rule(info: ServiceInfo, route: str, canary: ir.Canary, gate: ir.Gate, wave: Wave, clusters: str) -> dict:
    namespace, service = info.namespace.name.value, info.service.name.value
    range_ = window(canary, wave.step)
    version = candidate_version(info, canary)
    measured = measure(gate, info.host, version, range_, clusters)
    who = f"canary {canary.candidate.value} of {namespace}/{service} (route {route})"
    rollback = f"`meshc rollback` returns route {route} to {canary.baseline.value}."
    if wave.node is not None:
        who += f" in wave {wave.number} ({', '.join(wave.clusters)})"
        later = " and the waves after it" if wave.number < len(canary.waves) else ""
        rollback = (f"`meshc rollback --wave {wave.number}` returns route {route} to {canary.baseline.value} "
                    f"in this wave{later}.")
    if isinstance(gate, ir.SuccessRateGate):
        allowed = round(100 - gate.minimum.value, 6)
        alert, severity = "CanaryErrorRateHigh", ERROR_SEVERITY
        expr = f"1 - ({measured}) > {_decimal(allowed / 100)}"
        summary = f"{who}: error rate above {number(allowed)}% for {range_}"
        description = (
            "{{ $value | humanizePercentage }} of requests to "
            f"{info.host} version {version} failed with a 5xx over the last {range_}; "
            f"the gate `{describe(gate)}` allows {number(allowed)}%. {rollback}"
        )
    else:
        limit = duration(gate.maximum)
        alert, severity = "CanaryLatencyHigh", LATENCY_SEVERITY
        expr = f"{measured} > {number(gate.maximum.ms)}"
        summary = f"{who}: {gate.quantile} latency above {limit} for {range_}"
        description = (
            f"{gate.quantile} latency of {info.host} version {version} is "
            "{{ $value | printf \"%.0f\" }}ms over the last "
            f"{range_}; the gate `{describe(gate)}` allows {limit}. {rollback}"
        )
    labels = {"severity": severity, "namespace": namespace, "service": service, "route": route,
              "gate": "success-rate" if isinstance(gate, ir.SuccessRateGate) else gate.quantile}
    if wave.node is not None:
        labels["wave"] = str(wave.number)
    return {
        "alert": alert,
        "expr": expr,
        "for": range_,
        "labels": labels,
        "annotations": {"summary": summary, "description": description},
    }


def _decimal(value: float) -> str:
    """A ratio as PromQL reads it, without float noise: 0.01, not 0.010000000000000009."""
    return f"{round(value, 10):.10g}"
