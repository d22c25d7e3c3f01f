"""Independent request tables: where each request must go, computed by hand
from docs/language.md, docs/testing.md, docs/semantics.md and Istio's
documented behaviour (../shared/design/istio-facts.md), never from meshc's
code. test_route_tables.py holds `meshc route` to them; the policies'
`test` blocks (policies/*/tests.mesh) state the same rows for `meshc test`.

A row is a request (as `meshc route` options) and, per caller cluster, the
decision: route name, destinations with their shares, timeout, retries,
fault, mirrors and rewrite. Everything a row does not say is Istio's
default (no timeout, Istio's default retries, no fault, no mirror, the path
unchanged), so every row checks the whole decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Istio 1.24+ (the evaluator follows 1.30): 2 attempts on these conditions,
# no retriable status (docs/language.md, "What Istio does where a policy
# says nothing"; istio retry.go DefaultPolicy).
DEFAULT_ON = frozenset({"connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"})


@dataclass(frozen=True)
class Retry:
    attempts: int
    per_try_ms: int | None = None
    on: frozenset[str] = DEFAULT_ON
    statuses: tuple[int, ...] = ()


ISTIO_DEFAULT = Retry(2)
OFF = Retry(0, None, frozenset())


@dataclass(frozen=True)
class Fault:
    delay_ms: int | None = None
    delay_percent: float | None = None
    abort_status: int | None = None
    abort_percent: float | None = None


@dataclass(frozen=True)
class Decision:
    """What must happen. `to` maps "SHORT_HOST[/SUBSET][:PORT]" (SHORT_HOST
    is NAME.NS, or a full host with dots) to its share in percent."""

    route: str | None = None
    to: dict[str, float] = field(default_factory=dict)
    kind: str = "route"
    status: int | None = None
    timeout_ms: int | None = None
    retries: Retry = ISTIO_DEFAULT
    fault: Fault | None = None
    mirrors: dict[str, float] = field(default_factory=dict)
    rewrite: str | None = None
    entry: str | None = None          # the VirtualService entry, when it is worth checking


def respond(status: int | None, kind: str = "respond") -> Decision:
    """The proxy answers itself: a 404, or (None) no HTTP answer; a 301
    from `redirect-http` is a redirect."""
    return Decision(kind=kind, status=status, retries=OFF)


NOT_FOUND = respond(404)
REDIRECT = respond(301, "redirect")


@dataclass(frozen=True)
class Row:
    id: str
    policy: str
    args: tuple[str, ...]
    expect: dict[tuple[str, ...], Decision]    # caller clusters -> decision
    why: str = ""


def row(id: str, policy: str, args: str, expect, why: str = "") -> Row:
    if isinstance(expect, Decision):
        expect = {("default",): expect}
    return Row(id, policy, tuple(args.split()) if args else (), expect, why)


M = "matching"
CAT = "--service shop/catalog"


def cat(route: str, to: dict[str, float], **kw) -> Decision:
    return Decision(route=route, to=to, **kw)


V1 = {"catalog.shop/v1:80": 100}
V2 = {"catalog.shop/v2:80": 100}
V3 = {"catalog.shop/v3:80": 100}
HALF = {"catalog.shop/v1:80": 50, "catalog.shop/v2:80": 50}

MATCHING = [
    row("cookie-exact", M, f"{CAT} --cookie beta=yes", cat("beta-cookie", V3)),
    row("cookie-among-others", M, f"{CAT} --cookie session=abc --cookie beta=yes", cat("beta-cookie", V3),
        "cookie regex `(.*;\\s*)?beta=yes(\\s*;.*)?` finds it anywhere in the header"),
    row("cookie-raw-header", M, f"{CAT} --header cookie=a=1;beta=yes;c=2", cat("beta-cookie", V3)),
    row("cookie-other-name", M, f"{CAT} --cookie xbeta=yes", cat("fallback", V1), "not xNAME=v (language.md)"),
    row("cookie-longer-value", M, f"{CAT} --cookie beta=yesno", cat("fallback", V1), "not NAME=vx (language.md)"),
    row("header-prefix-and-post", M, f"{CAT} --header x-qa=team-red --method POST", cat("qa-header", V2)),
    row("header-prefix-equal-value", M, f"{CAT} --header x-qa=team- --method POST", cat("qa-header", V2)),
    row("header-prefix-get", M, f"{CAT} --header x-qa=team-red", cat("fallback", V1), "`and`: method must hold too"),
    row("header-prefix-case", M, f"{CAT} --header x-qa=Team-red --method POST", cat("fallback", V1),
        "header values match case-sensitively"),
    row("header-name-case", M, f"{CAT} --header X-QA=team-blue --method POST", cat("qa-header", V2),
        "HTTP header names are case-insensitive"),
    row("regex-full", M, f"{CAT} --path /items/42", cat("item-ids", HALF), "`to v2 50%, v1 rest`"),
    row("regex-not-partial", M, f"{CAT} --path /items/42/reviews", cat("fallback", V1), "RE2 regexes full-match"),
    row("regex-needs-digit", M, f"{CAT} --path /items/", cat("fallback", V1)),
    row("regex-query-ignored", M, f"{CAT} --path /items/42?x=1", cat("item-ids", HALF),
        "the query string is not part of the path"),
    row("prefix-and-query-in-path", M, f"{CAT} --path /api/list?debug=1", cat("api-debug", V3)),
    row("prefix-is-string-prefix", M, f"{CAT} --path /apix --query debug=1", cat("api-debug", V3),
        "a prefix is a string prefix: /api matches /apix"),
    row("query-other-value", M, f"{CAT} --path /api?debug=2", cat("fallback", V1)),
    row("query-missing", M, f"{CAT} --path /api", cat("fallback", V1)),
    row("header-absent-and-exact-path", M, f"{CAT} --path /anon", cat("no-user", V2)),
    row("header-present", M, f"{CAT} --path /anon --header x-user=bob", cat("fallback", V1)),
    row("header-present-but-empty", M, f"{CAT} --path /anon --header x-user=", cat("fallback", V1),
        "`absent` is withoutHeaders with a presence match: an empty value is present"),
    row("exact-path-only", M, f"{CAT} --path /anon/x", cat("fallback", V1)),
    row("port-match", M, f"{CAT} --port 9090", cat("admin-port", {"catalog.shop/v2:9090": 100})),
    row("port-earlier-route-first", M, f"{CAT} --port 9090 --cookie beta=yes",
        cat("beta-cookie", {"catalog.shop/v3:9090": 100})),
    row("port-before-namespace", M, f"{CAT} --port 9090 --from-namespace monitoring",
        cat("admin-port", {"catalog.shop/v2:9090": 100})),
    row("port-9090-namespace-monitoring-other-port", M, f"{CAT} --from-namespace monitoring",
        cat("probes", V1, timeout_ms=1000), "port 80: the admin-port alternative is not there"),
    row("source-label", M, f"{CAT} --source-label app=prober", cat("probes", V1, timeout_ms=1000)),
    row("source-label-other-value", M, f"{CAT} --source-label app=prober2", cat("fallback", V1)),
    row("source-namespace-other", M, f"{CAT} --from-namespace monitoring2", cat("fallback", V1)),
    row("first-match-cookie-wins", M,
        f"{CAT} --cookie beta=yes --path /items/7 --header x-qa=team-a --method POST", cat("beta-cookie", V3)),
    row("first-match-header-before-regex", M, f"{CAT} --header x-qa=team-a --method POST --path /items/7",
        cat("qa-header", V2)),
    row("first-match-query-before-namespace", M, f"{CAT} --path /api --query debug=1 --from-namespace monitoring",
        cat("api-debug", V3)),
    row("plain", M, CAT, cat("fallback", V1)),
]

C = "canary"
CHK = "--service web/checkout"
CK1, CK2 = "checkout.web/v1:8080", "checkout.web/v2:8080"


def split(v2: int) -> dict[str, float]:
    return {k: v for k, v in ((CK1, 100 - v2), (CK2, v2)) if v}


CANARY = [
    row("live-step-2", C, CHK, cat("main", split(30)), "at 2 of 10% 30% 60% 100%: v1 70, v2 30"),
    row("step-0", C, f"{CHK} --at 0", cat("main", split(0)), "at 0: everything to the baseline"),
    row("step-1", C, f"{CHK} --at 1", cat("main", split(10))),
    row("step-2", C, f"{CHK} --at 2", cat("main", split(30))),
    row("step-3", C, f"{CHK} --at 3", cat("main", split(60))),
    row("step-4", C, f"{CHK} --at 4", cat("main", split(100))),
    *[row(f"override-step-{n}", C, f"{CHK} --header x-qa=1 --at {n}", cat("qa", split(100))) for n in range(5)],
    row("override-other-value", C, f"{CHK} --header x-qa=2", cat("main", split(30))),
    row("blue-green-live", C, "--service web/frontend",
        cat("live", {"frontend.web/blue:80": 100}, timeout_ms=4000, entry="live")),
    row("blue-green-preview", C, "--service web/frontend --header x-preview=true",
        cat("live", {"frontend.web/green:80": 100}, timeout_ms=4000, entry="live-preview"),
        "x-preview: true reaches the preview through entry NAME-preview"),
    row("blue-green-preview-case", C, "--service web/frontend --header x-preview=True",
        cat("live", {"frontend.web/blue:80": 100}, timeout_ms=4000, entry="live")),
    row("blue-green-preview-false", C, "--service web/frontend --header x-preview=false",
        cat("live", {"frontend.web/blue:80": 100}, timeout_ms=4000, entry="live")),
]

F = "fleet"
ORD = "--service prod/orders"
HZ_SH = ("hangzhou", "shanghai")
BJ = ("beijing",)
ALL = ("hangzhou", "shanghai", "beijing")
ORD_SPLIT = {"orders.prod/v1:8080": 80, "orders.prod/v2:8080": 20}
ORD_V1 = {"orders.prod/v1:8080": 100}
SERVICE_RETRY = Retry(3, 1000, frozenset({"5xx"}))

FLEET = [
    row("orders-main", F, ORD, {
        HZ_SH: cat("main", ORD_SPLIT, timeout_ms=5000, retries=OFF),
        BJ: cat("main", ORD_SPLIT, timeout_ms=8000, retries=SERVICE_RETRY),
    }, "service timeout 5s, `on beijing` 8s; `retry off` in route main on hangzhou (shanghai is its remote)"),
    row("orders-report", F, f"{ORD} --path /report/daily", {
        HZ_SH: cat("report", ORD_V1, timeout_ms=30000, retries=SERVICE_RETRY),
        BJ: cat("report", ORD_V1, timeout_ms=60000, retries=SERVICE_RETRY),
    }, "route timeout beats the service's `on beijing`; the route's `on beijing` beats both"),
    row("orders-report-string-prefix", F, f"{ORD} --path /reports", {
        HZ_SH: cat("report", ORD_V1, timeout_ms=30000, retries=SERVICE_RETRY),
        BJ: cat("report", ORD_V1, timeout_ms=60000, retries=SERVICE_RETRY),
    }),
    row("orders-from-shanghai-only", F, f"{ORD} --from-cluster shanghai", {
        ("shanghai",): cat("main", ORD_SPLIT, timeout_ms=5000, retries=OFF),
    }, "--from-cluster alone chooses the cluster to answer for"),
    row("orders-beijing-only", F, f"{ORD} --cluster beijing", {
        BJ: cat("main", ORD_SPLIT, timeout_ms=8000, retries=SERVICE_RETRY),
    }),
    row("cache-local", F, "--service prod/cache", {
        ("hangzhou",): Decision(to={"cache.prod/hangzhou:8080": 100}),
        ("shanghai",): Decision(to={"cache.prod/shanghai:8080": 100}),
        ("beijing",): Decision(to={"cache.prod/beijing:8080": 100}),
    }, "`local`: each caller to the subset of its own cluster, a remote's callers included"),
    row("geo-split", F, "--service prod/geo", {
        ("hangzhou", "beijing"): cat("split", {"geo.prod/hangzhou:8080": 70, "geo.prod/beijing:8080": 30}),
        ("shanghai",): cat("from-shanghai", {"geo.prod/beijing:8080": 100}),
    }, "`from cluster shanghai` holds for the remote's callers only"),
    row("geo-cluster-label-is-the-proxys", F, "--service prod/geo --source-label topology.istio.io/cluster=shanghai", {
        ("hangzhou", "beijing"): cat("split", {"geo.prod/hangzhou:8080": 70, "geo.prod/beijing:8080": 30}),
        ("shanghai",): cat("from-shanghai", {"geo.prod/beijing:8080": 100}),
    }, "istiod sets topology.istio.io/cluster on every proxy from its cluster (AugmentLabels), over the pod's own"),
    row("finder-waves", F, "--service search/finder", {
        HZ_SH: cat("main", {"finder.search/v1:8080": 80, "finder.search/v2:8080": 20}),
        BJ: cat("main", {"finder.search/v1:8080": 100}),
    }, "wave hangzhou at 1 (shanghai moves with its primary), wave beijing at 0"),
    row("finder-at-2", F, "--service search/finder --at 2", {
        ALL: cat("main", {"finder.search/v2:8080": 100}),
    }, "--at sets every wave"),
]

G = "gateway"
SHOP = "--host shop.example.com --via edge"
ADMIN = "--host admin.example.com --via edge"
OPS = {"ops.tools:9000": 100}

GATEWAY = [
    row("exposed-mobile", G, f"{SHOP} --path /store/cart --header x-client=mobile",
        cat("mobile", {"storefront.store/v2:8080": 100}, entry="storefront-mobile")),
    row("exposed-web", G, f"{SHOP} --path /store", cat("web", {"storefront.store/v1:8080": 100}, entry="storefront-web")),
    row("exposed-string-prefix", G, f"{SHOP} --path /storefront", cat("web", {"storefront.store/v1:8080": 100})),
    row("exposed-outside-when", G, f"{SHOP} --path /shop", NOT_FOUND, "no entry of the gateway's VS matches"),
    row("exposed-other-host-block-path", G, f"{SHOP} --path /ops/health", NOT_FOUND),
    row("http-redirect", G, f"{SHOP} --port 80 --path /store", REDIRECT),
    row("http-redirect-admin", G, f"{ADMIN} --port 80 --path /status", REDIRECT),
    row("block-rewrite", G, f"{ADMIN} --path /ops/health", cat("ops", OPS, timeout_ms=3000, rewrite="/health"),
        "rewrite replaces the matched prefix /ops/; the block's timeout applies"),
    row("block-rewrite-query", G, f"{ADMIN} --path /ops/health?v=1",
        cat("ops", OPS, timeout_ms=3000, rewrite="/health?v=1"), "the query is kept"),
    row("block-prefix-needs-slash", G, f"{ADMIN} --path /ops", NOT_FOUND),
    row("block-exact", G, f"{ADMIN} --path /status", cat("status", OPS, timeout_ms=1000), "route timeout beats the block's"),
    row("block-exact-only", G, f"{ADMIN} --path /status/x", NOT_FOUND),
    row("block-not-on-other-host", G, f"{ADMIN} --path /store/x", NOT_FOUND),
    row("unknown-sni", G, "--host unknown.example.com --via edge", respond(None),
        "an HTTPS server chosen by SNI: no server for the name, no HTTP answer (semantics.md `respond` None)"),
    row("mesh-follows-exposed-routes", G, "--service store/storefront --header x-client=mobile",
        cat("mobile", {"storefront.store/v2:8080": 100}, entry="mobile")),
    row("mesh-ignores-expose-when", G, "--service store/storefront --path /anything",
        cat("web", {"storefront.store/v1:8080": 100})),
    row("mesh-not-host-block", G, "--service tools/ops --path /ops/health",
        Decision(kind="default", to=OPS), "host blocks exist only at the gateway: Kubernetes routing"),
]

R = "resilience"
LED = "--service pay/ledger"
LED_V1 = {"ledger.pay/v1:8080": 100}
LED_RETRY = Retry(5, 2000)

RESILIENCE = [
    row("mirror", R, f"{LED} --header x-shadow=1",
        cat("shadow", LED_V1, retries=LED_RETRY, mirrors={"ledger.pay/v2:8080": 25})),
    row("fault", R, f"{LED} --header x-chaos=1",
        cat("chaos", LED_V1, retries=LED_RETRY, fault=Fault(2000, 10.0, 503, 0.5))),
    row("rewrite-retry-statuses", R, f"{LED} --path /old/items?x=1",
        cat("legacy", LED_V1, timeout_ms=7000, rewrite="/new/items?x=1",
            retries=Retry(4, None, frozenset({"5xx", "retriable-status-codes"}), (503,))),
        "the route's retry replaces the service's (one setting); 503 is a retriable status"),
    row("rewrite-string-prefix", R, f"{LED} --path /oldies",
        cat("legacy", LED_V1, timeout_ms=7000, rewrite="/newies",
            retries=Retry(4, None, frozenset({"5xx", "retriable-status-codes"}), (503,)))),
    row("service-retry-default-conditions", R, LED, cat("plain", LED_V1, retries=LED_RETRY),
        "`retry N` without `on`: N attempts on the default conditions"),
    row("first-match-mirror-before-fault", R, f"{LED} --header x-shadow=1 --header x-chaos=1",
        cat("shadow", LED_V1, retries=LED_RETRY, mirrors={"ledger.pay/v2:8080": 25})),
    row("istio-default-retries", R, "--service pay/notify", cat("only", {"notify.pay/v1:8080": 100})),
    row("istio-default-retries-1.23", R, "--service pay/notify --istio-version 1.23",
        cat("only", {"notify.pay/v1:8080": 100}, retries=Retry(2, None, DEFAULT_ON, (503,))),
        "before Istio 1.24 the default retries also retried on status 503"),
    row("no-virtual-service", R, "--service pay/audit", Decision(kind="default", to={"audit.pay:8080": 100})),
    row("service-retry-off", R, "--service pay/quiet", cat("only", {"audit.pay:8080": 100}, retries=OFF),
        "a `service` target without port gets the target's only port"),
]

X = "exposures"
WWW = "--host www.example.com --via gw"
ALPHA_V1 = {"alpha.apps/v1:8080": 100}

EXPOSURES = [
    row("exact-path-first", X, f"{WWW} --path /a", Decision(to={"gamma.apps:8080": 100}, entry="gamma-default"),
        "an exact path ranks before path prefixes"),
    row("exact-path-before-header", X, f"{WWW} --path /a --header x-env=prod",
        Decision(to={"gamma.apps:8080": 100}, entry="gamma-default")),
    row("longer-prefix-first", X, f"{WWW} --path /a/beta/1 --header accept=json",
        cat("only-json", {"beta.apps:8080": 100}, entry="beta-only-json"), "longer prefixes first"),
    row("longer-prefix-string", X, f"{WWW} --path /a/betamax --header accept=json",
        cat("only-json", {"beta.apps:8080": 100})),
    row("not-found-does-not-fall-through", X, f"{WWW} --path /a/beta/1", NOT_FOUND,
        "SERVICE-not-found: it does not go on to later exposures"),
    row("route-and-exposure-both-hold", X, f"{WWW} --path /a/x --header x-env=prod",
        cat("env", {"alpha.apps/v2:8080": 100}, entry="alpha-env")),
    row("exposure-without-route-condition", X, f"{WWW} --path /a/x --header x-env=pre", cat("rest", ALPHA_V1)),
    row("mesh-only-condition-never-at-gateway", X, f"{WWW} --path /a/x --from-namespace ops", cat("rest", ALPHA_V1),
        "a `from namespace` alternative is left out of the gateway's entries"),
    row("no-path-rank-after-paths", X, f"{WWW} --path /b --header x-env=prod",
        Decision(to={"delta.apps:8080": 100}, entry="delta-default")),
    row("catch-all-last", X, f"{WWW} --path /b --header x-env=staging",
        Decision(to={"omega.apps:8080": 100}, entry="omega-default")),
    row("catch-all-plain", X, WWW, Decision(to={"omega.apps:8080": 100})),
    row("mesh-from-namespace", X, "--service apps/alpha --from-namespace ops", cat("internal", {"alpha.apps/v2:8080": 100})),
    row("mesh-no-exposure-when", X, "--service apps/beta --path /zzz --header accept=json",
        cat("only-json", {"beta.apps:8080": 100})),
    row("mesh-404", X, "--service apps/beta", NOT_FOUND, "routes that all have a `when`: the rendered 404"),
]

K = "corner"
SVC = "--service corner/svc"

CORNER = [
    row("rendered-404", K, SVC, NOT_FOUND,
        "without the rendered not-found entry the caller would get the default route (language.md, Routes)"),
    row("mirror-without-percentage", K, f"{SVC} --from-namespace ops",
        cat("only-ops", {"svc.corner/v2:8080": 100}, mirrors={"svc.corner/v1:8080": 100})),
    row("mirror-other-port", K, f"{SVC} --from-namespace ops --port 8081",
        cat("only-ops", {"svc.corner/v2:8081": 100}, mirrors={"svc.corner/v1:8081": 100})),
    row("fault-ppm-truncated", K, f"{SVC} --method POST --path /x/1",
        cat("post-x", {"svc.corner/v1:8080": 100}, timeout_ms=1500, fault=Fault(abort_status=500, abort_percent=0.5699)),
        "0.57 % is 5699 ppm (uint32(0.57 * 10000) in float64)"),
    row("method-must-hold", K, f"{SVC} --path /x/1", NOT_FOUND),
    row("service-target-keeps-port", K, "--service corner/multi --port 8081 --path /foo",
        cat("fwd", {"svc.corner:8081": 100}, rewrite="/v2foo"),
        "several ports: Istio keeps the port dialled; rewrite without uri match replaces the leading /"),
    row("service-target-keeps-port-8080", K, "--service corner/multi",
        cat("fwd", {"svc.corner:8080": 100}, rewrite="/v2")),
]

TABLES = {"matching": MATCHING, "canary": CANARY, "fleet": FLEET, "gateway": GATEWAY, "resilience": RESILIENCE,
          "exposures": EXPOSURES, "corner": CORNER}
ROWS = [r for rows in TABLES.values() for r in rows]
