"""Health gates measured in Prometheus: the PromQL of promql.py, queried
over the HTTP API, with a verdict per gate.

A gate without data never passes: no answer, an error, a timeout or an
empty result all end in exit 2, not 0.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence

from meshc import __version__
from meshc.backends.documents import duration, number
from meshc.backends.promql import candidate_version, measure, wave_matcher, window
from meshc.canary.steps import LiveCanary
from meshc.language import ir
from meshc.model.waves import Wave

PASS, FAIL, NO_DATA = "pass", "fail", "no data"


@dataclass(frozen=True)
class Check:
    """One gate of one canary, with its PromQL."""

    gate: ir.Gate
    expr: str

    @property
    def title(self) -> str:
        return "success-rate" if isinstance(self.gate, ir.SuccessRateGate) else f"{self.gate.quantile} latency"

    @property
    def threshold(self) -> float:
        """In the unit `expr` measures: a ratio, or milliseconds."""
        if isinstance(self.gate, ir.SuccessRateGate):
            return self.gate.minimum.value / 100
        return self.gate.maximum.ms

    @property
    def comparison(self) -> str:
        """How a value must compare with the threshold to pass."""
        return ">=" if isinstance(self.gate, ir.SuccessRateGate) else "<="

    @property
    def condition(self) -> str:
        if isinstance(self.gate, ir.SuccessRateGate):
            return f">= {number(self.gate.minimum.value)}%"
        return f"<= {duration(self.gate.maximum)}"

    def passes(self, value: float) -> bool:
        return value >= self.threshold if self.comparison == ">=" else value <= self.threshold

    def show(self, value: float) -> str:
        if isinstance(self.gate, ir.SuccessRateGate):
            return f"{_trim(value * 100, 4)}%"
        return f"{_trim(value, 1)}ms"


def checks(live: LiveCanary, wave: Wave) -> list[Check]:
    """The canary's gates as PromQL, in the order written, for one wave of
    its plan: its clusters, over the pause after its step."""
    range_ = window(live.canary, wave.step)
    version = candidate_version(live.info, live.canary)
    clusters = wave_matcher(live.policy, wave)
    return [Check(g, measure(g, live.info.host, version, range_, clusters)) for g in live.canary.gates]


def _trim(value: float, decimals: int) -> str:
    """Enough decimals to tell a value from its threshold, no trailing zeros."""
    if math.isinf(value):  # a quantile beyond the largest histogram bucket
        return "+Inf"
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


# ----------------------------------------------------------- Prometheus
class PrometheusError(Exception):
    """Prometheus could not answer: one line saying why (exit 2)."""


def parse_time(text: str) -> float:
    """Unix seconds from `1700000000(.5)` or RFC 3339 (`2024-05-01T12:00:00Z`)."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"`{text}` is not a time")
        return seconds
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"`{text}` is neither unix seconds nor an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"`{text}` has no time zone; add `Z` or an offset such as `+08:00`")
    return moment.timestamp()


def query(url: str, expr: str, at: Optional[float], timeout: float) -> Optional[float]:
    """The value of an instant query; None when the result is empty or NaN
    (0/0: no requests in the window)."""
    params = {"query": expr}
    if at is not None:
        params["time"] = repr(at)
    endpoint = url.rstrip("/") + "/api/v1/query"
    request = urllib.request.Request(
        f"{endpoint}?{urllib.parse.urlencode(params)}",
        headers={"Accept": "application/json", "User-Agent": f"meshc/{__version__}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        raise PrometheusError(f"Prometheus at {url} answered HTTP {err.code} {err.reason}{_error_detail(err)}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, (TimeoutError, socket.timeout)):
            raise PrometheusError(f"Prometheus at {url} did not answer within {number(timeout)}s") from None
        raise PrometheusError(f"cannot reach Prometheus at {url}: {_reason(err.reason)}") from None
    except (TimeoutError, socket.timeout):
        raise PrometheusError(f"Prometheus at {url} did not answer within {number(timeout)}s") from None
    except (OSError, http.client.HTTPException) as err:
        raise PrometheusError(f"cannot read Prometheus's answer from {url}: {_reason(err)}") from None
    return _value(url, body)


def _value(url: str, body: bytes) -> Optional[float]:
    try:
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise PrometheusError(f"Prometheus at {url} refused the query: {answer.get('error', 'no reason given')}")
        data = answer["data"]
        if data["resultType"] == "scalar":
            samples = [data["result"]]
        elif data["resultType"] == "vector":
            samples = [series["value"] for series in data["result"]]
        else:
            raise PrometheusError(f"Prometheus at {url} answered a {data['resultType']}, not a vector")
        if len(samples) > 1:
            raise PrometheusError(f"Prometheus at {url} answered {len(samples)} series where one was expected")
        value = float(samples[0][1]) if samples else math.nan
    except PrometheusError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise PrometheusError(f"{url} did not answer like a Prometheus HTTP API (/api/v1/query)") from None
    return None if math.isnan(value) else value


def _error_detail(err: urllib.error.HTTPError) -> str:
    """Prometheus explains a refused query in a JSON body; other servers don't."""
    try:
        message = json.loads(err.read()).get("error")
    except (ValueError, AttributeError, OSError, http.client.HTTPException):
        return ""
    return f": {message}" if isinstance(message, str) and message else ""


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


# ----------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Result:
    check: Check
    value: Optional[float]

    @property
    def verdict(self) -> str:
        if self.value is None:
            return NO_DATA
        return PASS if self.check.passes(self.value) else FAIL


@dataclass(frozen=True)
class Measurement:
    """The gates of one wave, measured at one moment."""

    wave: Wave
    results: tuple[Result, ...]
    time: float
    """The evaluation time of every query, unix seconds."""


def now() -> float:
    """The moment to evaluate at when none is given: whole seconds, so that
    the evidence of a promotion states exactly the time Prometheus used."""
    return float(int(time.time()))


def evaluate(live: LiveCanary, wave: Wave, url: str, at: Optional[float], timeout: float) -> Measurement:
    """Measure every gate of one wave, all at `at` (now by default);
    PrometheusError at the first query Prometheus cannot answer (the others
    would fail the same way, each after a timeout)."""
    at = now() if at is None else at
    return Measurement(wave, tuple(Result(c, query(url, c.expr, at, timeout)) for c in checks(live, wave)), at)


def exit_code(results: Sequence[Result]) -> int:
    """1 when a gate measurably fails (a firm no), else 2 when one has no
    data (no answer is not a yes), else 0."""
    verdicts = {r.verdict for r in results}
    if FAIL in verdicts:
        return 1
    return 2 if NO_DATA in verdicts or not results else 0


def table(live: LiveCanary, measured: Measurement) -> str:
    """The gates with measured value, threshold and verdict, for people."""
    step = measured.wave.step
    head = (f"{live.namespace}/{live.title(measured.wave)}: candidate {live.canary.candidate.value} "
            f"(version {candidate_version(live.info, live.canary)}) at step {step} of {live.last} "
            f"({live.show_split(step)}), window {window(live.canary, step)}\n")
    rows = [("GATE", "MEASURED", "THRESHOLD", "VERDICT")]
    rows += [(r.check.title, "-" if r.value is None else r.check.show(r.value), r.check.condition, r.verdict)
             for r in measured.results]
    return head + columns(rows)


def as_json(live: LiveCanary, measured: Measurement, url: str) -> dict:
    """The gates with their PromQL, measured value, threshold and verdict,
    for a CI job to read (`meshc gate --output-format json`)."""
    baseline, candidate = live.canary.baseline.value, live.canary.candidate.value
    wave, results = measured.wave, measured.results
    where = {"wave": wave.number, "clusters": list(wave.clusters)} if wave.node is not None else {}
    return {
        "namespace": live.namespace,
        "service": live.info.service.name.value,
        "route": live.route.name.value,
        **where,
        "baseline": baseline,
        "candidate": candidate,
        "candidate_version": candidate_version(live.info, live.canary),
        "step": wave.step,
        "steps": live.last,
        "window": window(live.canary, wave.step),
        "prometheus": url,
        "time": measured.time,
        "gates": [{
            "gate": r.check.title,
            "query": r.check.expr,
            "measured": r.value if r.value is None or math.isfinite(r.value) else str(r.value),
            "threshold": r.check.threshold,
            "unit": "ratio" if isinstance(r.check.gate, ir.SuccessRateGate) else "ms",
            "condition": r.check.condition,
            "verdict": r.verdict,
        } for r in results],
        "verdict": verdict_line(results),
        "exit_code": exit_code(results),
    }


def verdict_line(results: Sequence[Result]) -> str:
    """One line saying what the exit code means."""
    failing = [r.check.title for r in results if r.verdict == FAIL]
    missing = [r.check.title for r in results if r.verdict == NO_DATA]
    if failing:
        return f"unhealthy: {', '.join(failing)} outside the gate"
    if missing:
        return (f"no data for {', '.join(missing)}: the candidate served no requests in the window, "
                "or its metrics are not in this Prometheus; not a pass")
    return f"healthy: all {len(results)} gate{'s' if len(results) != 1 else ''} pass"


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in rows)
