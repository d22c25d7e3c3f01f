"""One cluster's input read into the language's terms (model.ClusterImport).

Resources are taken in pilot's order (creation time, then name, then
namespace; pilot/pkg/model/config.go `sortConfigByCreationTime`), which is
how Istio chooses between two VirtualServices or DestinationRules for one
host: the first is used, the others are reported. A resource defined twice
in the input (same kind, namespace and name) is the last one, as `kubectl
apply` of the files in order would leave it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Optional

from meshc.importer import values as val
from meshc.importer.exposes import ExposureReader
from meshc.importer.destination_rules import DestinationRuleReading, flat, policies, read_destination_rule
from meshc.importer.hosts import SUFFIX, service_of
from meshc.importer.ledger import Ledger, Recorder
from meshc.importer.model import (BlueGreen, ClusterImport, Dest, Forward, Mirror, Origin, Port, Route, Service,
                                  Subset, Target)
from meshc.importer.namespaced import (is_cross_network, read_authorization_policy, read_gateway,
                                       read_peer_authentication, read_service, read_service_entry, renamed)
from meshc.importer.resources import Resource, category, version_problem
from meshc.importer.virtual_services import MESH, Entry, RawTarget, VirtualServiceReading, read_virtual_service
from meshc.semantics.evaluate import DocumentError, dead_entries

# Metadata the API server or kubectl set: not the user's, not reported.
SERVER_METADATA = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                             "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
                             "finalizers", "ownerReferences", "generateName"})
SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/")
MESHC_LABEL = ("app.kubernetes.io/managed-by", "meshc")
ROOT_NAMESPACE = "istio-system"
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


class ClusterReader:
    def __init__(self, cluster: str, ledger: Ledger, cache: Optional[dict] = None):
        self.cluster = cluster
        self.ledger = ledger
        self.cache = {} if cache is None else cache
        self.model = ClusterImport(cluster)
        self.virtual_services: list[VirtualServiceReading] = []
        self.gateway_virtual_services: list[VirtualServiceReading] = []
        self.skipped: dict[str, int] = {}

    # ------------------------------------------------------------ entry
    def read(self, found: list[Resource], remote: bool = False) -> ClusterImport:
        chosen = self._latest([res for res in found if category(res) == "other" or self._well_formed(res)])
        for res in chosen:
            kind = category(res)
            if kind == "other":
                self.skipped[res.kind] = self.skipped.get(res.kind, 0) + 1
                continue
            if kind == "alerts":
                self.ledger.lose("unsupported-kind", res, ("kind",),
                                 "holds the alerts meshc renders for a canary's health gates: the canary's steps are "
                                 "not in the YAML, so its route is imported as the split each cluster has now and the "
                                 "alerts are not rendered", value=True)
                continue
            if kind == "unsupported":
                self.ledger.lose("unsupported-kind", res, ("kind",),
                                 f"is not imported: the language has no {res.kind}", value=True)
                continue
            problem = version_problem(res)
            if problem:
                self.ledger.lose("unsupported-kind", res, ("apiVersion",), f"is not imported: {problem}", value=True)
                continue
            if remote and res.kind != "Service":
                self.ledger.lose("resource-not-in-effect", res, ("kind",),
                                 f"is in remote cluster `{self.cluster}`, whose proxies follow their primary's "
                                 "configuration: Istio never reads it, and it is not imported", value=True)
                continue
            self._once(res, ("metadata",), lambda rec, res=res: _metadata(res, rec))
        resources = [r for r in chosen if category(r) == "imported" and not version_problem(r)
                     and (not remote or r.kind == "Service")]
        by_kind: dict[str, list[Resource]] = {}
        for res in sorted(resources, key=lambda r: (r.created, r.name, r.namespace)):
            by_kind.setdefault(res.kind, []).append(res)
        for res in by_kind.get("Service", ()):
            self._service(res)
        self._destination_rules(by_kind.get("DestinationRule", []))
        for res in by_kind.get("Gateway", ()):
            self._gateway(res)
        for res in by_kind.get("ServiceEntry", ()):
            external = self._guarded(res, read_service_entry)
            if external is not None:
                self.model.namespace(res.namespace).externals.append(external)
        for res in by_kind.get("PeerAuthentication", ()):
            mtls = self._guarded(res, read_peer_authentication)
            if mtls is not None:
                self.model.namespace(res.namespace).mtls.append(mtls)
        for res in by_kind.get("AuthorizationPolicy", ()):
            allows = self._guarded(res, read_authorization_policy)
            self.model.namespace(res.namespace).allows += allows or []
        self._virtual_services(by_kind.get("VirtualService", []))
        return self.model

    def _well_formed(self, res: Resource) -> bool:
        problem = res.refused
        if problem is not None:
            self.ledger.lose("resource-not-in-effect", res, problem[0],
                             f"{problem[1]}: the API server refuses the resource, so Istio never reads it; it is "
                             "not imported", value=True)
            return False
        if not val.is_name(res.namespace):
            self.ledger.lose("unsupported-value", res, ("metadata", "namespace"),
                             f"`{res.namespace}` cannot be written in the language (a namespace's name starts with "
                             "a letter); the resource is not imported", value=True)
            return False
        return True

    def _latest(self, found: list[Resource]) -> list[Resource]:
        last: dict[tuple, Resource] = {}
        for res in found:
            key = (res.group, res.kind, res.namespace, res.name)
            earlier = last.get(key)
            if earlier is not None and res.kind:
                self.ledger.lose("resource-not-in-effect", earlier, ("metadata", "name"),
                                 f"is defined again at {res.span('metadata', 'name')}; the later definition is "
                                 "imported, as `kubectl apply` would leave it", value=True)
            last[key] = res
        return list(last.values())

    def _once(self, res: Resource, key: tuple, compute):
        """`compute(reporter)` for one resource body, done once for every
        cluster whose input holds the same body (identical texts are parsed
        into the same objects), its losses reported for each; None when the
        resource holds what its schema does not allow (`_attempt`)."""
        whole = (id(res.body), res.namespace) + key
        found = self.cache.get(whole)
        if found is None:
            found = self.cache[whole] = _attempt(res, compute)
        value, recorder = found
        recorder.replay(self.ledger, res)
        return value

    def _guarded(self, res: Resource, read):
        """`read(res, reporter)` for this cluster alone (what it returns
        names this cluster's resource); None as for `_once`."""
        value, recorder = _attempt(res, lambda rec: read(res, rec))
        recorder.replay(self.ledger, res)
        return value

    # --------------------------------------------------------- services
    def _service(self, res: Resource) -> None:
        stub, ports = read_service(res)
        svc = self.model.service(res.namespace, res.name)
        svc.runs_here = not stub
        for number, port in ports.items():
            svc.ports.setdefault(number, port)

    def _service_for(self, res: Resource, host: str, path: tuple, report=None) -> Optional[Service]:
        key = service_of(host)
        if key is None:
            why = ("Istio takes a name with a dot literally" if "." in host and not host.endswith(SUFFIX)
                   and host.count(".") < 2 else "the language routes and sets policy for services of the mesh only")
            (report or self.ledger).lose("host-not-a-service", res, path,
                             f"`{host}` is not a Kubernetes service (`NAME.NAMESPACE{SUFFIX}`): {why}; "
                             "it is not imported", value=True)
            return None
        return self.model.service(*key)

    # -------------------------------------------------- destination rules
    def _destination_rules(self, rules: list[Resource]) -> None:
        readings: list[DestinationRuleReading] = []
        for res in rules:
            reading = self._once(res, ("rule",), lambda rec, res=res: read_destination_rule(res, rec))
            if reading is None:
                continue
            reading = _own(reading, res)
            host = reading.host
            if host.startswith("*.") and host == f"*.{res.namespace}{SUFFIX}":
                self._defaults(reading)
            else:
                readings.append(reading)
        taken: dict[str, Resource] = {}
        for reading in readings:
            res = reading.resource
            svc = self._service_for(res, reading.host, ("spec", "host"))
            if svc is None:
                continue
            if svc.namespace != res.namespace:
                self.ledger.lose("resource-not-in-effect", res, ("metadata", "namespace"),
                                 f"is in namespace `{res.namespace}`, so Istio applies it to callers there only; the "
                                 f"language's policy is the service's own, and it is not imported", value=True)
                continue
            if reading.host in taken:
                first = taken[reading.host]
                self.ledger.lose("resource-not-in-effect", res, ("spec", "host"),
                                 f"is a second DestinationRule for `{reading.host}` ({first.title} comes first): "
                                 "Istio adds its subsets and ignores its traffic policy; it is not imported",
                                 value=True)
                continue
            taken[reading.host] = res
            renamed(self.ledger, res, ("metadata", "name"), res.name, svc.name, "the DestinationRule")
            defaults = self.model.namespace(svc.namespace).defaults or ()
            found = self._once(res, ("policies", defaults), lambda rec: policies(reading, defaults, rec))
            if found is None:
                continue
            svc.policy = found.policy
            svc.port_policies = tuple((number, own, effective) for number, (own, effective) in found.ports.items())
            svc.combos = found.combos
            for number in found.ports:
                svc.ports.setdefault(number, Port(number, "http", known=False))
            svc.subsets = tuple(Subset(name, labels, own, effective, Origin(res, ("spec", "subsets", s.index)))
                                for (name, labels, own, effective), s in zip(found.subsets, reading.subsets))
            svc.sources.append(res)

    def _defaults(self, reading: DestinationRuleReading) -> None:
        res = reading.resource
        ns = self.model.namespace(res.namespace)
        if ns.defaults is not None:
            self.ledger.lose("resource-not-in-effect", res, ("spec", "host"),
                             "is a second wildcard DestinationRule for the namespace; Istio uses the first, and "
                             "so does the import", value=True)
            return
        if reading.subsets:
            self.ledger.field(res, ("spec", "subsets"), "the language's `defaults` has no subsets")
        if reading.ports:
            self.ledger.field(res, ("spec", "trafficPolicy", "portLevelSettings"),
                              "the language's `defaults` has no port-level settings")
        ns.defaults = flat(reading.top)
        ns.defaults_origin = Origin(res)
        renamed(self.ledger, res, ("metadata", "name"), res.name, "defaults", "the DestinationRule")

    # ---------------------------------------------------------- gateways
    def _gateway(self, res: Resource) -> None:
        if is_cross_network(res):
            self.model.cross_network_gateway = res
            return
        gateway = self._guarded(res, read_gateway)
        if gateway is not None:
            self.model.namespace(res.namespace).gateways.append(gateway)

    # --------------------------------------------------- virtual services
    def _virtual_services(self, resources: list[Resource]) -> None:
        owner: dict[str, Resource] = {}
        for res in resources:
            reading = self._once(res, ("vs",), lambda rec, res=res: read_virtual_service(res, rec))
            if reading is None:
                continue
            reading = _own(reading, res)
            if reading.gateways != (MESH,):
                self.gateway_virtual_services.append(reading)
            if MESH not in reading.gateways:
                continue
            self.virtual_services.append(reading)
            dead = self._once(res, ("dead",), lambda rec, res=res: _dead(res)) or set()
            for host, i in reading.hosts:
                svc = self._service_for(res, host, ("spec", "hosts", i))
                if svc is None:
                    continue
                if host in owner:
                    self.ledger.lose("resource-not-in-effect", res, ("spec", "hosts", i),
                                     f"`{host}` is taken by {owner[host].title}, which comes first in pilot's order "
                                     "(creation time, then name): sidecars never use this VirtualService for it",
                                     value=True)
                    continue
                owner[host] = res
                renamed(self.ledger, res, ("metadata", "name"), res.name, svc.name, "the VirtualService")
                routes = self._once(res, ("routes", svc.key), lambda rec, reading=reading, svc=svc, dead=dead:
                                    self.routes(reading, svc, dead, rec))
                if routes is None:
                    continue
                svc.routes = routes
                self._touch(svc.routes)
                for route in svc.routes:  # a `port` match says the service has that port
                    for number in {int(c.value) for m in route.matches for c in m if c.kind == "port"}:
                        svc.ports.setdefault(number, Port(number, "http", known=False))
                svc.sources.append(res)
        exposures = ExposureReader(self, self.ledger)
        for reading in self.gateway_virtual_services:
            exposures.read(reading)

    def routes(self, reading: VirtualServiceReading, svc: Service, dead: set[int], report) -> tuple[Route, ...]:
        """The routes of one VirtualService for one of its services; losses
        go to `report` (a Recorder, replayed for each cluster)."""
        res = reading.resource
        own = Target(svc.namespace, svc.name)
        read: list[tuple[Route, Entry]] = []
        entries = reading.entries
        for position, entry in enumerate(entries):
            if entry.index in dead:
                report.lose("dead-entry", res, ("spec", "http", entry.index),
                            "can never match (an earlier entry takes every request it would); it is left out")
                continue
            if not entry.usable:
                if entry.direct_status == 404 and entry.matches is None and position == len(entries) - 1 and read \
                        and all(r.matches for r, _ in read):
                    continue  # the 404 the language renders after routes that all have a `when`
                if entry.direct_status == 404:
                    report.field(res, ("spec", "http", entry.index, "directResponse"),
                                 "the language answers 404 itself only after routes that all have a `when`; "
                                 "the entry is left out")
                continue
            last = position == len(entries) - 1 and entry.matches is None and entry.name is None
            if last and all(e.name != "default" for _, e in read):
                entry = replace(entry, name="default")  # an unnamed last catch-all: the language's default route
            route = self._unnamed_route(res, entry, own, report)
            if route is not None:
                read.append((route, entry))
        # Named once blue-green pairs are found: a preview entry's name is the
        # pair's name plus `-preview`, which may not be a name of its own.
        out: list[Route] = []
        names: set[str] = set()
        for route, entry in _blue_green(read, own):
            name = self._route_name(res, entry, names, report)
            route = route if route.name == name else replace(route, name=name)
            out.append(route)
            names.add(route.name)
        return tuple(out)

    def _route(self, res: Resource, entry: Entry, own: Optional[Target], names: set[str], report) -> Optional[Route]:
        """A usable entry as a route of the service `own` (None: of a gateway)."""
        route = self._unnamed_route(res, entry, own, report)
        return None if route is None else replace(route, name=self._route_name(res, entry, names, report))

    def _unnamed_route(self, res: Resource, entry: Entry, own: Optional[Target], report) -> Optional[Route]:
        """A route named as the entry is (`_route_name` makes it a name)."""
        dests = []
        for raw, weight in entry.dests:
            target = self.target(res, raw, report)
            if target is None:
                return None
            dests.append(Dest(target, weight))
        mirrors = []
        for raw, percent in entry.mirrors:
            target = self.target(res, raw, report)
            if target is not None:
                mirrors.append(Mirror(target, percent))
        action = Forward(tuple(dests))
        if own is not None and len(dests) == 1 and dests[0].target == own:
            action = None
        return Route(entry.name or "", entry.matches or (), action, tuple(mirrors), entry.options,
                     Origin(res, ("spec", "http", entry.index)))

    def target(self, res: Resource, raw: RawTarget, report) -> Optional[Target]:
        other = self._service_for(res, raw.host, raw.path + ("host",), report)
        if other is None:
            return None
        target = Target(other.namespace, other.name, raw.subset, raw.port)
        self._touch_target(target)
        return target

    def _touch(self, routes: tuple[Route, ...]) -> None:
        """The services (and ports) routes send to exist in this cluster's
        reading, as reading the routes here would have made them."""
        for route in routes:
            for target in _targets(route):
                self._touch_target(target)

    def _touch_target(self, target: Target) -> None:
        other = self.model.service(target.namespace, target.service)
        if target.port is not None and target.port not in other.ports:
            other.ports[target.port] = Port(target.port, "http", known=False)

    def _route_name(self, res: Resource, entry: Entry, names: set[str], report) -> str:
        if entry.name is None:
            base = f"route-{entry.index + 1}"
        elif val.is_name(entry.name):
            base = entry.name
        else:
            base = _NOT_NAME.sub("-", entry.name.lower()).strip("-")
            if base and not base[0].isalpha():  # a name starts with a letter
                base = f"route-{base}"
            base = base[:63].strip("-") or f"route-{entry.index + 1}"
        name, n = base, 2
        while name in names or name.endswith("-preview") and name[:-8] in names:
            suffix = f"-{n}"  # within a DNS label's 63 characters
            name, n = base[: 63 - len(suffix)].rstrip("-") + suffix, n + 1
        if entry.name is not None and name != entry.name:
            renamed(report, res, ("spec", "http", entry.index, "name"), entry.name, name, "the route name")
        return name


UNREADABLE = (TypeError, AttributeError, ValueError, KeyError, IndexError)
"""What reading a value of a type the schema does not allow raises (a list
where a mapping belongs, a number for a host, ...)."""


def _metadata(res: Resource, report) -> None:
    """Report the metadata meshc does not carry, and fields no resource has."""
    meta = res.metadata
    for key in meta:
        if key in ("labels", "annotations"):
            for k, v in (meta[key] or {}).items() if isinstance(meta[key], dict) else ():
                if (k, v) == MESHC_LABEL or (key == "annotations" and str(k).startswith(SERVER_ANNOTATIONS)):
                    continue
                report.lose("metadata-not-imported", res, ("metadata", key, k),
                            f"is not imported: meshc sets no {key[:-1]}s but its own")
        elif key not in SERVER_METADATA:
            report.field(res, ("metadata", key), "meshc does not set it")
    for key in res.body:
        if key not in ("apiVersion", "kind", "metadata", "spec", "status"):
            report.field(res, (key,), "it is not part of the resource's schema")


def _attempt(res: Resource, compute) -> tuple[Any, Recorder]:
    """(`compute(recorder)`, its losses); (None, the one loss saying why)
    when the resource holds a value of a type its schema does not allow."""
    recorder = Recorder()
    try:
        return compute(recorder), recorder
    except UNREADABLE as err:
        recorder = Recorder()
        recorder.lose("unsupported-value", res, ("spec",),
                      f"holds a value of a type meshc cannot read there ({type(err).__name__}: {err}); the resource "
                      "is not imported", "Istio's schema refuses such values; if kubectl applies the resource, please "
                      "report it")
        return None, recorder


def _dead(res: Resource) -> set[int]:
    try:
        return {d.index for d in dead_entries({"metadata": {"namespace": res.namespace}, "spec": res.spec})}
    except (DocumentError, TypeError, ValueError, AttributeError, KeyError):
        return set()


def _targets(route: Route) -> list[Target]:
    out = [m.target for m in route.mirrors]
    if isinstance(route.action, Forward):
        out += [d.target for d in route.action.dests]
    return out


def _blue_green(read: list[tuple[Route, Entry]], own: Target) -> list[tuple[Route, Entry]]:
    """meshc's blue-green pair, read back: `NAME-preview` (the route's
    matches, each with `x-preview: true`, to the preview subset) just before
    `NAME` (to the active subset), with the same options and mirrors."""
    from meshc.importer.model import Cond

    out: list[tuple[Route, Entry]] = []
    i = 0
    while i < len(read):
        preview, route = read[i][0], read[i + 1][0] if i + 1 < len(read) else None
        if route is not None and route.name and preview.name == f"{route.name}-preview" and \
                _single_subset(preview, own) and _single_subset(route, own) and preview.options == route.options \
                and preview.mirrors == route.mirrors:
            header = Cond("header", name="x-preview", op="exact", value="true")
            matches = route.matches or ((),)
            if tuple(tuple(sorted(m + (header,), key=repr)) for m in matches) == tuple(
                    tuple(sorted(m, key=repr)) for m in preview.matches):
                action = BlueGreen(route.action.dests[0].target.subset, preview.action.dests[0].target.subset)
                out.append((Route(route.name, route.matches, action, route.mirrors, route.options, route.origin),
                            read[i + 1][1]))
                i += 2
                continue
        out.append(read[i])
        i += 1
    return out


def _single_subset(route: Route, own: Target) -> bool:
    """The route sends everything to one subset of the service itself."""
    action = route.action
    if not isinstance(action, Forward) or len(action.dests) != 1:
        return False
    target = action.dests[0].target
    return (target.namespace, target.service, target.port) == (own.namespace, own.service, None) and \
        target.subset is not None


def _own(reading, res: Resource):
    """A reading shared among clusters (ClusterReader._once), with this
    cluster's resource."""
    return reading if reading.resource is res else replace(reading, resource=res)
