"""What the data plane does with one request, in Envoy's terms.

Both readings of a policy (the evaluator of rendered Istio and the
interpreter of the .mesh source) produce a `Decision`; equality of two
decisions is what differential tests check, so every field is normalised:
shares are exact fractions (Istio turns percentages into parts per million,
so `0.1%` is 1000/1000000), durations are whole milliseconds, sets are
sorted tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Optional, Union

PolicyValue = Union[int, str, bool, tuple]


@dataclass(frozen=True)
class Target:
    """An upstream cluster: host, subset (None: every endpoint) and port
    (the port Envoy's cluster name carries; None when it cannot be known)."""

    host: str
    subset: Optional[str] = None
    port: Optional[int] = None

    @property
    def key(self) -> tuple:
        """A total order on targets (a None subset or port sorts first)."""
        return self.host, self.subset is not None, self.subset or "", self.port is not None, self.port or 0


@dataclass(frozen=True)
class Share:
    """A target and the fraction of requests it receives (0 < share <= 1)."""

    target: Target
    share: Fraction


@dataclass(frozen=True)
class Retries:
    """Envoy's retry policy for the route. `attempts` 0 means no retries
    (and then the other fields are empty). `retry_on` are Envoy retry
    conditions, `statuses` the retriable status codes."""

    attempts: int
    per_try_ms: Optional[int] = None
    retry_on: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()


NO_RETRIES = Retries(0)


@dataclass(frozen=True)
class Fault:
    delay_ms: Optional[int] = None
    delay_share: Fraction = Fraction(0)
    abort_status: Optional[int] = None
    abort_share: Fraction = Fraction(0)


@dataclass(frozen=True)
class Cors:
    """Origins in order; methods and headers sorted (they are sets)."""

    origins: tuple[str, ...] = ()      # exact origins, in order
    methods: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_s: Optional[int] = None
    credentials: Optional[bool] = None


@dataclass(frozen=True)
class Decision:
    """Where a request goes and how.

    kind:
      - `route`: an `http` entry of a VirtualService took the request
        (`virtual_service` is `NS/NAME`, `entry` the entry's name);
      - `default`: no VirtualService applies, Istio's default route sends
        the request to the host's service on the port dialled;
      - `respond`: the proxy answers itself with `status` (404 when a
        VirtualService owns the host but no entry matches, a
        `directResponse`, or no host at a gateway);
      - `redirect`: a redirect with `status` (301 for `httpsRedirect`).

    `destinations` and `mirrors` are sorted by `Target.key`.

    `policies` pairs every target of `destinations` and `mirrors` with the
    DestinationRule traffic policy that applies to it after Istio's merge,
    flattened: dotted Istio field paths (`connectionPool.tcp.maxConnections`,
    `loadBalancer.simple`, `outlierDetection.interval`) to values, sorted,
    durations in milliseconds, lists as tuples in list order, and a list of
    messages as a tuple of each message flattened the same way (a failover
    rule is `(("from", "r1"), ("to", "r2"))`); pairs sorted by `Target.key`.

    A `respond` when no entry matched names the VirtualService only at a
    sidecar (one owns the host there); at a gateway the routes of every
    VirtualService of the host are merged and none is named. `status` None
    means no HTTP answer at all (a TLS server with no matching host).

    `rewrite` is the path (query included) the upstream receives when the
    route rewrites it.
    """

    kind: Literal["route", "default", "respond", "redirect"]
    status: Optional[int] = None
    virtual_service: Optional[str] = None
    entry: Optional[str] = None
    destinations: tuple[Share, ...] = ()
    timeout_ms: Optional[int] = None
    retries: Retries = NO_RETRIES
    fault: Optional[Fault] = None
    mirrors: tuple[Share, ...] = ()
    rewrite: Optional[str] = None
    cors: Optional[Cors] = None
    policies: tuple[tuple[Target, tuple[tuple[str, PolicyValue], ...]], ...] = ()

    def policy(self, target: Target) -> dict[str, PolicyValue]:
        return next((dict(p) for t, p in self.policies if t == target), {})


def percent_share(value: Union[int, float, str]) -> Fraction:
    """A percentage as Envoy holds it: parts per million, truncated in
    binary floating point as pilot does (`uint32(p.Value * 10000)` in
    route.go `translatePercentToFractionalPercent`), so `0.57` is 5699 ppm."""
    return Fraction(int(float(value) * 10_000), 1_000_000)
