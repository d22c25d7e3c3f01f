"""Destination policy: locality failover, priorities and distribution, and
TLS against mTLS and east-west gateways."""

from __future__ import annotations

from typing import Iterator, Optional

from meshc.checks.names import policy_blocks, repeats
from meshc.suggest import did_you_mean
from meshc.diagnostics import Diagnostic, Label
from meshc.diagnostics.codes import diagnostic
from meshc.language import ir
from meshc.model.resolve import Index, ServiceInfo, clusters, effective_mtls, merge


def _effective_policies(policy: ir.MeshPolicy) -> Iterator[tuple[Optional[ServiceInfo], ir.Policy, str]]:
    """Every destination policy that will be rendered: namespace defaults,
    and per cluster each service's, subset's and port's, after inheritance."""
    for ns in policy.namespaces:
        if ns.defaults is not None:
            yield None, ns.defaults, f"the defaults of namespace `{ns.name.value}`"
    names = clusters(policy)
    for info in Index(policy).all_services():
        svc = info.service.name.value
        for cluster in names:
            base = info.policy(cluster)
            yield info, base, f"service `{svc}`"
            for subset in info.service.subsets:
                if subset.policy is not None:
                    yield info, merge(base, subset.policy), f"subset `{subset.name.value}` of service `{svc}`"
            for port in info.service.ports:
                if port.policy is not None:
                    yield info, merge(base, port.policy), f"port {port.number} of service `{svc}`"


def _first_per_statement(policies):
    """Inherited settings repeat in every subset and port; report each
    locality statement once, for the first policy that has it."""
    seen = set()
    for info, p, what in policies:
        key = (p.failover.span if p.failover else None,
               p.failover_priority.span if p.failover_priority else None,
               p.distribute[0].span if p.distribute else None,
               p.circuit_breaker.eject is not None if p.circuit_breaker else False)
        if key not in seen:
            seen.add(key)
            yield info, p, what


def check_locality(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Failover needs outlier detection; pairs leave their region; a
    distribution adds up to 100; one of failover, failover priority and
    distribute; localities the fleet has."""
    out: list[Diagnostic] = []
    for _, p, what in _first_per_statement(_effective_policies(policy)):
        eject = p.circuit_breaker.eject if p.circuit_breaker else None
        failing_over = p.failover or p.failover_priority
        if failing_over is not None and eject is None:
            statement = "failover" if p.failover is not None else "failover priority"
            out.append(diagnostic(
                "failover-without-outlier-detection",
                f"`{statement}` of {what} has no outlier detection, so Istio never fails over",
                failing_over.span,
                help="add `circuit-breaker { eject 5 consecutive 5xx every 10s for 30s }` "
                     "(or `gateway-errors`) next to it",
            ))
        set_ = [(name, node) for name, node in (("failover", p.failover), ("failover priority", p.failover_priority),
                                                ("distribute", p.distribute[0] if p.distribute else None))
                if node is not None]
        if len(set_) > 1:
            later = max(set_, key=lambda x: x[1].span.start)
            out.append(diagnostic(
                "failover-and-distribute",
                f"{what} sets " + " and ".join(f"`{name}`" for name, _ in set_),
                later[1].span,
                labels=[Label(node.span, f"`{name}` set here") for name, node in set_ if node is not later[1]],
                help="Istio's locality load balancing takes one of them; keep one",
            ))
    localities = _Localities(policy)
    for block in policy_blocks(policy):
        out += _pairs_and_weights(localities, block)
    return out


class _Localities:
    """The regions, zones and networks of the fleet, for typo checks (none
    without a fleet: then any name may be meant)."""

    def __init__(self, policy: ir.MeshPolicy):
        fleet = policy.fleet.clusters if policy.fleet else ()
        self.regions = sorted({c.region.value for c in fleet if c.region})
        self.zones = sorted({c.zone.value for c in fleet if c.zone})
        self.networks = sorted({c.network.value for c in fleet if c.network})

    def check(self, value: str, span: ir.Span, kind: str) -> list[Diagnostic]:
        known = {"region": self.regions, "zone": self.zones, "network": self.networks}[kind]
        if not known or value in known or value == "*":
            return []
        return [diagnostic("unknown-region", f"no fleet cluster is in {kind} `{value}`", span,
                           help=did_you_mean(value, known) or f"fleet {kind}s: " + ", ".join(known))]


# `failover priority` pins of these keys name a locality of the fleet.
_PINNED_LOCALITIES = {ir.TOPOLOGY_LABELS["region"]: "region", ir.TOPOLOGY_LABELS["zone"]: "zone",
                      ir.TOPOLOGY_LABELS["network"]: "network"}


def _pairs_and_weights(localities: _Localities, block: ir.Policy) -> list[Diagnostic]:
    out = []
    if block.failover is not None:
        for pair in block.failover.pairs:
            if pair.source.value == pair.target.value:
                out.append(diagnostic("failover-to-self", f"failover from `{pair.source.value}` to itself",
                                      pair.span, help="fail over to another region"))
            for name in (pair.source, pair.target):
                out += localities.check(name.value, name.span, "region")
    if block.failover_priority is not None:
        labels = block.failover_priority.labels
        for label, first in repeats(labels, lambda x: x.key):
            out.append(diagnostic("duplicate-setting", f"`{label.key}` is listed twice in `failover priority`",
                                  label.span, labels=[Label(first.span, "first listed here")],
                                  help="an entry only counts while every entry before it matches; keep the first"))
        for label in labels:
            if label.value is not None and label.key in _PINNED_LOCALITIES:
                out += localities.check(label.value, label.span, _PINNED_LOCALITIES[label.key])
    ejection = block.circuit_breaker.eject if block.circuit_breaker else None
    if ejection is not None and ejection.max_percent is not None and not _whole(ejection.max_percent):
        out.append(diagnostic("fractional-weight",
                              f"maximum ejection {ejection.max_percent.value:g}% is not a whole percentage",
                              ejection.max_percent.span, help="Istio takes a whole percentage here"))
    sources: list[ir.Distribute] = []
    for dist in block.distribute:
        for locality, span in [(dist.source, dist.span)] + [(t.locality, t.span) for t in dist.targets]:
            parts = locality.split("/")
            if "*" in parts[:-1]:
                out.append(diagnostic("invalid-locality", f"`{locality}` has `*` before its last part", span,
                                      help="write `region/*` or `region/zone/*`: `*` only stands for the rest"))
            for value, kind in zip(parts, ("region", "zone")):
                out += localities.check(value, span, kind)
        earlier = next((d for d in sources if _overlap(d.source, dist.source)), None)
        if earlier is not None:
            out.append(diagnostic("invalid-locality",
                                  f"the distribution from `{dist.source}` overlaps the one from `{earlier.source}`",
                                  dist.span, labels=[Label(earlier.span, "this one")],
                                  help="give each distribution a source the others do not cover"))
        sources.append(dist)
        out += [diagnostic("fractional-weight", f"locality share {t.percent.value:g}% is not a whole percentage",
                           t.percent.span, help="Istio takes whole percentages here")
                for t in dist.targets if not _whole(t.percent)]
        total = sum(t.percent.value for t in dist.targets)
        if abs(total - 100) > 1e-9:
            out.append(diagnostic(
                "distribute-not-100",
                f"the distribution from `{dist.source}` adds up to {total:g} %, not 100 %",
                dist.span,
                help="make the shares add up to 100 %",
            ))
    return out


def _overlap(a: str, b: str) -> bool:
    """Two locality patterns some locality matches both of."""
    for x, y in zip(a.split("/"), b.split("/")):
        if "*" in (x, y):
            return True
        if x != y:
            return False
    return True


def _whole(p: ir.Percent) -> bool:
    return p.value == int(p.value)


def check_tls(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """No plain or one-way TLS towards a workload that requires mutual TLS,
    or towards a service whose callers cross networks."""
    out: list[Diagnostic] = []
    multi_network = Index(policy).topology.multi_network
    crossing: set = set()  # each `tls` statement once: services inherit it from `defaults`
    for info, p, what in _effective_policies(policy):
        if p.tls is None or p.tls.mode == "istio-mutual":
            continue
        if multi_network and (info is None or info.service.local is None):
            if p.tls.span in crossing:
                continue
            crossing.add(p.tls.span)
            out.append(diagnostic(
                "cross-network-needs-mutual-tls",
                f"`tls {p.tls.mode}` for {what}, whose callers on other networks go through east-west gateways",
                p.tls.span,
                help="east-west gateways only pass Istio mutual TLS: use `tls istio-mutual` or drop `tls`",
            ))
            continue
        scopes = [(ns, svc) for ns in policy.namespaces for svc in ns.services] if info is None else [
            (info.namespace, info.service)]
        for ns, svc in scopes:
            mtls = effective_mtls(policy, ns.name.value, svc.name.value)
            if mtls is not None and mtls.mode == "strict":
                out.append(diagnostic(
                    "tls-conflicts-with-strict-mtls",
                    f"`tls {p.tls.mode}` for {what}, but `{svc.name.value}` requires strict mTLS",
                    p.tls.span,
                    labels=[Label(mtls.span, "strict mTLS required here")],
                    help="use `tls istio-mutual`, or drop `tls` and let Istio choose mutual TLS",
                ))
                break
    return out
