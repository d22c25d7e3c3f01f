"""How the work of the route checks and of the full report grows with their
input, counted in function calls (a deterministic measure, unlike time:
bench/ has the timings). Doubling the input must about double the calls;
a quadratic cost quadruples them."""

from __future__ import annotations

import sys

from meshc.checks import run_checks
from meshc.diagnostics import report
from meshc.pipeline import compile_sources, decode


def calls(work) -> int:
    """Python and C function calls made while running `work()`."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


def routes_policy(n: int) -> str:
    """One service with n routes of every kind of condition, and a default."""
    kinds = ['header x-user = "u{i}"', 'path ^= "/api/v{i}/"', 'method = GET and header x-tenant = "t{i}"',
             'cookie session = "s{i}" or query q{i} = "1"', 'header x-re ~ "r{i}.*"']
    routes = "".join(f"    route r{i} {{ when {kinds[i % len(kinds)].format(i=i)} to v1 }}\n" for i in range(n))
    return ("namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1 v2\n"
            + routes + "    route default { to v1 }\n  }\n}\n")


def test_the_route_checks_grow_linearly_with_the_routes_of_a_service():
    def checks(n: int) -> int:
        compiled = compile_sources([decode("p.mesh", routes_policy(n).encode())[0]])
        assert compiled.ok, compiled.diagnostics[:3]
        return calls(lambda: run_checks(compiled.policy))

    small, large = checks(150), checks(300)
    assert large / small < 2.3, (small, large)


def test_the_full_report_grows_linearly_with_the_errors_on_one_long_line():
    def full_report(n: int) -> int:
        routes = " ".join(f'route r{i} {{ when header h = "{i}" to v1 90%, v2 20% }}' for i in range(n))
        source, _ = decode("p.mesh", f"namespace a {{ service b {{ port 80 http subsets by version v1 v2 {routes} route d {{ to v1 }} }} }}\n"
                           .encode())
        compiled = compile_sources([source])
        assert len(compiled.diagnostics) == n
        return calls(lambda: report.render(compiled.diagnostics, compiled.sources, "full"))

    small, large = full_report(100), full_report(200)
    assert large / small < 2.3, (small, large)


def test_the_dead_entry_analysis_grows_linearly_with_the_routes_of_a_service():
    """Each route's match is looked for only among the earlier ones that
    test what it tests (semantics/evaluate/dead.py)."""
    from meshc.backends.istio import render
    from meshc.semantics.emitted import check_emitted

    def analysis(n: int) -> int:
        compiled = compile_sources([decode("p.mesh", routes_policy(n).encode())[0]])
        rendering = render(compiled.policy)
        return calls(lambda: check_emitted(rendering))

    small, large = analysis(150), analysis(300)
    assert large / small < 2.3, (small, large)
