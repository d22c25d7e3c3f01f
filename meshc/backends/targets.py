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
# release that serves them.
FEATURES: dict[str, tuple[tuple[int, int], str]] = {
    "mirrors": ((1, 20), "several `mirror`s in one route (the `mirrors` field)"),
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
