"""A canary's plan across the fleet: its waves, the clusters of each and
the step each is at (docs/language.md, "Fleet canaries: waves").

`wave C... [after N] [at N]` lines split the fleet into waves that take the
canary's steps one after the other: a wave starts once the wave before it
is at step `after` (its last step without `after`), and `at` is the step
its clusters render. A canary without waves is one wave of every cluster at
the canary's own `at`, so commands, gates and the backend treat both alike.

A remote runs no istiod: its proxies follow its primary's configuration,
so it is in its primary's wave whether the plan lists it or not (the
checks report a remote listed in another wave, MESH922).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from meshc.language import ir
from meshc.model.topology import Topology

# The label of Istio's standard metrics that names the cluster of the
# calling proxy (istio.io, docs/reference/config/metrics): the proxy whose
# configuration split the traffic, so it tells the waves apart.
DEFAULT_CLUSTER_LABEL = "source_cluster"


@dataclass(frozen=True)
class Wave:
    """One wave of a canary's plan."""

    number: int
    """1-based, in the order written."""
    clusters: tuple[str, ...]
    """The clusters whose routing the wave sets, in fleet order: those it
    lists and their remotes."""
    step: int
    """Its live step (0: the baseline)."""
    start: int
    """The step the wave before must be at for this one to leave step 0;
    0 for the first wave."""
    node: Optional[ir.Wave]
    """None for a canary without waves (one wave of the whole fleet)."""

    @property
    def listed(self) -> tuple[str, ...]:
        """The clusters as the wave lists them."""
        return tuple(c.value for c in self.node.clusters) if self.node is not None else self.clusters


def plan(canary: ir.Canary, topology: Topology) -> tuple[Wave, ...]:
    """The canary's waves in order; one wave of every cluster without `wave`s."""
    if not canary.waves:
        return (Wave(1, tuple(topology.names), canary.at, 0, None),)
    last = len(canary.steps)
    taken: set[str] = set()
    out = []
    for number, node in enumerate(canary.waves, 1):
        primaries = {c.value for c in node.clusters if not topology.is_remote(c.value)} - taken
        taken |= primaries
        clusters = tuple(c for c in topology.names if topology.primary_of(c) in primaries)
        start = 0 if number == 1 else (node.after if node.after is not None else last)
        out.append(Wave(number, clusters, node.at, start, node))
    return tuple(out)


def wave_of(canary: ir.Canary, topology: Topology, cluster: str) -> Optional[Wave]:
    """The wave whose step `cluster` renders; None when the plan leaves it
    out (MESH920)."""
    return next((w for w in plan(canary, topology) if cluster in w.clusters), None)


def live_step(canary: ir.Canary, topology: Topology, cluster: str) -> int:
    """The step a cluster's configuration renders for the canary."""
    wave = wave_of(canary, topology, cluster)
    return wave.step if wave is not None else 0


def cluster_label(policy: ir.MeshPolicy) -> str:
    """The Prometheus label whose value names a series' cluster."""
    fleet = policy.fleet
    return fleet.cluster_label.name if fleet is not None and fleet.cluster_label is not None else DEFAULT_CLUSTER_LABEL
