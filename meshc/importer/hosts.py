"""Host and gateway names as pilot resolves them.

Short names resolve in the resource's namespace (pilot/pkg/model/config.go
`ResolveShortnameToFQDN`): `reviews` in namespace `shop` is
`reviews.shop.svc.cluster.local`, while `reviews.prod` has a dot and is taken
literally. Gateway references become `NS/NAME` (`resolveGatewayName`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from meshc.importer import values as val
from meshc.semantics.evaluate.documents import fqdn as _fqdn
from meshc.semantics.evaluate.documents import gateway_name

DOMAIN = "cluster.local"
SUFFIX = ".svc." + DOMAIN


@lru_cache(maxsize=None)
def fqdn(host: str, namespace: str) -> str:
    return _fqdn(host, namespace, DOMAIN).lower()


@lru_cache(maxsize=None)
def service_of(host: str) -> Optional[tuple[str, str]]:
    """(namespace, name) of a Kubernetes service's host, None for any other host."""
    if not host.endswith(SUFFIX):
        return None
    parts = host[: -len(SUFFIX)].split(".")
    if len(parts) != 2 or not all(val.is_name(p) for p in parts):
        return None
    return parts[1], parts[0]


def gateway_ref(name: str, namespace: str) -> str:
    return gateway_name(name, namespace)
