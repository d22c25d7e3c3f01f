"""Destination policy: locality failover and distribution, TLS against mTLS,
and where global services run."""

from __future__ import annotations

from typing import Iterator, Optional

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
    `failover` statement once, for the first policy that has it."""
    seen = set()
    for info, p, what in policies:
        key = (p.failover.span if p.failover else None, p.distribute[0].span if p.distribute else None,
               p.circuit_breaker.eject is not None if p.circuit_breaker else False)
        if key not in seen:
            seen.add(key)
            yield info, p, what


def check_locality(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Failover needs outlier detection; pairs leave their region; a
    distribution adds up to 100; failover and distribute exclude each other."""
    out: list[Diagnostic] = []
    for _, p, what in _first_per_statement(_effective_policies(policy)):
        eject = p.circuit_breaker.eject if p.circuit_breaker else None
        if p.failover is not None and eject is None:
            out.append(diagnostic(
                "failover-without-outlier-detection",
                f"failover of {what} has no outlier detection, so Istio never fails over",
                p.failover.span,
                help="add `circuit-breaker { eject 5 consecutive 5xx every 10s for 30s }` "
                     "(or `gateway-errors`) next to the failover",
            ))
        if p.failover is not None and p.distribute:
            out.append(diagnostic(
                "failover-and-distribute",
                f"{what} sets both `failover` and `distribute`",
                p.distribute[0].span,
                labels=[Label(p.failover.span, "failover set here")],
                help="Istio's locality load balancing takes one of them",
            ))
    for block in _policy_blocks(policy):
        out += _pairs_and_weights(policy, block)
    return out


def _policy_blocks(policy: ir.MeshPolicy) -> Iterator[ir.Policy]:
    """Each policy block as written, once."""
    for ns in policy.namespaces:
        if ns.defaults is not None:
            yield ns.defaults
        for svc in ns.services:
            yield svc.policy
            yield from (s.policy for s in svc.subsets if s.policy is not None)
            yield from (p.policy for p in svc.ports if p.policy is not None)
            yield from (o.policy for o in svc.overrides if o.policy is not None)


def _pairs_and_weights(policy: ir.MeshPolicy, block: ir.Policy) -> list[Diagnostic]:
    out = []
    regions = {c.region.value for c in (policy.fleet.clusters if policy.fleet else ()) if c.region}
    if block.failover is not None:
        for pair in block.failover.pairs:
            if pair.source.value == pair.target.value:
                out.append(diagnostic("failover-to-self", f"failover from `{pair.source.value}` to itself",
                                      pair.span, help="fail over to another region"))
            for name in (pair.source, pair.target):
                if regions and name.value not in regions:
                    out.append(diagnostic(
                        "unknown-region",
                        f"no fleet cluster is in region `{name.value}`",
                        name.span,
                        help="fleet regions: " + ", ".join(sorted(regions)),
                    ))
    ejection = block.circuit_breaker.eject if block.circuit_breaker else None
    if ejection is not None and ejection.max_percent is not None and not _whole(ejection.max_percent):
        out.append(diagnostic("fractional-weight",
                              f"maximum ejection {ejection.max_percent.value:g}% is not a whole percentage",
                              ejection.max_percent.span, help="Istio takes a whole percentage here"))
    sources: list[ir.Distribute] = []
    for dist in block.distribute:
        for locality, span in [(dist.source, dist.span)] + [(t.locality, t.span) for t in dist.targets]:
            if "*" in locality.split("/")[:-1]:
                out.append(diagnostic("invalid-locality", f"`{locality}` has `*` before its last part", span,
                                      help="write `region/*` or `region/zone/*`: `*` only stands for the rest"))
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
    """No plain or one-way TLS towards a workload that requires mutual TLS."""
    out: list[Diagnostic] = []
    for info, p, what in _effective_policies(policy):
        if p.tls is None or p.tls.mode == "istio-mutual":
            continue
        if info is not None and info.service.is_global:
            out.append(diagnostic(
                "global-needs-mutual-tls",
                f"`tls {p.tls.mode}` for {what}, which is global and reached through east-west gateways",
                p.tls.span,
                labels=[Label(info.service.name.span, "global service")],
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


def check_placement(policy: ir.MeshPolicy) -> list[Diagnostic]:
    """Global services say where they run, in clusters with an east-west gateway."""
    index = Index(policy)
    out: list[Diagnostic] = []
    for info in index.all_services():
        svc = info.service
        if not svc.is_global:
            if svc.placement:
                out.append(diagnostic(
                    "placement-misuse", f"`in` is only for global services; `{svc.name.value}` is not global",
                    svc.placement[0].span, help=f"declare it `service {svc.name.value} global {{ ... }}`"))
            continue
        if policy.fleet is None:
            out.append(diagnostic(
                "global-needs-fleet", f"global service `{svc.name.value}` needs a fleet to run in",
                svc.name.span, help="declare the clusters: `fleet NAME { cluster ... gateway ADDRESS }`"))
            continue
        if not svc.placement:
            out.append(diagnostic(
                "placement-misuse", f"global service `{svc.name.value}` does not say where it runs",
                svc.name.span, help="add `in CLUSTER...` with the clusters that run its workloads"))
        for name in svc.placement:
            cluster = index.clusters.get(name.value)
            if cluster is not None and cluster.gateway is None:
                out.append(diagnostic(
                    "missing-gateway-address",
                    f"cluster `{name.value}` runs global service `{svc.name.value}` but has no east-west gateway",
                    name.span,
                    labels=[Label(cluster.span, "cluster declared here")],
                    help=f"add `gateway ADDRESS` to cluster `{name.value}`",
                ))
    return out
