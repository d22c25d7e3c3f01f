"""Every diagnostic code meshc can report, registered once.

A code is never reused or renumbered: tools and CI annotations refer to it.
A code whose construct left the language is retired (RETIRED), never given
to something else. The hundreds group the codes: 0xx syntax, 1xx values,
2xx names, 3xx routing, 4xx destination policy, 5xx security and ingress,
6xx Istio versions, 7xx canary lifecycle, 8xx policy tests (80x, `test` blocks) and
`meshc import` (82x losses, 84x unreadable input, 85x the import's proof), 9xx fleet
topology and placement. `docs/diagnostics.md` is generated from this table
(`pytest --update-golden` rewrites it) and `meshc explain CODE` prints one
entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from meshc.diagnostics import Diagnostic, Label, Severity
from meshc.language.source import Span

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    example: str
    fix: str


_TABLE: tuple[Code, ...] = (
    # ------------------------------------------------------------ syntax
    Code("MESH001", "syntax-error", E,
         "The file does not follow the .mesh grammar at this point.",
         "meshc cannot tell what a statement means until it parses; the message names what it expected here.",
         'route primary {\n  to v1 90, v2 10\n}',
         'route primary {\n  to v1 90%, v2 10%\n}'),
    Code("MESH002", "unclosed-block", E,
         "The file ends while a `{` block is still open.",
         "A missing `}` makes everything after it part of the block; the diagnostic names the innermost open block and where it opened.",
         'namespace shop {\n  service cart {\n    port 80 http\n}',
         'namespace shop {\n  service cart {\n    port 80 http\n  }\n}'),
    Code("MESH003", "unterminated-string", E,
         "A string literal has no closing `\"` on its line.",
         "Strings cannot span lines; an unterminated one would swallow the rest of the line.",
         'when header canary = "true',
         'when header canary = "true"'),
    Code("MESH004", "invalid-encoding", E,
         "The file is not valid UTF-8 text.",
         ".mesh files are UTF-8; a binary or differently encoded file cannot be read reliably.",
         "(a file saved as UTF-16 or Latin-1)",
         "Save the file as UTF-8."),
    Code("MESH005", "unused-suppression", W,
         "A `# meshc: ignore[...]` comment silences nothing: it names no code, an unknown code or an error, belongs to no statement, or the warning it names is not raised on its statement.",
         "A stale suppression hides the next real warning on that statement and misleads readers; errors cannot be silenced at all, since render refuses them.",
         'route r {  # meshc: ignore[MESH309]\n  to v1\n}',
         'route r {\n  to v1\n}'),
    Code("MESH006", "global-removed", E,
         "A service is declared `global` (`service NAME global { ... }`), a keyword the language no longer has.",
         "`global` rendered `NAME.global` ServiceEntries pointing at east-west gateways on port 15443. Istio deprecated "
         "`.global` in 1.8: its multi-primary and primary-remote models merge the endpoints of Services with the same "
         "name and namespace in every cluster, and an east-west gateway in AUTO_PASSTHROUGH mode only routes hosts its "
         "control plane knows, which `NAME.global` is not, so those entries carried no traffic. A service now keeps "
         "`NAME.NS.svc.cluster.local` everywhere and `in` says where it runs.",
         "service api global {\n  in hangzhou beijing\n  port 8080 http\n}",
         "service api {\n  in hangzhou beijing\n  port 8080 http\n}"),
    Code("MESH007", "bare-carriage-return", E,
         "The file has a carriage return (CR) that no line feed (LF) follows: a classic Mac line ending, or a stray CR.",
         "Editors start a new line at a lone CR, meshc reads lines at LF: a comment before it would run on over what the editor shows as the following lines, so the file would compile to something else than it shows (with CR-only line endings, to nothing at all).",
         "# shop policy<CR>namespace shop { }<CR>",
         "# shop policy<LF>namespace shop { }<LF>"),
    # ------------------------------------------------------------ values
    Code("MESH101", "invalid-name", E,
         "A name is not a DNS-1123 label (lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters).",
         "Names become Kubernetes object names, subset names and label values; the API server rejects anything else.",
         "service User_Service { }",
         "service user-service { }"),
    Code("MESH102", "invalid-regex", E,
         "A regular expression is not valid RE2.",
         "Envoy matches with RE2, which has no look-around or back-references; Istio accepts the resource and the route then never matches (or the listener is rejected).",
         'when header x-user ~ "^(?!admin).*$"',
         'when header x-user ~ "[^a].*"   # or split the route in two'),
    Code("MESH103", "uppercase-header", E,
         "A header name in a match has upper-case letters.",
         "HTTP/2 lower-cases header names and Istio rejects upper-case names in header matches.",
         'when header X-User-Id = "7"',
         'when header x-user-id = "7"'),
    Code("MESH104", "duration-too-small", E,
         "A duration is shorter than 1 ms, or not a whole number of milliseconds (of seconds, for `cors max-age`).",
         "Istio rejects durations below 1 ms (`0s` included) and a CORS max-age finer than seconds; Envoy's timers work in milliseconds.",
         "timeout 0s",
         "timeout 10s"),
    Code("MESH105", "percent-out-of-range", E,
         "A percentage is below 0 % or above 100 %, or above 0 % but below 0.0001 %.",
         "Weights, fault rates and mirror shares are shares of traffic; no share is larger than all of it, and Istio counts in millionths, rejecting smaller non-zero shares.",
         "fault abort 503 150%",
         "fault abort 503 1.5%"),
    Code("MESH106", "invalid-port", E,
         "A port number is outside 1–65535.",
         "Kubernetes and Istio reject such ports.",
         "port 0 http",
         "port 8080 http"),
    Code("MESH107", "invalid-status", E,
         "An HTTP status is not a real one: outside 200–599 for `fault abort`, not a registered status code in `retry ... on`.",
         "Istio only injects, and only retries on, real HTTP status codes; its webhook rejects others.",
         "fault abort 42 1%",
         "fault abort 503 1%"),
    Code("MESH108", "invalid-host", E,
         "A host name is not a valid DNS name (lower-case labels separated by dots, optionally starting with `*.`).",
         "Gateways, ServiceEntries and VirtualServices reject such hosts.",
         "hosts API.example.com",
         "hosts api.example.com"),
    Code("MESH109", "invalid-label", E,
         "A label key or value is not valid for Kubernetes.",
         "Subsets and selectors match pod labels; a label that cannot exist matches nothing.",
         'subset blue { color = "light blue" }',
         'subset blue { color = "light-blue" }'),
    Code("MESH110", "invalid-method", E,
         "An HTTP method is not one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH.",
         "A match or policy on a method no client sends never applies.",
         "when method = FETCH",
         "when method = GET"),
    Code("MESH111", "duplicate-setting", E,
         "A statement that may appear once in a block appears twice.",
         "With two `timeout`s (or two `when`s, two `tls`s, ...) it is unclear which one is meant, so meshc takes neither.",
         "route primary {\n  timeout 5s\n  timeout 10s\n}",
         "route primary {\n  timeout 10s\n}"),
    Code("MESH112", "invalid-version", E,
         "An Istio version is not one meshc can render for (1.18 to 1.30).",
         "meshc chooses API versions and fields per Istio release and knows these ones.",
         "cluster old istio 1.9",
         "cluster old istio 1.18"),
    Code("MESH113", "invalid-address", E,
         "An east-west gateway address is neither an IP address nor a DNS name.",
         "It becomes a ServiceEntry endpoint address.",
         "cluster a gateway 10.0.0",
         "cluster a gateway 10.0.0.7"),
    Code("MESH114", "value-out-of-range", E,
         "A number is outside the range its setting allows (for example `eject 0 consecutive 5xx`).",
         "Istio rejects the resource, or the setting has no effect.",
         "circuit-breaker { eject 0 consecutive 5xx }",
         "circuit-breaker { eject 5 consecutive 5xx }"),
    Code("MESH115", "empty-match", E,
         "A prefix or regex match on a header or query parameter is empty.",
         "Istio rejects an empty prefix or regex there; to match any value, test that the header is present another way, or drop the condition.",
         'when header x-debug ^= ""',
         'when header x-debug ^= "1"'),
    Code("MESH116", "path-wildcard", E,
         "An `allow ... to` path has `*` somewhere other than its start or end, or more than once.",
         "Authorization paths support only a leading `*` (suffix match), a trailing `*` (prefix match) or `*` alone; any other `*` is matched literally, so the rule never applies.",
         'allow api to GET "/api/*/users"',
         'allow api to GET "/api/*"'),
    Code("MESH117", "unsafe-character", E,
         "A string holds a control character (other than tab), DEL, a C1 control or the noncharacter U+FFFE or U+FFFF.",
         "DEL, the C1 controls and U+FFFE/U+FFFF make `kubectl kustomize` fail for the whole cluster, and U+0085 comes out of it as a space; a control character in a header or cookie value, path, principal or origin is one Envoy refuses in a request, so the condition never matches.",
         'when header x-user = "admin<ESC>"',
         'when header x-user = "admin"'),
    Code("MESH118", "empty-string", E,
         "A principal, authorization path, CORS origin, exact path or rewritten path is empty.",
         "Istio rejects empty values in an authorization policy, and no request has an empty path or origin: the rule or route never applies.",
         'allow api from principal ""',
         'allow api from principal "cluster.local/ns/web/sa/frontend"'),
    # ------------------------------------------------------------- names
    Code("MESH201", "unknown-subset", E,
         "A route, canary, mirror or subset policy names a subset the service does not declare.",
         "Istio accepts the VirtualService and then answers 503 (no healthy upstream) for that destination.",
         "subsets by version v1 v2\nroute primary { to v3 }",
         "subsets by version v1 v2 v3\nroute primary { to v3 }"),
    Code("MESH202", "unknown-cluster", E,
         "A cluster name (an `on CLUSTER` override, an `in` placement, `remote of`, `subsets by cluster`, a subset's "
         "`in`, `from cluster`, a `cluster=` pin of `failover priority`) is not a cluster of the fleet.",
         "The construct would silently apply nowhere: no proxy or endpoint carries that cluster's name.",
         "on bejing { timeout 20s }",
         "on beijing { timeout 20s }"),
    Code("MESH203", "unknown-gateway", E,
         "`expose via GATEWAY` names a gateway no namespace declares.",
         "A VirtualService bound to a missing Gateway receives no traffic.",
         "expose via main-gw host api.example.com",
         "expose via main-gateway host api.example.com"),
    Code("MESH204", "unknown-service", E,
         "A destination `service NAME` names a service the policy does not declare.",
         "The destination host would not exist and the route would answer 503.",
         "to service user-servce port 8080",
         "to service user-service port 8080"),
    Code("MESH205", "duplicate-name", E,
         "Two things of the same kind share a name in the same scope (subsets of a service, routes of a service, clusters, services of a namespace, gateways).",
         "Names become resource and subset names; the second would replace the first.",
         "route primary { to v1 }\nroute primary { to v2 }",
         "route primary { to v1 }\nroute fallback { to v2 }"),
    Code("MESH206", "duplicate-host", E,
         "Two services (or a service and an external entry) claim the same host.",
         "Istio uses only one VirtualService per host for sidecars (IST0109); the other is silently ignored.",
         "service api { port 80 http }\nexternal api.shop.svc.cluster.local port 80 http   # in namespace shop",
         "Give one of them another name."),
    Code("MESH207", "unknown-port", E,
         "A `port N` (in a match or a destination) names a port the service does not declare.",
         "A port match on an undeclared port never matches; a destination port that does not exist answers 503.",
         "port 80 http\nroute r { when port 8080 to v1 }",
         "port 8080 http\nroute r { when port 8080 to v1 }"),
    # ----------------------------------------------------------- routing
    Code("MESH301", "weights-not-100", E,
         "The weights of a `to` (or the distribution of a canary step) do not add up to 100 %.",
         "Since Istio 1.15 weights are relative: `90%`/`20%` silently becomes 81.8 %/18.2 %. meshc insists on 100.",
         "to v1 90%, v2 20%",
         "to v1 80%, v2 20%     # or: to v2 20%, v1 rest"),
    Code("MESH302", "rest-misuse", E,
         "`rest` is used more than once, on the only destination, or where nothing is left.",
         "`rest` means \"what the other destinations leave\"; it needs exactly one taker and a positive share.",
         "to v1 rest, v2 rest",
         "to v1 rest, v2 10%"),
    Code("MESH303", "fractional-weight", E,
         "A route weight, canary step, locality share or maximum ejection percentage is not a whole percentage.",
         "Istio takes these as integers.",
         "to v1 99.5%, v2 0.5%",
         "to v1 99%, v2 1%"),
    Code("MESH304", "canary-steps-not-increasing", E,
         "Canary steps do not strictly increase.",
         "Each step must send more traffic to the candidate than the last, or promotion goes backwards.",
         "canary v1 -> v2 steps 10% 5% 100%",
         "canary v1 -> v2 steps 5% 10% 100%"),
    Code("MESH305", "canary-not-ending-at-100", E,
         "The last canary step is not 100 %.",
         "A canary that can never finish leaves the baseline live forever.",
         "canary v1 -> v2 steps 10% 50%",
         "canary v1 -> v2 steps 10% 50% 100%"),
    Code("MESH306", "canary-at-out-of-range", E,
         "`at N` names a step that does not exist.",
         "`at 0` is the baseline and `at 1`..`at M` the M steps; anything else has no split.",
         "canary v1 -> v2 steps 10% 100% at 3",
         "canary v1 -> v2 steps 10% 100% at 2"),
    Code("MESH307", "unreachable-route", E,
         "A route can never be chosen because an earlier route matches every request it matches (a catch-all, or a more general match); at a gateway, an exposure can never be chosen because a route of the gateway's `host` block, tried first, matches every request it matches.",
         "Routes are tried in order and the first match wins (istioctl IST0130); the later route is dead configuration.",
         "route all { to v1 }\nroute beta { when header beta = \"1\" to v2 }",
         "route beta { when header beta = \"1\" to v2 }\nroute all { to v1 }"),
    Code("MESH308", "impossible-match", E,
         "A `when` alternative can never match (two different exact values for one header, a header both absent and set, ...).",
         "The route is dead configuration and usually a typo for `or`.",
         'when header env = "a" and header env = "b"',
         'when header env = "a" or header env = "b"'),
    Code("MESH309", "no-default-route", W,
         "Every route of the service has a `when`, so some requests match none.",
         "A VirtualService that owns a host answers 404 for requests no route matches; it does not fall back to the plain service.",
         'route even { when header x-user-id ~ "^[0-9]*[02468]$" to a }',
         'route even { when header x-user-id ~ "^[0-9]*[02468]$" to a }\nroute default { to a }'),
    Code("MESH310", "multiple-actions", E,
         "A route has more than one of `to`, `canary` and `blue-green`.",
         "Each says where all of the route's traffic goes; two would contradict each other.",
         "route r { to v1\n  canary v1 -> v2 steps 50% 100% }",
         "route r { canary v1 -> v2 steps 50% 100% }"),
    Code("MESH311", "canary-pause-count", E,
         "`pause` lists neither one duration nor one per gap between steps.",
         "One duration applies between every pair of steps; otherwise give one per gap (steps − 1).",
         "canary v1 -> v2 steps 10% 50% 100% pause 5m 10m 15m",
         "canary v1 -> v2 steps 10% 50% 100% pause 5m 10m"),
    Code("MESH312", "rewrite-without-path-match", W,
         "`rewrite path` is used in a route with no `path ^=` or `path =` condition.",
         "Istio replaces the matched prefix; with no path match that prefix is `/`, so `/foo` becomes `/v2foo` for `rewrite path \"/v2\"`.",
         'route r { rewrite path "/v2" to v1 }',
         'route r { when path ^= "/v1/" rewrite path "/v2/" to v1 }'),
    Code("MESH313", "expose-path-conflict", E,
         "An `expose ... when path` and a route's own path condition would both have to hold in one match.",
         "An Istio match has one URI condition; meshc cannot combine two.",
         'expose via gw host a.example.com when path ^= "/api"\nroute r { when path ^= "/v1" to v1 }',
         'expose via gw host a.example.com\nroute r { when path ^= "/api/v1" to v1 }'),
    Code("MESH314", "expose-conflict", E,
         "Two `expose` clauses put the same match on the same gateway host.",
         "Only one of them could ever receive the traffic.",
         "expose via gw host a.example.com   # in two services",
         'expose via gw host a.example.com when path ^= "/cart"'),
    Code("MESH315", "canary-same-subset", E,
         "A canary's baseline and candidate are the same subset.",
         "There is nothing to shift between.",
         "canary v1 -> v1 steps 50% 100%",
         "canary v1 -> v2 steps 50% 100%"),
    Code("MESH316", "repeated-condition", E,
         "One `and` tests the same thing twice (the same header, the path twice, two cookies, ...).",
         "An Istio match has one slot per header, one URI and one method, and cookies all travel in the one `cookie` header; the two conditions cannot be rendered as one match.",
         'when path ^= "/api" and path ^= "/api/v1"',
         'when path ^= "/api/v1"'),
    Code("MESH317", "retry-without-attempts", E,
         "`retry 0` sets `per-try` or `on`.",
         "With no attempts there is nothing to time or to retry on; Istio rejects `perTryTimeout` without attempts.",
         "retry 0 per-try 2s on 5xx",
         "retry off"),
    Code("MESH318", "mesh-only-condition", W,
         "An exposed service's route tests `port`, `source` or `from namespace`, which gateway traffic never satisfies as meant.",
         "Behind a gateway the port is the gateway's and the source is the gateway's pod: the route's copy on the gateway silently never matches.",
         "expose via edge host a.example.com\nroute admin { when from namespace ops to v2 }",
         "Match such routes on headers or paths, or do not expose them."),
    Code("MESH319", "expose-needs-port", E,
         "A service with several ports is exposed without `port N`.",
         "A gateway route to a service with several ports must name the port; without it Istio picks the gateway's own port, which the service usually lacks.",
         "port 8080 http\nport 9090 grpc\nexpose via edge host a.example.com",
         "expose via edge host a.example.com port 8080"),
    Code("MESH320", "combination-never-matches", W,
         "A route combined with its exposure's `when` (on a gateway), or a blue-green route's `when` combined with the preview header, can never match.",
         "An exposed route matches at the gateway only when the exposure's `when` and the route's both hold, and a preview needs `x-preview: true` as well as the route's `when`; a contradiction leaves that entry out, which is rarely what was meant.",
         'expose via edge host a.example.com when header x-env = "prod"\nroute staging { when header x-env = "staging" to v2 }',
         'expose via edge host a.example.com\nroute staging { when header x-env = "staging" to v2 }'),
    Code("MESH321", "combination-not-expressible", E,
         "An exposure and a route (or a route and its blue-green preview) test the same header, cookie or query parameter in ways one Istio match cannot combine.",
         "An Istio match tests each header (cookies all live in the `cookie` header) and query parameter with one matcher; two regexes, a regex and a prefix, or two cookies cannot be merged into one, and keeping only one would let requests through that the other refuses.",
         'expose via edge host a.example.com when cookie tenant = "acme"\nroute beta { when cookie beta = "1" to v2 }',
         'expose via edge host a.example.com\nroute beta { when cookie beta = "1" to v2 }   # or split the exposure'),
    Code("MESH322", "target-needs-port", E,
         "A `service X` destination or mirror has no `port`, X has several ports, and a request can arrive on a port X does not have.",
         "Without a port Istio sends the request to the port it arrived on (the caller's, or the gateway's), so a service with other ports answers 503 and a mirror is lost.",
         "port 80 http\nroute r { to service api }   # api has ports 8080 and 9090",
         "route r { to service api port 8080 }"),
    Code("MESH323", "dead-rendered-entry", W,
         "An entry of a rendered VirtualService (mesh or gateway) can never match: an earlier entry takes every request it would.",
         "meshc checks what it emits the way Istio reads it: where routes of several services meet on one gateway host, or exposures overlap, an entry can be shadowed although each service's own routes are fine. Istio would silently never use it.",
         'expose via edge host a.example.com                       # service a: every request\nexpose via edge host a.example.com when path ^= "/b"   # service b: never reached',
         'expose via edge host a.example.com when path ^= "/a"\nexpose via edge host a.example.com when path ^= "/b"'),
    Code("MESH325", "mesh-condition-at-gateway", E,
         "A route of a gateway's `host` block tests `port`, `source` or `from namespace`.",
         "Every request a gateway routes comes from the gateway's own pod and namespace, on the gateway's port: such a condition says nothing about the request and holds for all of them or for none. (On an exposed service route the same condition is only a warning, MESH318, since the route still serves mesh traffic.)",
         'host api.example.com {\n  route ops { when from namespace ops to service admin }\n}',
         'host api.example.com {\n  route ops { when header x-team = "ops" to service admin }\n}'),
    Code("MESH326", "gateway-route-needs-service", E,
         "A route of a gateway's `host` block goes to a bare subset, uses `canary` or `blue-green`, or has no `to`.",
         "A gateway route belongs to no service: a bare subset has no service to be a subset of, and a canary or blue-green moves one service's traffic between its subsets. Name the services (and subsets) the route goes to.",
         'host api.example.com {\n  route users { to v1 90%, v2 10% }\n}',
         'host api.example.com {\n  route users { to service users subset v1 90%, service users subset v2 10% }\n}'),
    Code("MESH327", "cors-without-gateway", W,
         "A service that no gateway exposes sets `cors` on its routes.",
         "CORS is for browsers, and browsers reach the mesh through a gateway; a service's own VirtualService is applied by its callers' sidecars, and traffic a gateway `host` block routes to it gets that route's options instead. The policy never reaches a browser.",
         'service users {\n  route all { to v1  cors origins "https://app.example.com" }\n}',
         'host api.example.com {   # in the gateway\n  cors origins "https://app.example.com"\n  route users { to service users in web }\n}'),
    Code("MESH328", "host-without-routes", W,
         "A gateway's `host` block has no routes.",
         "Options written in a `host` block apply to its own routes only (an exposure of the host keeps its service's options), so without routes the block does nothing.",
         'host api.example.com { timeout 10s }',
         'host api.example.com {\n  timeout 10s\n  route api { to service api in web }\n}'),
    # ------------------------------------------------- destination policy
    Code("MESH401", "conflicting-load-balancers", E,
         "Two load-balancer kinds are set on one destination (for example `lb least-request` and `lb hash ...`).",
         "Istio's loadBalancer takes `simple` or `consistentHash`, not both.",
         "lb least-request\nlb hash header x-user-id",
         "lb hash header x-user-id"),
    Code("MESH402", "failover-without-outlier-detection", E,
         "`failover` or `failover priority` is set where the effective policy has no outlier detection (`eject`).",
         "Istio only applies failover priorities when the destination's policy has outlier detection "
         "(pilot's xds/endpoints/endpoint_builder.go); without it Envoy never marks an endpoint unhealthy, so "
         "nothing ever fails over, and Istio's webhook only warns.",
         "failover cn-east -> cn-north",
         "failover cn-east -> cn-north\ncircuit-breaker { eject 5 consecutive 5xx every 10s for 30s }"),
    Code("MESH403", "failover-to-self", E,
         "A failover pair goes from a region to itself.",
         "Istio rejects `from` equal to `to`.",
         "failover cn-east -> cn-east",
         "failover cn-east -> cn-north"),
    Code("MESH404", "distribute-not-100", E,
         "The weights of a `distribute` do not add up to 100 %.",
         "Istio requires each locality distribution to total 100.",
         "distribute cn-east/* -> cn-east/* 80%, cn-north/* 10%",
         "distribute cn-east/* -> cn-east/* 80%, cn-north/* 20%"),
    Code("MESH405", "failover-and-distribute", E,
         "More than one of `failover`, `failover priority` and `distribute` is set for one destination.",
         "Istio's localityLbSetting takes one of them (istio/api destination_rule.proto): with `distribute` pilot "
         "silently ignores the others (pilot/pkg/networking/core/loadbalancer/loadbalancer.go). Since 1.20 pilot "
         "also combines `failover` with priorities on non-locality labels, but the result (priorities multiplied "
         "by five) is hard to read; meshc keeps one.",
         "failover a -> b\ndistribute a/* -> a/* 100%",
         "failover a -> b"),
    Code("MESH406", "tls-conflicts-with-strict-mtls", E,
         "`tls disable` or `tls simple` is set towards a workload whose namespace (or workload) requires strict mTLS.",
         "The sidecar expects mutual TLS; plain or one-way TLS traffic is refused (503).",
         "mtls strict\nservice api { tls disable }",
         "mtls strict\nservice api { tls istio-mutual }"),
    Code("MESH408", "missing-gateway-address", E,
         "In a fleet that spans several networks, a service runs on a network where no cluster has an "
         "east-west gateway (`gateway ADDRESS`), while clusters on other networks call it: only there, or "
         "there and elsewhere (a service without `in` runs everywhere); or a remote is on another network "
         "than its primary, which has no east-west gateway.",
         "A sidecar reaches endpoints on another network only through that network's east-west gateway; with none, "
         "Istio hands it the pods' own addresses, which its network cannot route "
         "(pilot/pkg/xds/endpoints/ep_filters.go, `EndpointsByNetworkFilter`, which keeps such an endpoint as "
         "is): every cross-network request sent to those pods fails, all of them when the service runs nowhere "
         "else, a share of them otherwise. A remote on another network reaches its primary's istiod only "
         "through the primary's east-west gateway (Istio's primary-remote multi-network install exposes istiod "
         "there), so without one its proxies get no configuration at all.",
         "cluster a network n1 gateway 10.0.0.7\ncluster b network n2\n...\nservice api { in b }",
         "cluster b network n2 gateway 10.1.0.7"),
    Code("MESH409", "unknown-region", W,
         "A `failover`, `distribute` or pin of `failover priority` names a region, zone or network that no fleet "
         "cluster is in.",
         "Traffic never fails over to (or from) a locality with no endpoints; usually a typo.",
         "failover cn-east -> cn-nrth",
         "failover cn-east -> cn-north"),
    Code("MESH411", "cross-network-needs-mutual-tls", E,
         "A service's policy (its own, or inherited from `defaults`) sets `tls disable` or `tls simple` in a fleet "
         "that spans several networks.",
         "Sidecars reach other networks through east-west gateways in AUTO_PASSTHROUGH mode, which route by the SNI "
         "of Istio mutual TLS; pilot drops the endpoints on other networks of a destination without it "
         "(pilot/pkg/xds/endpoints/ep_filters.go), so callers only reach their own network and failover across "
         "networks never happens.",
         "defaults { tls simple }   # fleet on networks n1 and n2",
         "defaults { tls istio-mutual }   # or drop `tls`: Istio then chooses mutual TLS"),
    Code("MESH412", "invalid-locality", E,
         "A `distribute` locality has `*` before its last part, or its source overlaps another distribution's.",
         "Istio only allows `*` as the last part of a locality and rejects distributions whose sources overlap.",
         "distribute cn-east/*/a -> cn-east/* 100%",
         "distribute cn-east/zone-a/* -> cn-east/* 100%"),
    # ------------------------------------------------ security and ingress
    Code("MESH501", "gateway-without-server", E,
         "A gateway has no `https` or `http` server, or no `hosts`.",
         "An Istio Gateway needs at least one server with at least one host.",
         "gateway main { hosts api.example.com }",
         "gateway main { hosts api.example.com  https credential api-cert }"),
    Code("MESH502", "host-not-on-gateway", E,
         "`expose` or a gateway's `host` block uses a host that the gateway does not serve.",
         "The gateway drops requests for hosts it does not list, so the route is never used.",
         "gateway main { hosts api.example.com ... }\nexpose via main host app.example.com",
         "gateway main { hosts api.example.com app.example.com ... }"),
    Code("MESH503", "duplicate-mtls", E,
         "Two `mtls` statements apply to the same namespace or workload.",
         "Two PeerAuthentications for one scope conflict; Istio picks the oldest.",
         "mtls strict\nmtls permissive",
         "mtls strict"),
    Code("MESH510", "duplicate-tls-host", E,
         "Two gateways with the same selector serve one host over TLS on one port.",
         "Gateways with one selector configure the same pods, and Istio merges their servers: the second TLS server for a host is dropped, so the routes bound to its gateway are never reached (HTTPS requests get the first gateway's routes or a 404).",
         "gateway public { hosts api.example.com  https credential a }\ngateway partner { hosts api.example.com  https credential b }",
         "gateway partner {\n  hosts api.example.com\n  https credential b\n  selector istio = \"partner-gateway\"\n}"),
    # ------------------------------------------------------ Istio versions
    Code("MESH601", "unsupported-by-istio-version", E,
         "The policy needs a field that the Istio version of a cluster does not serve.",
         "The API server of that cluster would reject the resource (unknown field), or drop it silently; meshc never drops it silently.",
         "cluster old istio 1.18\n...\nmirror v2 10%\nmirror v3 10%      # two mirrors need Istio 1.20",
         "Upgrade the cluster, or use one mirror."),
    # ---------------------------------------------------- canary lifecycle
    Code("MESH701", "service-not-in-file", E,
         "`meshc promote`, `rollback` or `gate` names a service that the given file does not declare.",
         "These commands rewrite (or read) one canary in one file; a misspelt service or the wrong file must not be guessed at.",
         "meshc promote shop/cart.mesh checkout   # cart.mesh declares `cart` only",
         "meshc promote shop/cart.mesh cart"),
    Code("MESH702", "canary-not-found", E,
         "The service has no canary, or no route of that name, or that route has no canary.",
         "Only a `canary` clause has steps to move between; other routes are changed by editing them.",
         "meshc promote shop/cart.mesh cart --route checkout   # route checkout says `to v1`",
         "meshc promote shop/cart.mesh cart --route primary"),
    Code("MESH703", "ambiguous-canary", E,
         "The command could mean several canaries: the service has more than one, or its name is declared in several namespaces.",
         "Promoting the wrong canary shifts real traffic; meshc asks instead of choosing.",
         "meshc promote shop/cart.mesh cart   # routes primary and mobile both have a canary",
         "meshc promote shop/cart.mesh shop/cart --route mobile"),
    Code("MESH704", "canary-at-last-step", E,
         "`meshc promote` on a canary already at its last step (100 %).",
         "There is no further step; a finished canary is retired by writing `to CANDIDATE` instead of the `canary` clause.",
         "canary v1 -> v2 steps 10% 50% 100% at 3   # meshc promote ...",
         "to v2"),
    Code("MESH705", "canary-at-baseline", E,
         "`meshc rollback` on a canary that already sends everything to its baseline (`at 0` or no `at`).",
         "Nothing would change; the diagnostic says so rather than writing an identical file.",
         "canary v1 -> v2 steps 10% 50% 100% at 0   # meshc rollback ...",
         "meshc promote ...   # to start the canary again: step 1"),
    Code("MESH706", "promotion-step-out-of-range", E,
         "`meshc promote --to N` names the live step, one before it, or a step the canary does not have.",
         "Promotion only moves traffic towards the candidate, up to the last step; moving back is `meshc rollback`, which returns to the baseline.",
         "canary v1 -> v2 steps 10% 50% 100% at 2   # meshc promote ... --to 1",
         "meshc rollback ...   # or: meshc promote ... --to 3"),
    Code("MESH707", "wave-started-early", E,
         "A wave of a fleet canary is past step 0 while the wave before it has not reached the step that starts it "
         "(`after N`, or its last step).",
         "Waves take the canary's steps one after the other so that a region sees the candidate only once the "
         "regions before it have shown it healthy; a wave ahead of the plan skips that evidence.",
         "wave hangzhou at 1\nwave beijing shenzhen at 1",
         "wave hangzhou at 1\nwave beijing shenzhen at 0   # or: wave beijing shenzhen after 1 at 1"),
    Code("MESH708", "canary-at-with-waves", E,
         "A canary with `wave`s also has `at N` after its steps.",
         "With waves, each wave states the step its clusters render; a second, fleet-wide `at` would contradict them.",
         "canary v1 -> v2 steps 10% 100% at 1\n  wave hangzhou at 1\n  wave beijing",
         "canary v1 -> v2 steps 10% 100%\n  wave hangzhou at 1\n  wave beijing"),
    Code("MESH709", "wave-after-out-of-range", E,
         "`after N` on the first wave, or naming a step the canary does not have.",
         "`after N` says which step of the wave before starts this one; the first wave has none before it.",
         "canary v1 -> v2 steps 10% 100%\n  wave hangzhou after 1\n  wave beijing after 3",
         "canary v1 -> v2 steps 10% 100%\n  wave hangzhou\n  wave beijing after 1"),
    Code("MESH710", "wave-not-found", E,
         "`meshc promote`, `rollback` or `gate` names a wave (`--wave N` or `--wave CLUSTER`) the canary does not have.",
         "A wave is a position in the canary's plan or the wave listing a cluster; a canary without waves has none "
         "to choose.",
         "meshc promote shop/cart.mesh cart --wave 3   # the canary has 2 waves",
         "meshc promote shop/cart.mesh cart --wave 2"),
    Code("MESH711", "wave-not-ready", E,
         "`meshc promote --wave N` would start a wave whose wave before has not reached the step that starts it.",
         "The plan moves region by region; starting a wave early would skip the evidence the wave before gives.",
         "wave hangzhou at 1\nwave beijing   # meshc promote ... --wave 2",
         "meshc promote ... --wave 1   # until hangzhou is at its last step"),
    # ---------------------------------------------------- policy tests
    Code("MESH801", "request-not-a-value", E,
         "A test's request says `^=`, `~` or `absent` in its `with`: a match, not a value.",
         "A request carries one value for each header, cookie, parameter and path; `meshc test` sends exactly "
         "what `with` lists, so a match says nothing it could send.",
         'request service cart in shop with header x-user ^= "beta"',
         'request service cart in shop with header x-user = "beta-7"'),
    Code("MESH802", "empty-test", E,
         "A test has no `request`, or no `expect`.",
         "A test without a request tests nothing, and one without an expectation cannot fail; both would pass "
         "and be counted.",
         "test cart-canary {\n  request service cart in shop\n}",
         "test cart-canary {\n  request service cart in shop\n  expect to v1\n}"),
    Code("MESH803", "ambiguous-service", E,
         "A test's `request service NAME` names a service declared in several namespaces.",
         "Services of one name in different namespaces are different hosts; the test must say which it calls.",
         "request service cart",
         "request service cart in shop"),
    Code("MESH804", "no-canary-to-step", E,
         "A test says `at N` or `every step`, but no service its requests reach has a canary.",
         "Only canaries have steps; the test would run as written, at the live state, and the steps would "
         "suggest a coverage it does not have.",
         "request service cart in shop   # cart routes `to v1`\nat 2",
         "request service cart in shop"),
    Code("MESH805", "subset-needs-service", E,
         "An expectation names a bare subset, but the test's requests may reach several services, or none "
         "that meshc declares.",
         "A bare subset belongs to the service under test; at a gateway host several services may be exposed, "
         "and an external host has no subsets.",
         "request host api.example.com via main-gateway   # two services exposed\nexpect to v2",
         "expect to service user-service subset v2"),
    Code("MESH806", "unknown-route", E,
         "`expect route NAME` names no route of the services the test's requests reach.",
         "The test could never pass; a misspelt route is a mistake in the test, not a failure of the policy.",
         "expect route canary-overide",
         "expect route canary-override"),
    Code("MESH807", "down-without-served-by", W,
         "A test says `down CLUSTER`, but expects nothing about which clusters serve its requests.",
         "Unhealthy pods change only which clusters' pods take a request (`expect served by`), not the route or "
         "the destinations, so `down` would have no effect on what the test checks.",
         "down hangzhou\nexpect to v1",
         "down hangzhou\nexpect served by beijing"),
    Code("MESH808", "cluster-label-in-request", W,
         "A test's request gives the caller's `topology.istio.io/cluster` label with `source`.",
         "istiod sets that label on every proxy to the proxy's own cluster, over the workload's label "
         "(pilot/pkg/serviceregistry/util/label/label.go `AugmentLabels`), so a caller cannot claim another "
         "cluster by label: the value is not sent, and the request runs from the clusters `from cluster` "
         "names (every cluster without it).",
         'request service geo in prod with source topology.istio.io/cluster = "shanghai"',
         "request service geo in prod with from cluster shanghai"),
    # ------------------------------------------- import (meshc import)
    Code("MESH820", "unsupported-kind", W,
         "An Istio (or Gateway API) resource of a kind the language has no construct for: EnvoyFilter, Sidecar, "
         "RequestAuthentication, Telemetry, WorkloadEntry, an HTTPRoute, ..., or a PrometheusRule meshc wrote "
         "for a canary.",
         "`meshc import` carries every resource it can into .mesh; one it cannot is left out of the policy, and "
         "rendering the policy would not produce it. A canary's alerts cannot bring the canary back: its steps "
         "are not in the YAML, so the route is imported as the split it has now (a split that differs between "
         "clusters becomes a canary with waves whose steps are the shares seen).",
         "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: lua, namespace: shop}",
         "Keep the resource outside meshc's output (apply it separately), or express its intent in the policy."),
    Code("MESH821", "unsupported-field", W,
         "A field of an imported resource has no equivalent in the language (header manipulation, redirects, "
         "direct responses, delegation, TCP and TLS routes, TLS origination details, ...).",
         "The rest of the resource is imported; this field is left out, so the rendered policy does not do what "
         "it did. The import's proof then shows which requests are affected.",
         "http:\n- headers:\n    request:\n      set: {x-env: prod}\n  route:\n  - destination: {host: cart}",
         "http:\n- route:\n  - destination: {host: cart}\n# and set the header elsewhere (the application, an EnvoyFilter)"),
    Code("MESH822", "unsupported-value", W,
         "A field's value is outside what the language accepts: a duration finer than a millisecond, weights "
         "that are not whole percentages of 100, a regex RE2 rejects, a name that is not a DNS label, a retry "
         "condition or protocol the language does not list, ...",
         "The language only holds values Istio applies as meant; the field (or the construct that needs it) "
         "is left out, or the nearest expressible value is used and the proof reports the difference.",
         "route:\n- destination: {host: cart, subset: v1}\n  weight: 2\n- destination: {host: cart, subset: v2}\n"
         "  weight: 1",
         "route:\n- destination: {host: cart, subset: v1}\n  weight: 67\n- destination: {host: cart, subset: v2}\n"
         "  weight: 33"),
    Code("MESH823", "export-to-not-imported", W,
         "A resource restricts where it applies with `exportTo`.",
         "meshc renders resources visible to every namespace; a VirtualService or DestinationRule that was "
         "private to some namespaces applies to all of them once imported.",
         "spec:\n  exportTo: [\".\"]",
         "Remove `exportTo`, or keep the resource outside meshc's output."),
    Code("MESH824", "host-not-a-service", W,
         "A VirtualService or DestinationRule is for a host that is not a Kubernetes service of the mesh "
         "(`NAME.NAMESPACE.svc.cluster.local`): an external host, a wildcard, an IP address, or a name with a "
         "dot such as `reviews.prod`, which Istio takes literally.",
         "The language routes and sets policy for its services; routing for other hosts is left out.",
         "spec:\n  hosts: [reviews.prod]",
         "spec:\n  hosts: [reviews.prod.svc.cluster.local]"),
    Code("MESH825", "name-not-kept", W,
         "A name meshc chooses itself differs from the input's: a VirtualService is named after its service "
         "(or `GATEWAY-HOST` on a gateway), a ServiceEntry after its first host, a gateway server's port "
         "`PROTOCOL-NUMBER`; a route name that is not a DNS label is rewritten.",
         "Rendering creates resources under the new names: apply the output and delete the old resources, or "
         "two configurations for one host will exist (Istio then uses the older one).",
         "kind: VirtualService\nmetadata: {name: reviews-route}\nspec:\n  hosts: [reviews]",
         "kind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]"),
    Code("MESH826", "metadata-not-imported", W,
         "A resource carries labels or annotations of its own.",
         "meshc sets its own label (`app.kubernetes.io/managed-by: meshc`) and no other metadata; tools that "
         "select resources by the others no longer find them. Server-set fields (`uid`, `resourceVersion`, "
         "`kubectl.kubernetes.io/last-applied-configuration`, ...) are ignored, not reported.",
         "metadata:\n  name: cart\n  labels: {team: checkout}",
         "Select the rendered resources by `app.kubernetes.io/managed-by: meshc`, or add the labels with "
         "kustomize."),
    Code("MESH827", "differs-per-cluster", W,
         "Clusters disagree on something the language keeps the same in every cluster: a service's routes, "
         "subsets, subset or port policy, or a namespace's defaults, gateways, external services and security; "
         "or a service is configured in some primaries only.",
         "Only route options and service policy may differ per cluster (`on CLUSTER`); the first cluster's "
         "version is imported and the others would change to it.",
         "# cluster a: route: [{destination: {host: cart, subset: v1}}]\n"
         "# cluster b: route: [{destination: {host: cart, subset: v2}}]",
         "Make the clusters agree before importing, or keep the differing resource outside meshc."),
    Code("MESH828", "resource-not-in-effect", W,
         "A resource that Istio does not use as written: a second VirtualService or DestinationRule for a host "
         "that another one already takes, a resource defined twice in the input, configuration applied to a "
         "remote cluster (whose proxies follow their primary's), or one the API server refuses (no name, a "
         "namespace that is no DNS label, `metadata` or `spec` that is no mapping).",
         "Importing it would change what happens; it is left out, and the one Istio uses is imported.",
         "# two VirtualServices for reviews.shop.svc.cluster.local in namespace shop",
         "Merge them into one VirtualService."),
    Code("MESH829", "dead-entry", W,
         "An `http` entry of a VirtualService can never match: an earlier entry takes every request it would.",
         "Istio never uses it (istioctl analyze IST0130); the language refuses unreachable routes (MESH307), so it "
         "is left out. Nothing routes differently.",
         "http:\n- route: [{destination: {host: cart}}]\n- match: [{uri: {prefix: /v2}}]\n  route: "
         "[{destination: {host: cart, subset: v2}}]",
         "http:\n- match: [{uri: {prefix: /v2}}]\n  route: [{destination: {host: cart, subset: v2}}]\n- route: "
         "[{destination: {host: cart}}]"),
    Code("MESH830", "policy-not-inherited", W,
         "A DestinationRule relies on a setting Istio drops and meshc would keep: a subset or port-level policy "
         "replaces a whole message of the top-level policy (a subset's `outlierDetection` drops the top-level "
         "`interval`), or a wildcard DestinationRule's settings, which Istio does not apply to a service with a "
         "rule of its own.",
         "In the language a subset, a port and a service inherit every setting they do not set themselves; the "
         "imported policy applies the dropped setting where Istio did not.",
         "trafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5, interval: 10s}\nsubsets:\n- name: v2\n"
         "  labels: {version: v2}\n  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 1}",
         "subsets:\n- name: v2\n  labels: {version: v2}\n  trafficPolicy:\n    outlierDetection: "
         "{consecutive5xxErrors: 1, interval: 10s}"),
    Code("MESH831", "gateway-routes-differ", W,
         "A VirtualService bound to a gateway routes a service differently from the service's own routes, or "
         "in a way an `expose` cannot say.",
         "`expose` serves a service's own routes on a gateway host, each narrowed by the exposure's `when`; "
         "routes that exist only at the gateway cannot be written yet, so these entries are left out.",
         "# gateway: /reviews -> reviews subset v2; mesh: reviews -> v1",
         "Route both the same way, or keep the gateway's VirtualService outside meshc."),
    Code("MESH840", "unreadable-yaml", E,
         "An input file is not valid YAML, not UTF-8, or holds a mapping with a key set twice.",
         "Nothing can be imported from a file that cannot be read as Kubernetes reads it; `meshc import` "
         "writes nothing and exits 2.",
         "spec:\n  hosts: [reviews\n  http: []",
         "spec:\n  hosts: [reviews]\n  http: []"),
    Code("MESH850", "import-routes-differently", E,
         "After writing, `meshc import` renders the imported policy and asks Istio's routing, as meshc's "
         "evaluator reads it, where requests go; for this request the input and the imported policy disagree.",
         "The imported policy would change where (or how) that request is routed: something was lost (the "
         "other diagnostics say what) or the import is wrong.",
         "# input: requests with `end-user: jason` go to reviews v2\n# imported: they go to reviews v1",
         "Fix what the loss report names and import again, or edit the imported policy."),
    Code("MESH851", "import-document-differs", E,
         "A rendered document of the imported policy differs from the input's after normalisation, for a kind "
         "the route evaluator does not read (Gateway, ServiceEntry, PeerAuthentication, AuthorizationPolicy, "
         "Service stubs).",
         "The imported policy would apply something else than the input did.",
         "# input: mtls STRICT; imported: no PeerAuthentication",
         "Fix what the loss report names and import again."),
    Code("MESH852", "import-not-compiled", E,
         "The policy `meshc import` wrote does not compile: `meshc check` refuses it.",
         "The importer writes only what the language accepts, so this is a bug in meshc or an input that "
         "contradicts itself in a way the importer did not foresee; the policy is still written so that it can "
         "be fixed by hand.",
         "# error[MESH201]: unknown subset",
         "Fix the policy by hand, and please report the input."),
    # -------------------------------------------------- fleet topology
    Code("MESH901", "invalid-topology", E,
         "A cluster is `remote of` itself or of another remote, a remote declares an Istio release other than "
         "its primary's, or a cluster declares no `network` in a fleet that spans several.",
         "A remote cluster has no control plane: its primary's istiod programs its proxies, with the primary's "
         "configuration and release. A remote of a remote would have no istiod to follow. A proxy or pod "
         "without a network is on every network for Istio (pilot/pkg/model/context.go `InNetwork`), so in a "
         "fleet on several networks such a cluster's sidecars dial the other networks' pods directly instead "
         "of through their east-west gateways, and theirs dial its pods directly.",
         "cluster a\ncluster b remote of a\ncluster c remote of b",
         "cluster a\ncluster b remote of a\ncluster c remote of a"),
    Code("MESH902", "override-on-remote", E,
         "An `on CLUSTER { ... }` override names a remote cluster.",
         "A remote's proxies are programmed by its primary's istiod from the configuration of the primary's API "
         "server (the primary-remote install docs apply config to the primary only): resources applied to the "
         "remote are never read, so the override would apply nowhere.",
         "cluster shanghai remote of hangzhou\n...\non shanghai { timeout 20s }",
         "on hangzhou { timeout 20s }   # applies to hangzhou and its remote shanghai\n"
         "# or, for shanghai's callers only: route slow { when from cluster shanghai ... }"),
    Code("MESH903", "placed-nowhere", E,
         "A service or a subset has no cluster to run in: the fleet has no cluster, or a subset selects a cluster "
         "(`subsets by cluster`, a subset's `in`) where the service does not run.",
         "Nothing would render, or the subset selects no endpoint and its share of traffic gets 503 (no healthy "
         "upstream).",
         "service api {\n  in hangzhou\n  subsets by cluster hangzhou beijing\n}",
         "service api {\n  in hangzhou beijing\n  subsets by cluster hangzhou beijing\n}"),
    Code("MESH904", "single-cluster-fleet", W,
         "Cluster routing (`subsets by cluster`, a subset's `in`, `from cluster`, `local`, a `cluster` entry of "
         "`failover priority`) in a fleet of one cluster.",
         "Every caller and every endpoint is in the one cluster, so the construct changes nothing; usually the "
         "fleet is missing clusters.",
         "fleet prod { cluster hangzhou }\n...\nsubsets by cluster hangzhou",
         "fleet prod {\n  cluster hangzhou\n  cluster beijing\n}"),
    Code("MESH905", "local-service-called-elsewhere", E,
         "A `local` service is needed in a cluster where it does not run: another service's route sends traffic "
         "to it, a gateway exposes it, or one of its routes matches callers `from cluster` such a cluster (or by the "
         "label `topology.istio.io/cluster`, the same test).",
         "A local service's callers reach only its endpoints in their own cluster; in a cluster without its "
         "workloads its VirtualService answers them 404 (`not-found`), so that route or exposure could only fail.",
         "service cache {\n  in hangzhou\n  local\n}\nservice api { route r { to service cache } }",
         "service cache {\n  local   # runs in every cluster\n}"),
    Code("MESH906", "local-misuse", E,
         "A `local` service declares cluster subsets (`subsets by cluster`, a subset's `in`), a port that is "
         "not HTTP (`tcp`, `tls`, `https`), or a subset whose per-cluster name (`CLUSTER-SUBSET`) would be longer "
         "than 63 characters or the same as another per-cluster subset's (`CLUSTER`, `CLUSTER-SUBSET`).",
         "`local` already sends every request to the caller's own cluster: a subset of another cluster then "
         "selects no endpoint. And `local` is carried by the VirtualService's HTTP routes, which TCP and TLS "
         "traffic (`https` passed through included) never takes: it would cross clusters anyway. The "
         "per-cluster subsets must be names Istio accepts (DNS labels, `validateSubsetName`), one per subset: "
         "cluster `east` with subset `v1` and a cluster `east-v1` would both be `east-v1`.",
         "service cache {\n  local\n  port 6379 tcp\n}",
         "service cache {\n  local\n  port 8080 http\n}"),
    Code("MESH907", "plain-cluster-label", W,
         "A subset label or a `source` condition uses the plain key `cluster` with the name of a fleet cluster.",
         "Istio labels every proxy and endpoint with its cluster as `topology.istio.io/cluster`; pods rarely carry "
         "a label `cluster`, so such a subset selects nothing (503) and such a match never holds.",
         'subset primary { cluster = "hangzhou" }\nwhen source cluster = "hangzhou"',
         "subset primary { in hangzhou }\nwhen from cluster hangzhou"),
    Code("MESH908", "stub-needs-ports", E,
         "A service that runs in some clusters only (`in ...`) declares no `port`.",
         "Every other cluster gets a Kubernetes Service stub so that its callers' DNS resolves the name, and a "
         "Service needs ports (named as in the real Service: Istio matches endpoints to ports by name).",
         "service api { in hangzhou }",
         "service api {\n  in hangzhou\n  port 8080 http\n}"),
    Code("MESH920", "cluster-not-in-waves", E,
         "The waves of a fleet canary leave a primary cluster out.",
         "Each cluster renders the step of its wave; a cluster in no wave would have no step the source states.",
         "cluster hangzhou\ncluster beijing\n...\nwave hangzhou at 1",
         "wave hangzhou at 1\nwave beijing"),
    Code("MESH921", "cluster-in-two-waves", E,
         "A cluster is listed twice in the waves of one canary.",
         "A cluster's configuration renders one split of the canary, so it belongs to one wave.",
         "wave hangzhou at 1\nwave beijing hangzhou",
         "wave hangzhou at 1\nwave beijing"),
    Code("MESH922", "remote-in-other-wave", E,
         "A remote cluster is listed in another wave than its primary.",
         "A remote runs no istiod: its primary's configuration, and so its primary's step, routes its proxies. It "
         "moves with its primary's wave, listed or not.",
         "cluster shanghai remote of hangzhou\n...\nwave hangzhou at 1\nwave shanghai beijing",
         "wave hangzhou shanghai at 1\nwave beijing"),
)

# Codes whose construct left the language: never reported, never reused.
RETIRED: dict[str, tuple[str, str]] = {
    "MESH407": ("placement-misuse", "`in` was only for `global` services; every service may now say where it runs "
                                    "(MESH006 reports `global`)."),
    "MESH410": ("global-needs-fleet", "`global` services are gone (MESH006); `in` without a fleet is MESH202."),
}

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
BY_NAME: dict[str, Code] = {c.name: c for c in _TABLE}


def lookup(code_or_name: str) -> Optional[Code]:
    """A code by `MESH301`, `mesh301` or `weights-not-100`."""
    return CODES.get(code_or_name.upper()) or BY_NAME.get(code_or_name.lower())


def diagnostic(
    name: str,
    message: str,
    span: Span,
    *,
    labels: Sequence[Label] = (),
    help: Optional[str] = None,
    severity: Optional[Severity] = None,
) -> Diagnostic:
    """A diagnostic for the registered code called `name`."""
    code = BY_NAME[name]
    return Diagnostic(code.code, code.name, severity or code.severity, message, span, tuple(labels), help)


def describe(code: Code) -> str:
    """One code's entry, as `meshc explain` prints it, docs/diagnostics.md
    lists it and SARIF carries it as the rule's help."""
    return (
        f"## {code.code} {code.name} ({code.severity.value})\n\n"
        f"### What it does\n{code.summary}\n\n"
        f"### Why is this bad?\n{code.why}\n\n"
        f"### Example\n```\n{code.example}\n```\n\n"
        f"### Use instead\n```\n{code.fix}\n```\n"
    )
