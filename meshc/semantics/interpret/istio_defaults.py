"""What Istio does where a policy says nothing.

The interpreter needs these because a decision is stated in Envoy's terms;
docs/language.md should say each of them (each names where Istio decides it).
Read in istio/istio at 86c9f01 (August 2026):

- No `timeout`: no timeout. `setTimeout` in
  pilot/pkg/networking/core/route/route.go sets `Notimeout` (0s, disabled)
  unless the VirtualService gives one; the default route
  (`BuildDefaultHTTPOutboundRoute`, same file) calls it with none.
- No `retry`: Istio's default retry policy, `DefaultPolicy` in
  pilot/pkg/networking/core/route/retry/retry.go: 2 attempts, retry on
  `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`.
  Before Istio 1.24 the default also listed 503 as a retriable status code;
  1.24 dropped it (istio/istio#52111, "exclude unsafe 503 from default
  RetryPolicy"; the 1.23 compatibility profile kept it until it was removed).
  The default route to a host no VirtualService takes uses the same policy
  (`BuildDefaultHTTPOutboundRoute`, mesh `defaultHttpRetryPolicy` unset).
- `retry N` without `on`: `ConvertPolicy` starts from the default policy, so
  the default conditions stay (and, before 1.24, status 503).
- `retry N on ... 503`: `parseRetryOn` takes every number that is an HTTP
  status as a retriable status code and adds `retriable-status-codes` when
  it is missing.
- `retry off` (attempts 0): `ConvertPolicy` returns no retry policy at all.
- A percentage becomes parts per million, truncated
  (`translatePercentToFractionalPercent`, route.go): see
  `meshc.semantics.decision.percent_share`.
- A mirror without a percentage mirrors 100 % (`mirrorPercentage` unset).
- A destination without a port: `GetDestinationCluster` (route.go) uses the
  service's only port when it has exactly one, the port of the listener the
  request arrived on otherwise.
- A session cookie for consistent hashing is `ttl: 0s`.
"""

from __future__ import annotations

from typing import Optional

from meshc.semantics.decision import Retries

DEFAULT_ISTIO = "1.30"  # the Istio release a cluster without `istio` runs (`--istio-version`)
DEFAULT_ATTEMPTS = 2
DEFAULT_RETRY_ON = ("cancelled", "connect-failure", "refused-stream", "retriable-status-codes", "unavailable")
# Retriable status codes of the default policy, by release: 503 until 1.23.
_LAST_WITH_503 = (1, 23)


def default_statuses(istio: str) -> tuple[int, ...]:
    major, minor = (int(x) for x in istio.split(".")[:2])
    return (503,) if (major, minor) <= _LAST_WITH_503 else ()


def default_retries(istio: str) -> Retries:
    return Retries(DEFAULT_ATTEMPTS, None, DEFAULT_RETRY_ON, default_statuses(istio))


def retries(attempts: int, per_try_ms: Optional[int], on: tuple[str, ...], istio: str) -> Retries:
    """Envoy's retry policy for `retry attempts [per-try D] [on ...]`."""
    if attempts == 0:
        return Retries(0)
    if not on:
        return Retries(attempts, per_try_ms, DEFAULT_RETRY_ON, default_statuses(istio))
    statuses = sorted({int(c) for c in on if c.isdigit()})
    conditions = {c for c in on if not c.isdigit()}
    if statuses:
        conditions.add("retriable-status-codes")
    return Retries(attempts, per_try_ms, tuple(sorted(conditions)), tuple(statuses))
