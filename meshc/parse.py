"""Source text → syntax tree (syntax.py), with syntax errors as diagnostics.

Lark parses (LALR, contextual lexer); a Transformer builds the syntax nodes
and does nothing else. Lark's own error text (token names, `$END`) never
reaches users: `syntax_error` words every failure.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Optional

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput

from . import syntax as s
from .diagnostics import Diagnostic
from .source import SourceFile, Span
from .syntax_errors import syntax_error


@functools.lru_cache(maxsize=None)
def parser() -> Lark:
    grammar = resources.files("meshc.grammar").joinpath("mesh.lark").read_text(encoding="utf-8")
    # cache=True keeps the LALR tables in the temp directory, keyed by the
    # grammar's hash: building them costs more than the rest of `meshc check`.
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse(source: SourceFile) -> tuple[Optional[s.File], list[Diagnostic]]:
    """Parse one file; on a syntax error return no tree and one diagnostic."""
    try:
        tree = parser().parse(source.text)
    except UnexpectedInput as err:
        return None, [syntax_error(parser(), source, err)]
    file = _Build(source.path).transform(tree)
    comments = tuple(s.Comment(_token_span(source.path, c), str(c)) for c in _comments(source.text))
    return s.File(file.span, file.path, file.items, comments), []


def _comments(text: str) -> list[Token]:
    """`#` comments outside string literals, as tokens with positions.

    A `#` can only start a comment or sit inside a string, so a scan that
    skips strings finds exactly the COMMENT tokens the lexer ignored; Lark's
    lexer callbacks would tie the shared, cached parser to one output list.
    """
    found = []
    line, col, i, n = 1, 1, 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            if ch == "\\" and i + 1 < n and text[i + 1] != "\n":
                i += 2
                col += 2
                continue
            if ch == '"' or ch == "\n":
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            tok = Token("COMMENT", text[i:end].rstrip("\r"), i, line, col)
            tok.end_line, tok.end_column, tok.end_pos = line, col + (end - i), end
            found.append(tok)
            col += end - i
            i = end
            continue
        if ch == "\n":
            line += 1
            col = 1
        else:
            col += 1
        i += 1
    return found


def _token_span(path: str, tok: Token) -> Span:
    return Span(path, tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


def _meta_span(path: str, meta) -> Span:
    return Span(path, meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)


@v_args(meta=True)
class _Build(Transformer):
    """Lark tree → syntax nodes. Positions only; no checks (see lower.py)."""

    def __init__(self, path: str):
        super().__init__(visit_tokens=True)
        self.path = path

    def __default_token__(self, tok: Token) -> s.Word:
        return s.Word(_token_span(self.path, tok), str(tok))

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.path, 1, 1, 1, 1, 0, 0)
        return _meta_span(self.path, meta)

    # ---------------------------------------------------------- top level
    def start(self, meta, items):
        return s.File(self._span(meta), self.path, tuple(items))

    def fleet(self, meta, c):
        return s.Fleet(self._span(meta), c[0], tuple(c[1:]))

    def cluster(self, meta, c):
        return s.Cluster(self._span(meta), c[0], tuple(c[1:]))

    def _attr(key):  # noqa: N805 - a factory used in the class body
        def build(self, meta, c):
            return s.ClusterAttr(self._span(meta), key, c[0])
        return build

    region = _attr("region")
    zone = _attr("zone")
    network = _attr("network")
    cluster_gateway = _attr("gateway")
    istio_version = _attr("istio")

    def namespace(self, meta, c):
        return s.Namespace(self._span(meta), c[0], tuple(c[1:]))

    def mtls(self, meta, c):
        return s.Mtls(self._span(meta), c[0], c[1])

    def allow(self, meta, c):
        return s.Allow(self._span(meta), c[0], c[1], c[2])

    def from_principals(self, meta, c):
        return s.AllowFrom(self._span(meta), "principal", tuple(c))

    def from_namespaces(self, meta, c):
        return s.AllowFrom(self._span(meta), "namespace", tuple(c))

    def allow_to(self, meta, c):
        methods = tuple(w for w in c if not w.text.startswith('"'))
        paths = tuple(w for w in c if w.text.startswith('"'))
        return s.AllowTo(self._span(meta), methods, paths)

    def defaults(self, meta, c):
        return s.Defaults(self._span(meta), tuple(c))

    def gateway(self, meta, c):
        return s.Gateway(self._span(meta), c[0], tuple(c[1:]))

    def gateway_hosts(self, meta, c):
        return s.GatewayHosts(self._span(meta), tuple(c))

    def gateway_https(self, meta, c):
        return s.GatewayServer(self._span(meta), "https", c[0], c[1])

    def gateway_http(self, meta, c):
        return s.GatewayServer(self._span(meta), "http", c[0], None)

    def redirect_http(self, meta, c):
        return s.RedirectHttp(self._span(meta))

    def gateway_selector(self, meta, c):
        return s.GatewaySelector(self._span(meta), c[0], c[1])

    def external(self, meta, c):
        hosts = tuple(x for x in c if isinstance(x, s.Word))
        ports = tuple(x for x in c if isinstance(x, s.PortDecl))
        return s.External(self._span(meta), hosts, ports)

    def port_decl(self, meta, c):
        return s.PortDecl(self._span(meta), c[0], c[1])

    # ------------------------------------------------------------ service
    def service(self, meta, c):
        return s.Service(self._span(meta), c[0], c[1] is not None, tuple(c[2:]))

    def port(self, meta, c):
        return s.Port(self._span(meta), c[0], c[1], c[2])

    def port_policy(self, meta, c):
        return tuple(c)

    def subsets_by(self, meta, c):
        return s.SubsetsBy(self._span(meta), c[0], tuple(c[1:]))

    def subset(self, meta, c):
        return s.Subset(self._span(meta), c[0], tuple(c[1:]))

    def label(self, meta, c):
        return s.Label(self._span(meta), c[0], c[1])

    def placement(self, meta, c):
        return s.Placement(self._span(meta), tuple(c))

    def expose(self, meta, c):
        return s.Expose(self._span(meta), c[0], c[1], c[2])

    def override(self, meta, c):
        return s.Override(self._span(meta), c[1], tuple(c[2:]))

    route_override = override

    # ------------------------------------------------------------- routes
    def route(self, meta, c):
        return s.Route(self._span(meta), c[0], tuple(c[1:]))

    def when(self, meta, c):
        return s.When(self._span(meta), c[0])

    def disjunction(self, meta, c):
        return s.Disjunction(self._span(meta), tuple(c))

    def conjunction(self, meta, c):
        return s.Conjunction(self._span(meta), tuple(c))

    def header_match(self, meta, c):
        return s.HeaderMatch(self._span(meta), c[0], c[1].text, c[2])

    def header_absent(self, meta, c):
        return s.HeaderAbsent(self._span(meta), c[0])

    def cookie_match(self, meta, c):
        return s.CookieMatch(self._span(meta), c[0], c[1])

    def path_match(self, meta, c):
        return s.PathMatch(self._span(meta), c[0].text, c[1])

    def method_match(self, meta, c):
        return s.MethodMatch(self._span(meta), c[0])

    def query_match(self, meta, c):
        return s.QueryMatch(self._span(meta), c[0], c[1].text, c[2])

    def port_match(self, meta, c):
        return s.PortMatch(self._span(meta), c[0])

    def source_label(self, meta, c):
        return s.SourceLabel(self._span(meta), c[0], c[1])

    def source_namespace(self, meta, c):
        return s.SourceNamespace(self._span(meta), c[0])

    def forward(self, meta, c):
        return s.Forward(self._span(meta), tuple(c))

    def destination(self, meta, c):
        return s.Destination(self._span(meta), c[0], c[1])

    def subset_ref(self, meta, c):
        return s.SubsetRef(self._span(meta), c[0])

    def service_ref(self, meta, c):
        return s.ServiceRef(self._span(meta), c[0], c[1], c[2], c[3])

    def canary(self, meta, c):
        baseline, candidate, *steps, at, pauses, gates = c
        return s.Canary(self._span(meta), baseline, candidate, tuple(steps), at, pauses or (), gates or ())

    def canary_at(self, meta, c):
        return c[0]

    def canary_pause(self, meta, c):
        return tuple(c)

    def canary_analysis(self, meta, c):
        return tuple(c)

    def success_rate_gate(self, meta, c):
        return s.SuccessRateGate(self._span(meta), c[0])

    def latency_gate(self, meta, c):
        return s.LatencyGate(self._span(meta), c[0], c[1])

    def blue_green(self, meta, c):
        return s.BlueGreen(self._span(meta), c[0], c[1])

    def mirror(self, meta, c):
        return s.Mirror(self._span(meta), c[0], c[1])

    # ------------------------------------------------------------ options
    def timeout(self, meta, c):
        return s.Timeout(self._span(meta), c[0])

    def retry(self, meta, c):
        return s.Retry(self._span(meta), c[0], c[1], c[2] or ())

    def retry_on(self, meta, c):
        return tuple(c)

    def retry_off(self, meta, c):
        return s.RetryOff(self._span(meta))

    def fault_delay(self, meta, c):
        return s.FaultDelay(self._span(meta), c[0], c[1])

    def fault_abort(self, meta, c):
        return s.FaultAbort(self._span(meta), c[0], c[1])

    def rewrite(self, meta, c):
        return s.Rewrite(self._span(meta), c[0])

    def cors(self, meta, c):
        return s.Cors(self._span(meta), tuple(c))

    def _cors(key):  # noqa: N805 - a factory used in the class body
        def build(self, meta, c):
            return s.CorsPart(self._span(meta), key, tuple(c))
        return build

    cors_origins = _cors("origins")
    cors_methods = _cors("methods")
    cors_headers = _cors("headers")
    cors_expose = _cors("expose-headers")
    cors_max_age = _cors("max-age")
    cors_credentials = _cors("credentials")

    # ------------------------------------------------------------- policy
    def circuit_breaker(self, meta, c):
        return s.CircuitBreaker(self._span(meta), tuple(c))

    def _setting(key):  # noqa: N805 - a factory used in the class body
        def build(self, meta, c):
            return s.BreakerSetting(self._span(meta), key, c[0])
        return build

    max_connections = _setting("max-connections")
    connect_timeout = _setting("connect-timeout")
    max_pending = _setting("max-pending")
    max_requests = _setting("max-requests")
    max_requests_per_connection = _setting("max-requests-per-connection")
    max_retries = _setting("max-retries")
    idle_timeout = _setting("idle-timeout")

    def eject(self, meta, c):
        return s.Eject(self._span(meta), *c)

    def lb_simple(self, meta, c):
        return s.LbSimple(self._span(meta), c[0])

    def lb_hash(self, meta, c):
        return c[0]

    def hash_header(self, meta, c):
        return s.LbHash(self._span(meta), "header", c[0])

    def hash_cookie(self, meta, c):
        return s.LbHash(self._span(meta), "cookie", c[0], c[1])

    def hash_source_ip(self, meta, c):
        return s.LbHash(self._span(meta), "source-ip")

    def hash_query(self, meta, c):
        return s.LbHash(self._span(meta), "query", c[0])

    def tls(self, meta, c):
        return s.Tls(self._span(meta), c[0])

    def failover(self, meta, c):
        return s.Failover(self._span(meta), tuple(c))

    def failover_pair(self, meta, c):
        return s.FailoverPair(self._span(meta), c[0], c[1])

    def distribute(self, meta, c):
        return s.Distribute(self._span(meta), c[0], tuple(c[1:]))

    def locality_weight(self, meta, c):
        return s.LocalityWeight(self._span(meta), c[0], c[1])

    del _attr, _cors, _setting
