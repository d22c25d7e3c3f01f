"""`when` conditions as tests on a request, read from docs/language.md
("Matching (`when`)").

- header, query: exact, string prefix or RE2 full match of the value; a
  missing header or parameter fails every test but `absent`;
- cookie `NAME = "v"`: the docs' regex `(.*;\\s*)?NAME=v(\\s*;.*)?` on the
  `cookie` header, full match: exactly that cookie anywhere in the header;
- path: tested on the path without its query string;
- query: the first occurrence of the parameter, its value as sent (no
  percent-decoding), `""` for a parameter without `=`;
- `port`, `source`, `from namespace`: the port dialled and the calling
  workload; a request arriving at a gateway never satisfies them (MESH318);
- `from cluster C`: the calling proxy runs in cluster C ("Matching",
  `sourceLabels: {topology.istio.io/cluster: C}`). A gateway's pod runs in a
  cluster too, and MESH318 does not list `from cluster`, so there it holds
  when the gateway runs in C. In the mesh `source
  topology.istio.io/cluster = "C"` is the same test: Istio sets that label
  on every proxy ("Fleet"), over whatever the pod declares; at a gateway it
  is a `source` condition, left out like the others ("Gateways and
  exposure").

The request's `source_cluster` is always set here (the interpreter fills in
its own cluster for a request without one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import re2

from meshc.language import ir
from meshc.language.source import Span
from meshc.semantics.request import Request

_RE2 = re2.Options()
_RE2.log_errors = False

# Where a condition was written: a route's `when`, an exposure's `when`, the
# header blue-green adds to the preview entry, or the `from cluster` match a
# `local` service adds to the routes it renders once per served cluster.
ROUTE, EXPOSURE, PREVIEW, LOCAL = "route", "exposure", "preview", "local"


@dataclass(frozen=True)
class Condition:
    """One condition: how it reads, where it was written, and its test
    (`test(request, at_gateway)`). `proxy` conditions (`port`, `source`,
    `from namespace`, `from cluster`) are about the calling proxy, not the
    request: Istio programs a proxy without the alternatives they rule out
    ("Routes": such a client may not be covered by the VirtualService)."""

    text: str
    span: Optional[Span]
    origin: str
    test: Callable[[Request, bool], bool] = field(repr=False, compare=False)
    path: Optional[ir.StringMatch] = None  # the path match, which a rewrite replaces
    proxy: bool = False

    def holds(self, request: Request, at_gateway: bool) -> bool:
        return self.test(request, at_gateway)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_OPS = {"exact": "=", "prefix": "^=", "regex": "~"}


def string_test(match: ir.StringMatch) -> Callable[[Optional[str]], bool]:
    value = match.value
    if match.op == "exact":
        return lambda got: got is not None and got == value
    if match.op == "prefix":
        return lambda got: got is not None and got.startswith(value)
    pattern = re2.compile(value, _RE2)
    return lambda got: got is not None and pattern.fullmatch(got) is not None


def query_value(request: Request, name: str) -> Optional[str]:
    _, _, query = request.path.partition("?")
    for part in query.split("#", 1)[0].split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def _mesh_only(test: Callable[[Request], bool]) -> Callable[[Request, bool], bool]:
    return lambda request, at_gateway: not at_gateway and test(request)


def compile_condition(c: ir.Node, origin: str) -> Condition:
    """The test for one IR condition."""
    if isinstance(c, ir.HeaderCondition):
        test = string_test(c.match)
        name = c.name
        return Condition(f"header {name} {_OPS[c.match.op]} {quote(c.match.value)}", c.span, origin,
                         lambda r, g: test(r.header(name)))
    if isinstance(c, ir.HeaderAbsentCondition):
        name = c.name
        return Condition(f"header {name} absent", c.span, origin, lambda r, g: r.header(name) is None)
    if isinstance(c, ir.CookieCondition):
        pattern = re2.compile(r"(.*;\s*)?" + re2.escape(c.name) + "=" + re2.escape(c.value) + r"(\s*;.*)?", _RE2)
        return Condition(f"cookie {c.name} = {quote(c.value)}", c.span, origin,
                         lambda r, g: (v := r.header("cookie")) is not None and pattern.fullmatch(v) is not None)
    if isinstance(c, ir.PathCondition):
        test = string_test(c.match)
        return Condition(f"path {_OPS[c.match.op]} {quote(c.match.value)}", c.span, origin,
                         lambda r, g: test(r.path_only), path=c.match)
    if isinstance(c, ir.MethodCondition):
        method = c.method
        return Condition(f"method = {method}", c.span, origin, lambda r, g: r.method == method)
    if isinstance(c, ir.QueryCondition):
        test = string_test(c.match)
        name = c.name
        return Condition(f"query {name} {_OPS[c.match.op]} {quote(c.match.value)}", c.span, origin,
                         lambda r, g: test(query_value(r, name)))
    if isinstance(c, ir.PortCondition):
        port = c.port
        return Condition(f"port {port}", c.span, origin, _mesh_only(lambda r: r.port == port), proxy=True)
    if isinstance(c, ir.SourceLabelCondition) and c.label.key == ir.CLUSTER_LABEL:
        cluster = c.label.value
        return Condition(f"source {c.label.key} = {quote(cluster)}", c.span, origin,
                         _mesh_only(lambda r: r.source_cluster == cluster), proxy=True)
    if isinstance(c, ir.SourceLabelCondition):
        key, value = c.label.key, c.label.value
        return Condition(f"source {key} = {quote(value)}", c.span, origin,
                         _mesh_only(lambda r: (key, value) in r.source_labels), proxy=True)
    if isinstance(c, ir.SourceNamespaceCondition):
        ns = c.namespace.value
        return Condition(f"from namespace {ns}", c.span, origin, _mesh_only(lambda r: r.source_namespace == ns),
                         proxy=True)
    if isinstance(c, ir.SourceClusterCondition):
        return from_cluster(c.cluster.value, c.span, origin)
    raise TypeError(f"not a condition: {type(c).__name__}")


def from_cluster(cluster: str, span: Optional[Span], origin: str) -> Condition:
    """`from cluster C`, at a sidecar or at a gateway (the proxy's cluster)."""
    return Condition(f"from cluster {cluster}", span, origin, lambda r, g: r.source_cluster == cluster, proxy=True)


def preview_condition(span: Span) -> Condition:
    """The header blue-green adds to its preview entry (docs: `x-preview: true`)."""
    return Condition('header x-preview = "true"', span, PREVIEW, lambda r, g: r.header("x-preview") == "true")


def is_trivial_path(c: Condition) -> bool:
    """`path ^= "/"` and `path ~ ".*"` hold for every path."""
    return c.path is not None and (c.path.op, c.path.value) in (("prefix", "/"), ("regex", ".*"))
