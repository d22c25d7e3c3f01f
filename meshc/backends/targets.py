"""Istio releases meshc renders for: which API versions they serve and which
fields they know. One table; the backend asks it instead of branching on
version numbers."""

from __future__ import annotations

from dataclasses import dataclass

from meshc.language.values import ISTIO_VERSIONS

DEFAULT_VERSION = ISTIO_VERSIONS[-1]

# networking.istio.io/v1 and security.istio.io/v1 are served from 1.22.
_V1_FROM = (1, 22)

# Fields meshc may emit that older releases do not know, with the first
# release that serves them and where that was found. Every release meshc
# renders for (1.18 on) has the multi-cluster ones; they are listed so that
# the table says what each needs, and the gate holds if older releases are
# ever added.
FEATURES: dict[str, tuple[tuple[int, int], str]] = {
    # istio/api: `mirrors` in HTTPRoute, first in 1.20.
    "mirrors": ((1, 20), "several `mirror`s in one route (the `mirrors` field)"),
    # istio/api 94eb83821 "General topology aware loadbalancing" (#2043) added
    # `localityLbSetting.failoverPriority`, first tag 1.12.0; istio/istio
    # fa03b30370b (#34740) implements it in pilot, first tag 1.12.0.
    "failover-priority": ((1, 12), "`failover priority` (the `failoverPriority` field)"),
    # istio/istio c9d1988da41 (#43535) lets an entry pin a value, `key=value`,
    # first tag 1.18.0 (1.17.8 compares `key=value` as a label name); istio/api
    # documented it later, a713b1dde (#2723), first tag 1.19.0.
    "failover-priority-pin": ((1, 18), "a pinned entry of `failover priority` (`key=value`)"),
}


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class IstioTarget:
    """What one Istio release accepts."""

    version: str

    @property
    def networking(self) -> str:
        return "networking.istio.io/" + ("v1" if _minor(self.version) >= _V1_FROM else "v1beta1")

    @property
    def security(self) -> str:
        return "security.istio.io/" + ("v1" if _minor(self.version) >= _V1_FROM else "v1beta1")

    def supports(self, feature: str) -> bool:
        return _minor(self.version) >= FEATURES[feature][0]

    def requirement(self, feature: str) -> str:
        """`several mirrors (...) need Istio 1.20`."""
        since, what = FEATURES[feature][0], FEATURES[feature][1]
        return f"{what} needs Istio {since[0]}.{since[1]} or newer"
