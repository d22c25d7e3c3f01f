"""The fleet as Istio runs it: which istiod programs which cluster's proxies,
which networks there are, and where each service runs.

Istio's two control-plane models (istio.io, docs/setup/install/multicluster):
a *primary* runs istiod and reads configuration from its own API server; a
*remote* runs none, and its proxies are programmed by its primary's istiod
from the primary's configuration. So configuration for a remote's proxies is
rendered into its primary's directory, and a primary's configuration serves
its own proxies and those of its remotes.
"""

from __future__ import annotations

from functools import cached_property
from typing import Optional

from meshc.language import ir

DEFAULT_CLUSTER = "default"


class Topology:
    """Cluster roles, networks and placement for one policy. Tolerates an
    invalid fleet (a remote of an unknown cluster): checks report it, and
    nothing is rendered then."""

    def __init__(self, policy: ir.MeshPolicy):
        self.fleet = policy.fleet

    @cached_property
    def clusters(self) -> dict[str, ir.Cluster]:
        """Declared clusters by name, the first declaration of a name winning."""
        out: dict[str, ir.Cluster] = {}
        for c in self.fleet.clusters if self.fleet else ():
            out.setdefault(c.name.value, c)
        return out

    @property
    def names(self) -> list[str]:
        """Every cluster in fleet order (`default` without a fleet)."""
        return list(self.clusters) if self.fleet is not None else [DEFAULT_CLUSTER]

    @property
    def dns_proxying(self) -> bool:
        return self.fleet is not None and self.fleet.dns_proxying

    def is_remote(self, name: str) -> bool:
        c = self.clusters.get(name)
        return c is not None and c.remote_of is not None

    def primary_of(self, name: str) -> str:
        """The cluster whose istiod programs `name`'s proxies."""
        c = self.clusters.get(name)
        return c.remote_of.value if c is not None and c.remote_of is not None else name

    @property
    def primaries(self) -> list[str]:
        return [n for n in self.names if not self.is_remote(n)]

    def served_by(self, primary: str) -> tuple[str, ...]:
        """The clusters whose proxies `primary`'s configuration programs:
        itself, then its remotes in fleet order."""
        return (primary,) + tuple(n for n in self.names if n != primary and self.primary_of(n) == primary)

    def network(self, name: str) -> Optional[str]:
        c = self.clusters.get(name)
        return c.network.value if c is not None and c.network is not None else None

    def same_network(self, a: str, b: str) -> bool:
        """Whether proxies in `a` reach pods in `b` directly: a cluster that
        declares no network is taken to be on every network, as Istio
        takes a proxy or endpoint without one (pilot/pkg/model/context.go
        `InNetwork`: `identifier.IsSameOrEmpty`)."""
        na, nb = self.network(a), self.network(b)
        return na is None or nb is None or na == nb

    @cached_property
    def networks(self) -> tuple[str, ...]:
        return tuple(sorted({n for n in map(self.network, self.names) if n is not None}))

    @property
    def multi_network(self) -> bool:
        """Two or more networks: cross-network traffic goes through east-west gateways."""
        return len(self.networks) >= 2

    def has_gateway(self, name: str) -> bool:
        c = self.clusters.get(name)
        return c is not None and c.gateway is not None

    def network_has_gateway(self, network: Optional[str]) -> bool:
        """Some cluster of the network has an east-west gateway; Istio sends
        traffic for any endpoint of a network through that network's
        gateways (pilot's ep_filters.go, `selectNetworkGateways`)."""
        return any(self.has_gateway(n) for n in self.names if self.network(n) == network)

    def locality(self, name: str) -> Optional[str]:
        """`region/zone` (or `region`) of a cluster's endpoints, as Istio writes localities."""
        c = self.clusters.get(name)
        if c is None or c.region is None:
            return None
        return "/".join(x.value for x in (c.region, c.zone) if x is not None)

    def placement(self, service: ir.Service) -> tuple[str, ...]:
        """The clusters that run a service's workloads, in fleet order: those
        `in` names, every cluster without `in`."""
        if not service.placement:
            return tuple(self.names)
        placed = {n.value for n in service.placement}
        return tuple(n for n in self.names if n in placed)
