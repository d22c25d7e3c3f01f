"""Route options in force for one route in one cluster, and where each came
from (docs/language.md, "Route options" and "Per-cluster overrides").

Settings are inherited one by one (`timeout`, `retry`, `fault delay`, `fault
abort`, `rewrite`, `cors`), weakest first: the service, the service's `on
CLUSTER`, the route, the route's `on CLUSTER`; for a route of a gateway's
`host` block, the block, the route, the route's `on CLUSTER` ("Routes of
the gateway").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from meshc.language import ir
from meshc.language.source import Span
from meshc.model.resolve import RouteOwner, ServiceInfo
from meshc.semantics.decision import Cors, Fault, Retries, percent_share
from meshc.semantics.interpret import istio_defaults

# IR field of `Options` → the setting's name in the docs.
SETTINGS = {"timeout": "timeout", "retry": "retry", "delay": "fault delay", "abort": "fault abort",
            "rewrite": "rewrite", "cors": "cors"}


@dataclass(frozen=True)
class Origin:
    """Where a setting in force was written: `level` reads like
    "service", "on beijing", "route primary", "route primary on beijing",
    "namespace defaults", "port 80", "subset v1"; `span` is the block."""

    setting: str
    level: str
    span: Optional[Span]


def override(overrides: tuple[ir.Override, ...], cluster: str) -> Optional[ir.Override]:
    return next((o for o in overrides if o.cluster.value == cluster), None)


def options_in_force(owner: RouteOwner, route: Optional[ir.Route], cluster: str) -> dict[str, tuple[Any, Origin]]:
    """Setting name → (IR value, origin), for the settings some level sets."""
    if isinstance(owner, ServiceInfo):
        levels: list[tuple[str, ir.Options]] = [("service", owner.service.options)]
        svc_over = override(owner.service.overrides, cluster)
        if svc_over is not None:
            levels.append((f"on {cluster}", svc_over.options))
    else:
        levels = [(f"host {owner.block.host}", owner.block.options)]
    if route is not None:
        levels.append((f"route {route.name.value}", route.options))
        route_over = override(route.overrides, cluster)
        if route_over is not None:
            levels.append((f"route {route.name.value} on {cluster}", route_over.options))
    found: dict[str, tuple[Any, Origin]] = {}
    for level, options in levels:
        for field, setting in SETTINGS.items():
            value = getattr(options, field)
            if value is not None:
                found[setting] = (value, Origin(setting, level, value.span))
    return found


@dataclass(frozen=True)
class RouteOptions:
    """Route options as the decision states them."""

    timeout_ms: Optional[int]
    retries: Retries
    fault: Optional[Fault]
    rewrite: Optional[str]  # the path that replaces the matched prefix
    cors: Optional[Cors]
    origins: tuple[Origin, ...]


def route_options(owner: RouteOwner, route: Optional[ir.Route], cluster: str, istio: str) -> RouteOptions:
    found = options_in_force(owner, route, cluster)
    value = {setting: v for setting, (v, _) in found.items()}
    timeout: Optional[ir.Duration] = value.get("timeout")
    retry: Optional[ir.Retry] = value.get("retry")
    delay: Optional[ir.FaultDelay] = value.get("fault delay")
    abort: Optional[ir.FaultAbort] = value.get("fault abort")
    rewrite: Optional[ir.Rewrite] = value.get("rewrite")
    cors: Optional[ir.Cors] = value.get("cors")
    if retry is None:
        retries = istio_defaults.default_retries(istio)
    else:
        retries = istio_defaults.retries(retry.attempts, _ms(retry.per_try), tuple(retry.on), istio)
    fault = None
    if delay is not None or abort is not None:
        fault = Fault(
            delay_ms=_ms(delay.delay) if delay else None,
            delay_share=percent_share(delay.percent.value) if delay else percent_share(0),
            abort_status=abort.status if abort else None,
            abort_share=percent_share(abort.percent.value) if abort else percent_share(0),
        )
    return RouteOptions(
        timeout_ms=_ms(timeout),
        retries=retries,
        fault=fault,
        rewrite=rewrite.path if rewrite else None,
        cors=_cors(cors) if cors else None,
        origins=tuple(origin for _, origin in found.values()),
    )


def _cors(c: ir.Cors) -> Cors:
    return Cors(
        origins=tuple(c.origins),
        methods=tuple(sorted(set(c.methods))),
        headers=tuple(sorted(set(c.headers))),
        expose_headers=tuple(sorted(set(c.expose_headers))),
        max_age_s=int(c.max_age.ms) // 1000 if c.max_age else None,
        credentials=True if c.credentials else None,
    )


def _ms(d: Optional[ir.Duration]) -> Optional[int]:
    return None if d is None else int(d.ms)
