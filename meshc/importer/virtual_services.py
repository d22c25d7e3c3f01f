"""VirtualServices read into routes, before they are given to services.

An `http` entry becomes a route: its match alternatives the `when`, its
destinations the `to` (hosts resolved as pilot resolves them, pilot's
`ResolveVirtualServiceShortnames`), its timeout, retries, fault, rewrite and
CORS policy the route options, its mirrors the `mirror`s. What a route
cannot say is reported where it is written; an alternative with a
condition the language cannot test is left out rather than widened (never
does an import match more requests than the input), and an entry that
cannot be a route at all (a redirect, a direct response, a delegation) is
left out with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from meshc.importer import values as val
from meshc.importer.fields import Fields
from meshc.importer.hosts import fqdn, gateway_ref
from meshc.importer.ledger import Ledger
from meshc.importer.model import Cond, Match, Settings, settings
from meshc.importer.resources import Resource
from meshc.language.values import HTTP_METHODS

MESH = "mesh"
_OPS = ("exact", "prefix", "regex")
# backends/routes.py `cookie_regex`: `(.*;\s*)?NAME=VALUE(\s*;.*)?` with RE2 escapes.
_COOKIE = re.compile(r"\(\.\*;\\s\*\)\?(?P<name>(?:[^\\]|\\.)+?)=(?P<value>(?:[^\\]|\\.)*)\(\\s\*;\.\*\)\?")
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")
_UNESCAPE = re.compile(r"\\(.)")
PROXY_HEADERS = ("uri", "scheme", "method", "authority")


@dataclass
class RawTarget:
    """A destination as written, its host resolved."""

    host: str
    subset: Optional[str]
    port: Optional[int]
    path: tuple


@dataclass
class Entry:
    index: int
    name: Optional[str]
    matches: Optional[tuple[Match, ...]]
    """None: no `match` (every request); () cannot happen."""
    dests: list[tuple[RawTarget, Optional[str]]] = field(default_factory=list)
    mirrors: list[tuple[RawTarget, Optional[str]]] = field(default_factory=list)
    options: Settings = ()
    direct_status: Optional[int] = None
    """A `directResponse` entry's status (kept only to recognise meshc's 404)."""
    usable: bool = True


@dataclass
class VirtualServiceReading:
    resource: Resource
    hosts: list[tuple[str, int]]
    """(resolved host, index in `spec.hosts`)"""
    gateways: tuple[str, ...]
    """`mesh` and gateways as `NS/NAME`"""
    entries: list[Entry]


def read_virtual_service(resource: Resource, ledger: Ledger) -> VirtualServiceReading:
    spec = Fields(resource, ledger, resource.spec, ("spec",))
    ns = resource.namespace
    hosts = [(fqdn(str(h), ns), i) for i, h in spec.items("hosts")]
    gateways = tuple(dict.fromkeys(gateway_ref(str(g), ns) for _, g in spec.items("gateways"))) or (MESH,)
    if spec.get("exportTo") is not None and list(spec.get("exportTo")) != ["*"]:
        ledger.lose("export-to-not-imported", resource, ("spec", "exportTo"),
                    "is not imported: the rendered VirtualService is visible to every namespace")
    for key, what in (("tcp", "TCP routes"), ("tls", "TLS routes")):
        if key in spec:
            spec.lose(key, f"the language has no {what} (only HTTP)")
    entries = [_entry(spec, i, http) for i, http in spec.items("http")]
    spec.finish()
    return VirtualServiceReading(resource, hosts, gateways, entries)


def _entry(spec: Fields, index: int, data: Any) -> Entry:
    http = Fields(spec.resource, spec.ledger, data, spec.at("http", index))
    name = http.get("name")
    entry = Entry(index, None if name is None else str(name), None)
    entry.matches = _matches(http)
    if entry.matches == ():
        entry.usable = False  # every alternative left out (reported)
    kinds = [k for k in ("route", "redirect", "directResponse", "delegate") if k in http]
    if "directResponse" in http:
        status = (http.get("directResponse") or {}).get("status") if isinstance(http.get("directResponse"), dict) \
            else None
        entry.direct_status = status if isinstance(status, int) and not isinstance(status, bool) else None
    if kinds != ["route"]:
        entry.usable = False
        if not kinds:
            http.lose("route", "the entry has no destination")
        for key in kinds:
            if key == "directResponse" and entry.direct_status == 404:
                continue  # perhaps meshc's 404 entry: the caller decides
            if key != "route":
                http.lose(key, _ACTIONS[key])
    else:
        entry.dests = [d for i, r in http.items("route") if (d := _destination(http, i, r)) is not None]
        if len(entry.dests) != len(http.get("route")):
            entry.usable = False
        elif not _weights(http, entry):
            entry.usable = False
    entry.mirrors = _mirrors(http)
    entry.options = _options(http)
    for key, what in (("headers", "the language does not change request or response headers"),):
        if key in http:
            http.lose(key, what)
    http.finish()
    return entry


_ACTIONS = {
    "redirect": "the language has no redirects (only a gateway's `redirect-http`); the entry is left out",
    "directResponse": "the language has no direct responses (but the 404 it renders itself); the entry is left out",
    "delegate": "the language has no delegated VirtualServices; the entry is left out",
}


# ------------------------------------------------------------- matching
def _matches(http: Fields) -> Optional[tuple[Match, ...]]:
    items = list(http.items("match"))
    if not items:
        return None
    out = []
    for i, data in items:
        alt = _alternative(Fields(http.resource, http.ledger, data, http.at("match", i)))
        if alt is not None:
            out.append(alt)
    if () in out:  # an alternative that tests nothing (`match: [{}]`) takes every request: no `when`
        return None
    return tuple(out)


def _alternative(m: Fields) -> Optional[Match]:
    """One HTTPMatchRequest, its conditions in the order its fields are
    written (meshc writes them in the order of the `when`); None when it
    tests something the language cannot (it is left out: never widened)."""
    conds: list[Cond] = []
    ok = True
    for key in list(m.data):
        read = _MATCH_FIELDS.get(key)
        if read is not None and m.data[key] is not None:
            found, good = read(m, key)
            conds += found
            ok &= good
    if m.get("ignoreUriCase"):
        m.lose("ignoreUriCase", "the language matches paths case-sensitively; the alternative only takes the exact "
                                "case now")
    for key in ("name", "statPrefix"):
        if key in m:
            m.lose(key, "the language does not name match alternatives (Envoy's route stats use it)")
    m.finish()
    if not ok:
        m.ledger.lose("unsupported-field", m.resource, m.path,
                      "is left out: it tests something the language cannot (see the other diagnostics), and an "
                      "import never matches more requests than its input")
        return None
    return tuple(conds)


def _uri(m: Fields, key: str) -> tuple[list[Cond], bool]:
    found = _string_match(m, key, m.get(key))
    if found == ("exact", ""):
        m.bad(key, "an empty exact path matches no request (every path starts with `/`); the alternative is left out")
        return [], False
    return ([Cond("path", op=found[0], value=found[1])] if found else []), found is not None


def _headers(m: Fields, key: str) -> tuple[list[Cond], bool]:
    out, ok = [], True
    for name, match in _mapping(m, key):
        cond = _header(m, name, match)
        ok &= cond is not None
        if cond is not None:
            out.append(cond)
    return out, ok


def _without_headers(m: Fields, key: str) -> tuple[list[Cond], bool]:
    out, ok = [], True
    for name, match in _mapping(m, key):
        try:
            header = val.header_name(str(name).lower())
        except val.Inexpressible as err:
            m.bad((key, name), str(err))
            ok = False
            continue
        if match not in ({}, None):
            m.lose((key, name), f"`header {name} absent` is the only test of a missing header the language has "
                                "(a value under `withoutHeaders` is not)")
            ok = False
            continue
        out.append(Cond("header-absent", name=header))
    return out, ok


def _method(m: Fields, key: str) -> tuple[list[Cond], bool]:
    found = _string_match(m, key, m.get(key))
    if found and found[0] == "exact" and found[1] in HTTP_METHODS:
        return [Cond("method", value=found[1])], True
    if found:
        m.bad(key, "the language tests a method by its exact name (" + ", ".join(HTTP_METHODS) + ")")
    return [], False


def _query(m: Fields, key: str) -> tuple[list[Cond], bool]:
    out, ok = [], True
    for name, match in _mapping(m, key):
        if not val.NAME.fullmatch(str(name)):
            m.bad((key, name), f"the query parameter `{name}` cannot be written in the language")
            ok = False
            continue
        found = _string_match(m, (key, name), match, present=True)
        ok &= found is not None
        if found:
            out.append(Cond("query", name=str(name), op=found[0], value=found[1]))
    return out, ok


def _port(m: Fields, key: str) -> tuple[list[Cond], bool]:
    try:
        return [Cond("port", value=str(val.port(m.get(key))))], True
    except val.Inexpressible as err:
        m.bad(key, str(err))
        return [], False


def _source_labels(m: Fields, key: str) -> tuple[list[Cond], bool]:
    out, ok = [], True
    for name, value in _mapping(m, key):
        try:
            k, v = val.label(name, value)
            out.append(Cond("source-label", name=k, value=v))
        except val.Inexpressible as err:
            m.bad((key, name), str(err))
            ok = False
    return out, ok


def _source_namespace(m: Fields, key: str) -> tuple[list[Cond], bool]:
    try:
        return [Cond("source-namespace", value=val.name(m.get(key), "namespace"))], True
    except val.Inexpressible as err:
        m.bad(key, str(err))
        return [], False


def _gateways(m: Fields, key: str) -> tuple[list[Cond], bool]:
    gateways = m.get(key)
    resolved = {gateway_ref(str(g), m.resource.namespace) for g in gateways} if isinstance(gateways, list) else {}
    if resolved == {MESH}:
        return [], True
    m.lose(key, "the language cannot limit one alternative to some gateways; the alternative is left out")
    return [], False


def _untestable(m: Fields, key: str) -> tuple[list[Cond], bool]:
    m.lose(key, f"the language cannot test the `{key}`; the alternative is left out")
    return [], False


_MATCH_FIELDS = {
    "uri": _uri, "headers": _headers, "withoutHeaders": _without_headers, "method": _method,
    "queryParams": _query, "port": _port, "sourceLabels": _source_labels, "sourceNamespace": _source_namespace,
    "gateways": _gateways, "authority": _untestable, "scheme": _untestable,
}


def _mapping(m: Fields, key: str):
    value = m.get(key)
    if value is None:
        return []
    if not isinstance(value, dict):
        m.bad(key, "it is not a mapping")
        return []
    return list(value.items())


def _string_match(m: Fields, key: Any, match: Any, present: bool = False) -> Optional[tuple[str, str]]:
    """(op, value) of an Istio StringMatch; `present` allows `{}` (any value,
    written `~ ".*"`). None (reported) when it is not one."""
    path_key = key if isinstance(key, str) else key[0]
    if present and (match == {} or match is None):
        return "regex", ".*"
    if not isinstance(match, dict) or len([k for k in _OPS if match.get(k) is not None]) != 1 or \
            set(match) - set(_OPS):
        m.bad(path_key, f"`{match}` is not a string match the language has (exactly one of exact, prefix, regex)")
        return None
    op = next(k for k in _OPS if match.get(k) is not None)
    try:
        value = val.regex(match[op]) if op == "regex" else val.string(match[op])
    except val.Inexpressible as err:
        m.bad(path_key, str(err))
        return None
    if op == "regex" and value == "*":
        return "regex", ".*"  # pilot reads a regex `*` as "present"
    if op in ("prefix", "regex") and value == "" and path_key != "uri":
        m.bad(path_key, "an empty prefix or regex is refused by the language (MESH115)")
        return None
    return op, value


def _header(m: Fields, name: Any, match: Any) -> Optional[Cond]:
    text = str(name)
    if text.lower() != text:
        m.bad("headers", f"Istio wants header names in lower case; `{text}` is imported as `{text.lower()}`")
        text = text.lower()
    try:
        header = val.header_name(text)
    except val.Inexpressible as err:
        m.bad("headers", str(err))
        return None
    if isinstance(match, dict) and match.get("present") is True and len(match) == 1:
        match = {}
    found = _string_match(m, ("headers", name), match, present=True)
    if found is None:
        return None
    if header == "cookie" and found[0] == "regex":
        cookie = _cookie(found[1])
        if cookie is not None:
            return Cond("cookie", name=cookie[0], value=cookie[1])
    return Cond("header", name=header, op=found[0], value=found[1])


def _cookie(pattern: str) -> Optional[tuple[str, str]]:
    """meshc's regex for one cookie (backends/routes.py `cookie_regex`), read back."""
    m = _COOKIE.fullmatch(pattern)
    if m is None:
        return None
    name, value = (_UNESCAPE.sub(r"\1", m.group(g)) for g in ("name", "value"))
    if not val.NAME.fullmatch(name) or _cookie_regex(name, value) != pattern:
        return None
    try:
        return name, val.string(value)
    except val.Inexpressible:
        return None


def _cookie_regex(name: str, value: str) -> str:
    def esc(text: str) -> str:
        return _RE2_SPECIAL.sub(r"\\\1", text)
    return f"(.*;\\s*)?{esc(name)}={esc(value)}(\\s*;.*)?"


# ---------------------------------------------------------- destinations
def _target(f: Fields, path: tuple, data: Any) -> Optional[RawTarget]:
    d = Fields(f.resource, f.ledger, data, path)
    host = d.get("host")
    if not isinstance(host, str) or not host:
        f.ledger.bad_value(f.resource, path, "a destination needs a host")
        return None
    subset = d.get("subset")
    port = None
    p = d.sub("port")
    if p is not None:
        number = p.get("number")
        if number is not None:
            try:
                port = val.port(number)
            except val.Inexpressible as err:
                p.bad("number", str(err))
                return None
        p.finish("the language names a destination's port by number")
    d.finish()
    return RawTarget(fqdn(host, f.resource.namespace), None if subset is None else str(subset), port, path)


def _destination(http: Fields, i: int, data: Any) -> Optional[tuple[RawTarget, Any]]:
    r = Fields(http.resource, http.ledger, data, http.at("route", i))
    target = _target(r, r.at("destination"), r.get("destination"))
    if "headers" in r:
        r.lose("headers", "the language does not change request or response headers")
    weight = r.get("weight")
    r.finish()
    return None if target is None else (target, weight)


def _weights(http: Fields, entry: Entry) -> bool:
    """Turn Istio's relative weights into whole percentages of 100 (a single
    destination takes everything whatever its weight); False when no
    destination has weight (Envoy rejects the route)."""
    if len(entry.dests) == 1:
        entry.dests = [(entry.dests[0][0], None)]
        return True
    raw = []
    for i, (_, w) in enumerate(entry.dests):
        if w is None:
            raw.append(0)
        elif isinstance(w, int) and not isinstance(w, bool) and w >= 0:
            raw.append(w)
        else:
            http.bad(("route"), f"the weight `{w}` of destination {i} is not a whole number")
            return False
    total = sum(raw)
    if total == 0:
        http.lose("route", "no destination has a weight: Envoy refuses the route; the entry is left out")
        return False
    if total == 100:
        shares = raw
    else:
        shares = _largest_remainder(raw, total)
        if any(w * 100 % total for w in raw):
            http.bad("route", f"the weights {raw} are relative (Istio 1.15+); the language needs whole "
                              f"percentages of 100 and they are imported as {shares}",
                     "write whole percentages that add up to 100 in the input")
    entry.dests = [(t, str(s)) for (t, _), s in zip(entry.dests, shares)]
    return True


def _largest_remainder(raw: list[int], total: int) -> list[int]:
    exact = [w * 100 / total for w in raw]
    floor = [int(x) for x in exact]
    left = 100 - sum(floor)
    for i in sorted(range(len(raw)), key=lambda i: (floor[i] - exact[i], i))[:left]:
        floor[i] += 1
    return floor


def _mirrors(http: Fields) -> list[tuple[RawTarget, Optional[str]]]:
    out = []
    if "mirror" in http:
        target = _target(http, http.at("mirror"), http.get("mirror"))
        percent = None
        if "mirrorPercentage" in http:
            percent = _percentage(http, "mirrorPercentage")
        else:
            for key in ("mirrorPercent", "mirror_percent"):
                if key in http:
                    try:
                        percent = val.whole_percent(http.get(key))
                    except val.Inexpressible as err:
                        http.bad(key, str(err))
        if target is not None and percent != "":
            out.append((target, None if percent == "100" else percent))
    for i, data in http.items("mirrors"):
        m = Fields(http.resource, http.ledger, data, http.at("mirrors", i))
        target = _target(m, m.at("destination"), m.get("destination"))
        percent = _percentage(m, "percentage") if "percentage" in m else None
        m.finish()
        if target is not None and percent != "":
            out.append((target, None if percent == "100" else percent))
    return out


def _percentage(f: Fields, key: str) -> Optional[str]:
    """An Istio Percent message; "" when it cannot be read (reported)."""
    p = f.sub(key)
    if p is None:
        return ""
    try:
        text = val.percent(p.get("value", 0))
    except val.Inexpressible as err:
        p.bad("value", str(err))
        return ""
    p.finish()
    return text


# ------------------------------------------------------------- options
def _options(http: Fields) -> Settings:
    out: dict[str, Any] = {}
    timeout = http.get("timeout")
    if timeout is not None and not val.is_zero_duration(timeout):
        out["timeout"] = _duration(http, "timeout", timeout)
    if "retries" in http:
        out["retry"] = _retries(http)
    fault = http.sub("fault")
    if fault is not None:
        out.update(_fault(fault))
        fault.finish()
    rewrite = http.sub("rewrite")
    if rewrite is not None:
        if "uri" in rewrite:
            try:
                uri = val.string(rewrite.get("uri"))
                if uri:  # pilot rewrites nothing for an empty `uri` (route.go sets a prefix rewrite only for one)
                    out["rewrite"] = uri
            except val.Inexpressible as err:
                rewrite.bad("uri", str(err))
        for key, what in (("authority", "the language does not rewrite the authority (Host)"),
                          ("uriRegexRewrite", "the language rewrites a path prefix only (`rewrite path`)")):
            if key in rewrite:
                rewrite.lose(key, what)
        rewrite.finish()
    cors = http.sub("corsPolicy")
    if cors is not None:
        out["cors"] = _cors(cors)
        cors.finish()
    return settings(out)


def _duration(f: Fields, key: Any, value: Any) -> Optional[int]:
    try:
        return val.duration_ms(value)
    except val.Inexpressible as err:
        f.bad(key, str(err))
        return None


def _retries(http: Fields) -> Optional[tuple]:
    r = http.sub("retries")
    if r is None:
        return (0, None, ())
    attempts = r.get("attempts", 0)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        r.bad("attempts", f"`{attempts}` is not a number of attempts")
        r.finish()
        return None
    per_try = r.get("perTryTimeout")
    text = str(r.get("retryOn", ""))
    on = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token in val.RETRY_CONDITIONS or (token.isdigit() and _registered(int(token))):
            on.append(token)
        else:
            r.bad("retryOn", f"the retry condition `{token}` is not one the language has; it is left out")
    for key, what in (("retryRemoteLocalities", "the language does not choose retry localities"),):
        if key in r:
            r.lose(key, what)
    r.finish()
    if attempts == 0:
        if per_try is not None or on:
            r.lose("perTryTimeout" if per_try is not None else "retryOn",
                   "retries without attempts retry nothing (`retry off`)")
        return (0, None, ())
    per_try_ms = None if per_try is None else _duration(r, "perTryTimeout", per_try)
    return (attempts, per_try_ms, tuple(on))


def _registered(status: int) -> bool:
    from http import HTTPStatus
    return status in {int(s) for s in HTTPStatus}


def _fault(f: Fields) -> dict:
    out: dict[str, Any] = {}
    delay = f.sub("delay")
    if delay is not None:
        if "fixedDelay" in delay:
            ms = _duration(delay, "fixedDelay", delay.get("fixedDelay"))
            share = _fault_share(delay)
            if ms is not None and share is not None:
                out["delay"] = (ms, share)
        if "exponentialDelay" in delay:
            delay.lose("exponentialDelay", "the language has fixed delays only (Istio ignores exponential ones too)")
        delay.finish()
    abort = f.sub("abort")
    if abort is not None:
        if "httpStatus" in abort:
            status = abort.get("httpStatus")
            share = _fault_share(abort)
            if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
                abort.bad("httpStatus", f"{status} is not an HTTP status the language aborts with (200-599)")
            elif share is not None:
                out["abort"] = (status, share)
        for key in ("grpcStatus", "http2Error"):
            if key in abort:
                abort.lose(key, "the language aborts with an HTTP status only")
        abort.finish()
    return out


def _fault_share(f: Fields) -> Optional[str]:
    """A fault's percentage; none is 0 % (pilot's `TranslateFault`)."""
    if "percentage" in f:
        share = _percentage(f, "percentage")
        return None if share == "" else share
    if "percent" in f:
        try:
            return val.whole_percent(f.get("percent"))
        except val.Inexpressible as err:
            f.bad("percent", str(err))
            return None
    return "0"


def _origin(c: Fields, path: tuple, value: Any, origins: list[str]) -> None:
    """An exact origin, added to `origins` when the language can list it."""
    try:
        text = val.string(value)
    except val.Inexpressible as err:
        c.bad(path, f"{err}; the origin is left out")
        return
    if not text:
        c.bad(path, "an empty origin, which no browser sends: it allows nothing; it is left out")
        return
    origins.append(text)


def _cors(c: Fields) -> Optional[tuple]:
    origins: list[str] = []
    for i, o in c.items("allowOrigins"):
        if isinstance(o, dict) and set(o) == {"exact"}:
            _origin(c, ("allowOrigins", i), o["exact"], origins)
        else:
            c.bad(("allowOrigins"), f"the origin `{o}` is not an exact one; the language lists exact origins only")
    for i, o in c.items("allowOrigin"):
        _origin(c, ("allowOrigin", i), o, origins)
    names = {}
    for key in ("allowMethods", "allowHeaders", "exposeHeaders"):
        found = []
        for _, item in c.items(key):
            text = str(item)
            ok = text in HTTP_METHODS if key == "allowMethods" else bool(val.NAME.fullmatch(text))
            if ok:
                found.append(text)
            else:
                c.bad(key, f"`{text}` cannot be listed in the language's `cors`")
        names[key] = tuple(found)
    max_age = None
    if "maxAge" in c:
        max_age = _duration(c, "maxAge", c.get("maxAge"))
        if max_age is not None and max_age % 1000:
            c.bad("maxAge", "CORS max-age is counted in whole seconds")
            max_age = None
    credentials = bool(c.get("allowCredentials", False))
    if "unmatchedPreflights" in c:
        c.lose("unmatchedPreflights", "the language does not choose what happens to unmatched preflights")
    return (tuple(origins), names["allowMethods"], names["allowHeaders"], names["exposeHeaders"], max_age, credentials)
