"""Run a policy's tests: every case through the evaluator of the rendered
documents (what Istio will do), judged against the test's expectations,
with route coverage. A failing case gets the `meshc route` explanation of
its request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from meshc.language import ir
from meshc.policytest.cases import Case, cases
from meshc.policytest.coverage import Coverage, measured, reach
from meshc.policytest.expect import Context, Failure, failures
from meshc.semantics.decision import Decision
from meshc.semantics.request import Request
from meshc.traffic.asking import wire
from meshc.traffic.readings import Readings


@dataclass
class CaseFailure:
    case: Case
    request: Request
    decision: Decision
    failures: list[Failure]
    explanation: list[str] = field(default_factory=list)  # `meshc route`'s lines


@dataclass
class Result:
    test: ir.PolicyTest
    cases: int = 0
    failed: list[CaseFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failed


@dataclass
class PolicyRun:
    results: list[Result]
    coverage: Coverage


def run(readings: Readings, tests: Iterable[ir.PolicyTest], said: Callable[[ir.Node], str],
        explain: bool = True) -> PolicyRun:
    """Run `tests` (tests of `readings`' policy); `said` gives an
    expectation as written, for the report."""
    coverage = measured(readings.policy)
    index = readings.index
    results = []
    memo: dict = {}
    for test in tests:
        result = Result(test)
        down = tuple(c.value for c in test.down)
        for case in cases(readings, test):
            variant = readings.at(case.steps)
            request = wire(index, case.ask, case.cluster)
            decision = variant.evaluator(case.cluster).evaluate(request)
            if case.problem is not None:
                found = [_steps_failure(test, case.problem)]
            else:
                origin = variant.origin(case.cluster, decision.virtual_service, decision.entry)
                reach(coverage, origin, readings.topology, case.cluster, case.ask.gateway, request.host)
                ctx = Context(variant.index, case.home, case.cluster, readings.release(case.cluster), origin, down,
                              said, memo)
                found = failures(decision, test.expectations, ctx)
            result.cases += 1
            if found:
                failure = CaseFailure(case, request, decision, found)
                if explain:
                    failure.explanation = _explained(readings, case, request)
                result.failed.append(failure)
        results.append(result)
    return PolicyRun(results, coverage)


def _steps_failure(test: ir.PolicyTest, problem: str) -> Failure:
    """A test whose `at` or `every step` does not fit the canaries its
    request reaches (MESH306 and MESH804, known only once the request is
    evaluated at a gateway host with several exposures)."""
    said = "every step" if test.every_step else "at " + " ".join(map(str, test.steps))
    return Failure(test.steps_span or test.span, f"`{said}`: steps of the canaries the request reaches", problem)


def _explained(readings: Readings, case: Case, request: Request) -> list[str]:
    from meshc.traffic.answer import answer, lines

    variant = readings.at(case.steps)
    return lines(answer(variant, case.cluster, request), variant, case.home)


def source_text(sources: dict) -> Callable[[ir.Node], str]:
    """An expectation as written, `expect` left out, on one line."""
    def said(node: ir.Node) -> str:
        span = node.span
        source = sources.get(span.file)
        if source is None:
            return "?"
        written = " ".join(source.text[span.start:span.end].split())
        return written.removeprefix("expect ")
    return said


def selected(policy: ir.MeshPolicy, keyword: Optional[str]) -> list[ir.PolicyTest]:
    """The policy's tests whose name contains `keyword` (every test: None)."""
    return [t for t in policy.tests if keyword is None or keyword in t.name.value]
