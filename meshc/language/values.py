"""Typed values of the IR: names, hosts, regexes, durations, percentages.

Each type validates itself and fails with a PydanticCustomError whose type is
the kebab-case name of a registered diagnostic code (codes.py), so that
lowering can turn every failure into a located diagnostic.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_HOST_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_HEADER = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_METRIC_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
ISTIO_VERSIONS = tuple(f"1.{minor}" for minor in range(18, 31))


@functools.cache
def _registered_statuses() -> frozenset[int]:
    from http import HTTPStatus  # an enum built at import: only for numeric retry conditions

    return frozenset(int(s) for s in HTTPStatus)


def _fail(code: str, message: str, **ctx) -> PydanticCustomError:
    return PydanticCustomError(code, message, ctx)


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        hint = value.lower().replace("_", "-").strip("-")[:63]
        raise _fail(
            "invalid-name",
            "`{value}` is not a DNS-1123 label",
            value=value,
            help=f"use lower-case letters, digits and `-`, e.g. `{hint}`" if hint else None,
        )
    return value


def _port_name(value: str) -> str:
    """A Kubernetes port name (IANA_SVC_NAME): at most 15 characters, lower
    case letters, digits and `-`, with a letter."""
    if len(value) > 15 or not _DNS_LABEL.fullmatch(value) or "--" in value or value.isdigit():
        raise _fail("invalid-name", "`{value}` is not a Kubernetes port name", value=value,
                    help="at most 15 lower-case letters, digits and single `-`, with at least one letter")
    return value


def _hostname(value: str) -> str:
    body = value[2:] if value.startswith("*.") else value
    labels = body.split(".")
    if value == "*" or (
        len(body) <= 253 and all(len(lbl) <= 63 and _HOST_LABEL.fullmatch(lbl) for lbl in labels)
    ):
        return value
    raise _fail("invalid-host", "`{value}` is not a valid host name", value=value,
                help="use lower-case DNS labels separated by dots")


def _address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if all(_HOST_LABEL.fullmatch(lbl) for lbl in value.split(".")) and not value.replace(".", "").isdigit():
        return value
    raise _fail("invalid-address", "`{value}` is neither an IP address nor a DNS name", value=value)


def _header_name(value: str) -> str:
    if not _HEADER.fullmatch(value):
        raise _fail("invalid-label", "`{value}` is not a valid header name", value=value)
    if value != value.lower():
        raise _fail("uppercase-header", "header name `{value}` has upper-case letters", value=value,
                    help=f"write it as `{value.lower()}`; header names are matched in lower case")
    return value


def _cookie_name(value: str) -> str:
    if not _HEADER.fullmatch(value):
        raise _fail("invalid-label", "`{value}` is not a valid cookie name", value=value)
    return value


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (len(name) <= 63 and _LABEL_NAME.fullmatch(name)) and (not prefix or _hostname_ok(prefix)):
        return value
    raise _fail("invalid-label", "`{value}` is not a valid label key", value=value)


def _hostname_ok(value: str) -> bool:
    return len(value) <= 253 and all(_HOST_LABEL.fullmatch(lbl) for lbl in value.split("."))


def _metric_label(value: str) -> str:
    """A Prometheus label name; `__` names are Prometheus's own."""
    if not _METRIC_LABEL.fullmatch(value) or value.startswith("__"):
        raise _fail("invalid-label", "`{value}` is not a Prometheus label name", value=value,
                    help="letters, digits and `_`, not starting with a digit or `__`, e.g. `source_cluster`")
    return value


def _label_value(value: str) -> str:
    if value == "" or (len(value) <= 63 and _LABEL_NAME.fullmatch(value)):
        return value
    raise _fail("invalid-label", "`{value}` is not a valid label value", value=value,
                help="label values have at most 63 letters, digits, `-`, `_` and `.`, "
                     "starting and ending with a letter or digit")


def check_regex(value: str) -> str:
    """RE2 as Envoy compiles it; errors quietly, with RE2's reason."""
    import re2  # only for policies with regexes

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(value, options)
    except re2.error as err:
        reason = err.args[0] if err.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _fail("invalid-regex", "RE2 rejects the regular expression `{value}`: {reason}",
                    value=value, reason=reason,
                    help="RE2 has no look-around and no back-references") from None
    return value


def _method(value: str) -> str:
    if value not in HTTP_METHODS:
        raise _fail("invalid-method", "`{value}` is not an HTTP method", value=value,
                    help="use one of " + ", ".join(HTTP_METHODS))
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise _fail("invalid-port", "port {value} is outside 1–65535", value=value)
    return value


def _status(value: int) -> int:
    if not 200 <= value <= 599:
        raise _fail("invalid-status", "HTTP status {value} is outside 200–599", value=value)
    return value


def _retry_condition(value: str) -> str:
    if value.isdigit() and int(value) not in _registered_statuses():
        raise _fail("invalid-status", "{value} is not a registered HTTP status code", value=value,
                    help="Istio retries only on status codes it knows, such as 503")
    return value


def _percentage(value: float) -> float:
    if not 0 <= value <= 100:
        raise _fail("percent-out-of-range", "{value}% is outside 0–100 %", value=_num(value))
    if 0 < value < 0.0001:
        raise _fail("percent-out-of-range", "{value}% is below the smallest share Istio counts, 0.0001 %",
                    value=_num(value), help="use 0.0001% or more, or 0%")
    return value


def _milliseconds(value: float) -> float:
    if value < 1:
        raise _fail("duration-too-small", "a duration of {value} ms is shorter than 1 ms",
                    value=_num(value), help="Istio rejects durations below `1ms`")
    if value != int(value):
        raise _fail("duration-too-small", "a duration of {value} ms is not a whole number of milliseconds",
                    value=_num(value), help="round it to whole milliseconds")
    return value


def _istio_version(value: str) -> str:
    if value not in ISTIO_VERSIONS:
        raise _fail("invalid-version", "meshc does not render for Istio {value}", value=value,
                    help=f"supported: {ISTIO_VERSIONS[0]} to {ISTIO_VERSIONS[-1]}")
    return value


def _num(value: float) -> str:
    return f"{value:g}"


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Hostname = Annotated[str, AfterValidator(_hostname)]
Address = Annotated[str, AfterValidator(_address)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
CookieName = Annotated[str, AfterValidator(_cookie_name)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
MetricLabel = Annotated[str, AfterValidator(_metric_label)]
Re2Regex = Annotated[str, AfterValidator(check_regex)]
HttpMethod = Annotated[str, AfterValidator(_method)]
RetryCondition = Annotated[str, AfterValidator(_retry_condition)]
PortNumber = Annotated[int, AfterValidator(_port)]
PortName = Annotated[str, AfterValidator(_port_name)]
HttpStatus = Annotated[int, AfterValidator(_status)]
Percentage = Annotated[float, AfterValidator(_percentage)]
Milliseconds = Annotated[float, AfterValidator(_milliseconds)]
IstioVersion = Annotated[str, AfterValidator(_istio_version)]
