"""Istio documents in a normal form, to compare an input with the render of
its import.

Two documents that Istio applies alike get the same normal form: the
API version's group only (v1alpha3, v1beta1 and v1 share a schema), no
metadata but the namespace (names are reported as `name-not-kept`, labels
as `metadata-not-imported`), short host names resolved, defaults written
out (an AuthorizationPolicy's action, a ServiceEntry's location),
lists that are sets sorted, gateway server port names dropped. Each
document is keyed by what it configures rather than its name (a
VirtualService by its hosts and gateways, a DestinationRule by its host, a
PeerAuthentication by its namespace and selector), so that a renamed
resource still meets its counterpart.

VirtualServices and DestinationRules are compared too, but a difference
there is the evaluator's to judge (proof.py): routing can be alike in
documents that differ (a rank-ordered exposure, a subset policy written out
in full).
"""

from __future__ import annotations

from typing import Any, Optional

from meshc.importer.hosts import fqdn, gateway_ref
from meshc.semantics.evaluate.policy import flatten, merge_subset

ROUTING = ("VirtualService", "DestinationRule")
Key = tuple


def normal_forms(documents: list[dict], default_namespace: str, registry_ports: dict[str, tuple]) -> dict[Key, Any]:
    out: dict[Key, Any] = {}
    for doc in documents:
        kind = doc.get("kind")
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        ns = str(meta.get("namespace") or default_namespace)
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        try:
            found = _FORMS.get((group, kind))
            if found is None:
                continue
            key, form = found(spec, ns, meta, registry_ports)
            if key is not None:
                out[(kind,) + key] = form
        except (TypeError, ValueError, AttributeError, KeyError):
            continue
    return out


def _vs(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    hosts = tuple(sorted(fqdn(str(h), ns) for h in spec.get("hosts") or ()))
    gateways = tuple(sorted(gateway_ref(str(g), ns) for g in spec.get("gateways") or ())) or ("mesh",)
    entries = []
    for http in spec.get("http") or ():
        entry = {k: v for k, v in http.items() if k != "name"}
        routes = entry.get("route") or []
        if len(routes) == 1:
            routes = [{k: v for k, v in routes[0].items() if k != "weight"}]
        entry["route"] = [{**r, "destination": _destination(r.get("destination"), ns, ports)} for r in routes]
        if entry.get("retries") is not None and not (entry["retries"] or {}).get("attempts"):
            entry["retries"] = {"attempts": 0}
        if str(entry.get("timeout", "")) in ("0s", "0"):
            entry.pop("timeout")
        entries.append(entry)
    return (hosts, gateways), entries


def _destination(dest: Any, ns: str, ports: dict) -> Any:
    if not isinstance(dest, dict):
        return dest
    out = dict(dest)
    out["host"] = fqdn(str(dest.get("host", "")), ns)
    number = (dest.get("port") or {}).get("number") if isinstance(dest.get("port"), dict) else None
    known = ports.get(out["host"], ())
    if number is not None and len(known) == 1 and known[0] == number:
        out.pop("port")  # pilot picks the only port anyway (GetDestinationCluster)
    return out


def _dr(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    """Keyed by host; what Istio applies to each subset and port."""
    host = fqdn(str(spec.get("host", "")), ns)
    top = spec.get("trafficPolicy")
    numbers = sorted({e["port"]["number"] for e in (top or {}).get("portLevelSettings") or ()})
    subsets = {str(s.get("name")): (tuple(sorted((s.get("labels") or {}).items())), s.get("trafficPolicy"))
               for s in spec.get("subsets") or ()}
    form, flat = {}, {}
    for name in [None, *sorted(subsets)]:
        for port in [None, *numbers]:
            policy = merge_subset(top, subsets[name][1] if name else None, port) or {}
            # subsets without a policy of their own merge to the rule's: flattened once
            if id(policy) not in flat:
                flat[id(policy)] = (flatten(policy), policy)
            form[(name, port)] = flat[id(policy)][0]
    labels = {name: labels for name, (labels, _) in subsets.items()}
    return (host,), (labels, form)


def _gateway(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    servers = []
    for server in spec.get("servers") or ():
        port = dict(server.get("port") or {})
        port.pop("name", None)
        tls = dict(server.get("tls") or {})
        servers.append((tuple(sorted(port.items())), tuple(sorted(str(h) for h in server.get("hosts") or ())),
                        tuple(sorted((k, repr(v)) for k, v in tls.items()))))
    return (ns, str(meta.get("name"))), (tuple(sorted((spec.get("selector") or {}).items())), tuple(sorted(servers)))


def _service_entry(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    found = tuple(sorted((p.get("number"), str(p.get("protocol", "")).upper()) for p in spec.get("ports") or ()))
    return (tuple(sorted(str(h) for h in spec.get("hosts") or ())),), (
        found, spec.get("location") or "MESH_EXTERNAL", spec.get("resolution") or "NONE",
        repr(spec.get("endpoints")), repr(spec.get("addresses")))


def _selector(spec: dict) -> Optional[tuple]:
    labels = (spec.get("selector") or {}).get("matchLabels")
    return tuple(sorted(labels.items())) if labels else None


def _peer_authentication(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    return (ns, _selector(spec)), ((spec.get("mtls") or {}).get("mode", "UNSET"), repr(spec.get("portLevelMtls")))


def _authorization_policy(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    rules = set()
    for rule in spec.get("rules") or ():
        sources = [repr(sorted((f.get("source") or {}).items())) for f in rule.get("from") or ()] or [None]
        operations = [repr(sorted((t.get("operation") or {}).items())) for t in rule.get("to") or ()] or [None]
        for s in sources:
            for o in operations:
                rules.add((s, o, repr(rule.get("when"))))
    return (ns, _selector(spec), spec.get("action") or "ALLOW"), tuple(sorted(rules, key=repr))


def _service(spec: dict, ns: str, meta: dict, ports: dict) -> tuple:
    labels = meta.get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") != "meshc":
        return None, None  # a real Service: meshc renders none
    found = tuple(sorted((p.get("port"), p.get("name"), p.get("appProtocol")) for p in spec.get("ports") or ()))
    return (ns, str(meta.get("name"))), (repr(spec.get("selector")), found)


_FORMS = {
    ("networking.istio.io", "VirtualService"): _vs,
    ("networking.istio.io", "DestinationRule"): _dr,
    ("networking.istio.io", "Gateway"): _gateway,
    ("networking.istio.io", "ServiceEntry"): _service_entry,
    ("security.istio.io", "PeerAuthentication"): _peer_authentication,
    ("security.istio.io", "AuthorizationPolicy"): _authorization_policy,
    ("", "Service"): _service,
}
