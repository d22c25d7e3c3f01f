"""The evaluator reads every cluster of meshc's golden output and answers a
grid of requests built from the conditions found there, without failing.

No expectation about where the requests go: that is the differential test
against the interpreter of the .mesh sources (issue 7, item 3)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from meshc.semantics.decision import Decision
from meshc.semantics.evaluate import Evaluator, load_directory
from meshc.semantics.evaluate.documents import fqdn
from meshc.semantics.request import Registry, Request, ServicePort

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "examples"
CLUSTERS = sorted(p for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


def registry_of(documents: list[dict]) -> Registry:
    """A registry guessed from the documents: every destination, rule and
    VirtualService host, with the ports they mention (80 when none)."""
    ports: dict[str, set[int]] = {}

    def add(host: str, ns: str, port=None) -> None:
        if host and not host.startswith("*"):
            found = ports.setdefault(fqdn(host, ns, "cluster.local").lower(), set())
            if port:
                found.add(int(port))

    for doc in documents:
        ns = (doc.get("metadata") or {}).get("namespace") or "default"
        spec = doc.get("spec") or {}
        if doc.get("kind") == "VirtualService":
            for http in spec.get("http") or ():
                for d in [r.get("destination") or {} for r in http.get("route") or ()] + \
                         [http.get("mirror") or {}] + [m.get("destination") or {} for m in http.get("mirrors") or ()]:
                    add(d.get("host", ""), ns, (d.get("port") or {}).get("number"))
        elif doc.get("kind") == "DestinationRule":
            add(spec.get("host", ""), ns)
            for pls in (spec.get("trafficPolicy") or {}).get("portLevelSettings") or ():
                add(spec.get("host", ""), ns, (pls.get("port") or {}).get("number"))
    return Registry({h: tuple(ServicePort(p, "http") for p in sorted(found or {80})) for h, found in ports.items()})


def grid(documents: list[dict], registry: Registry, limit: int = 40) -> list[Request]:
    """Per VirtualService, requests from its own conditions, at every
    gateway it is bound to and at sidecars."""
    gateways = {f"{(d.get('metadata') or {}).get('namespace', 'default')}/{d['metadata']['name']}": d
                for d in documents if d.get("kind") == "Gateway"}
    out = []
    for doc in documents:
        if doc.get("kind") != "VirtualService":
            continue
        ns = doc["metadata"].get("namespace", "default")
        spec = doc.get("spec") or {}
        paths, headers = {"/", "/x?y=1"}, [{}]
        for http in spec.get("http") or ():
            for m in http.get("match") or ():
                for value in (m.get("uri") or {}).values():
                    paths.add(str(value) if str(value).startswith("/") else "/" + str(value))
                for name, match in (m.get("headers") or {}).items():
                    headers.append({name: str(next(iter((match or {"exact": "1"}).values())))})
        variants = [(p, h) for p in sorted(paths) for h in headers]
        for host in spec.get("hosts") or ():
            for gw in spec.get("gateways") or ["mesh"]:
                name = gw if "/" in gw or gw == "mesh" else f"{ns}/{gw}"
                if name == "mesh":
                    full = fqdn(host, ns, "cluster.local")
                    for port in registry.ports(full.lower()) or (ServicePort(80, "http"),):
                        out += [Request.make(full, port.number, path=p, headers=h, source_namespace=ns)
                                for p, h in islice(variants, limit)]
                elif name in gateways:
                    gw_ns = name.split("/")[0]
                    for server in gateways[name]["spec"].get("servers") or ():
                        out += [Request.make(host.replace("*", "any"), server["port"]["number"], gateway=name,
                                             path=p, headers=h, source_namespace=gw_ns)
                                for p, h in islice(variants, limit)]
    return out


@pytest.mark.skipif(not CLUSTERS, reason="no golden output")
@pytest.mark.parametrize("cluster", CLUSTERS, ids=lambda p: p.name)
def test_every_golden_cluster_evaluates(cluster: Path):
    documents = load_directory(cluster)
    registry = registry_of(documents)
    ev = Evaluator(documents, registry)
    assert not ev.problems
    requests = grid(documents, registry)
    # A remote cluster's directory holds no routing (its primary's does).
    assert bool(requests) == any(d.get("kind") == "VirtualService" for d in documents)
    for r in requests:
        d = ev.evaluate(r)
        assert isinstance(d, Decision)
        assert ev.explain(r).decision == d
