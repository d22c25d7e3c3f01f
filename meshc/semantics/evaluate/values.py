"""Field values as pilot converts them: durations and percentages."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Optional, Union

from meshc.semantics.evaluate.documents import DocumentError

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_MS = {"ns": Fraction(1, 1_000_000), "us": Fraction(1, 1000), "µs": Fraction(1, 1000), "ms": Fraction(1),
            "s": Fraction(1000), "m": Fraction(60_000), "h": Fraction(3_600_000)}


def duration_ms(value: Union[str, int, float, None]) -> Optional[int]:
    """A duration (`10s`, `1.5s`, `250ms`, `1m30s`) in whole milliseconds
    (truncated), None when absent."""
    return None if value is None else int(duration(value))


def duration(value: Union[str, int, float]) -> Fraction:
    """A duration in milliseconds, exactly; DocumentError when it is none."""
    try:
        return _duration(str(value).strip())
    except DocumentError:
        raise DocumentError(f"not a duration: {value!r}") from None


@lru_cache(maxsize=4096)
def _duration(text: str) -> Fraction:
    """Cached: a policy repeats a few durations thousands of times."""
    pos, total = 0, Fraction(0)
    for part in _DURATION_PART.finditer(text):
        if part.start() != pos:
            break
        total += Fraction(part.group(1)) * _UNIT_MS[part.group(2)]
        pos = part.end()
    if pos != len(text) or not text:
        raise DocumentError(text)
    return total


def percent_ppm(value: Union[int, float, str, None]) -> Fraction:
    """route.go `translatePercentToFractionalPercent`: `uint32(p.Value * 10000)`
    parts per million, computed in float64 as pilot does, so `0.57` is
    5699/1000000, not 5700 (0.57 * 10000 = 5699.999999999999 in binary
    floating point). Capped at 100 % as Envoy caps a FractionalPercent."""
    ppm = int(float(value or 0) * 10000)
    return min(Fraction(max(ppm, 0), 1_000_000), Fraction(1))


def percent_integer(value: Union[int, str, None]) -> Fraction:
    """route.go `translateIntegerToFractionalPercent`: a whole percentage."""
    return min(Fraction(max(int(value or 0), 0), 100), Fraction(1))


def percentage(spec: Optional[dict]) -> Optional[Fraction]:
    """An Istio `Percent` message (`{value: 12.5}`), None when absent."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise DocumentError(f"a percentage must be a mapping with `value`, not {spec!r}")
    return percent_ppm(spec.get("value"))
