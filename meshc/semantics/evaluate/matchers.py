"""Envoy's request matchers as pilot builds them from an `HTTPMatchRequest`.

Followed: pilot/pkg/networking/core/route/route.go `TranslateRouteMatch`,
`translateHeaderMatch`, `translateQueryParamMatch`,
`canBeConvertedToPresentMatch`, `translateMetadataMatch`, and
pilot/pkg/networking/util/util.go `ConvertToEnvoyMatch`; on the Envoy side
the route matcher (source/common/router/config_impl.cc, config_utility.cc,
source/common/http/header_utility.cc).

- A StringMatch is exact, prefix or RE2 regex; regexes always match the
  whole value (Envoy calls RE2::FullMatch), anchors or not.
- An empty StringMatch (`{}`), a missing one, and the regex `*` become a
  *present* match (the header or parameter must exist, any value).
- `withoutHeaders` inverts the header matcher and, unless it is a present
  match, treats a missing header as the empty string
  (`treat_missing_header_as_empty`): `withoutHeaders: {x: {exact: ""}}`
  does NOT match a request without `x`.
- Header names are case-insensitive in Envoy (lower-cased here); `method`,
  `authority` and `scheme` are the pseudo-headers `:method`, `:authority`,
  `:scheme`.
- Headers named `@request.auth.claims...` are JWT claim matchers on
  dynamic metadata: requests here carry no JWT, so a claim never matches
  (and a `withoutHeaders` claim always does).
- The URI is matched on the path without query string and fragment;
  `ignoreUriCase` makes exact and prefix matches ASCII case-insensitive
  and does not apply to regexes (Envoy's `case_sensitive` is ignored by
  `safe_regex`).
- Query parameters are parsed as Envoy's `QueryParamsMulti::parseQueryString`
  does for route matching: not URL-decoded, the first value of a repeated
  parameter, a parameter without `=` has the empty value.
"""

from __future__ import annotations

from typing import Optional

import re2

from meshc.semantics.evaluate.documents import DocumentError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 logs parse errors to stderr unless told not to
_COMPILED: dict[str, object] = {}

JWT_CLAIM_PREFIX = "@request.auth.claims"
"""pkg/jwt `ToRoutingClaim`: header names that match JWT claims, not headers."""


def compile_regex(pattern: str):
    """An RE2 program for `pattern`, compiled once per process."""
    program = _COMPILED.get(pattern)
    if program is None:
        try:
            program = re2.compile(pattern, _OPTIONS)
        except re2.error as err:
            raise DocumentError(f"invalid RE2 regex {pattern!r}: {err}") from None
        _COMPILED[pattern] = program
    return program


def ascii_lower(text: str) -> str:
    """ASCII-only lower case, as absl's case-insensitive comparisons."""
    return text.lower() if text.isascii() else "".join(c.lower() if c.isascii() else c for c in text)


class Pattern:
    """One Istio `StringMatch` as Envoy tests it: `kind` is exact, prefix,
    regex or present."""

    __slots__ = ("kind", "value", "program")

    def __init__(self, kind: str, value: str = "") -> None:
        self.kind = kind
        self.value = value
        self.program = compile_regex(value) if kind == "regex" else None

    @classmethod
    def of(cls, match: Optional[dict]) -> "Pattern":
        """util.go `ConvertToEnvoyMatch`, with route.go
        `canBeConvertedToPresentMatch` turning `{}`, no match and regex `*`
        into a present match."""
        if not match:
            return cls("present")
        if not isinstance(match, dict):
            raise DocumentError(f"a StringMatch must be a mapping, not {match!r}")
        for kind in ("exact", "prefix", "regex"):
            if kind in match:
                value = "" if match[kind] is None else str(match[kind])
                if kind == "regex" and value == "*":
                    return cls("present")
                return cls(kind, value)
        return cls("present")

    def test(self, value: str) -> bool:
        """Whether a present value matches."""
        kind = self.kind
        if kind == "exact":
            return value == self.value
        if kind == "prefix":
            return value.startswith(self.value)
        if kind == "regex":
            return self.program.fullmatch(value) is not None
        return True

    def describe(self) -> str:
        return "present" if self.kind == "present" else f"{self.kind} {self.value!r}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and (self.kind, self.value) == (other.kind, other.value)

    def __hash__(self) -> int:
        return hash((self.kind, self.value))


class HeaderCheck:
    """An Envoy HeaderMatcher (or a JWT claim's metadata matcher).

    `field` names the condition in explanations (`headers.x-env`,
    `withoutHeaders.x-env`, `method`, ...); `name` is the header looked up
    (pseudo-headers included)."""

    __slots__ = ("field", "name", "pattern", "invert", "missing_as_empty", "claim")

    def __init__(self, field: str, name: str, pattern: Pattern, invert: bool = False) -> None:
        self.field = field
        self.name = name
        self.pattern = pattern
        self.invert = invert
        self.claim = name.startswith(JWT_CLAIM_PREFIX)
        # route.go: withoutHeaders set treat_missing_header_as_empty unless present match
        self.missing_as_empty = invert and pattern.kind != "present" and not self.claim

    def test(self, value: Optional[str]) -> bool:
        if self.claim:
            return self.invert  # no JWT: the metadata matcher fails, inverted it holds
        if value is None:
            if not self.missing_as_empty:
                # header_utility.cc: a missing header matches only an inverted present match
                return self.invert and self.pattern.kind == "present"
            value = ""
        return self.pattern.test(value) != self.invert

    def expected(self) -> str:
        text = self.pattern.describe()
        return f"not {text}" if self.invert else text


class PathCheck:
    """Envoy's path specifier: prefix, exact path or safe_regex, with
    `case_sensitive` from `ignoreUriCase`."""

    __slots__ = ("kind", "value", "ignore_case", "program", "folded")

    def __init__(self, kind: str, value: str, ignore_case: bool = False) -> None:
        self.kind = kind
        self.value = value
        self.ignore_case = ignore_case and kind != "regex"
        self.program = compile_regex(value) if kind == "regex" else None
        self.folded = ascii_lower(value) if self.ignore_case else value

    def test(self, path: str) -> bool:
        kind = self.kind
        if kind == "regex":
            return self.program.fullmatch(path) is not None
        if self.ignore_case:
            path = ascii_lower(path)
        if kind == "prefix":
            return path.startswith(self.folded)
        return path == self.folded

    def expected(self) -> str:
        text = f"{self.kind} {self.value!r}"
        return text + " (ignoreUriCase)" if self.ignore_case else text


def split_path(path: str) -> tuple[str, str]:
    """The path Envoy matches (no query, no fragment) and the rest."""
    cut = len(path)
    for mark in ("?", "#"):
        i = path.find(mark)
        if 0 <= i < cut:
            cut = i
    return path[:cut], path[cut:]


def parse_query(path: str) -> dict[str, str]:
    """Envoy's `QueryParamsMulti::parseQueryString` as route matching uses
    it: raw (not decoded) names and values, the first value wins."""
    i = path.find("?")
    if i < 0:
        return {}
    query = path[i + 1:].split("#", 1)[0]
    out: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.setdefault(name, value)
    return out
