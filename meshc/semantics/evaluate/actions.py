"""What an `http` entry does with a request it takes, in Envoy's terms.

Followed: pilot/pkg/networking/core/route/route.go `TranslateRoute` and
`applyHTTPRouteDestination` (redirect before directResponse before route;
`setTimeout`; `processDestination` / `processWeightedDestination`;
`GetDestinationCluster`; `MirrorPercent` / `MirrorPercentByPolicy`;
`TranslateFault`; `TranslateCORSPolicy`; the rewrite options), and
pilot/pkg/networking/core/route/retry/retry.go `ConvertPolicy`.
"""

from __future__ import annotations

import re
from fractions import Fraction
import dataclasses
from typing import Callable, Optional

from meshc.semantics.decision import NO_RETRIES, Cors, Fault, Retries, Share, Target
from meshc.semantics.evaluate.documents import DocumentError
from meshc.semantics.evaluate.matchers import compile_regex, split_path
from meshc.semantics.evaluate.values import duration_ms, percent_integer, percentage

ISTIO_DEFAULT_RETRIES = Retries(
    attempts=2,
    per_try_ms=None,
    retry_on=("cancelled", "connect-failure", "refused-stream", "retriable-status-codes", "unavailable"),
    statuses=(),
)
"""Istio's default HTTP retry policy, used when an entry has no `retries`
and for the default route of a host without VirtualService: pilot
pilot/pkg/networking/core/route/retry/retry.go (`defaultNumRetries` = 2,
`defaultRetryOn` = "connect-failure,refused-stream,unavailable,cancelled,
retriable-status-codes"), with the mesh's `defaultHttpRetryPolicy` unset.
Istio 1.24 to 1.30. In 1.22 and 1.23 the default also retried on status 503
(`RetriableStatusCodes: [503]`, dropped by EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY,
true from 1.24, and removed from the code in 1.27)."""

HTTP_STATUS_TEXT = frozenset(
    [100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308]
    + list(range(400, 419)) + [421, 422, 423, 424, 425, 426, 428, 429, 431, 451]
    + list(range(500, 509)) + [510, 511])
"""The codes Go's `http.StatusText` knows: retry.go `parseRetryOn` takes a
numeric `retryOn` token as a retriable status only if it is one of these."""

_GO_ATOI = re.compile(r"[+-]?[0-9]+")
REDIRECT_CODES = (301, 302, 303, 307, 308)

Lookup = Callable[[str], tuple]
"""host -> the ports of the service pilot looks up for a destination."""


def default_retries(istio: str) -> Retries:
    """The default policy of an Istio release: before 1.24 it also retried
    status 503 (retry.go `DefaultPolicy`, `RetriableStatusCodes`)."""
    major, minor = (int(x) for x in istio.split(".")[:2])
    return ISTIO_DEFAULT_RETRIES if (major, minor) >= (1, 24) else dataclasses.replace(ISTIO_DEFAULT_RETRIES,
                                                                                        statuses=(503,))


def convert_retries(spec: Optional[dict], default: Retries = ISTIO_DEFAULT_RETRIES) -> Retries:
    """retry.go `ConvertPolicy`: no `retries` gives the default; `attempts`
    0 (or absent) disables retries; numeric `retryOn` tokens that are HTTP
    statuses become retriable status codes and add `retriable-status-codes`
    (unless the text already contains it); `perTryTimeout` is kept."""
    if spec is None:
        return default
    attempts = int(spec.get("attempts") or 0)
    if attempts <= 0:
        return NO_RETRIES
    retry_on, statuses = default.retry_on, default.statuses
    text = str(spec.get("retryOn") or "")
    if text:
        tokens, codes = [], []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if _GO_ATOI.fullmatch(part) and int(part) in HTTP_STATUS_TEXT:
                codes.append(int(part))
            else:
                tokens.append(part)
        joined = ",".join(tokens)
        if codes and "retriable-status-codes" not in joined:
            tokens.append("retriable-status-codes")
        retry_on = tuple(sorted(set(tokens)))
        statuses = tuple(sorted(set(codes)))
    return Retries(attempts, duration_ms(spec.get("perTryTimeout")), retry_on, statuses)


def timeout_ms(value) -> Optional[int]:
    """route.go `setTimeout`: the entry's `timeout`, else 0, which Envoy
    reads as no timeout; both `0s` and no timeout are None here."""
    ms = duration_ms(value)
    return ms or None


def destination_target(dest: dict, listener_port: int, lookup: Lookup) -> Target:
    """route.go `GetDestinationCluster`: the destination's port, else the
    only port of the service pilot looked up, else the listener port."""
    if not isinstance(dest, dict) or not dest.get("host"):
        raise DocumentError(f"a destination needs a host: {dest!r}")
    host, subset = str(dest["host"]), dest.get("subset") or None
    if subset is not None and not isinstance(subset, str):
        raise DocumentError(f"a destination's subset is a name: {subset!r}")
    port = (dest.get("port") or {}).get("number")
    if port is None:
        ports = lookup(host.lower())
        port = ports[0].number if len(ports) == 1 else listener_port
    return Target(host, subset, int(port))


def destinations(spec: dict, listener_port: int, lookup: Lookup) -> Optional[tuple[Share, ...]]:
    """`applyHTTPRouteDestination`: one destination takes everything
    whatever its weight; with several, weights are relative and a
    destination without weight (0) gets nothing. Shares of the same target
    are added; sorted by target. None: no destination has weight, a route
    Envoy rejects."""
    route = spec.get("route") or []
    if len(route) == 1:
        return (Share(destination_target(route[0].get("destination"), listener_port, lookup), Fraction(1)),)
    weights: dict[Target, int] = {}
    for dst in route:
        weight = int(dst.get("weight") or 0)
        if weight:
            target = destination_target(dst.get("destination"), listener_port, lookup)
            weights[target] = weights.get(target, 0) + weight
    total = sum(weights.values())
    if not total:
        return None
    return tuple(Share(t, Fraction(w, total)) for t, w in sorted(weights.items(), key=lambda i: i[0].key))


def mirrors(spec: dict, listener_port: int, lookup: Lookup) -> tuple[Share, ...]:
    """`MirrorPercent` (for `mirror`, with `mirrorPercentage`, the deprecated
    integer `mirrorPercent`, or 100 % by default) and `MirrorPercentByPolicy`
    (for each of `mirrors`); an explicit 0 % mirrors nothing."""
    out = []
    if spec.get("mirror"):
        if spec.get("mirrorPercentage") is not None:
            share = percentage(spec["mirrorPercentage"])
        elif spec.get("mirrorPercent") is not None:
            share = percent_integer(spec["mirrorPercent"])
        else:
            share = Fraction(1)
        if share:
            out.append(Share(destination_target(spec["mirror"], listener_port, lookup), share))
    for policy in spec.get("mirrors") or ():
        share = Fraction(1) if policy.get("percentage") is None else percentage(policy["percentage"])
        if share and policy.get("destination"):
            out.append(Share(destination_target(policy["destination"], listener_port, lookup), share))
    return tuple(sorted(out, key=lambda s: (s.target.key, s.share)))


def fault(spec: Optional[dict]) -> Optional[Fault]:
    """route.go `TranslateFault`: a delay's `percentage` (parts per million)
    or deprecated integer `percent`; an abort's `percentage` only (none: 0 %);
    exponential delays and aborts other than HTTP or gRPC are dropped; a gRPC
    abort has no HTTP status here."""
    if not spec:
        return None
    delay_ms, delay_share, abort_status, abort_share = None, Fraction(0), None, Fraction(0)
    has_delay = has_abort = False
    delay = spec.get("delay")
    if delay and delay.get("fixedDelay") is not None:
        has_delay = True
        delay_ms = duration_ms(delay["fixedDelay"])
        delay_share = percentage(delay["percentage"]) if delay.get("percentage") is not None \
            else percent_integer(delay.get("percent"))
    abort = spec.get("abort")
    if abort and (abort.get("httpStatus") is not None or abort.get("grpcStatus") is not None):
        has_abort = True
        abort_status = int(abort["httpStatus"]) if abort.get("httpStatus") is not None else None
        abort_share = percentage(abort.get("percentage")) or Fraction(0)
    if not (has_delay or has_abort):
        return None
    return Fault(delay_ms, delay_share, abort_status, abort_share)


def cors(spec: Optional[dict]) -> Optional[Cors]:
    """route.go `TranslateCORSPolicy`. Origins in order: exact ones as
    themselves, others as `prefix:VALUE` / `regex:VALUE`; the deprecated
    `allowOrigin` list is exact. Methods and headers are sets (sorted).
    `maxAge` in whole seconds."""
    if spec is None:
        return None
    origins = []
    if spec.get("allowOrigins") is not None:
        for match in spec["allowOrigins"]:
            for kind in ("exact", "prefix", "regex"):
                if kind in (match or {}):
                    origins.append(str(match[kind]) if kind == "exact" else f"{kind}:{match[kind]}")
                    break
    elif spec.get("allowOrigin") is not None:
        origins = [str(o) for o in spec["allowOrigin"]]
    max_age = spec.get("maxAge")
    credentials = spec.get("allowCredentials")
    return Cors(tuple(origins), tuple(sorted({str(m) for m in spec.get("allowMethods") or ()})),
                tuple(sorted({str(h) for h in spec.get("allowHeaders") or ()})),
                tuple(sorted({str(h) for h in spec.get("exposeHeaders") or ()})),
                None if max_age is None else duration_ms(max_age) // 1000,
                None if credentials is None else bool(credentials))


def rewrite(spec: Optional[dict], path_kind: Optional[str], path_value: str, path: str) -> Optional[str]:
    """The path the upstream receives (query kept), None when the entry
    does not rewrite the URI.

    `uriRegexRewrite`: Envoy's regex_rewrite, every match in the path
    (without query) replaced, `\\N` naming groups. `uri`: Envoy's
    prefix_rewrite, which swaps the *matched* part for the value: the
    prefix for a prefix match (so `rewrite.uri: /v2` on `prefix: /api`
    turns `/api/x` into `/v2/x`), the whole path for an exact or regex
    match, and the leading `/` when the alternative has no uri match (the
    route matches prefix `/`: `/foo` becomes `/v2foo`)."""
    if not spec:
        return None
    regex = spec.get("uriRegexRewrite")
    only, rest = split_path(path)
    if regex:
        program = compile_regex(str(regex.get("match") or ""))
        return _regex_replace(program, str(regex.get("rewrite") or ""), only) + rest
    uri = spec.get("uri")
    if not uri:
        return None
    if path_kind == "prefix":
        matched = len(path_value)
    elif path_kind in ("exact", "regex"):
        matched = len(only)
    else:
        matched = 1
    return str(uri) + path[matched:]


def _regex_replace(program, template: str, text: str) -> str:
    """RE2::GlobalReplace: `\\0`..`\\9` are groups, `\\\\` a backslash."""
    def expand(match) -> str:
        out, i = [], 0
        while i < len(template):
            c = template[i]
            if c == "\\" and i + 1 < len(template):
                nxt = template[i + 1]
                if nxt.isdigit():
                    out.append(match.group(int(nxt)) or "")
                    i += 2
                    continue
                if nxt == "\\":
                    out.append("\\")
                    i += 2
                    continue
            out.append(c)
            i += 1
        return "".join(out)
    return program.sub(expand, text)



