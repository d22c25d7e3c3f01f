"""Istio field values as the language writes them, or why they cannot be.

Each function returns the value in the language's terms, or raises
`Inexpressible` with the reason (which becomes an `unsupported-value` loss
at the field). Validity is decided by the grammar's tokens and the IR's own
validators (meshc/language/values.py), so whatever passes here parses and
lowers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

from pydantic_core import PydanticCustomError

from meshc.language import values as v
from meshc.language.strings import unsafe_character
from meshc.semantics.evaluate.documents import DocumentError
from meshc.semantics.evaluate.values import duration

# The grammar's tokens (grammar/mesh.lark).
NAME = re.compile(r"[A-Za-z_]([A-Za-z0-9_\-]*[A-Za-z0-9_])?")
LABEL_KEY = re.compile(r"([A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?")
HOSTNAME = re.compile(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_\-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_\-]*[A-Za-z0-9_])?)+|\*")
LOCALITY = re.compile(r"(\*|[A-Za-z0-9_\-]+)(/(\*|[A-Za-z0-9_\-]+)){0,2}")
# Words that may start a statement inside a service, a subset or a route: a
# list of names (`subsets by`, `in`) ends at one, so such a name is written
# another way (docs/language.md, lexical rules).
STATEMENT_WORDS = frozenset("""
port subsets subset route expose in local on timeout retry fault rewrite cors circuit-breaker lb tls failover
distribute when to canary blue-green mirror
""".split())
RETRY_CONDITIONS = frozenset({
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
    "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers",
    "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
})
PROTOCOLS = ("http", "http2", "grpc", "https", "tcp", "tls")


class Inexpressible(ValueError):
    """A value the language cannot hold; the message says why."""


def _validator(annotated) -> Callable[[str], str]:
    """The check of one of the language's constrained strings (the function
    of its AfterValidator, called directly: a pydantic TypeAdapter per type
    cost 20 ms of every import's start), raising Inexpressible."""
    (after,) = annotated.__metadata__
    check_text = after.func

    def check(value: str) -> str:
        try:
            return check_text(value)
        except PydanticCustomError as err:
            raise Inexpressible(err.message()) from None
    return check


_dns_label = _validator(v.DnsLabel)
_hostname = _validator(v.Hostname)
_header = _validator(v.HeaderName)
_label_key = _validator(v.LabelKey)
_label_value = _validator(v.LabelValue)
_port_name = _validator(v.PortName)


def name(value: Any, what: str = "name") -> str:
    """A DNS-1123 label the grammar reads as a name."""
    return _name(str(value), what)


@lru_cache(maxsize=None)
def _name(text: str, what: str) -> str:
    if not NAME.fullmatch(text):
        raise Inexpressible(f"`{text}` is not a {what} the language can write (a DNS-1123 label)")
    return _dns_label(text)


def is_name(value: Any) -> bool:
    try:
        name(value)
        return True
    except Inexpressible:
        return False


def hostname(value: Any) -> str:
    text = str(value)
    if not HOSTNAME.fullmatch(text):
        raise Inexpressible(f"`{text}` is not a host name the language can write (lower-case DNS labels with dots)")
    return _hostname(text)


def header_name(value: Any) -> str:
    text = str(value)
    if not NAME.fullmatch(text):
        raise Inexpressible(f"the header name `{text}` cannot be written in the language")
    return _header(text)


def label(key: Any, value: Any) -> tuple[str, str]:
    k, val = str(key), "" if value is None else str(value)
    if not LABEL_KEY.fullmatch(k):
        raise Inexpressible(f"`{k}` is not a label key the language can write")
    return _label_key(k), _label_value(val)


def subset_name(value: Any) -> str:
    """A subset's name: a name, and not `service`, which after `to` starts
    a reference to another service."""
    found = name(value, "subset name")
    if found == "service":
        raise Inexpressible("`service` cannot name a subset: `to service ...` names another service")
    return found


def subset_label(key: Any, value: Any) -> tuple[str, str]:
    """A label of a subset, which is written `KEY = VALUE` in the subset's
    block: a key that is a word of the language may not read back there."""
    k, v = label(key, value)
    if k in _words() and not _reads_as_subset_label(k):
        raise Inexpressible(f"`{k}` is a word of the language, which cannot be written as a label key in a subset")
    return k, v


@lru_cache(maxsize=1)
def _words() -> frozenset[str]:
    from meshc.language.tables import grammar_text

    return frozenset(re.findall(r'"([a-z][a-z0-9-]*)"', grammar_text()))


@lru_cache(maxsize=None)
def _reads_as_subset_label(key: str) -> bool:
    """Whether `KEY = "v"` parses as a label in a subset's block, first and
    after another label (`lb` and `in` start other statements there; after
    a value, `host` is read as the keyword)."""
    from meshc.language.parse import parse
    from meshc.language.source import SourceFile

    def parses(labels: str) -> bool:
        text = f"namespace a {{\n  service b {{\n    subset v1 {{\n{labels}    }}\n  }}\n}}\n"
        tree, diagnostics = parse(SourceFile("<label>", text))
        return tree is not None and not diagnostics

    return parses(f'      {key} = "v"\n') and parses(f'      x = "v"\n      {key} = "v"\n')


def port_name(value: Any) -> str:
    return _port_name(str(value))


def is_port(value: Any) -> bool:
    """A port number (YAML's `true` is no number, though Python's bool is an int)."""
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= 65535


def port(value: Any) -> int:
    if not is_port(value):
        raise Inexpressible(f"`{value}` is not a port number")
    return value


def string(value: Any) -> str:
    """Text the language can carry in a string literal (one line)."""
    if not isinstance(value, str):
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise Inexpressible(f"`{value}` is not a string")
        value = str(value)
    if "\n" in value or "\r" in value:
        raise Inexpressible("the text has line breaks, which a .mesh string cannot hold")
    bad = unsafe_character(value)
    if bad is not None:
        raise Inexpressible(f"the text has U+{ord(bad):04X}, a character no request carries and YAML tools may "
                            "refuse, which a .mesh string cannot hold")
    return value


def regex(value: Any) -> str:
    text = string(value)
    try:
        return v.check_regex(text)
    except Exception as err:  # PydanticCustomError
        raise Inexpressible(f"RE2 rejects the regular expression `{text}`") from err


def duration_ms(value: Any) -> int:
    """A protobuf or Go duration (`10s`, `1.5s`, `250ms`, `1m30s`) in whole
    milliseconds, at least 1."""
    if isinstance(value, bool):
        raise Inexpressible(f"`{value}` is not a duration")
    return _duration_ms(str(value).strip())


@lru_cache(maxsize=4096)
def _duration_ms(text: str) -> int:
    """Cached: manifests repeat a few durations thousands of times."""
    try:
        total = duration(text)
    except DocumentError:
        total = None
    if total is None:
        raise Inexpressible(f"`{text}` is not a duration")
    if total.denominator != 1:
        raise Inexpressible(f"`{text}` is not a whole number of milliseconds")
    if total < 1:
        raise Inexpressible(f"`{text}` is shorter than the 1 ms the language allows")
    return int(total)


def is_zero_duration(value: Any) -> bool:
    try:
        return duration_ms(value) == 0
    except Inexpressible:
        text = str(value).strip()
        return bool(text) and all(c in "0.nsuµmh" for c in text) and not any(c in "123456789" for c in text)


def duration_text(ms: int) -> str:
    """The largest whole unit: `1h`, `5m`, `10s`, `500ms`."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def percent(value: Any) -> str:
    """A percentage (0-100) as decimal text: `10`, `0.1`, `12.5`."""
    if isinstance(value, bool) or value is None:
        raise Inexpressible(f"`{value}` is not a percentage")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Inexpressible(f"`{value}` is not a percentage") from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise Inexpressible(f"{value} is outside 0-100 %")
    if 0 < number < Decimal("0.0001"):
        raise Inexpressible(f"{value} % is below the smallest share Istio counts")
    text = format(number.normalize(), "f")
    return text


def whole_percent(value: Any) -> str:
    text = percent(value)
    if "." in text:
        raise Inexpressible(f"{text} % is not a whole percentage")
    return text


def quoted(text: str) -> str:
    """A .mesh string literal: `\\"` and `\\\\` are its only escapes, so a
    backslash is doubled only where it would otherwise start one (before
    a quote, a backslash or the closing quote)."""
    out = []
    for i, c in enumerate(text):
        if c == '"':
            out.append('\\"')
        elif c == "\\" and (i + 1 == len(text) or text[i + 1] in '"\\'):
            out.append("\\\\")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def protocol(value: Any) -> Optional[str]:
    """An Istio protocol name (`HTTP`, `grpc-web`, ...) as the language's, None when it has none."""
    text = str(value or "").lower()
    return text if text in PROTOCOLS else None
