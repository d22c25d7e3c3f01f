"""`http` entries of a VirtualService that no request can reach.

An entry is dead when each of its match alternatives is *covered* by one
alternative of an earlier entry: wherever pilot keeps the later
alternative for a proxy, it keeps the earlier one too, and the earlier one
takes every request the later one would. That includes everything after an
Istio catch-all (route.go `BuildHTTPRoutesForVirtualService` does not even
send it to Envoy; istioctl analyze reports it as IST0130).

The analysis is sound and incomplete: it reports an entry only when
coverage is certain, and says nothing when unsure (regexes are compared
only where it is decidable: the same regex, a regex that accepts every
value such as `.*`, a regex against an exact value, and a literal prefix
followed by `.*`).

Where pilot keeps an alternative (routes.py): `port` must be the
listener's; with `gateways` the alternative is kept at those gateways
(the ones the VirtualService itself is bound to) whatever the proxy's
labels; without, at every proxy of the VirtualService's gateways whose
labels include `sourceLabels` and whose namespace is `sourceNamespace`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from meshc.semantics.evaluate.documents import DEFAULT_NAMESPACE, Resource
from meshc.semantics.evaluate.matchers import HeaderCheck, PathCheck, Pattern, ascii_lower
from meshc.semantics.evaluate.routes import Alternative, compile_virtual_service

UNIVERSAL_REGEXES = frozenset({".*", "^.*$", "^.*", ".*$", ".+", "^.+$"})
"""Regexes RE2 full-matches against every header value and every path
(none contains a newline, every path has a character)."""
UNIVERSAL_PATH_REGEXES = UNIVERSAL_REGEXES | {"/.*", "^/.*", "/.*$", "^/.*$"}
REGEX_META = frozenset("\\.^$|?*+()[]{}")


@dataclass(frozen=True)
class Cover:
    """How one alternative of a dead entry is covered."""

    match: Optional[int]
    """The alternative of the dead entry (None: the entry has no `match`)."""
    entry: int
    """The index of the earlier entry that takes every request it would."""
    entry_name: Optional[str]
    by_match: Optional[int]
    """Which alternative of that entry (None: it has no `match`)."""
    catch_all: bool
    """The covering alternative is an Istio catch-all: pilot drops what follows."""


@dataclass(frozen=True)
class DeadEntry:
    """An `http` entry no request can reach."""

    index: int
    name: Optional[str]
    covers: tuple[Cover, ...]

    @property
    def covered_by(self) -> tuple[int, ...]:
        """The earlier entries that together take all its requests."""
        return tuple(sorted({c.entry for c in self.covers}))

    @property
    def after_catch_all(self) -> bool:
        """Istio drops it: an earlier catch-all covers it."""
        return all(c.catch_all for c in self.covers)


def dead_entries(virtual_service: dict, domain: str = "cluster.local") -> list[DeadEntry]:
    """The dead `http` entries of one VirtualService document (or of its
    `spec` alone), in order. Raises DocumentError for a VirtualService
    Istio's webhook would reject (an invalid regex, a malformed entry)."""
    if "spec" in virtual_service:
        meta = virtual_service.get("metadata") or {}
        spec = virtual_service.get("spec") or {}
    else:
        meta, spec = {}, virtual_service
    resource = Resource("VirtualService", str(meta.get("namespace") or DEFAULT_NAMESPACE),
                        str(meta.get("name") or ""), spec)
    vs = compile_virtual_service(resource, domain)
    earlier = _Earlier()
    dead = []
    for entry in vs.entries:
        covers = []
        for alt in entry.alternatives:
            by = earlier.first_cover(alt, vs.gateways)
            if by is None:
                break
            covers.append(Cover(alt.index, by.entry.index, by.entry.name, by.index, by.catch_all))
        else:
            dead.append(DeadEntry(entry.index, entry.name, tuple(covers)))
        for alt in entry.alternatives:
            earlier.add(alt)
    return dead


class _Earlier:
    """The alternatives of the entries seen so far, filed by what a later
    alternative must have for them to cover it, so that finding the first
    one that covers it does not test every earlier one: with thousands of
    routes testing different header values, that was quadratic (5,000
    routes of one service took 16 s to check).

    `_needs(a)` is a necessary condition of `covers_alternative(a, b)`: a
    set of facts about b (a header it tests, a value it pins a header or the
    path to, a prefix of such a value, a port) that `_offers(b)` must
    include. Each alternative is filed under its most selective need, so
    only those filed under something b offers are tested, in their order.
    One more key files an alternative whose most selective need is a
    header or parameter matched by a regex (`_implies`): b has it too, as
    that regex, or pinned or prefixed to a value, so b looks under its own
    regexes and, for each name it pins or prefixes, under every regex filed
    for that name."""

    def __init__(self) -> None:
        self._filed: dict[Optional[tuple], list[tuple[int, Alternative, frozenset]]] = {}
        self._regexes: dict[tuple, list[tuple]] = {}
        """(h or q, name) -> the regex keys filed for it."""
        self._count = 0

    def add(self, a: Alternative) -> None:
        needs, key = _needs(a)
        if key not in self._filed and key is not None and key[0] in ("h~", "q~"):
            self._regexes.setdefault((key[0][0], key[1]), []).append(key)
        self._filed.setdefault(key, []).append((self._count, a, needs))
        self._count += 1

    def first_cover(self, b: Alternative, bound: tuple[str, ...]) -> Optional[Alternative]:
        """The first earlier alternative that covers `b`, if any."""
        offers = _offers(b)
        keys = [None, *offers]
        for fact in offers:
            if fact[0] in ("h.", "q."):
                keys += self._regexes.get((fact[0][0], fact[1]), ())
        candidates = [c for key in keys for c in self._filed.get(key, ())]
        candidates.sort(key=lambda c: c[0])
        return next((a for _, a, needs in candidates if needs <= offers and covers_alternative(a, b, bound)), None)


_SELECTIVE = ("h=", "q=", "path=", "h^", "q^", "path^", "h~", "q~", "h", "q", "port", "path")
"""Facts from the most selective (a pinned value) to the least."""


def _needs(a: Alternative) -> tuple[frozenset, Optional[tuple]]:
    """What a later alternative must offer for `a` to cover it, and the key
    to file `a` under: its most selective need, or a regex (None: a needs
    nothing)."""
    needs: set[tuple] = set()
    regexes: set[tuple] = set()
    if a.port:
        needs.add(("port", a.port))
    path = a.path
    if path is not None and not _universal_path(path):
        needs.add(("path",))
        if path.kind in ("exact", "prefix"):
            needs.add(("path=" if path.kind == "exact" else "path^", ascii_lower(path.value)))
    for c in a.headers:
        needs.add(("h", c.name))  # _header_implied looks only at b's checks of the same name
        if not c.invert and not c.claim:
            _pattern_needs("h", c.name, c.pattern, needs, regexes)
    for name, pattern in a.query:
        needs.add(("q", name))
        _pattern_needs("q", name, pattern, needs, regexes)
    facts = needs | regexes
    key = min(facts, key=lambda f: (_SELECTIVE.index(f[0]), -len(str(f[-1])), str(f)), default=None)
    return frozenset(needs), key


def _pattern_needs(kind: str, name: str, a: Pattern, needs: set, regexes: set) -> None:
    """`_implies(b, a)` for a pinned or prefixed `a` needs b pinned to that
    value, or pinned or prefixed to a value starting with that prefix; for
    a regex accepting less than every value, b's same regex, or b pinned or
    prefixed (a key to file under, not a need)."""
    if a.kind == "exact":
        needs.add((kind + "=", name, a.value))
    elif a.kind == "prefix" and a.value:
        needs.add((kind + "^", name, a.value))
    elif a.kind == "regex" and a.value not in UNIVERSAL_REGEXES:
        regexes.add((kind + "~", name, a.value))


def _offers(b: Alternative) -> frozenset:
    """The facts `_needs` may ask of `b`, and the keys b looks under."""
    offers: set[tuple] = {("port", b.port)}
    path = b.path
    if path is not None:
        offers.add(("path",))
        if path.kind in ("exact", "prefix"):
            value = ascii_lower(path.value)
            if path.kind == "exact":
                offers.add(("path=", value))
            offers.update(("path^", value[:k]) for k in range(len(value) + 1))
    for c in b.headers:
        offers.add(("h", c.name))
        if not c.invert and not c.claim:
            _pattern_offers("h", c.name, c.pattern, offers)
    for name, pattern in b.query:
        offers.add(("q", name))
        _pattern_offers("q", name, pattern, offers)
    return frozenset(offers)


def _pattern_offers(kind: str, name: str, b: Pattern, offers: set) -> None:
    if b.kind == "regex":
        offers.add((kind + "~", name, b.value))
    elif b.kind in ("exact", "prefix"):
        offers.add((kind + ".", name))
        offers.update((kind + "^", name, b.value[:k]) for k in range(len(b.value) + 1))
        if b.kind == "exact":
            offers.add((kind + "=", name, b.value))


def covers_alternative(a: Alternative, b: Alternative, bound: tuple[str, ...]) -> bool:
    """Whether `a` (earlier) takes every request `b` (later) would take,
    for a VirtualService bound to the gateways `bound`."""
    return (_present_wherever(a, b, bound) and _path_covers(a.path, b.path)
            and all(_header_implied(c, b.headers) for c in a.headers)
            and all(_query_implied(name, p, b.query) for name, p in a.query))


def _present_wherever(a: Alternative, b: Alternative, bound: tuple[str, ...]) -> bool:
    """Pilot keeps `a` for every proxy and port it keeps `b` for."""
    if a.port and a.port != b.port:
        return False
    if a.gateways:
        where = set(b.gateways) & set(bound) if b.gateways else set(bound)
        return where <= set(a.gateways)
    if b.gateways:  # b is kept whatever the labels; a only with its labels
        return not a.source_labels and not a.source_namespace
    return set(a.source_labels) <= set(b.source_labels) and \
        (not a.source_namespace or a.source_namespace == b.source_namespace)


def _uncased(text: str) -> bool:
    return text.lower() == text.upper()


def _path_covers(a: Optional[PathCheck], b: Optional[PathCheck]) -> bool:
    if a is None or _universal_path(a):
        return True
    if b is None:
        return False
    if a.kind == "regex":
        if b.kind == "regex":
            return a.value == b.value
        if b.ignore_case and not _uncased(b.value):
            return False
        if b.kind == "exact":
            return a.program.fullmatch(b.value) is not None
        head = _literal_head(a.value)
        return head is not None and b.value.startswith(head)
    if b.kind == "regex":
        return False
    if b.ignore_case and not a.ignore_case and not _uncased(a.value):
        return False  # b also takes case variants a does not
    av, bv = (ascii_lower(a.value), ascii_lower(b.value)) if a.ignore_case or b.ignore_case else (a.value, b.value)
    if a.kind == "prefix":
        return bv.startswith(av)
    return b.kind == "exact" and av == bv


def _universal_path(a: PathCheck) -> bool:
    if a.kind == "prefix":
        return a.value in ("", "/")
    return a.kind == "regex" and a.value in UNIVERSAL_PATH_REGEXES


def _literal_head(regex: str) -> Optional[str]:
    """`LITERAL.*`'s literal, if the regex has that form."""
    for tail in (".*", ".*$"):
        if regex.endswith(tail):
            head = regex[: -len(tail)]
            head = head[1:] if head.startswith("^") else head
            if not any(c in REGEX_META for c in head):
                return head
    return None


def _implies(b: Pattern, a: Pattern) -> bool:
    """Every present value `b` accepts, `a` accepts."""
    if a.kind == "present" or (a.kind == "prefix" and a.value == "") or \
            (a.kind == "regex" and a.value in UNIVERSAL_REGEXES):
        return True
    if b.kind == "present":
        return False
    if a.kind == "exact":
        return b.kind == "exact" and b.value == a.value
    if a.kind == "prefix":
        return b.kind in ("exact", "prefix") and b.value.startswith(a.value)
    if b.kind == "exact":
        return a.program.fullmatch(b.value) is not None
    if b.kind == "regex":
        return a.value == b.value
    head = _literal_head(a.value)
    return head is not None and b.value.startswith(head)


def _header_implied(a: HeaderCheck, checks: tuple[HeaderCheck, ...]) -> bool:
    """Every request `checks` accept passes `a`."""
    same = [b for b in checks if b.name == a.name]
    if a.claim or a.invert:
        if any(b.invert == a.invert and b.claim == a.claim and b.pattern == a.pattern for b in same):
            return True
        # `withoutHeaders` against a header b pins to a value a rejects
        return a.invert and not a.claim and a.pattern.kind != "present" and any(
            not b.invert and not b.claim and b.pattern.kind == "exact" and not a.pattern.test(b.pattern.value)
            for b in same)
    return any(not b.invert and not b.claim and _implies(b.pattern, a.pattern) for b in same)


def _query_implied(name: str, a: Pattern, query: tuple[tuple[str, Pattern], ...]) -> bool:
    return any(n == name and _implies(p, a) for n, p in query)
