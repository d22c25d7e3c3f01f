"""Hypothesis strategies for whole, valid .mesh policies, written as text.

Built from docs/language.md alone (no meshc code is used to produce the
text), so that the property tests compare meshc with the documentation rather
than with itself. `policies()` draws a `Policy`: a small model of what was
written (a fleet of 1-3 clusters or none; 1-3 namespaces with `defaults`,
`mtls`, `allow`, `external` and a gateway; services with ports, subsets,
routes, `when` conditions, `to`/`canary`/`blue-green`, mirrors, route
options, destination policy, `expose`, a gateway `host` block and `on
CLUSTER` overrides), from which the source text is printed in a randomised
layout (indentation, CRLF, one-line blocks, comments), either as one file
or split into several files by namespace.

What is drawn always compiles without errors according to the docs:

- names are DNS-1123 labels that are not keywords;
- every conditional route carries, in each of its `when` alternatives, one
  "anchor" condition on a header, query parameter or cookie whose name no
  other alternative uses, so no route is shadowed by an earlier one
  (MESH307) and no alternative contradicts itself (MESH308); an `and` tests
  each thing at most once (MESH316); every service ends with a route without
  `when`, so there is no MESH309 either;
- weights are whole percentages adding up to 100, `rest` only where it gets
  a positive share; canary steps strictly increase and end at 100 %, `at` is
  in range, `pause` has one duration or one per gap; in a fleet of several
  clusters a canary may have waves: every cluster in one, each wave's `at`
  in range and past 0 only once the wave before is at the step that starts
  it (`after N`, or the last step);
- every subset, service, port and cluster named is declared; `failover` only
  next to an `eject` and between regions of the fleet; several mirrors only
  when every cluster runs Istio 1.20 or newer (docs/language.md; the MESH601
  example in docs/diagnostics.md says 1.21);
- each statement a block may hold once appears once.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from typing import Optional, Union

from hypothesis import strategies as st

# Every word that starts a statement or is a fixed part of one in
# docs/language.md. Names are drawn outside this set so that a name can never
# be read as a keyword (the docs only promise that keywords are reserved
# where a statement can start).
KEYWORDS = frozenset("""
fleet cluster region zone network gateway istio namespace mtls for allow from principal to defaults
hosts https http http2 grpc tcp tls port credential redirect-http selector external service global
subsets subset by route expose via host when in on and or header absent cookie path method query
source canary steps at pause analysis success-rate blue-green active preview mirror timeout retry
per-try off fault delay abort rewrite cors origins methods headers expose-headers max-age credentials
circuit-breaker max-connections connect-timeout max-pending max-requests max-requests-per-connection
max-retries idle-timeout eject consecutive every max lb hash source-ip ttl failover distribute rest
strict permissive disable istio-mutual simple round-robin random least-request passthrough
gateway-errors gateway-error reset reset-before-request connect-failure envoy-ratelimited
retriable-4xx refused-stream retriable-status-codes retriable-headers http3-post-connect-failure
cancelled deadline-exceeded internal resource-exhausted unavailable p50 p75 p90 p95 p99 p999
cookie x-preview dns-proxying remote of local priority name wave after cluster-label
""".split())

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
RETRY_CONDITIONS = ("5xx", "gateway-error", "reset", "reset-before-request", "connect-failure",
                    "envoy-ratelimited", "retriable-4xx", "refused-stream", "retriable-status-codes",
                    "retriable-headers", "http3-post-connect-failure", "cancelled", "deadline-exceeded",
                    "internal", "resource-exhausted", "unavailable", "503", "429")
# Simple regexes RE2 accepts; `\d` is written as is (the docs keep every
# backslash but `\"` and `\\`).
REGEXES = ("^[0-9]*[02468]$", "[a-z]+", "v[0-9]+(\\.[0-9]+)?", ".*canary.*", "(foo|bar)-[0-9]{1,3}",
           "^\\d+$", "[^/]+", "/api/v[12]/.*", "(?i)chrome.*", "a|b|c")
# The timeout property 5 injects; the generator never writes it.
INJECTED_TIMEOUT = "4321ms"


# ------------------------------------------------------------------ tokens
# Free-form tokens (names, values) are sampled from pools made once, with a
# fixed seed: one draw per token instead of one per character keeps a
# policy at a few hundred draws, which is what bounds the tests' runtime.
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LOWER + "0123456789"


def _pool(make, size: int, extra: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    rng = random.Random(size)
    found = dict.fromkeys(extra)
    while len(found) < size + len(extra):
        word = make(rng)
        if word not in KEYWORDS:
            found[word] = None
    return st.sampled_from(list(found))


def _run(rng: random.Random, alphabet: str, lo: int, hi: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


# DNS labels, `[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?`, plus the shortest and a
# longest (63 characters) one
names = _pool(lambda r: r.choice(_LOWER) + _run(r, _ALNUM, 0, 6) + (("-" + _run(r, _ALNUM, 1, 4)) if r.random() < .4
                                                                    else ""),
              300, ("a", "v1", "x" * 30 + "-" + "y" * 32))
# no digits, so never equal to an anchor name (which ends in digits)
plain_words = _pool(lambda r: _run(r, _LOWER, 1, 8) + (("-" + _run(r, _LOWER, 1, 4)) if r.random() < .4 else ""),
                    200)
durations = st.one_of(
    st.integers(1, 999).map(lambda n: f"{n}ms"),
    st.integers(1, 600).map(lambda n: f"{n}s"),
    st.integers(1, 90).map(lambda n: f"{n}m"),
    st.integers(1, 48).map(lambda n: f"{n}h"),
    # decimals of whole milliseconds (`1.001s` once failed as 1000.999... ms)
    st.tuples(st.integers(0, 9), st.integers(1, 999)).map(lambda t: f"{t[0]}.{t[1]:03d}s"),
    st.sampled_from(["1.5s", "0.25s", "2.5m", "0.5h", "1.25s", "0.017m"]),
)
shares = st.integers(1, 100).map(lambda n: f"{n}%") | st.sampled_from(["0.1%", "0.01%", "12.5%", "99.9%"])
# the text between the quotes, escaped as the docs say (`\"` and `\\`)
string_values = _pool(lambda r: _run(r, _ALNUM + "ABCXYZ._:/ -", 1, 12), 100,
                      ('say \\"hi\\"', "back\\\\slash", "# not a comment", "中文", "semi;colon"))
label_values = _pool(lambda r: r.choice(_ALNUM) + ((_run(r, _ALNUM + "._-", 0, 8) + r.choice(_ALNUM))
                                                   if r.random() < .6 else ""), 100)
label_keys = st.sampled_from(["version", "track", "app.kubernetes.io/version", "color", "algo"])
cookie_values = _pool(lambda r: _run(r, _ALNUM + "._-", 1, 10), 50)
path_values = _pool(lambda r: "/" + _run(r, _ALNUM + "/_.-", 0, 12), 50, ("/",))
regions_ = _pool(lambda r: _run(r, _LOWER, 2, 2) + "-" + _run(r, _LOWER, 2, 5), 20)


def quoted(text: str) -> str:
    """A string literal: `text` is already escaped as the docs require."""
    return f'"{text}"'


# ------------------------------------------------------------------ model
@dataclass
class Cluster:
    name: str
    region: Optional[str]
    attrs: str  # everything after the name
    istio: Optional[str]
    # what fleet_policies() also draws (in `attrs` too)
    remote_of: Optional[str] = None
    network: Optional[str] = None
    gateway: bool = False
    zone: Optional[str] = None


@dataclass
class Wave:
    clusters: list[str]
    after: Optional[int]
    at: Optional[int]

    def text(self) -> str:
        after = f" after {self.after}" if self.after is not None else ""
        at = f" at {self.at}" if self.at is not None else ""
        return f" wave {' '.join(self.clusters)}{after}{at}"


@dataclass
class Canary:
    baseline: str
    candidate: str
    steps: list[int]
    at: Optional[int]
    extra: str  # pause / analysis, printed after `at`
    waves: list[Wave] = field(default_factory=list)  # with waves, `at` is None

    def share_in(self, cluster: str) -> int:
        """The candidate's share in a cluster: at the `at` of the wave
        listing it, or of the canary (0 without `at` or with `at 0`)."""
        at = next((w.at for w in self.waves if cluster in w.clusters), None) if self.waves else self.at
        return self.steps[at - 1] if at else 0

    def text(self) -> str:
        steps = " ".join(f"{s}%" for s in self.steps)
        at = f" at {self.at}" if self.at is not None else ""
        waves = "".join(w.text() for w in self.waves)
        return f"canary {self.baseline} -> {self.candidate} steps {steps}{at}{self.extra}{waves}"


@dataclass
class Destination:
    """One `to` target: a subset of this service, or `service ...`."""

    text: str           # the target as written, without the weight
    host: str           # the host it must render as
    subset: Optional[str]
    port: Optional[int]
    weight: Union[int, str, None]  # an int, "rest" or None


@dataclass
class Forward:
    destinations: list[Destination]

    def text(self) -> str:
        parts = []
        for d in self.destinations:
            w = "" if d.weight is None else (" rest" if d.weight == "rest" else f" {d.weight}%")
            parts.append(d.text + w)
        return "to " + ", ".join(parts)

    def weights(self) -> list[int]:
        """The weights as they must render (`rest` resolved)."""
        given = [d.weight for d in self.destinations]
        if len(given) == 1:
            return [100]
        taken = sum(w for w in given if isinstance(w, int))
        return [100 - taken if w == "rest" else w for w in given]


@dataclass
class BlueGreen:
    active: str
    preview: str

    def text(self) -> str:
        return f"blue-green active {self.active} preview {self.preview}"


Action = Union[Forward, Canary, BlueGreen, None]


MESH_ONLY = ("port ", "source ", "from namespace ")


@dataclass
class Route:
    name: str
    alternatives: list[list[str]]  # `or` of `and`s of conditions; [] = no `when`
    action: Action
    mirrors: list["Mirror"]
    options: dict[str, str]                  # kind -> statement
    overrides: dict[str, dict[str, str]]     # cluster -> kind -> statement
    order: list[int]                         # permutation of the statement slots
    one_line: bool
    comment: Optional[str]

    @property
    def entry_names(self) -> list[str]:
        """The `http` entries this route renders, in order."""
        if isinstance(self.action, BlueGreen):
            return [f"{self.name}-preview", self.name]
        return [self.name]

    @property
    def gateway_entry_names(self) -> list[str]:
        """Its entries behind an exposure: none when every alternative tests
        the port or the source, which at a gateway are the gateway's own."""
        if self.alternatives and all(any(c.startswith(MESH_ONLY) for c in alt) for alt in self.alternatives):
            return []
        return self.entry_names


@dataclass
class Service:
    name: str
    namespace: str
    ports: list[tuple[int, str, Optional[str]]]  # number, protocol, port policy
    subset_key: str
    subsets: list[str]
    subsets_explicit: bool                       # `subset N { key = "N" }` instead of `subsets by`
    subset_policy: dict[str, str]                # subset -> policy statement
    options: dict[str, str]
    policy: dict[str, str]
    routes: list[Route]
    overrides: dict[str, dict[str, str]]         # cluster -> kind -> statement
    expose: Optional[tuple[str, str]] = None     # (gateway, host)
    # what fleet_policies() also draws
    placement: Optional[list[str]] = None        # `in C...`; None: every cluster
    local: bool = False
    port_names: dict[int, str] = field(default_factory=dict)       # port -> `name NAME`
    subset_clusters: dict[str, str] = field(default_factory=dict)  # explicit subset -> its `in C`
    expose_cluster: Optional[str] = None                           # `expose ... when from cluster C`

    @property
    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass
class HostBlock:
    """A gateway's `host HOST { ... }`: routes only the gateway has."""

    host: str
    options: dict[str, str]  # kind -> statement, for every route of the block
    routes: list[Route]

    @property
    def overrides(self) -> dict[str, dict[str, str]]:
        """A block has no `on CLUSTER` of its own (its routes may)."""
        return {}


@dataclass
class Gateway:
    name: str
    hosts: list[str]
    servers: list[str]  # `https credential C`, `http`, `redirect-http`, ...
    block: Optional[HostBlock] = None

    def head(self) -> str:
        return f"gateway {self.name} {{ hosts {' '.join(self.hosts)}"

    def virtual_service(self, host: str) -> str:
        """The documented name of the VirtualService for one of its hosts."""
        return f"{self.name}-{host.replace('.', '-')}"


@dataclass
class Namespace:
    name: str
    defaults: Optional[str]
    services: list[Service]
    split: int  # services before this index go to the first file, the rest to a second one
    security: list[str] = field(default_factory=list)   # `mtls ...` and `allow ...` statements
    externals: list[str] = field(default_factory=list)  # `external ...` statements
    gateway: Optional[Gateway] = None


@dataclass
class Layout:
    indent: str
    newline: str
    blank_lines: bool


@dataclass
class Policy:
    clusters: Optional[list[Cluster]]  # None: no fleet (one cluster, `default`)
    namespaces: list[Namespace]
    layout: Layout = field(default_factory=lambda: Layout("  ", "\n", False))
    dns_proxying: bool = False

    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.clusters] if self.clusters else ["default"]

    def services(self) -> list[Service]:
        return [svc for ns in self.namespaces for svc in ns.services]

    def gateway(self) -> Optional[tuple[str, Gateway]]:
        """(namespace, gateway), if the policy has one."""
        for ns in self.namespaces:
            if ns.gateway:
                return ns.name, ns.gateway
        return None

    # ------------------------------------------------------------ printing
    def text(self) -> str:
        """The whole policy as one file."""
        return "".join(self.files().values())

    def files(self) -> dict[str, str]:
        """The policy split into files: the fleet, then each namespace (a
        namespace split in two is two blocks in two files)."""
        out = {}
        if self.clusters is not None:
            out["00-fleet.mesh"] = self._fleet()
        for i, ns in enumerate(self.namespaces):
            parts = [ns.services[:ns.split], ns.services[ns.split:]] if 0 < ns.split < len(ns.services) \
                else [ns.services]
            for k, services in enumerate(parts):
                out[f"{i + 1:02d}-{ns.name}-{k}.mesh"] = self._namespace(ns, services, with_defaults=k == 0)
        return out

    def _lines(self, lines: list[str]) -> str:
        return "".join(line + self.layout.newline for line in lines)

    def _fleet(self) -> str:
        ind = self.layout.indent
        lines = ["# the fleet", "fleet prod {"]
        lines += [f"{ind}cluster {c.name}{c.attrs}" for c in self.clusters]
        if self.dns_proxying:
            lines.append(f"{ind}dns-proxying")
        lines.append("}")
        return self._lines(lines)

    def _namespace(self, ns: Namespace, services: list[Service], with_defaults: bool) -> str:
        ind = self.layout.indent
        lines = [f"namespace {ns.name} {{"]
        if with_defaults and ns.defaults:
            lines.append(f"{ind}defaults {{ {ns.defaults} }}")
        if with_defaults:
            lines += [ind + stmt for stmt in ns.security + ns.externals]
            if ns.gateway:
                lines += [ind + line for line in self._gateway(ns.gateway)]
        for svc in services:
            if self.layout.blank_lines:
                lines.append("")
            lines += [ind + line for line in self._service(svc)]
        lines.append("}")
        return self._lines(lines)

    def _gateway(self, gw: Gateway) -> list[str]:
        """The `hosts` list ends at the end of its line; the rest follows."""
        ind = self.layout.indent
        if gw.block is None:
            return [f"{gw.head()} {' '.join(gw.servers)} }}"]
        block = [f"host {gw.block.host} {{"] + [ind + s for s in gw.block.options.values()]
        for route in gw.block.routes:
            block += [ind + line for line in self._route(route)]
        return [gw.head()] + [ind + s for s in gw.servers] + [ind + line for line in block + ["}"]] + ["}"]

    def _service(self, svc: Service) -> list[str]:
        ind = self.layout.indent
        body = [f"in {' '.join(svc.placement)}"] if svc.placement else []
        for number, proto, policy in svc.ports:
            name = f" name {svc.port_names[number]}" if number in svc.port_names else ""
            body.append(f"port {number} {proto}{name}" + (f" {{ {policy} }}" if policy else ""))
        if svc.local:
            body.append("local")
        if svc.subsets_explicit:
            for s in svc.subsets:
                extra = f" {svc.subset_policy[s]}" if s in svc.subset_policy else ""
                labels = f"in {s}" if svc.subset_key == "cluster" else f"{svc.subset_key} = {quoted(s)}" + (
                    f" in {svc.subset_clusters[s]}" if s in svc.subset_clusters else "")
                body.append(f"subset {s} {{ {labels}{extra} }}")
        elif svc.subsets:
            body.append(f"subsets by {svc.subset_key} {' '.join(svc.subsets)}")
            for s, policy in svc.subset_policy.items():
                body.append(f"subset {s} {{ {policy} }}")
        if svc.expose:
            # a service with several ports names the one its gateway routes go to (MESH319)
            port = f" port {svc.ports[0][0]}" if len(svc.ports) > 1 else ""
            when = f" when from cluster {svc.expose_cluster}" if svc.expose_cluster else ""
            body.append(f"expose via {svc.expose[0]} host {svc.expose[1]}{port}{when}")
        body += list(svc.options.values())
        body += list(svc.policy.values())
        for cluster, stmts in svc.overrides.items():
            body.append(f"on {cluster} {{ {' '.join(stmts.values())} }}")
        for route in svc.routes:
            if self.layout.blank_lines:
                body.append("")
            body += self._route(route)
        return [f"service {svc.name} {{"] + [ind + line for line in body] + ["}"]

    def _route(self, route: Route) -> list[str]:
        slots: list[str] = []
        if route.alternatives:
            slots.append("when " + " or ".join(" and ".join(alt) for alt in route.alternatives))
        else:
            slots.append("")
        slots.append(route.action.text() if route.action is not None else "")
        slots.append(" ".join(m.text() for m in route.mirrors))
        slots.append(" ".join(route.options.values()))
        slots.append(" ".join(f"on {c} {{ {' '.join(o.values())} }}" for c, o in route.overrides.items()))
        statements = [slots[i] for i in route.order if slots[i]]
        head = f"route {route.name} {{"
        if route.one_line:
            return [f"{head} {' '.join(statements)} }}" + (f"  # {route.comment}" if route.comment else "")]
        ind = self.layout.indent
        lines = [head]
        if route.comment:
            lines.append(f"{ind}# {route.comment}")
        lines += [ind + s for s in statements]
        return lines + ["}"]

    # ------------------------------------------------------------ editing
    def without_host_block(self) -> "Policy":
        """A copy whose gateway has no `host` block (its hosts unchanged)."""
        namespaces = [replace(ns, gateway=replace(ns.gateway, block=None)) if ns.gateway else ns
                      for ns in self.namespaces]
        return replace(self, namespaces=namespaces)

    def with_service_override(self, ns_index: int, svc_index: int, cluster: str, kind: str,
                              statement: str) -> "Policy":
        """A copy where one service's `on CLUSTER` block sets `statement`
        (replacing any statement of the same kind already there)."""
        namespaces = list(self.namespaces)
        ns = namespaces[ns_index]
        services = list(ns.services)
        svc = services[svc_index]
        overrides = {c: dict(o) for c, o in svc.overrides.items()}
        overrides.setdefault(cluster, {})[kind] = statement
        services[svc_index] = replace(svc, overrides=overrides)
        namespaces[ns_index] = replace(ns, services=services)
        return replace(self, namespaces=namespaces)


def effective_option(svc: Union[Service, HostBlock], route: Route, cluster: str, kind: str) -> Optional[str]:
    """The statement of one kind (`timeout`, `retry`, `fault-delay`,
    `fault-abort`, `cors`, `rewrite`) that applies to a route in a cluster,
    by the documented precedence, setting by setting (weakest first): the
    service (or gateway `host` block), its `on CLUSTER`, the route, the
    route's `on CLUSTER`."""
    for source in (route.overrides.get(cluster, {}), route.options, svc.overrides.get(cluster, {}), svc.options):
        if kind in source:
            return source[kind]
    return None


def effective_timeout(svc: Service, route: Route, cluster: str) -> Optional[str]:
    """The duration of the timeout a route gets in a cluster, as written."""
    statement = effective_option(svc, route, cluster, "timeout")
    return statement.split()[1] if statement else None


# ------------------------------------------------------------ statements
@st.composite
def circuit_breakers(draw, with_eject: Optional[bool] = None) -> str:
    settings = {
        "max-connections": st.integers(1, 10000).map(str),
        "connect-timeout": durations,
        "max-pending": st.integers(1, 10000).map(str),
        "max-requests": st.integers(1, 10000).map(str),
        "max-requests-per-connection": st.integers(1, 10000).map(str),
        "max-retries": st.integers(0, 10).map(str),
        "idle-timeout": durations,
    }
    chosen = draw(st.lists(st.sampled_from(sorted(settings)), unique=True, max_size=4))
    parts = [f"{key} {draw(settings[key])}" for key in chosen]
    eject = draw(st.booleans()) if with_eject is None else with_eject
    if eject or not parts:
        e = f"eject {draw(st.integers(1, 20))} consecutive {draw(st.sampled_from(['5xx', 'gateway-errors']))}"
        if draw(st.booleans()):
            e += f" every {draw(durations)}"
        if draw(st.booleans()):
            e += f" for {draw(durations)}"
        if draw(st.booleans()):
            e += f" max {draw(st.integers(1, 100))}%"
        parts.insert(draw(st.integers(0, len(parts))), e)
    return "circuit-breaker { " + " ".join(parts) + " }"


def has_eject(statement: Optional[str]) -> bool:
    return bool(statement) and " eject " in f" {statement} "


lb_statements = st.one_of(
    st.sampled_from(["round-robin", "random", "least-request", "passthrough"]).map(lambda a: f"lb {a}"),
    plain_words.map(lambda n: f"lb hash header {n}"),
    st.tuples(plain_words, st.none() | durations).map(
        lambda t: f"lb hash cookie {t[0]}" + (f" ttl {t[1]}" if t[1] else "")),
    st.just("lb hash source-ip"),
    plain_words.map(lambda n: f"lb hash query {n}"),
)


@st.composite
def destination_policies(draw, regions: list[str], allow_failover: bool = True) -> dict[str, str]:
    """kind -> statement: any of circuit-breaker, lb, tls, failover."""
    out = {}
    if draw(st.booleans()):
        out["circuit-breaker"] = draw(circuit_breakers())
    if draw(st.booleans()):
        out["lb"] = draw(lb_statements)
    if draw(st.booleans()):
        out["tls"] = "tls istio-mutual"
    if allow_failover and len(regions) >= 2 and has_eject(out.get("circuit-breaker")) and draw(st.booleans()):
        a, b = draw(st.permutations(regions))[:2]
        out["failover"] = f"failover {a} -> {b}"
    return out


@st.composite
def cors_statements(draw) -> str:
    parts = {
        "origins": st.lists(names, min_size=1, max_size=2, unique=True).map(
            lambda ns: "origins " + " ".join(quoted(f"https://{n}.example.com") for n in ns)),
        "methods": st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True).map(
            lambda ms: "methods " + " ".join(ms)),
        "headers": st.lists(plain_words, min_size=1, max_size=3, unique=True).map(
            lambda hs: "headers " + " ".join(hs)),
        "expose-headers": st.lists(plain_words, min_size=1, max_size=2, unique=True).map(
            lambda hs: "expose-headers " + " ".join(hs)),
        # Istio counts max-age in whole seconds (MESH104)
        "max-age": st.one_of(st.integers(1, 600).map(lambda n: f"max-age {n}s"),
                             st.integers(1, 48).map(lambda n: f"max-age {n}h")),
        "credentials": st.just("credentials"),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(parts)), min_size=1, max_size=4, unique=True))
    return "cors " + " ".join(draw(parts[k]) for k in chosen)


@st.composite
def route_options(draw, path_matched: bool, allow_rewrite: bool = True) -> dict[str, str]:
    """kind -> statement; `rewrite` only where every alternative matches a path."""
    out = {}
    if draw(st.booleans()):
        out["timeout"] = f"timeout {draw(durations)}"
    retry = draw(st.sampled_from(["none", "retry", "off"]))
    if retry == "off":
        out["retry"] = "retry off"
    elif retry == "retry":
        r = f"retry {draw(st.integers(1, 10))}"
        if draw(st.booleans()):
            r += f" per-try {draw(durations)}"
        if draw(st.booleans()):
            r += " on " + " ".join(draw(st.lists(st.sampled_from(RETRY_CONDITIONS), min_size=1, max_size=3,
                                                 unique=True)))
        out["retry"] = r
    if draw(st.integers(0, 3)) == 0:
        out["fault-delay"] = f"fault delay {draw(durations)} {draw(shares)}"
    if draw(st.integers(0, 3)) == 0:
        out["fault-abort"] = f"fault abort {draw(st.integers(200, 599))} {draw(shares)}"
    if draw(st.integers(0, 3)) == 0:
        out["cors"] = draw(cors_statements())
    if allow_rewrite and path_matched and draw(st.booleans()):
        out["rewrite"] = f"rewrite path {quoted('/' + draw(plain_words))}"
    return out


@st.composite
def override_options(draw) -> dict[str, str]:
    """Route options for an `on CLUSTER` block: at least one."""
    out = draw(route_options(path_matched=False))
    if not out:
        out["timeout"] = f"timeout {draw(durations)}"
    return out


# ------------------------------------------------------------- matching
@st.composite
def anchors(draw, tag: str) -> tuple[str, str]:
    """(kind, condition) on a name only this alternative uses."""
    name = f"{draw(plain_words)}-{tag}"
    kind = draw(st.sampled_from(["header", "header", "header", "query", "cookie"]))
    if kind == "cookie":
        return "cookie", f"cookie {name} = {quoted(draw(cookie_values))}"
    if kind == "header" and draw(st.integers(0, 5)) == 0:
        return "header", f"header {name} absent"
    op = draw(st.sampled_from(["=", "^=", "~"]))
    value = draw(st.sampled_from(REGEXES)) if op == "~" else draw(string_values)
    return kind, f"{kind} {name} {op} {quoted(value)}"


@st.composite
def alternatives(draw, tag: str, ports: list[int], namespaces: list[str], mesh: bool = True
                 ) -> tuple[list[str], bool]:
    """One `and` of conditions, and whether it matches a path by = or ^=;
    `mesh=False` leaves out what only mesh traffic carries (a gateway
    route's port and source are the gateway's: MESH325)."""
    kind, anchor = draw(anchors(tag))
    extras = []
    kinds = ["path", "method", "header", "query", "cookie"] + (["source", "port", "from"] if mesh else [])
    kinds = draw(st.lists(st.sampled_from(kinds), unique=True, max_size=2))
    path_matched = False
    for k in kinds:
        if k == "cookie" and kind == "cookie":
            continue
        if k == "path":
            op = draw(st.sampled_from(["=", "^=", "~"]))
            path = draw(st.sampled_from(REGEXES[6:8])) if op == "~" else draw(path_values)
            path_matched = op != "~"
            extras.append(f"path {op} {quoted(path)}")
        elif k == "method":
            extras.append(f"method = {draw(st.sampled_from(METHODS))}")
        elif k == "source":
            value = draw(label_values)
            # a bare value is accepted when it is a name (the docs: `fmt` quotes it)
            written = value if (re.fullmatch(r"[a-z][a-z0-9-]*", value) and value not in KEYWORDS
                                and draw(st.booleans())) else quoted(value)
            extras.append(f"source {draw(label_keys)} = {written}")
        elif k == "port":
            extras.append(f"port {draw(st.sampled_from(ports))}")
        elif k == "from":
            extras.append(f"from namespace {draw(st.sampled_from(namespaces))}")
        elif k == "header":
            op = draw(st.sampled_from(["=", "^=", "~", "absent"]))
            name = draw(plain_words)
            if op == "absent":
                extras.append(f"header {name} absent")
            else:
                value = draw(st.sampled_from(REGEXES)) if op == "~" else draw(string_values)
                extras.append(f"header {name} {op} {quoted(value)}")
        elif k == "query":
            extras.append(f"query {draw(plain_words)} = {quoted(draw(string_values))}")
        elif k == "cookie":
            extras.append(f"cookie {draw(plain_words)} = {quoted(draw(cookie_values))}")
    conditions = [anchor] + extras
    return draw(st.permutations(conditions)), path_matched


# ---------------------------------------------------------- destinations
def _split_100(draw, k: int) -> list[int]:
    """k whole percentages adding up to 100 (zeros allowed, rarely)."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=k - 1, max_size=k - 1)))
    bounds = [0] + cuts + [100]
    return [bounds[i + 1] - bounds[i] for i in range(k)]


@st.composite
def targets(draw, svc: Optional[Service], all_services: list[Service], home: Optional[str] = None) -> Destination:
    """A subset of `svc`, or `service NAME [in NS] [subset S] [port N]`;
    only the latter for a gateway route (no `svc`, `home` its namespace)."""
    if svc is not None and svc.subsets and draw(st.integers(0, 3)) > 0:
        s = draw(st.sampled_from(svc.subsets))
        return Destination(s, svc.host, s, None, None)
    other = draw(st.sampled_from(all_services))
    text = f"service {other.name}"
    if other.namespace != (svc.namespace if svc is not None else home) or draw(st.booleans()):
        text += f" in {other.namespace}"
    subset = None
    if other.subsets and draw(st.booleans()):
        subset = draw(st.sampled_from(other.subsets))
        text += f" subset {subset}"
    port = None
    # Another service with several ports needs one named (MESH322).
    if draw(st.booleans()) or (other is not svc and len(other.ports) > 1):
        port = draw(st.sampled_from([p[0] for p in other.ports]))
        text += f" port {port}"
    elif len(other.ports) == 1:
        port = other.ports[0][0]  # rendered anyway: Istio would pick the only port
    return Destination(text, other.host, subset, port, None)


@st.composite
def forwards(draw, svc: Optional[Service], all_services: list[Service], home: Optional[str] = None) -> Forward:
    k = draw(st.integers(1, 3))
    dests: list[Destination] = []
    for _ in range(k * 3):
        d = draw(targets(svc, all_services, home))
        if all((d.host, d.subset, d.port) != (e.host, e.subset, e.port) for e in dests):
            dests.append(d)
        if len(dests) == k:
            break
    k = len(dests)
    if k == 1:
        dests[0].weight = draw(st.sampled_from([None, None, 100]))
        return Forward(dests)
    weights: list[Union[int, str]] = _split_100(draw, k)
    if draw(st.booleans()):
        i = draw(st.integers(0, k - 1))
        if weights[i] > 0:  # `rest` needs a positive share (MESH302)
            weights[i] = "rest"
    for d, w in zip(dests, weights):
        d.weight = w
    return Forward(dests)


@st.composite
def canaries(draw, subsets: list[str], clusters: list[str] = ()) -> Canary:
    baseline, candidate = draw(st.permutations(subsets))[:2]
    steps = sorted(draw(st.lists(st.integers(1, 99), unique=True, max_size=4))) + [100]
    waves = draw(plans(clusters, len(steps))) if len(clusters) > 1 and draw(st.booleans()) else []
    at = None if waves else draw(st.none() | st.integers(0, len(steps)))
    extra = ""
    gaps = len(steps) - 1
    pause = draw(st.sampled_from(["none", "one", "each"] if gaps > 1 else ["none", "one"] if gaps == 1 else ["none"]))
    if pause == "one":
        extra += f" pause {draw(durations)}"
    elif pause == "each":
        extra += " pause " + " ".join(draw(st.lists(durations, min_size=gaps, max_size=gaps)))
    if draw(st.booleans()):
        gates = draw(st.lists(st.sampled_from(["success", "p50", "p90", "p99", "p999"]), min_size=1, max_size=2,
                              unique=True))
        extra += " analysis " + " ".join(
            f"success-rate >= {draw(st.integers(50, 100))}%" if g == "success" else f"{g} <= {draw(durations)}"
            for g in gates)
    return Canary(baseline, candidate, steps, at, extra, waves)


@st.composite
def plans(draw, clusters: list[str], last: int) -> list[Wave]:
    """Every cluster in one wave (in any order); a wave past step 0 only
    once the wave before is at its start (`after N`, else the last step)."""
    order = draw(st.permutations(clusters))
    cuts = sorted(draw(st.sets(st.integers(1, len(order) - 1), max_size=len(order) - 1)))
    groups = [order[a:b] for a, b in zip([0] + cuts, cuts + [len(order)])]
    waves: list[Wave] = []
    for i, group in enumerate(groups):
        after = draw(st.none() | st.integers(1, last)) if i else None
        ready = i == 0 or (waves[-1].at or 0) >= (after if after is not None else last)
        at = draw(st.integers(0, last)) if ready else 0
        waves.append(Wave(list(group), after, None if at == 0 and draw(st.booleans()) else at))
    return waves


@st.composite
def actions(draw, svc: Service, all_services: list[Service], clusters: list[str] = ()) -> Action:
    kinds = ["to", "to", "none"]
    if len(svc.subsets) >= 2:
        kinds += ["canary", "canary", "blue-green"]
    kind = draw(st.sampled_from(kinds))
    if kind == "to":
        return draw(forwards(svc, all_services))
    if kind == "canary":
        return draw(canaries(svc.subsets, clusters))
    if kind == "blue-green":
        active, preview = draw(st.permutations(svc.subsets))[:2]
        return BlueGreen(active, preview)
    return None


@dataclass
class Mirror:
    target: Destination
    share: Optional[str]  # `20%`, or None for 100 %

    def text(self) -> str:
        return f"mirror {self.target.text}" + (f" {self.share}" if self.share else "")


@st.composite
def mirrors(draw, svc: Optional[Service], all_services: list[Service], several: bool,
            home: Optional[str] = None) -> list[Mirror]:
    """At most one mirror per destination (host, subset, port)."""
    count = draw(st.integers(0, 2 if several else 1))
    out: list[Mirror] = []
    for _ in range(count):
        target = draw(targets(svc, all_services, home))
        key = (target.host, target.subset, target.port)
        if all((m.target.host, m.target.subset, m.target.port) != key for m in out):
            out.append(Mirror(target, draw(st.none() | shares)))
    return out


# ------------------------------------------------------------- policies
@st.composite
def fleets(draw) -> Optional[list[Cluster]]:
    if draw(st.integers(0, 4)) == 0:
        return None
    cluster_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    regions = draw(st.lists(regions_, min_size=1, max_size=3, unique=True))
    # services run everywhere here: every network needs a gateway (MESH408)
    networks, gateways = draw(networks_of(len(cluster_names), every_network_lit=True))
    out = []
    for i, name in enumerate(cluster_names):
        attrs = []
        region = draw(st.none() | st.sampled_from(regions))
        if region:
            attrs.append(f"region {region}")
            if draw(st.booleans()):
                attrs.append(f"zone {region}-{draw(st.sampled_from('abc'))}")
        if networks[i]:
            attrs.append(f"network {networks[i]}")
        if gateways[i]:
            attrs.append("gateway " + draw(st.sampled_from([f"10.{i}.0.10", f"eastwest.{name}.example.com"])))
        istio = draw(st.none() | st.sampled_from([f"1.{v}" for v in range(18, 31)]))
        if istio:
            attrs.append(f"istio {istio}")
        attrs = draw(st.permutations(attrs))
        out.append(Cluster(name, region, "".join(" " + a for a in attrs), istio, None, networks[i], gateways[i]))
    return out


@st.composite
def policies(draw, min_namespaces: int = 1, max_namespaces: int = 3, max_routes: int = 3,
             fleet: Optional[bool] = None, host_block: Optional[bool] = None,
             multicluster: bool = False) -> Policy:
    """A valid policy. `fleet=True` forces a fleet of 2-3 clusters,
    `False` forbids one; `host_block` likewise a gateway `host` block;
    `multicluster=True` is `fleet_policies()`."""
    dns_proxying = False
    if multicluster:
        clusters, dns_proxying = draw(topologies())
    else:
        clusters = draw(fleets())
        if fleet is True and (clusters is None or len(clusters) < 2):
            clusters = draw(fleets().filter(lambda f: f is not None and len(f) >= 2))
        if fleet is False:
            clusters = None
    cluster_names = [c.name for c in clusters] if clusters else []
    # `on C` names a primary: a remote's proxies follow its primary (MESH902)
    override_clusters = [c.name for c in clusters or [] if c.remote_of is None]
    regions = sorted({c.region for c in clusters or [] if c.region})
    several_mirrors = all(c.istio is None or int(c.istio.split(".")[1]) >= 20 for c in clusters or [])

    ns_names = draw(st.lists(names, min_size=min_namespaces, max_size=max_namespaces, unique=True))
    namespaces = []
    # Phase 1: what other services may refer to (names, ports, subsets).
    for ns_name in ns_names:
        svc_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
        services = []
        for svc_name in svc_names:
            port_numbers = draw(st.lists(st.integers(1, 65535), min_size=1, max_size=2, unique=True))
            ports = [(n, draw(st.sampled_from(["http", "http", "http2", "grpc"])), None) for n in port_numbers]
            subsets = draw(st.lists(names | st.just("canary"), max_size=3, unique=True))
            explicit = draw(st.booleans())
            services.append(Service(svc_name, ns_name, ports, draw(label_keys), subsets, explicit,
                                    {}, {}, {}, [], {}))
        defaults = None
        if draw(st.integers(0, 3)) == 0:
            defaults = draw(st.sampled_from(["lb least-request", "tls istio-mutual"]) | circuit_breakers())
        namespaces.append(Namespace(ns_name, defaults, services, draw(st.integers(0, len(services)))))
    all_services = [svc for ns in namespaces for svc in ns.services]
    if multicluster:
        place_services(draw, all_services, clusters)

    # Phase 2: bodies, which may name any service of the policy.
    for ns in namespaces:
        for svc in ns.services:
            callable_ = callable_services(svc, all_services, cluster_names)
            svc.ports = [(n, proto, draw(st.none() | st.just(None) | lb_statements | circuit_breakers(False)))
                         for n, proto, _ in svc.ports]
            svc.options = draw(route_options(path_matched=False, allow_rewrite=False))
            svc.policy = draw(destination_policies(regions))
            for s in draw(st.lists(st.sampled_from(svc.subsets), unique=True, max_size=2)) if svc.subsets else []:
                svc.subset_policy[s] = draw(st.sampled_from(["lb round-robin", "tls istio-mutual"])
                                            | circuit_breakers(False))
            for c in draw(st.lists(st.sampled_from(override_clusters), unique=True, max_size=2)) \
                    if override_clusters else []:
                stmts = draw(route_options(path_matched=False, allow_rewrite=False))
                stmts.update(draw(destination_policies(regions, allow_failover=False)))
                if not stmts:
                    stmts["timeout"] = f"timeout {draw(durations)}"
                svc.overrides[c] = stmts
            route_names = draw(st.lists(names, min_size=1, max_size=max_routes + 1, unique=True))
            for i, route_name in enumerate(route_names):
                last = i == len(route_names) - 1
                alts = []
                path_everywhere = True
                if not last:
                    for j in range(draw(st.integers(1, 2))):
                        conds, path_matched = draw(alternatives(f"{i}{j}", [p[0] for p in svc.ports], ns_names))
                        alts.append(conds)
                        path_everywhere &= path_matched
                # waves list the primaries: a remote moves with its primary (MESH922)
                action = draw(actions(svc, callable_, override_clusters))
                route_mirrors = draw(mirrors(svc, callable_, several_mirrors)) if action is not None else []
                options = draw(route_options(path_matched=bool(alts) and path_everywhere))
                overrides = {}
                for c in draw(st.lists(st.sampled_from(override_clusters), unique=True, max_size=2)) \
                        if override_clusters else []:
                    overrides[c] = draw(override_options())
                comment = draw(st.none() | st.sampled_from(["note: keep", "TODO {not} code", "#"]))
                svc.routes.append(Route(route_name, alts, action, route_mirrors, options, overrides,
                                        draw(st.permutations(range(5))), draw(st.booleans()), comment))
            if draw(st.integers(0, 9)) == 0:
                svc.routes = []  # a service without routes (no VirtualService unless options)
            if multicluster:
                route_by_cluster(draw, svc, clusters, [p[0] for p in svc.ports], ns_names)

    # Namespace-wide statements: security, external services, one gateway
    # serving a host per exposed service (no `when`, so no MESH313/314).
    for k, ns in enumerate(namespaces):
        if draw(st.integers(0, 2)) == 0:
            ns.security.append(f"mtls {draw(st.sampled_from(['strict', 'permissive', 'disable']))}")
        for workload in draw(st.lists(names, unique=True, max_size=2)):
            ns.security.append(f"mtls {draw(st.sampled_from(['strict', 'permissive']))} for {workload}")
        for _ in range(draw(st.integers(0, 2))):
            allow = f"allow {draw(names)}"
            source = draw(st.sampled_from(["", "principal", "namespace"]))
            if source == "principal":
                allow += f' from principal "cluster.local/ns/{draw(st.sampled_from(ns_names))}/sa/{draw(names)}"'
            elif source == "namespace":
                allow += " from namespace " + " ".join(draw(st.lists(st.sampled_from(ns_names), min_size=1,
                                                                    max_size=2, unique=True)))
            if draw(st.booleans()):
                allow += " to " + " ".join(draw(st.lists(st.sampled_from(METHODS), max_size=2, unique=True)))
                allow += " " + quoted(draw(st.sampled_from(["/api/*", "/metrics", "/healthz", "/public/*"])))
            ns.security.append(allow)
        if draw(st.integers(0, 3)) == 0:
            ns.externals.append(f"external ext{k}.example.com port {draw(st.sampled_from([443, 8443]))} https")
    # a local service is exposed only where it runs everywhere (MESH905)
    exposable = [svc for svc in all_services if svc.routes and not (svc.local and svc.placement)]
    if exposable and draw(st.booleans()):
        exposed = draw(st.lists(st.sampled_from(exposable), min_size=1, max_size=3, unique_by=id))
        home = draw(st.sampled_from(namespaces))
        gateway = Gateway(draw(names.filter(lambda n: n not in {svc.name for svc in home.services})), [], [])
        for n, svc in enumerate(exposed):
            host = f"h{n}.example.com"
            gateway.hosts.append(host)
            svc.expose = (gateway.name, host)
        gateway.servers = draw(st.sampled_from([
            ["https credential tls-cert"], ["http"], ["https credential tls-cert", "redirect-http"],
            ["http port 8080"], ["https port 8443 credential other-cert", "http"]]))
        home.gateway = gateway
        if multicluster:
            for svc in exposed:
                svc.expose_cluster = draw(st.none() | st.sampled_from(cluster_names))
    # a gateway's pods may run in any cluster: a local service only where it runs everywhere (MESH905)
    reachable = [svc for svc in all_services if not (svc.local and svc.placement)]
    if reachable and (host_block or (host_block is None and draw(st.booleans()))):
        draw(host_blocks(namespaces, reachable, override_clusters, several_mirrors))

    layout = Layout(draw(st.sampled_from(["  ", "    ", "\t"])), draw(st.sampled_from(["\n", "\n", "\r\n"])),
                    draw(st.booleans()))
    return Policy(clusters, namespaces, layout, dns_proxying)


# ------------------------------------------ multi-cluster: fleet_policies()
# What docs/language.md ("Fleet", "Services across clusters", "Destination
# policy") adds for fleets, drawn by `policies(multicluster=True)` through
# the hooks below, and the model of what it renders (per primary).

def fleet_policies(**kw) -> st.SearchStrategy[Policy]:
    """A valid policy for a fleet of 2-4 clusters, some of them remotes of
    an earlier primary, on one or two networks, maybe with `dns-proxying`;
    services placed with `in`, `local`, ports with `name`, cluster subsets
    (`subsets by cluster`, a subset's `in C`), `when from cluster C` (or
    the label `topology.istio.io/cluster`), `failover priority` with pins,
    and services whose routes all have a `when`. Validity, by the docs:

    - `on C` names primaries only (MESH902); remotes declare no `istio`
      (MESH901);
    - cluster subsets select clusters the service runs in (MESH903), never
      on a local service (MESH906);
    - in a fleet on several networks every cluster declares one (MESH901),
      and a service that is not local runs only on networks with an
      east-west gateway (MESH408);
    - a local service is sent to only by routes whose callers all run where
      it runs (MESH905): its own routes, other local services placed
      within it, or any service when it runs everywhere; it is exposed
      only when it runs everywhere, and its `from cluster` names a cluster
      it runs in;
    - `failover priority` only next to an `eject` and instead of
      `failover` (MESH402, MESH405), pins naming what the fleet has."""
    return policies(multicluster=True, **kw)


@st.composite
def topologies(draw) -> tuple[list[Cluster], bool]:
    """(clusters, dns-proxying): 2-4 clusters, each a primary or a remote of
    an earlier primary."""
    cluster_names = draw(st.lists(names, min_size=2, max_size=4, unique=True))
    regions = draw(st.lists(regions_, min_size=1, max_size=3, unique=True))
    networks, gateways = draw(networks_of(len(cluster_names), every_network_lit=False))
    out: list[Cluster] = []
    for i, name in enumerate(cluster_names):
        primaries = [c.name for c in out if c.remote_of is None]
        remote_of = draw(st.none() | st.sampled_from(primaries)) if primaries else None
        attrs = [f"remote of {remote_of}"] if remote_of else []
        region = draw(st.none() | st.sampled_from(regions))
        zone = None
        if region:
            attrs.append(f"region {region}")
            if draw(st.booleans()):
                zone = f"{region}-{draw(st.sampled_from('abc'))}"
                attrs.append(f"zone {zone}")
        network, gateway = networks[i], gateways[i]
        primary = next((c for c in out if c.name == remote_of), None)
        if primary is not None and network and primary.network and not primary.gateway:
            network = primary.network  # MESH408: only its primary's gateway would lead it to istiod
        if network:
            attrs.append(f"network {network}")
        if gateway:
            attrs.append("gateway " + draw(st.sampled_from([f"10.{i}.0.10", f"eastwest.{name}.example.com"])))
        istio = None if remote_of else draw(st.none() | st.sampled_from([f"1.{v}" for v in range(18, 31)]))
        if istio:
            attrs.append(f"istio {istio}")
        attrs = draw(st.permutations(attrs))
        out.append(Cluster(name, region, "".join(" " + a for a in attrs), istio, remote_of, network, gateway, zone))
    return out, draw(st.integers(0, 3)) == 0


@st.composite
def networks_of(draw, count: int, every_network_lit: bool) -> tuple[list[Optional[str]], list[bool]]:
    """Each of `count` clusters' network (or none) and whether it has an
    east-west gateway. On several networks every cluster declares one
    (MESH901), and one network has a gateway (`every_network_lit`: each)."""
    networks = draw(st.lists(st.none() | st.sampled_from(["net-1", "net-2"]), min_size=count, max_size=count))
    gateways = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    if len({n for n in networks if n}) < 2:
        return networks, gateways
    networks = [n or draw(st.sampled_from(["net-1", "net-2"])) for n in networks]
    lit = {n for n, gateway in zip(networks, gateways) if gateway}
    needed = sorted(set(networks) - lit) if every_network_lit else [] if lit else [networks[0]]
    for network in needed:
        gateways[networks.index(network)] = True
    return networks, gateways


def dark_clusters(clusters: list[Cluster], placed: list[str]) -> list[str]:
    """MESH408: the clusters of `placed` on a network without an east-west
    gateway, on a fleet of several networks (so some caller is on another)."""
    if len({c.network for c in clusters if c.network}) < 2:
        return []
    lit = {c.network for c in clusters if c.gateway}
    return [c.name for c in clusters if c.name in placed and c.network not in lit]


def place_services(draw, services: list[Service], clusters: list[Cluster]) -> None:
    """Where each service runs, `local`, port names and cluster subsets
    (before routes are drawn: they name subsets)."""
    everywhere = [c.name for c in clusters]
    for svc in services:
        placement = draw(st.none() | st.lists(st.sampled_from(everywhere), min_size=1, unique=True))
        svc.local = draw(st.integers(0, 3)) == 0 and local_subsets_fit(svc, placement or everywhere)
        if not svc.local and dark_clusters(clusters, placement or everywhere):
            # some network has a gateway (`networks_of`): run only there
            lit = [c for c in everywhere if not dark_clusters(clusters, [c])]
            placement = [c for c in placement or everywhere if c in lit] or lit
        svc.placement = placement
        port_names = draw(st.lists(plain_words, min_size=len(svc.ports), max_size=len(svc.ports), unique=True))
        for (number, _, _), name in zip(svc.ports, port_names):
            if draw(st.integers(0, 2)) == 0:
                svc.port_names[number] = name
        if svc.local:
            continue
        runs = placement or everywhere
        kind = draw(st.sampled_from(["labels", "labels", "by cluster", "in"]))
        if kind == "by cluster":
            svc.subset_key = "cluster"
            svc.subsets = draw(st.lists(st.sampled_from(runs), min_size=1, unique=True))
        elif kind == "in" and svc.subsets:
            svc.subsets_explicit = True
            for s in draw(st.lists(st.sampled_from(svc.subsets), min_size=1, unique=True)):
                svc.subset_clusters[s] = draw(st.sampled_from(runs))


def local_subsets_fit(svc: Service, placed: list[str]) -> bool:
    """A local service's per-cluster subsets `C` and `C-S` are distinct
    names of at most 63 characters (MESH906)."""
    subset_names = list(placed) + [f"{c}-{s}" for c in placed for s in svc.subsets]
    return len(set(subset_names)) == len(subset_names) and all(len(n) <= 63 for n in subset_names)


def callable_services(svc: Service, services: list[Service], everywhere: list[str]) -> list[Service]:
    """The services `svc`'s routes may send or mirror to: a local service
    only if it runs wherever the route's callers are (its own routes serve
    the clusters it runs in; another local service's, that one's; any
    other service's, every cluster)."""
    callers = set(svc.placement or everywhere) if svc.local else set(everywhere)
    return [o for o in services if o is svc or not o.local or callers <= set(o.placement or everywhere)]


def route_by_cluster(draw, svc: Service, clusters: list[Cluster], ports: list[int], namespaces: list[str]) -> None:
    """After a service's routes: `from cluster` in some alternatives, now
    and then a last route with a `when` (so every route has one), and
    `failover priority` where `failover` could be."""
    everywhere = [c.name for c in clusters]
    sources = (svc.placement or everywhere) if svc.local else everywhere
    if svc.routes and not svc.routes[-1].alternatives and draw(st.integers(0, 5)) == 0:
        svc.routes[-1].alternatives = [draw(alternatives(f"{len(svc.routes) - 1}0", ports, namespaces))[0]]
    for route in svc.routes:
        for alt in route.alternatives:
            if draw(st.integers(0, 2)) == 0:
                cluster = draw(st.sampled_from(sources))
                cond = draw(st.sampled_from([f"from cluster {cluster}", f"from cluster {cluster}",
                                             f'source {CLUSTER_LABEL} = "{cluster}"']))
                alt.insert(draw(st.integers(0, len(alt))), cond)
    if has_eject(svc.policy.get("circuit-breaker")) and "failover" not in svc.policy and draw(st.booleans()):
        svc.policy["failover"] = draw(failover_priorities(clusters))


CLUSTER_LABEL = "topology.istio.io/cluster"


@st.composite
def failover_priorities(draw, clusters: list[Cluster]) -> str:
    """`failover priority KEY...`, some entries pinned to a value the fleet has."""
    pins = {"cluster": [c.name for c in clusters], "network": sorted({c.network for c in clusters if c.network}),
            "region": sorted({c.region for c in clusters if c.region}),
            "zone": sorted({c.zone for c in clusters if c.zone}), "version": ["v1", "v2"]}
    keys = draw(st.lists(st.sampled_from(["cluster", "network", "region", "zone", "subzone", "node", "version"]),
                         min_size=1, max_size=4, unique=True))
    out = []
    for key in keys:
        if pins.get(key) and draw(st.integers(0, 3)) == 0:
            value = draw(st.sampled_from(pins[key]))
            out.append(f"{key}={value}" if draw(st.booleans()) else f"{key}={quoted(value)}")
        else:
            out.append(key)
    return "failover priority " + " ".join(out)


# --- the model: what a fleet policy renders in each primary's configuration
def primaries(policy: Policy) -> list[str]:
    """The clusters whose directories hold routing (a remote's holds stubs)."""
    return [c.name for c in policy.clusters if c.remote_of is None] if policy.clusters else ["default"]


def served_by(policy: Policy, primary: str) -> list[str]:
    """The clusters a primary's configuration programs: itself, then its remotes."""
    return [primary] + [c.name for c in policy.clusters or [] if c.remote_of == primary]


def local_hosts(policy: Policy) -> dict[str, Service]:
    return {svc.host: svc for svc in policy.services() if svc.local}


def _route_hosts(svc: Optional[Service], route: Route) -> set[str]:
    """The hosts a route sends or mirrors to (`svc` None: a `host` block's)."""
    hosts = {m.target.host for m in route.mirrors}
    if isinstance(route.action, Forward):
        hosts |= {d.host for d in route.action.destinations}
    else:
        hosts.add(svc.host)
    return hosts


def cluster_of(alternative: list[str]) -> Optional[str]:
    """The caller's cluster an alternative tests, if any."""
    for cond in alternative:
        m = re.fullmatch(rf'from cluster (\S+)|source {re.escape(CLUSTER_LABEL)} = "(.*)"', cond)
        if m:
            return m.group(1) or m.group(2)
    return None


@dataclass
class Copy:
    """One rendering of a route in a primary: `suffix` after the route's
    name, the caller cluster whose subsets of local services it takes
    (None: no local target), and its `when` alternatives ([]: none)."""

    suffix: str
    cluster: Optional[str]
    alternatives: list[list[str]]


def copies(policy: Policy, svc: Optional[Service], route: Route, primary: str) -> list[Copy]:
    """A route that sends (or mirrors) to a local service renders once
    per cluster the primary serves (a local service's own route: that it
    runs in), as `ROUTE-C` matching `from cluster C` when it serves
    several; alternatives that test another cluster are left out, and so
    is a copy left without any."""
    if not _route_hosts(svc, route) & set(local_hosts(policy)):
        return [Copy("", None, route.alternatives)]
    served = served_by(policy, primary)
    everywhere = policy.cluster_names
    sources = [c for c in served if c in (svc.placement or everywhere)] if svc and svc.local else served
    if len(served) == 1:
        return [Copy("", c, route.alternatives) for c in sources]
    out = []
    for c in sources:
        here = f"from cluster {c}"
        alts = [alt + [here] for alt in route.alternatives if cluster_of(alt) in (None, c)]
        if alts or not route.alternatives:
            out.append(Copy(f"-{c}", c, alts or [[here]]))
    return out


def local_subset(policy: Policy, host: str, subset: Optional[str], copy: Optional[Copy]) -> Optional[str]:
    """The subset a destination of `copy` renders with: for a local
    service, the copy's cluster's share of it (`C`, `C-S`)."""
    if copy is None or copy.cluster is None or host not in local_hosts(policy):
        return subset
    return copy.cluster if subset is None else f"{copy.cluster}-{subset}"


def all_conditional(svc: Service) -> bool:
    return bool(svc.routes) and all(r.alternatives for r in svc.routes)


def mesh_entries(policy: Policy, svc: Service, primary: str) -> list[tuple[str, Route, Copy]]:
    """(name, route, copy) of every route entry of the service's own
    VirtualService in `primary`, in order (a blue-green preview before its
    route)."""
    out = []
    for route in svc.routes:
        for copy in copies(policy, svc, route, primary):
            for name in route.entry_names:
                base, preview = (name[:-len("-preview")], "-preview") if name.endswith("-preview") else (name, "")
                out.append((base + copy.suffix + preview, route, copy))
    return out


def mesh_entry_names(policy: Policy, svc: Service, primary: str) -> list[str]:
    """Every entry name of the service's own VirtualService in `primary`,
    `not-found` last where the docs render it: routes that all have a
    `when`, or a local service serving callers of a cluster it does not run
    in, unless a route rendered as written (it sends only to services that
    are not local) takes every request first."""
    names_ = [name for name, _, _ in mesh_entries(policy, svc, primary)]
    unserved = svc.local and not set(served_by(policy, primary)) <= set(svc.placement or policy.cluster_names) \
        and not any(not r.alternatives and not _route_hosts(svc, r) & set(local_hosts(policy)) for r in svc.routes)
    return names_ + (["not-found"] if all_conditional(svc) or unserved else [])


def gateway_entries(policy: Policy, svc: Service, primary: str) -> list[tuple[str, Route]]:
    """(name, route) of an exposed service's route entries on its gateway
    host: alternatives about mesh callers are left out, and so are those
    that test another cluster than the exposure's `when from cluster`."""
    out = []
    exposed = svc.expose_cluster
    for route in svc.routes:
        if not route.gateway_entry_names:
            continue
        kept = [alt + ([f"from cluster {exposed}"] if exposed else []) for alt in route.alternatives
                if not any(c.startswith(MESH_ONLY) for c in alt)
                and (exposed is None or cluster_of(alt) in (None, exposed))]
        if route.alternatives and not kept:
            continue
        for copy in copies(policy, svc, replace(route, alternatives=kept or [[f"from cluster {exposed}"]]
                                                if exposed else kept), primary):
            out += [(f"{svc.name}-{route.name}{copy.suffix}" + ("-preview" if n.endswith("-preview") else ""), route)
                    for n in route.entry_names]
    return out


def block_entry_names(policy: Policy, block: HostBlock, primary: str) -> list[str]:
    """The entry names of a gateway `host` block's routes, first on its host."""
    return [route.name + copy.suffix for route in block.routes for copy in copies(policy, None, route, primary)]


def gateway_entry_names(policy: Policy, svc: Service, primary: str) -> list[str]:
    """Every entry name of an exposed service on its gateway host,
    `SERVICE-not-found` last when its routes all have a `when`."""
    names_ = [name for name, _ in gateway_entries(policy, svc, primary)]
    return names_ + ([f"{svc.name}-not-found"] if all_conditional(svc) else [])


@st.composite
def host_blocks(draw, namespaces: list[Namespace], all_services: list[Service], cluster_names: list[str],
                several_mirrors: bool) -> HostBlock:
    """A `host` block on the policy's gateway (declared here if there is
    none), for an exposed host or one of its own. Every route but a last one
    on a host without exposures has a `when` whose anchors no exposure shares,
    so neither the block's routes nor the exposures after them are shadowed
    (MESH307); route names differ from the exposures' `SERVICE-ROUTE` entries
    (MESH205); targets are services (MESH326), conditions gateway ones (MESH325)."""
    found = next(((ns, ns.gateway) for ns in namespaces if ns.gateway), None)
    if found is None:
        home = draw(st.sampled_from(namespaces))
        gateway = Gateway(draw(names.filter(lambda n: n not in {svc.name for svc in home.services})), [],
                          [draw(st.sampled_from(["http", "https credential tls-cert", "http port 8080"]))])
        home.gateway = gateway
    else:
        home, gateway = found
    exposed = {svc.expose[1]: svc for svc in all_services if svc.expose}
    if gateway.hosts and draw(st.booleans()):
        host = draw(st.sampled_from(gateway.hosts))
    else:
        host = "g.example.com"
        gateway.hosts.append(host)
    svc = exposed.get(host)
    taken = {f"{svc.name}-{n}" for r in svc.routes for n in r.entry_names} if svc else set()
    route_names = draw(st.lists(names.filter(lambda n: n not in taken), min_size=1, max_size=3, unique=True))
    routes = []
    for i, name in enumerate(route_names):
        alts, path_everywhere = [], True
        if svc is not None or i < len(route_names) - 1 or draw(st.booleans()):
            for j in range(draw(st.integers(1, 2))):
                conds, path_matched = draw(alternatives(f"g{i}{j}", [], [], mesh=False))
                alts.append(conds)
                path_everywhere &= path_matched
        overrides = {c: draw(override_options())
                     for c in draw(st.lists(st.sampled_from(cluster_names), unique=True, max_size=1))} \
            if cluster_names else {}
        routes.append(Route(name, alts, draw(forwards(None, all_services, home.name)),
                            draw(mirrors(None, all_services, several_mirrors, home.name)),
                            draw(route_options(path_matched=bool(alts) and path_everywhere)), overrides,
                            draw(st.permutations(range(5))), draw(st.booleans()), None))
    gateway.block = HostBlock(host, draw(route_options(path_matched=False, allow_rewrite=False)), routes)
    return gateway.block


# -------------------------------------------------------- reading back
_CANARY = re.compile(
    r"\bcanary\s+([a-z0-9-]+)\s*->\s*([a-z0-9-]+)\s+steps\s+((?:\d+%\s*)+)(?:at\s+(\d+))?")
_OWNER = re.compile(r"\b(namespace|service|route)\s+([a-z0-9-]+)\s*\{")


def canaries_in_source(text: str, clusters: list[str] = ()) -> list[tuple]:
    """(namespace, service, route, baseline, candidate, steps, at, waves) for
    every canary statement of a generated source, read from the text itself:
    the enclosing blocks are the nearest `namespace`/`service`/`route`
    headers before it (blocks of those kinds do not nest in themselves), and
    `waves` are its `wave` clauses, [(listed clusters, at)], whose clusters
    are read as the names in `clusters`."""
    owners = [(m.start(), m.group(1), m.group(2)) for m in _OWNER.finditer(text)]
    names = "|".join(re.escape(c) for c in sorted(clusters, key=len, reverse=True)) or "(?!)"
    wave = re.compile(rf"\bwave((?:\s+(?:{names})\b)+)(?:\s+after\s+\d+)?(?:\s+at\s+(\d+))?")
    found = []
    for m in _CANARY.finditer(text):
        enclosing = {}
        for pos, kind, name in owners:
            if pos < m.start():
                enclosing[kind] = name
        steps = [int(s) for s in re.findall(r"\d+", m.group(3))]
        # the wave clauses follow the canary's other clauses, before any block
        rest = text[m.end():]
        rest = rest[:min((i for i in (rest.find("{"), rest.find("}")) if i >= 0), default=len(rest))]
        waves = [(w.group(1).split(), int(w.group(2)) if w.group(2) else 0) for w in wave.finditer(rest)]
        found.append((enclosing["namespace"], enclosing["service"], enclosing["route"], m.group(1), m.group(2),
                      steps, int(m.group(4)) if m.group(4) else 0, waves))
    return found
