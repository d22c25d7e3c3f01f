"""Hypothesis strategies: random valid .mesh syntax trees, and sources with comments.

Values are drawn so that the printed tree parses (names never collide with
keywords) and usually lowers (DNS labels, durations of at least 1 ms,
percentages within 0-100, statements a block may hold once held once), so
that the IR properties get exercised, not only the syntax ones.
"""

from __future__ import annotations

import re
from importlib import resources

from hypothesis import strategies as st

from meshc.language import syntax as s
from meshc.language.fmt import print_tree
from meshc.language.source import Span
from meshc.language.values import HTTP_METHODS, ISTIO_VERSIONS

PATH = "generated.mesh"
SPAN = Span(PATH, 1, 1, 1, 1, 0, 0)  # spans take no part in equality

# Every lower-case word of the grammar, comments and rule names included: a
# superset of the keywords, which a NAME may not spell where both can occur.
_RESERVED = frozenset(re.findall(
    r"[a-z][a-z0-9-]*", resources.files("meshc.grammar").joinpath("mesh.lark").read_text(encoding="utf-8")))
_RETRY_CONDITIONS = ("5xx", "gateway-error", "reset", "connect-failure", "refused-stream", "retriable-4xx",
                     "cancelled", "deadline-exceeded", "unavailable")


def _words(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True).filter(lambda w: w not in _RESERVED)


def _word(texts: st.SearchStrategy[str]) -> st.SearchStrategy[s.Word]:
    return texts.map(lambda text: s.Word(SPAN, text))


def _tuple(elements: st.SearchStrategy, min_size: int = 0, max_size: int = 3, **kw) -> st.SearchStrategy[tuple]:
    return st.lists(elements, min_size=min_size, max_size=max_size, **kw).map(tuple)


def _optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


# ------------------------------------------------------------- tokens
names = _word(_words(r"[a-z]{1,6}(-[a-z0-9]{1,3})?"))
label_keys = _word(_words(r"([a-z]{2,5}\.io/)?[a-z]{1,6}(\.[a-z]{1,3})?"))
# No `*.` wildcards: HOSTNAME's `\*` alternative lexes the `*` alone (a grammar bug, reported).
hosts = _word(st.from_regex(r"[a-z]{1,6}(\.[a-z]{2,4}){1,2}", fullmatch=True) | st.just("*"))
localities = _word(st.from_regex(r"[a-z]{2,4}-[a-z]{1,4}(/(\*|[a-z]{1,4}-[a-z0-9]{1,2})){0,2}", fullmatch=True)
                   | st.just("*"))
ints = _word(st.integers(1, 1000).map(str))
ports = _word(st.integers(1, 65535).map(str))
durations = _word(
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 600), st.sampled_from(["ms", "s", "m", "h"]))
    | st.sampled_from(["0.5s", "1.5m", "2.25h"])
)
percents = _word(st.integers(0, 100).map(lambda n: f"{n}%") | st.sampled_from(["0.1%", "12.5%", "99.9%"]))
methods = _word(st.sampled_from(HTTP_METHODS))
protocols = _word(st.sampled_from(["http", "http2", "https", "grpc", "tcp", "tls"]))

# A string literal as written: any character but `"`, `\` and line breaks,
# plus escapes; `#` included, since a `#` inside a string starts no comment.
_string_piece = st.characters(
    blacklist_characters='"\\', blacklist_categories=("Cc", "Cs", "Zl", "Zp")) | st.sampled_from(
    ['\\"', "\\d", "\\.", "#", " "])
strings = _word(st.lists(_string_piece, max_size=12).map(lambda pieces: '"' + "".join(pieces) + '"'))
label_values = _word(
    _words(r"[a-z][a-z0-9]{0,5}")  # bare: printed quoted
    | st.from_regex(r'"([A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?)?"', fullmatch=True)
)


# ---------------------------------------------------------- statements
def _kind(node) -> object:
    """What lower.py allows once per block; other statements may repeat."""
    if isinstance(node, (s.BreakerSetting, s.CorsPart)):
        return (type(node), node.key)
    return _ONCE.get(type(node), id(node))


_ONCE = {
    s.Timeout: "timeout", s.Retry: "retry", s.RetryOff: "retry", s.FaultDelay: "delay", s.FaultAbort: "abort",
    s.Rewrite: "rewrite", s.Cors: "cors", s.When: "when", s.Forward: "action", s.Canary: "action",
    s.BlueGreen: "action", s.CircuitBreaker: "circuit-breaker", s.LbSimple: "lb", s.LbHash: "lb",
    s.Tls: "tls", s.Failover: "failover", s.FailoverPriority: "failover priority", s.Placement: "in",
    s.Local: "local", s.GatewayHosts: "hosts", s.Defaults: "defaults", s.Eject: "eject", s.DnsProxying: "dns",
    s.StepsAt: "steps", s.EveryStep: "steps", s.Down: "down",
}


def _block(statements: st.SearchStrategy, max_size: int = 3) -> st.SearchStrategy[tuple]:
    return _tuple(statements, max_size=max_size, unique_by=_kind)


def _named(name: str, strategy: st.SearchStrategy) -> st.SearchStrategy:
    """`strategy` with the repr `name()`. Hypothesis prints the element
    strategy of a unique list when it retries a draw, and the repr of these
    nested one_ofs runs to 45 kB."""
    def draw(draw_from):
        return draw_from(strategy)

    draw.__name__ = draw.__qualname__ = name
    return st.composite(draw)()


def _leaf(cls, *args: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(cls, st.just(SPAN), *args)


conditions = _named("conditions", st.one_of(
    _leaf(s.HeaderMatch, names, st.sampled_from(["=", "^=", "~"]), strings),
    _leaf(s.HeaderAbsent, names),
    _leaf(s.CookieMatch, names, strings),
    _leaf(s.PathMatch, st.sampled_from(["=", "^=", "~"]), strings),
    _leaf(s.MethodMatch, methods),
    _leaf(s.QueryMatch, names, st.sampled_from(["=", "^=", "~"]), strings),
    _leaf(s.PortMatch, ports),
    _leaf(s.SourceLabel, label_keys, label_values),
    _leaf(s.SourceNamespace, names),
    _leaf(s.SourceCluster, names),
))
disjunctions = _leaf(s.Disjunction, _tuple(_leaf(s.Conjunction, _tuple(conditions, 1, 3)), 1, 2))
targets = _leaf(s.SubsetRef, names) | _leaf(
    s.ServiceRef, names, _optional(names), _optional(names), _optional(ports))

options = _named("options", st.one_of(
    _leaf(s.Timeout, durations),
    _leaf(s.Retry, _word(st.integers(0, 10).map(str)), _optional(durations),
          _tuple(_word(st.sampled_from(_RETRY_CONDITIONS) | st.sampled_from(["503", "429"])), max_size=3)),
    _leaf(s.RetryOff),
    _leaf(s.FaultDelay, durations, percents),
    _leaf(s.FaultAbort, _word(st.integers(200, 599).map(str)), percents),
    _leaf(s.Rewrite, strings),
    _leaf(s.Cors, _tuple(st.one_of(
        _leaf(s.CorsPart, st.just("origins"), _tuple(strings, 1, 2)),
        _leaf(s.CorsPart, st.just("methods"), _tuple(methods, 1, 2)),
        _leaf(s.CorsPart, st.just("headers"), _tuple(names, 1, 2)),
        _leaf(s.CorsPart, st.just("expose-headers"), _tuple(names, 1, 2)),
        _leaf(s.CorsPart, st.just("max-age"), _tuple(durations, 1, 1)),
        _leaf(s.CorsPart, st.just("credentials"), st.just(())),
    ), 1, 3, unique_by=_kind)),
))

_breaker_settings = st.one_of(
    _leaf(s.BreakerSetting, st.sampled_from(
        ["max-connections", "max-pending", "max-requests", "max-requests-per-connection", "max-retries"]), ints),
    _leaf(s.BreakerSetting, st.sampled_from(["connect-timeout", "idle-timeout"]), durations),
    _leaf(s.Eject, ints, _word(st.sampled_from(["5xx", "gateway-errors"])),
          _optional(durations), _optional(durations), _optional(percents)),
)
policies = _named("policies", st.one_of(
    _leaf(s.CircuitBreaker, _block(_breaker_settings)),
    _leaf(s.LbSimple, _word(st.sampled_from(["round-robin", "random", "least-request", "passthrough"]))),
    _leaf(s.LbHash, st.sampled_from(["header", "query"]), names),
    _leaf(s.LbHash, st.just("cookie"), names, _optional(durations)),
    _leaf(s.LbHash, st.just("source-ip")),
    _leaf(s.Tls, _word(st.sampled_from(["istio-mutual", "disable", "simple"]))),
    _leaf(s.Failover, _tuple(_leaf(s.FailoverPair, names, names), 1, 2)),
    _leaf(s.FailoverPriority, _tuple(_leaf(s.PriorityLabel, label_keys, _optional(label_values)), 1, 3)),
    _leaf(s.Distribute, localities, _tuple(_leaf(s.LocalityWeight, localities, percents), 1, 2)),
))

actions = _named("actions", st.one_of(
    _leaf(s.Forward, _tuple(_leaf(s.Destination, targets, _optional(percents | _word(st.just("rest")))), 1, 3)),
    _leaf(s.Canary, names, names, _tuple(percents, 1, 4), _optional(_word(st.integers(0, 4).map(str))),
          _tuple(durations, max_size=3), _tuple(
              _leaf(s.SuccessRateGate, percents)
              | _leaf(s.LatencyGate, _word(st.sampled_from(["p50", "p90", "p99", "p999"])), durations), max_size=2)),
    _leaf(s.BlueGreen, names, names),
))
routes = _named("routes", _leaf(s.Route, names, _block(st.one_of(
    _leaf(s.When, disjunctions),
    actions,
    _leaf(s.Mirror, targets, _optional(percents)),
    options,
    _leaf(s.Override, names, _block(options, 2)),
))))

# `global` is still parsed (to be reported, MESH005) and printed; seldom drawn.
_global = st.sampled_from([None] * 7 + [s.Word(SPAN, "global")])
services = _named("services", _leaf(s.Service, names, _global, _block(st.one_of(
    _leaf(s.Port, ports, protocols, _optional(_block(policies, 2)), _optional(names)),
    _leaf(s.SubsetsBy, label_keys, _tuple(names, 1, 3)),
    _leaf(s.Subset, names, _tuple(_leaf(s.Label, label_keys, label_values) | _leaf(s.SubsetCluster, names),
                                  max_size=2)
          .flatmap(lambda labels: _block(policies, 2).map(lambda policy: labels + policy))),
    routes,
    _leaf(s.Expose, names, hosts, _optional(ports), _optional(disjunctions)),
    _leaf(s.Placement, _tuple(names, 1, 3)),
    _leaf(s.Local),
    options,
    policies,
    _leaf(s.Override, names, _block(options | policies, 3)),
), 4)))

_gateway_servers = _leaf(s.GatewayServer, st.just("https"), _optional(ports), names) | _leaf(
    s.GatewayServer, st.just("http"), _optional(ports))
namespaces = _named("namespaces", _leaf(s.Namespace, names, _block(st.one_of(
    _leaf(s.Mtls, _word(st.sampled_from(["strict", "permissive", "disable"])), _optional(names)),
    _leaf(s.Allow, names,
          _optional(_leaf(s.AllowFrom, st.just("principal"), _tuple(strings, 1, 2))
                    | _leaf(s.AllowFrom, st.just("namespace"), _tuple(names, 1, 2))),
          _optional(_leaf(s.AllowTo, _tuple(methods, 1, 2), _tuple(strings, max_size=2))
                    | _leaf(s.AllowTo, st.just(()), _tuple(strings, 1, 2)))),
    _leaf(s.Defaults, _block(policies, 3)),
    services,
    _leaf(s.Gateway, names, _block(st.one_of(
        _leaf(s.GatewayHosts, _tuple(hosts, 1, 2)),
        _gateway_servers,
        _leaf(s.RedirectHttp),
        _leaf(s.GatewaySelector, label_keys, label_values),
        _leaf(s.GatewayHost, hosts, _block(routes | options)),
    ))),
    _leaf(s.External, _tuple(hosts, 1, 2), _tuple(_leaf(s.PortDecl, ports, protocols), 1, 2)),
))))

_cluster_attrs = st.one_of(
    _leaf(s.ClusterAttr, st.sampled_from(["region", "zone", "network"]), names),
    _leaf(s.ClusterAttr, st.just("gateway"),
          _word(st.builds("10.0.{}.{}".format, st.integers(0, 255), st.integers(1, 254)))),
    _leaf(s.ClusterAttr, st.just("istio"), _word(st.sampled_from(ISTIO_VERSIONS))),
    _leaf(s.ClusterAttr, st.just("remote"), names),
)
_clusters = _leaf(s.Cluster, names, _tuple(_cluster_attrs, max_size=5, unique_by=lambda a: a.key))
fleets = _named("fleets", _leaf(s.Fleet, names, _block(_clusters | _leaf(s.DnsProxying))))

# Policy tests. A request's `with` draws any condition (a match, not a
# value, is MESH801: the printed tree still parses and formats).
_expectations = st.one_of(
    _leaf(s.Forward, _tuple(_leaf(s.Destination, targets, _optional(percents | _word(st.just("rest")))), 1, 3)),
    _leaf(s.ExpectRoute, names),
    _leaf(s.ExpectStatus, _word(st.integers(200, 599).map(str))),
    _leaf(s.Mirror, targets, _optional(percents)),
    _leaf(s.ExpectServed, _tuple(names, 1, 3)),
    options,
    policies,
)
policy_tests = _named("policy_tests", _leaf(s.PolicyTest, names, _block(st.one_of(
    _leaf(s.PolicyRequest, _leaf(s.RequestService, names, _optional(names))
          | _leaf(s.RequestHost, hosts, _optional(names)), _optional(_leaf(s.Conjunction, _tuple(conditions, 1, 3)))),
    _leaf(s.StepsAt, _tuple(_word(st.integers(0, 5).map(str)), 1, 3)),
    _leaf(s.EveryStep),
    _leaf(s.Down, _tuple(names, 1, 2)),
    _leaf(s.Expect, _expectations),
), 4)))

# One fleet at most, as lowering allows.
files = st.builds(
    lambda fleet, spaces, tests: s.File(SPAN, PATH, (() if fleet is None else (fleet,)) + spaces + tests),
    _optional(fleets), _tuple(namespaces, max_size=2), _tuple(policy_tests, max_size=1),
)


# ------------------------------------------------------------ sources
comments = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=15).map(
    lambda body: "#" + body)


@st.composite
def sources(draw) -> tuple[s.File, str]:
    """A random tree, printed and then disturbed the way people write:
    statements broken across lines, lines re-indented, blank lines and
    trailing spaces added, comments on their own lines, after code and
    inside statements, `\\r\\n` line endings."""
    tree = draw(files)
    lines = []
    for line in print_tree(tree).split("\n")[:-1]:
        lines.extend(draw(_extra_lines))
        for piece in _broken(draw, line.strip()):
            trailing = draw(comments) if draw(st.integers(0, 3)) == 0 else ""
            gap = " " * draw(st.integers(0, 3))  # none at all is valid too: `timeout 5s#note`
            lines.append(" " * draw(st.integers(0, 6)) + piece + (gap + trailing if trailing else ""))
    lines.extend(draw(_extra_lines))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return tree, newline.join(lines) + draw(st.sampled_from(["", newline]))


# Mostly nothing; sometimes an own-line comment or a blank (or blank-looking) line.
_extra_lines = st.lists(
    st.sampled_from(["", "  "]) | st.builds(lambda indent, text: " " * indent + text, st.integers(0, 6), comments),
    max_size=2,
)


# Statements holding a list of names, which ends at the end of its line.
_LISTS = re.compile(r"(^|[ {])(subsets by|in|hosts|external|cors|from namespace|failover priority|at|down|served by) ")


def _broken(draw, code: str) -> list[str]:
    """`code` cut into lines at up to two of its token boundaries (never
    inside a list of names)."""
    points = [] if _LISTS.search(code) else _token_boundaries(code)
    cuts = sorted(draw(st.sets(st.sampled_from(points), max_size=2))) if points else []
    bounds = [-1, *cuts, len(code)]
    return [code[a + 1 : b] for a, b in zip(bounds, bounds[1:])]


def _token_boundaries(code: str) -> list[int]:
    """Offsets of the spaces between tokens: outside string literals, and
    not within `on NAME {`, which the lexer recognises only on one line."""
    points, in_string, escaped = [], False, False
    for i, ch in enumerate(code):
        if escaped:
            escaped = False
        elif in_string:
            escaped = ch == "\\"
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch == " ":
            points.append(i)
    return points[2:] if code.startswith("on ") else points
