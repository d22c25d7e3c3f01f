"""A request as the proxy that routes it sees it, and the services that exist.

The same `Request` goes to the evaluator of rendered Istio and to the
interpreter of the .mesh policy, so both are asked exactly one question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional
from urllib.parse import urlencode


@dataclass(frozen=True)
class Request:
    """One HTTP request.

    `host` and `port` are what the caller dialled: a service's host name
    (`NAME.NS.svc.cluster.local`) and one of its ports for a request leaving
    a sidecar, or the `Host`/`:authority` and the gateway port for a request
    arriving at an ingress gateway (`gateway` is then `NS/NAME` of the
    Gateway resource whose server takes it).

    `source_*` describe the workload whose proxy routes the request: the
    calling workload for a sidecar, the gateway's own pod at a gateway.
    `source_cluster` is the cluster that proxy runs in (Istio gives every
    proxy the label `topology.istio.io/cluster`).

    `path` includes the query string; `headers` are lower-case names with
    their values, cookies included as one `cookie` header.
    """

    host: str
    port: int
    gateway: Optional[str] = None
    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    source_namespace: str = "default"
    source_labels: tuple[tuple[str, str], ...] = ()
    source_cluster: Optional[str] = None

    @classmethod
    def make(cls, host: str, port: int, *, gateway: Optional[str] = None, method: str = "GET",
             path: str = "/", headers: Mapping[str, str] = {}, cookies: Mapping[str, str] = {},
             query: Mapping[str, str] = {}, source_namespace: str = "default",
             source_labels: Mapping[str, str] = {}, source_cluster: Optional[str] = None) -> "Request":
        """A request from keyword arguments: cookies join a `cookie` header
        given in `headers` in one `cookie` header (`a=1; b=2`, as a client
        sends them, RFC 6265 5.4), query parameters are appended to the path."""
        hdrs = {k.lower(): v for k, v in headers.items()}
        if cookies:
            hdrs["cookie"] = "; ".join(([hdrs["cookie"]] if hdrs.get("cookie") else [])
                                       + [f"{k}={v}" for k, v in cookies.items()])
        if query:
            path = path + ("&" if "?" in path else "?") + urlencode(dict(query))
        return cls(host, port, gateway, method, path, tuple(sorted(hdrs.items())), source_namespace,
                   tuple(sorted(source_labels.items())), source_cluster)

    def header(self, name: str) -> Optional[str]:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def path_only(self) -> str:
        """The path without its query string (what a `uri` match sees)."""
        return self.path.split("?", 1)[0]


@dataclass(frozen=True)
class ServicePort:
    number: int
    protocol: str  # http, http2, grpc, https, tcp, tls


@dataclass(frozen=True)
class Registry:
    """The services a cluster's control plane knows, by host: Kubernetes
    Services and ServiceEntry hosts, with their ports. Istio needs them to
    pick a destination's port when a route gives none (`GetDestinationCluster`)
    and to build default routes for hosts no VirtualService takes."""

    services: Mapping[str, tuple[ServicePort, ...]] = field(default_factory=dict)

    def ports(self, host: str) -> tuple[ServicePort, ...]:
        return tuple(self.services.get(host, ()))
