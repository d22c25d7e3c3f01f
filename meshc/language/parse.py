"""Source text → syntax tree (syntax.py), with syntax errors as diagnostics.

A text that parses goes through lalr.py's driver, which runs the LALR tables
taken from Lark's in one loop. A text that does not is parsed again by Lark
(LALR, contextual lexer), whose failure `syntax_error` words: Lark's own
text (token names, `$END`) never reaches users. Either way the builder
below makes the syntax nodes as the parser reduces, and does nothing else.
Lark is imported only for a syntax error (and by the language server).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import TYPE_CHECKING, Optional

from meshc.diagnostics import Diagnostic
from meshc.language import lalr, tables
from meshc.language import syntax as s
from meshc.language.source import SourceFile, Span

if TYPE_CHECKING:
    from lark import Lark, Token


@functools.lru_cache(maxsize=None)
def parser() -> Lark:
    """Lark's parser, with the syntax-tree builder applied as it parses (no
    intermediate Lark tree: that halves the cost of parsing). Its LALR
    tables come with the package (tables.py)."""
    return tables.load(tables.grammar_text(), _Build())


@functools.lru_cache(maxsize=None)
def _driver() -> Optional[lalr.Driver]:
    return lalr.load(tables.package_text, tables.grammar_digest(), _Build.builds)


def parse(source: SourceFile) -> tuple[Optional[s.File], list[Diagnostic]]:
    """Parse one file; on a syntax error return no tree and one diagnostic."""
    driver = _driver()
    if driver is not None:
        builder = _Build(source.path)
        try:
            file = driver.parse(source.text, source.path, builder)
        except lalr.Reject:
            pass
        else:
            if builder.stray is not None:
                return None, [_stray(source, builder.stray)]
            return s.File(file.span, source.path, file.items, _comments(source.path, source.text)), []
    return _parse_with_lark(source)


def _parse_with_lark(source: SourceFile) -> tuple[Optional[s.File], list[Diagnostic]]:
    from lark.exceptions import UnexpectedInput

    from meshc.language.syntax_errors import syntax_error

    lark = parser()
    # The builder is shared by the cached parser; it learns which file it is
    # building for here (parsing is single-threaded).
    builder = lark.options.transformer
    builder.path = source.path
    builder.stray = None
    if not builder.anonymous:
        builder.anonymous = tables.anonymous_terminals(tables.grammar_text(), lark.terminals)
    try:
        file = lark.parse(source.text)
    except UnexpectedInput as err:
        return None, [syntax_error(lark, source, err)]
    if builder.stray is not None:
        return None, [_stray(source, builder.stray)]
    return s.File(file.span, source.path, file.items, _comments(source.path, source.text)), []


def _stray(source: SourceFile, stray: tuple[s.Word, Span]) -> Diagnostic:
    from meshc.language.syntax_errors import list_ends_at_line_end

    return list_ends_at_line_end(parser(), source, *stray)


# A string literal (possibly unterminated at the end of its line) or a comment.
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"?|#[^\n]*')


def _comments(path: str, text: str) -> tuple[s.Comment, ...]:
    """`#` comments outside string literals, with their spans.

    A `#` can only start a comment or sit inside a string, so a scan that
    skips strings finds exactly the COMMENT tokens the lexer ignored; Lark's
    lexer callbacks would tie the shared, cached parser to one output list.
    """
    found = []
    line, line_start, counted = 1, 0, 0
    for m in _STRING_OR_COMMENT.finditer(text):
        if m.group().startswith('"'):
            continue
        start = m.start()
        newlines = text.count("\n", counted, start)
        if newlines:
            line += newlines
            line_start = text.rindex("\n", counted, start) + 1
        counted = start
        body = m.group().rstrip("\r")
        column = start - line_start + 1
        found.append(s.Comment(Span(path, line, column, line, column + len(body), start, start + len(body)), body))
    return tuple(found)


def _token_span(path: str, tok: Token) -> Span:
    return Span(path, tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


class _Group(tuple):
    """The values of a rule that returns several (`{ policy... }`, `pause D...`),
    with the span of the whole clause so that enclosing spans reach its `}`."""

    span: Span


def _group(span: Span, items) -> _Group:
    group = _Group(items)
    group.span = span
    return group


def _bounds(path: str, children: list) -> Span:
    """From the first to the last positioned child (a token, or anything
    with a span); rules with no children get an empty span at the start.
    (Lark's tokens are the only strings among the children.)"""
    for first in children:
        if first is not None:
            break
    else:
        return Span(path, 1, 1, 1, 1, 0, 0)
    for last in reversed(children):
        if last is not None:
            break
    if isinstance(first, str):
        line, column, start = first.line, first.column, first.start_pos
    else:
        _, line, column, _, _, start, _ = first.span
    if isinstance(last, str):
        end_line, end_column, end = last.end_line, last.end_column, last.end_pos
    else:
        _, _, _, end_line, end_column, _, end = last.span
    return Span(path, line, column, end_line, end_column, start, end)


def _reduces(build):
    """Turn `build(self, span, values)` into the callback Lark calls with a
    rule's children: keywords and punctuation (anonymous tokens) only give
    the span; value tokens become Words."""

    def callback(self, children):
        path, anonymous = self.path, self.anonymous
        values = [
            s.Word(_token_span(path, x), str(x)) if isinstance(x, str) else x
            for x in children
            if not (isinstance(x, str) and x.type in anonymous)
        ]
        return build(self, _bounds(path, children), values)

    callback.__name__ = build.__name__
    return callback


def _callbacks(cls):
    """Keep every rule method (public, not `word`) as it is written in
    `builds`, for lalr.py, and give Lark the method through `_reduces`."""
    cls.builds = {}
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_") and name != "word":
            cls.builds[name] = value
            setattr(cls, name, _reduces(value))
    return cls


@_callbacks
class _Build:
    """Reductions → syntax nodes, as the parser goes. Positions only; no
    checks (see lower.py). Lark calls it as a Transformer (duck-typed, so
    that defining it does not import Lark)."""

    builds: dict
    anonymous: frozenset = frozenset()
    # The first list item found on a later line than its list's keyword,
    # with that keyword's span: lists of names end at the end of their line,
    # so such a word is a misspelled statement, never a name.
    stray: Optional[tuple[s.Word, Span]] = None

    def __init__(self, path: str = "<input>") -> None:
        self.path = path

    def _one_line(self, span: Span, words) -> None:
        if self.stray is None:
            for word in words:
                if isinstance(word, s.Word) and word.span.line != span.line:
                    self.stray = (word, span)
                    return

    def word(self, tok: Token) -> s.Word:
        return s.Word(_token_span(self.path, tok), str(tok))

    def __default__(self, data, children, meta):
        """An inlined rule (`_name`): Lark puts its children in its parent's."""
        from lark import Tree

        return Tree(data, children, meta)

    # ---------------------------------------------------------- top level
    def start(self, span, items):
        return s.File(span, self.path, tuple(items))

    def fleet(self, span, c):
        return s.Fleet(span, c[0], tuple(c[1:]))

    def dns_proxying(self, span, c):
        return s.DnsProxying(span)

    def cluster_label(self, span, c):
        return s.ClusterLabel(span, c[0])

    def cluster(self, span, c):
        return s.Cluster(span, c[0], tuple(c[1:]))

    def _attr(key):  # noqa: N805 - a factory used in the class body
        def build(self, span, c):
            return s.ClusterAttr(span, key, c[0])
        return build

    region = _attr("region")
    zone = _attr("zone")
    network = _attr("network")
    cluster_gateway = _attr("gateway")
    istio_version = _attr("istio")
    remote_of = _attr("remote")

    def namespace(self, span, c):
        return s.Namespace(span, c[0], tuple(c[1:]))

    def mtls(self, span, c):
        return s.Mtls(span, c[0], c[1])

    def _value(self, span, c):
        """An optional clause (`for NAME`, `port N`, `per-try D`, ...): its value."""
        return c[0]

    mtls_for = port_clause = expose_when = ref_namespace = ref_subset = per_try = port_name = _value
    eject_interval = eject_time = eject_max = cookie_ttl = _value

    def allow(self, span, c):
        return s.Allow(span, c[0], c[1], c[2])

    def from_principals(self, span, c):
        return s.AllowFrom(span, "principal", tuple(c))

    def from_namespaces(self, span, c):
        self._one_line(span, c)
        return s.AllowFrom(span, "namespace", tuple(c))

    def allow_to(self, span, c):
        methods = tuple(w for w in c if not w.text.startswith('"'))
        paths = tuple(w for w in c if w.text.startswith('"'))
        return s.AllowTo(span, methods, paths)

    def defaults(self, span, c):
        return s.Defaults(span, tuple(c))

    def gateway(self, span, c):
        return s.Gateway(span, c[0], tuple(c[1:]))

    def gateway_hosts(self, span, c):
        self._one_line(span, c)
        return s.GatewayHosts(span, tuple(c))

    def gateway_https(self, span, c):
        return s.GatewayServer(span, "https", c[0], c[1])

    def gateway_http(self, span, c):
        return s.GatewayServer(span, "http", c[0], None)

    def redirect_http(self, span, c):
        return s.RedirectHttp(span)

    def gateway_selector(self, span, c):
        return s.GatewaySelector(span, c[0], c[1])

    def gateway_host(self, span, c):
        return s.GatewayHost(span, c[0], tuple(c[1:]))

    def external(self, span, c):
        hosts = tuple(x for x in c if isinstance(x, s.Word))
        self._one_line(span, hosts)
        ports = tuple(x for x in c if isinstance(x, s.PortDecl))
        return s.External(span, hosts, ports)

    def port_decl(self, span, c):
        return s.PortDecl(span, c[0], c[1])

    # ------------------------------------------------------------ service
    def service(self, span, c):
        return s.Service(span, c[0], c[1], tuple(c[2:]))

    def port(self, span, c):
        return s.Port(span, c[0], c[1], c[3], c[2])

    def port_policy(self, span, c):
        return _group(span, c)

    def subsets_by(self, span, c):
        self._one_line(span, c[1:])
        return s.SubsetsBy(span, c[0], tuple(c[1:]))

    def subset(self, span, c):
        return s.Subset(span, c[0], tuple(c[1:]))

    def label(self, span, c):
        return s.Label(span, c[0], c[1])

    def subset_cluster(self, span, c):
        return s.SubsetCluster(span, c[0])

    def placement(self, span, c):
        self._one_line(span, c)
        return s.Placement(span, tuple(c))

    def local(self, span, c):
        return s.Local(span)

    def expose_port(self, span, c):
        return c[1]

    def expose(self, span, c):
        return s.Expose(span, c[0], c[1], c[2], c[3])

    def override(self, span, c):
        return s.Override(span, c[1], tuple(c[2:]))

    route_override = override

    # ------------------------------------------------------------- routes
    def route(self, span, c):
        return s.Route(span, c[0], tuple(c[1:]))

    def when(self, span, c):
        return s.When(span, c[0])

    def disjunction(self, span, c):
        return s.Disjunction(span, tuple(c))

    def conjunction(self, span, c):
        return s.Conjunction(span, tuple(c))

    def header_match(self, span, c):
        return s.HeaderMatch(span, c[0], c[1].text, c[2])

    def header_absent(self, span, c):
        return s.HeaderAbsent(span, c[0])

    def cookie_match(self, span, c):
        return s.CookieMatch(span, c[0], c[1])

    def path_match(self, span, c):
        return s.PathMatch(span, c[0].text, c[1])

    def method_match(self, span, c):
        return s.MethodMatch(span, c[0])

    def query_match(self, span, c):
        return s.QueryMatch(span, c[0], c[1].text, c[2])

    def port_match(self, span, c):
        return s.PortMatch(span, c[0])

    def source_label(self, span, c):
        return s.SourceLabel(span, c[0], c[1])

    def source_namespace(self, span, c):
        return s.SourceNamespace(span, c[0])

    def source_cluster(self, span, c):
        return s.SourceCluster(span, c[0])

    def forward(self, span, c):
        return s.Forward(span, tuple(c))

    def destination(self, span, c):
        return s.Destination(span, c[0], c[1])

    def subset_ref(self, span, c):
        return s.SubsetRef(span, c[0])

    def service_ref(self, span, c):
        return s.ServiceRef(span, c[0], c[1], c[2], c[3])

    def canary(self, span, c):
        waves = tuple(x for x in c if isinstance(x, s.Wave))
        baseline, candidate, *steps, at, pauses, gates = c[: len(c) - len(waves)]
        return s.Canary(span, baseline, candidate, tuple(steps), at, pauses or (), gates or (), waves)

    def canary_wave(self, span, c):
        *clusters, after, at = c
        self._one_line(span, clusters)
        return s.Wave(span, tuple(clusters), after, at)

    def wave_after(self, span, c):
        return c[0]

    def canary_at(self, span, c):
        return c[0]

    def canary_pause(self, span, c):
        return _group(span, c)

    def canary_analysis(self, span, c):
        return _group(span, c)

    def success_rate_gate(self, span, c):
        return s.SuccessRateGate(span, c[0])

    def latency_gate(self, span, c):
        return s.LatencyGate(span, c[0], c[1])

    def blue_green(self, span, c):
        return s.BlueGreen(span, c[0], c[1])

    def mirror(self, span, c):
        return s.Mirror(span, c[0], c[1])

    # ------------------------------------------------------------ options
    def timeout(self, span, c):
        return s.Timeout(span, c[0])

    def retry(self, span, c):
        return s.Retry(span, c[0], c[1], c[2] or ())

    def retry_on(self, span, c):
        return _group(span, c)

    def retry_off(self, span, c):
        return s.RetryOff(span)

    def fault_delay(self, span, c):
        return s.FaultDelay(span, c[0], c[1])

    def fault_abort(self, span, c):
        return s.FaultAbort(span, c[0], c[1])

    def rewrite(self, span, c):
        return s.Rewrite(span, c[0])

    def cors(self, span, c):
        return s.Cors(span, tuple(c))

    def _cors(key):  # noqa: N805 - a factory used in the class body
        def build(self, span, c):
            if key in ("headers", "expose-headers"):
                self._one_line(span, c)
            return s.CorsPart(span, key, tuple(c))
        return build

    cors_origins = _cors("origins")
    cors_methods = _cors("methods")
    cors_headers = _cors("headers")
    cors_expose = _cors("expose-headers")
    cors_max_age = _cors("max-age")
    cors_credentials = _cors("credentials")

    # ------------------------------------------------------------- policy
    def circuit_breaker(self, span, c):
        return s.CircuitBreaker(span, tuple(c))

    def _setting(key):  # noqa: N805 - a factory used in the class body
        def build(self, span, c):
            return s.BreakerSetting(span, key, c[0])
        return build

    max_connections = _setting("max-connections")
    connect_timeout = _setting("connect-timeout")
    max_pending = _setting("max-pending")
    max_requests = _setting("max-requests")
    max_requests_per_connection = _setting("max-requests-per-connection")
    max_retries = _setting("max-retries")
    idle_timeout = _setting("idle-timeout")

    def eject(self, span, c):
        return s.Eject(span, *c)

    def lb_simple(self, span, c):
        return s.LbSimple(span, c[0])

    def lb_hash(self, span, c):
        return dataclasses.replace(c[0], span=span)

    def hash_header(self, span, c):
        return s.LbHash(span, "header", c[0])

    def hash_cookie(self, span, c):
        return s.LbHash(span, "cookie", c[0], c[1])

    def hash_source_ip(self, span, c):
        return s.LbHash(span, "source-ip")

    def hash_query(self, span, c):
        return s.LbHash(span, "query", c[0])

    def tls(self, span, c):
        return s.Tls(span, c[0])

    def failover(self, span, c):
        return s.Failover(span, tuple(c))

    def failover_pair(self, span, c):
        return s.FailoverPair(span, c[0], c[1])

    def failover_priority(self, span, c):
        self._one_line(span, [label.key for label in c])
        return s.FailoverPriority(span, tuple(c))

    def priority_label(self, span, c):
        return s.PriorityLabel(span, c[0], c[1])

    def priority_value(self, span, c):
        return c[0]

    def distribute(self, span, c):
        return s.Distribute(span, c[0], tuple(c[1:]))

    def locality_weight(self, span, c):
        return s.LocalityWeight(span, c[0], c[1])

    # -------------------------------------------------------------- tests
    def test(self, span, c):
        return s.PolicyTest(span, c[0], tuple(c[1:]))

    def test_request(self, span, c):
        return s.PolicyRequest(span, c[0], c[1])

    def request_service(self, span, c):
        return s.RequestService(span, c[0], c[1])

    def request_host(self, span, c):
        return s.RequestHost(span, c[0], c[1])

    request_via = request_with = _value

    def test_at(self, span, c):
        self._one_line(span, c)
        return s.StepsAt(span, tuple(c))

    def every_step(self, span, c):
        return s.EveryStep(span)

    def test_down(self, span, c):
        self._one_line(span, c)
        return s.Down(span, tuple(c))

    def expect(self, span, c):
        return s.Expect(span, c[0])

    def expect_route(self, span, c):
        return s.ExpectRoute(span, c[0])

    def expect_status(self, span, c):
        return s.ExpectStatus(span, c[0])

    def expect_served(self, span, c):
        self._one_line(span, c)
        return s.ExpectServed(span, tuple(c))

    del _attr, _cors, _setting
