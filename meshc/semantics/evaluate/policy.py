"""The DestinationRule traffic policy that applies to one upstream cluster.

Followed:

- pilot/pkg/model/push_context.go `setDestinationRules` and
  `destinationRule`: a proxy looks for the rule of a host first among the
  DestinationRules of its own namespace (any `exportTo` that includes that
  namespace), then among those the service's namespace exports to it, then
  among those the root namespace (`istio-system`) exports to it; within a
  namespace the most specific host wins (`MostSpecificHostMatch`: the exact
  host, else the longest matching wildcard).
- pilot/pkg/model/destination_rule.go `mergeDestinationRule`: rules for the
  same host in one namespace (and with the same `exportTo`) are merged:
  subsets are concatenated (the first of a name wins) and only the first
  top-level `trafficPolicy` is used.
- pilot/pkg/networking/util/util.go `GetPortLevelTrafficPolicy` and
  `MergeSubsetTrafficPolicy`, as pilot/pkg/networking/core/cluster_builder.go
  applies them: a `portLevelSettings` entry for the cluster's port replaces
  the top-level policy with its own connectionPool, loadBalancer,
  outlierDetection and tls (nothing inherited, and the top-level tunnel,
  proxyProtocol and retryBudget are dropped too); a subset's policy
  (its own port-level entry first, which again keeps only those four
  fields) then replaces each of those four fields it sets, every one of
  them when it came from a port-level entry, plus tunnel, proxyProtocol and
  retryBudget when set. Each field is replaced as a whole message: a subset
  `outlierDetection: {consecutive5xxErrors: 1}` drops the top-level
  `interval`. retryBudget exists from Istio 1.30.

DestinationRules with a `workloadSelector` are not modelled (ignored).
"""

from __future__ import annotations

from typing import Iterable, Optional

from meshc.semantics.decision import PolicyValue
from meshc.semantics.evaluate.documents import Resource, fqdn, most_specific
from meshc.semantics.evaluate.values import duration_ms

PORT_LEVEL_FIELDS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")
"""util.go `shadowCopyPortTrafficPolicy`: what a port-level entry carries."""
SUBSET_ONLY_FIELDS = ("tunnel", "proxyProtocol", "retryBudget")
"""util.go `mergeTrafficPolicy`: replaced by a subset only when it sets them."""
DURATION_FIELDS = frozenset({"budgetInterval", "ttl", "warmupDurationSecs", "duration", "time", "interval",
                             "connectTimeout", "maxConnectionDuration", "idleTimeout", "timeout",
                             "baseEjectionTime"})
"""The google.protobuf.Duration fields of networking/v1alpha3/destination_rule.proto."""

Flat = tuple[tuple[str, PolicyValue], ...]


class _Consolidated:
    """DestinationRules of one host in one namespace, merged."""

    __slots__ = ("export_to", "traffic_policy", "subsets")

    def __init__(self, export_to: frozenset, spec: dict) -> None:
        self.export_to = export_to
        self.traffic_policy = spec.get("trafficPolicy")
        self.subsets: dict[str, Optional[dict]] = {}
        self.add(spec)

    def add(self, spec: dict) -> None:
        for subset in spec.get("subsets") or ():
            self.subsets.setdefault(str(subset.get("name")), subset.get("trafficPolicy"))
        if self.traffic_policy is None:
            self.traffic_policy = spec.get("trafficPolicy")

    def visible_to(self, namespace: str) -> bool:
        return not self.export_to or "*" in self.export_to or namespace in self.export_to


class DestinationRules:
    """Every DestinationRule of a cluster, indexed as pilot indexes them.
    A rule Istio's webhook would reject (a subset or policy that is not a
    mapping, ...) is left out and described in `problems`."""

    def __init__(self, rules: Iterable[Resource], domain: str, root_namespace: str = "istio-system",
                 problems: Optional[list[str]] = None) -> None:
        self.root = root_namespace
        self.local: dict[str, dict[str, list[_Consolidated]]] = {}
        self.exported: dict[str, dict[str, list[_Consolidated]]] = {}
        self.root_local: dict[str, list[_Consolidated]] = {}
        self._flat: dict[tuple, tuple[Flat, dict]] = {}
        for rule in rules:
            spec = rule.spec
            try:
                if spec.get("workloadSelector") is not None:
                    continue
                host = fqdn(str(spec.get("host") or ""), rule.namespace, domain).lower()
                export_to = frozenset(str(e) for e in spec.get("exportTo") or ())
                self._check(spec)
            except (TypeError, ValueError, AttributeError, KeyError) as err:
                if problems is not None:
                    problems.append(f"DestinationRule {rule.key}: {err}")
                continue
            ns = rule.namespace
            if not export_to or export_to & {"*", ".", ns}:
                _merge(self.local.setdefault(ns, {}), host, export_to, spec)
            private_only = len(export_to) == 1 and bool(export_to & {".", ns})
            if not private_only:
                _merge(self.exported.setdefault(ns, {}), host, export_to, spec)
            elif ns == root_namespace:
                _merge(self.root_local, host, export_to, spec)
        # each index's wildcard hosts, by the index's id (the indexes live
        # as long as this object; an absent index is empty, so has none)
        indexes = [*self.local.values(), *self.exported.values(), self.root_local]
        self._wildcards = {id(i): [h for h in i if h.startswith("*")] for i in indexes}

    def _check(self, spec: dict) -> None:
        """Read a rule's every subset and port as `policy` does, so that
        what the webhook would reject raises here, when loading (the
        flattened policies are kept for `policy`)."""
        alone = _Consolidated(frozenset(), spec)
        top = alone.traffic_policy
        policies = [p for p in (top, *alone.subsets.values()) if p is not None]
        ports = {None}
        if any(p.get("portLevelSettings") for p in policies):
            # every port a policy names, and one none does (port_level then reads every entry)
            ports |= {-1} | {(e.get("port") or {}).get("number") for p in policies
                             for e in p.get("portLevelSettings") or ()}
        for port in ports:
            self._flatten(port_level(top, port)[0] or {})
            for subset in alone.subsets.values():
                self._flatten(merge_subset(top, subset, port) or {})

    def _most_specific(self, host: str, index: dict[str, list[_Consolidated]]) -> Optional[str]:
        return most_specific(host, index, self._wildcards.get(id(index), ()))

    def lookup(self, host: str, proxy_namespace: str, service_namespace: str) -> Optional[_Consolidated]:
        """push_context.go `destinationRule` for a proxy in `proxy_namespace`."""
        index = self.local.get(proxy_namespace, {}) if proxy_namespace != self.root else self.root_local
        found = self._most_specific(host, index)
        if found is not None:
            return index[found][0]
        for ns in (service_namespace, self.root):
            if not ns:
                continue
            exported = self.exported.get(ns, {})
            found = self._most_specific(host, exported)
            if found is not None:
                visible = [c for c in exported[found] if c.visible_to(proxy_namespace)]
                if visible:
                    return visible[0]
        return None

    def policy(self, host: str, subset: Optional[str], port: Optional[int], proxy_namespace: str,
               service_namespace: str) -> Optional[Flat]:
        """The flattened effective policy of cluster (host, subset, port);
        None when the cluster does not exist (a subset no rule defines)."""
        rule = self.lookup(host, proxy_namespace, service_namespace)
        if rule is None:
            return None if subset else ()
        if subset is not None and subset not in rule.subsets:
            return None
        if subset is None:
            effective, _ = port_level(rule.traffic_policy, port)
        else:
            effective = merge_subset(rule.traffic_policy, rule.subsets[subset], port)
        return self._flatten(effective or {})

    def _flatten(self, policy: dict) -> Flat:
        """`flatten`, once per set of field messages: the subsets and ports
        of a rule mostly share its top-level ones. An entry holds its policy,
        so that the ids in its key stay those of its fields."""
        key = tuple((f, id(v)) for f, v in policy.items())
        found = self._flat.get(key)
        if found is None:
            found = self._flat[key] = (flatten(policy), policy)
        return found[0]


def _merge(index: dict[str, list[_Consolidated]], host: str, export_to: frozenset, spec: dict) -> None:
    for existing in index.setdefault(host, []):
        if existing.export_to == export_to:
            existing.add(spec)
            return
    index[host].append(_Consolidated(export_to, spec))


def port_level(policy: Optional[dict], port: Optional[int]) -> tuple[Optional[dict], bool]:
    """util.go `GetPortLevelTrafficPolicy`: the port's entry (its four
    fields only) and True, else the policy itself and False."""
    if policy is None or port is None:
        return policy, False
    for entry in policy.get("portLevelSettings") or ():
        if (entry.get("port") or {}).get("number") == port:
            return {f: entry.get(f) for f in PORT_LEVEL_FIELDS if entry.get(f) is not None}, True
    return policy, False


def merge_subset(original: Optional[dict], subset: Optional[dict], port: Optional[int]) -> Optional[dict]:
    """util.go `MergeSubsetTrafficPolicy` / `mergeTrafficPolicy`."""
    original, _ = port_level(original, port)
    if subset is None:
        return original
    subset, has_port_level = port_level(subset, port)
    if original is None:
        return subset
    merged = {f: original[f] for f in PORT_LEVEL_FIELDS + SUBSET_ONLY_FIELDS if original.get(f) is not None}
    for f in PORT_LEVEL_FIELDS:
        if subset.get(f) is not None or has_port_level:
            merged[f] = subset.get(f)
    for f in SUBSET_ONLY_FIELDS:
        if subset.get(f) is not None:
            merged[f] = subset[f]
    return {f: v for f, v in merged.items() if v is not None}


def flatten(policy: dict) -> Flat:
    """Dotted field paths to values (portLevelSettings left out: what
    applies is already chosen), durations in milliseconds, lists as tuples
    (a list of messages as a tuple of their flattened items); sorted."""
    out: dict[str, PolicyValue] = {}
    _flatten(policy, "", out, skip=("portLevelSettings",))
    return tuple(sorted(out.items()))


def _items(items: list) -> tuple:
    """A list as a tuple of its flattened messages and values (nested lists as tuples)."""
    return tuple(flatten(i) if isinstance(i, dict) else _items(i) if isinstance(i, list) else i for i in items)


def _flatten(value, path: str, out: dict, skip: tuple = ()) -> None:
    for key, item in value.items():
        if key in skip or item is None:
            continue
        name = f"{path}{key}"
        if isinstance(item, dict):
            _flatten(item, name + ".", out)
        elif isinstance(item, list):
            out[name] = _items(item)
        elif key in DURATION_FIELDS and isinstance(item, str):
            out[name] = duration_ms(item)
        else:
            out[name] = item
