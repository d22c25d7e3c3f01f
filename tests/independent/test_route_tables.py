"""`meshc route --output-format json` against the hand-computed tables of
tables.py: every field of the decision, per caller cluster."""

from __future__ import annotations

import json
import re

import pytest

from tests.independent.meshc_cli import route_json, shares
from tests.independent.tables import ROWS, Decision, Row

# Rows where meshc's answer differs from the hand computation and the
# documentation (or Istio) sides with the hand computation; see the report
# of issue 9's independent check.
KNOWN_WRONG: dict[str, str] = {
    # (fixed) geo-cluster-label-is-the-proxys: --source-label
    # topology.istio.io/cluster=shanghai made hangzhou and beijing callers
    # take from-shanghai in the rendered reading, the interpreter disagreed,
    # and route printed MESHC BUG; istiod overwrites the label
    # (AugmentLabels), and route now says so in a note.
}


def per_cluster(answers: list[dict]) -> dict[str, dict]:
    out = {}
    for answer in answers:
        for cluster in answer["clusters"]:
            assert cluster not in out, f"cluster {cluster} answered twice"
            out[cluster] = answer
    return out


def actual_summary(answer: dict, expected: Decision) -> dict:
    d = answer["decision"]
    summary = {
        "kind": d["kind"],
        "status": d["status"],
        "route": (answer.get("route") or {}).get("name"),
        "to": shares(d["destinations"], expected.to),
    }
    if d["kind"] in ("respond", "redirect"):
        return summary
    r = d["retries"]
    fault = d["fault"]
    summary.update({
        "timeout_ms": d["timeout_ms"],
        "retries": (r["attempts"], r["per_try_ms"], sorted(r["retry_on"]), sorted(r["statuses"]))
        if r["attempts"] else (0,),
        # a fault without delay (or abort) reports its percentage as 0.0, not null
        "fault": None if fault is None else (
            fault["delay_ms"], fault["delay_percent"] if fault["delay_ms"] is not None else None,
            fault["abort_status"], fault["abort_percent"] if fault["abort_status"] is not None else None),
        "mirrors": shares(d["mirrors"], expected.mirrors),
        "rewrite": d["rewrite"],
    })
    if expected.entry is not None:
        summary["entry"] = d["entry"]
    return summary


def expected_summary(e: Decision) -> dict:
    summary = {"kind": e.kind, "status": e.status, "route": e.route, "to": dict(e.to)}
    if e.kind in ("respond", "redirect"):
        return summary
    r = e.retries
    f = e.fault
    summary.update({
        "timeout_ms": e.timeout_ms,
        "retries": (r.attempts, r.per_try_ms, sorted(r.on), sorted(r.statuses)) if r.attempts else (0,),
        "fault": None if f is None else (f.delay_ms, f.delay_percent, f.abort_status, f.abort_percent),
        "mirrors": dict(e.mirrors),
        "rewrite": e.rewrite,
    })
    if e.entry is not None:
        summary["entry"] = e.entry
    return summary


def params(rows: list[Row]):
    for r in rows:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[r.id])] if r.id in KNOWN_WRONG else []
        yield pytest.param(r, id=f"{r.policy}-{r.id}", marks=marks)


@pytest.mark.parametrize("r", list(params(ROWS)))
def test_route_answers_the_table(r: Row):
    out = route_json(r.policy, r.args)
    answers = per_cluster(out["answers"])
    expected = {c: d for clusters, d in r.expect.items() for c in clusters}
    assert sorted(answers) == sorted(expected), "the clusters answered for"
    for cluster, decision in expected.items():
        actual = actual_summary(answers[cluster], decision)
        assert actual == expected_summary(decision), (
            f"{cluster}: {r.why}\n{json.dumps(answers[cluster]['decision'], indent=1)}")


@pytest.mark.parametrize("r", [r for r in ROWS if len({c for cs in r.expect for c in cs}) > 1
                               and r.id not in KNOWN_WRONG],
                         ids=lambda r: f"{r.policy}-{r.id}")
def test_clusters_that_agree_are_shown_once(r: Row):
    """Clusters with the same answer are one group: no two groups hold the
    same decision with the same provenance."""
    answers = route_json(r.policy, r.args)["answers"]
    seen = [json.dumps({k: v for k, v in a.items() if k != "clusters"}, sort_keys=True) for a in answers]
    assert len(seen) == len(set(seen))


# -- provenance: locations of the route and its `when`, and what failed --

MATCHING_FILE = "matching/policy.mesh"
ROUTE_LINES = {"beta-cookie": 9, "qa-header": 13, "item-ids": 17, "api-debug": 21, "no-user": 25,
               "admin-port": 29, "probes": 33, "fallback": 38}


@pytest.mark.parametrize("args, route, matched", [
    ("--cookie beta=yes", "beta-cookie", ['cookie beta = "yes"']),
    ("--header x-qa=team-a --method POST", "qa-header", ['header x-qa ^= "team-"', "method = POST"]),
    ("--path /anon", "no-user", ["header x-user absent", 'path = "/anon"']),
    ("--source-label app=prober", "probes", ['source app = "prober"']),
    ("--from-namespace monitoring", "probes", ["from namespace monitoring"]),
])
def test_route_and_when_locations(args, route, matched):
    answer, = route_json("matching", ("--service", "shop/catalog", *args.split()))["answers"]
    loc = answer["route"]["location"]
    assert loc["file"].endswith(MATCHING_FILE)
    assert (answer["route"]["name"], loc["line"], loc["column"]) == (route, ROUTE_LINES[route], 5)
    when = answer["when"]
    assert when["location"]["line"] == ROUTE_LINES[route] + 1
    assert when["matched"] == matched


def test_earlier_routes_and_the_condition_each_failed_at():
    answer, = route_json("matching", ("--service", "shop/catalog", "--path", "/anon/x"))["answers"]
    assert answer["route"]["name"] == "fallback"
    tried = {t["entry"]: t for t in answer["tried"]}
    # every earlier route that pilot keeps for a port-80 caller, in order
    order = [t["entry"] for t in answer["tried"]]
    kept = [e for e in order if e != "admin-port"]
    assert kept == ["beta-cookie", "qa-header", "item-ids", "api-debug", "no-user", "probes"]
    assert tried["no-user"]["failed"][0]["condition"] == 'path = "/anon"'
    assert tried["no-user"]["failed"][0]["location"]["line"] == 26
    assert tried["beta-cookie"]["failed"][0]["condition"] == 'cookie beta = "yes"'


def test_options_say_where_they_were_set():
    answers = per_cluster(route_json("fleet", ("--service", "prod/orders", "--path", "/report"))["answers"])
    levels = {c: {o["setting"]: (o["level"], o["location"]["line"]) for o in a["options"]} for c, a in answers.items()}
    assert levels["hangzhou"] == {"timeout": ("route report", 24), "retry": ("service", 14)}
    assert levels["beijing"] == {"timeout": ("route report on beijing", 25), "retry": ("service", 14)}
    answers = per_cluster(route_json("fleet", ("--service", "prod/orders"))["answers"])
    levels = {c: {o["setting"]: (o["level"], o["location"]["line"]) for o in a["options"]} for c, a in answers.items()}
    assert levels["shanghai"] == {"timeout": ("service", 13), "retry": ("route main on hangzhou", 29)}
    assert levels["beijing"] == {"timeout": ("on beijing", 17), "retry": ("service", 14)}


def test_destination_policy_per_cluster_with_its_level():
    """Namespace defaults, the service, and the service's `on beijing`, merged
    setting by setting (docs/language.md, Destination policy: precedence)."""
    answers = per_cluster(route_json("fleet", ("--service", "prod/orders"))["answers"])
    for cluster, lb, lb_level in [("hangzhou", "LEAST_REQUEST", "namespace defaults"),
                                  ("shanghai", "LEAST_REQUEST", "namespace defaults"),
                                  ("beijing", "RANDOM", "on beijing")]:
        for policy in answers[cluster]["policies"]:
            fields = {f["field"]: (f["value"], f["level"]) for f in policy["fields"]}
            assert fields == {
                "loadBalancer.simple": (lb, lb_level),
                "connectionPool.tcp.maxConnections": (50, "service"),
                "connectionPool.http.http1MaxPendingRequests": (10, "namespace defaults"),
            }, (cluster, policy["target"])


GROUPS_DIFFER: dict[str, str] = {
    # (fixed) geo-split, geo-cluster-label-is-the-proxys: text grouped
    # `hangzhou, beijing`, JSON answered them apart because
    # tried[].istio[].actual named each caller's own cluster label for the
    # `from cluster shanghai` route both fail (left out of their proxies:
    # `actual` is null now), and both formats now group by both renderings.
}


def text_groups_params():
    for r in ROWS:
        if len(r.expect) > 1 and r.id not in KNOWN_WRONG:
            marks = [pytest.mark.xfail(strict=True, reason=GROUPS_DIFFER[r.id])] if r.id in GROUPS_DIFFER else []
            yield pytest.param(r, id=f"{r.policy}-{r.id}", marks=marks)


@pytest.mark.parametrize("r", list(text_groups_params()))
def test_text_shows_the_same_groups_as_json(r: Row):
    from tests.independent.meshc_cli import POLICIES, run
    text = run("route", POLICIES / r.policy, *r.args)
    assert text.exit_code == 0, text.output
    headers = re.findall(r"^([a-z0-9-]+(?:, [a-z0-9-]+)*):$", text.stdout, re.M)
    groups = [", ".join(a["clusters"]) for a in route_json(r.policy, r.args)["answers"]]
    assert headers == groups
