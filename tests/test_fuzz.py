"""The in-process fuzz harness: every input through every stage a user can
reach, under a watchdog.

For each input (random bytes and text, token soups of the language, and
mutations of the examples; strategies from test_robustness.py): decode →
compile → render → the output's file names and texts → every report format
→ fmt, twice → every canary promoted and rolled back. Nothing may raise,
hang (each input has WATCHDOG seconds), put a file outside OUT, or change
meaning on a second pass.

The default budget keeps the suite fast. For a long run:

    MESHC_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_fuzz.py -q -p no:randomly

(MESHC_FUZZ_EXAMPLES inputs per strategy; MESHC_FUZZ_WATCHDOG changes the
seconds allowed per input, default 20.)
"""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from test_robustness import mutated_examples, raw_bytes, texts, token_soups

from meshc.backends.istio import render
from meshc.canary import moves
from meshc.canary import steps as canary
from meshc.diagnostics import report
from meshc.language.fmt import FormatError, format_text
from meshc.output import manifests
from meshc.output.writer import _encode
from meshc.pipeline import compile_sources, decode

EXAMPLES = int(os.environ.get("MESHC_FUZZ_EXAMPLES", "50"))
WATCHDOG = float(os.environ.get("MESHC_FUZZ_WATCHDOG", "20"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAME = "fuzz.mesh"


class Hung(Exception):
    """An input took longer than the watchdog allows."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise Hung in the test (hypothesis then shrinks and shows the input)
    when the block runs longer than `seconds`."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum, frame):
        raise Hung(f"one input took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def through_everything(data: bytes) -> None:
    with watchdog(WATCHDOG):
        source, decoded = decode(NAME, data)
        compiled = compile_sources([source], decoded)
        diagnostics = list(compiled.diagnostics)
        if compiled.ok:
            rendering = render(compiled.policy)
            diagnostics += rendering.diagnostics
            files = manifests.files(rendering, [NAME])
            _encode(files)  # every path is a clean relative one inside OUT, every text UTF-8
            for cluster, docs in rendering.clusters.items():
                assert all(path.startswith(f"{cluster}/") for path in files if path.split("/")[0] == cluster)
            _moves(compiled)
        _reports(diagnostics, compiled.sources)
        _formats(source.text, compiled)


def _reports(diagnostics: list, sources: dict) -> None:
    for fmt in report.FORMATS:
        text = report.render(diagnostics, sources, fmt, color=fmt == "full")
        if fmt == "json":
            assert len(json.loads(text)) == len(diagnostics)
    report.summary(diagnostics, len(sources))


def _formats(text: str, compiled) -> None:
    """fmt gives a text that formats to itself and compiles to the same policy."""
    try:
        once = format_text(text, NAME)
    except FormatError:
        return
    assert format_text(once, NAME) == once
    if compiled.ok:
        again = compile_sources([decode(NAME, once.encode())[0]])
        assert again.ok and again.policy.model_dump(exclude_none=True, mode="json").keys() == \
            compiled.policy.model_dump(exclude_none=True, mode="json").keys()


def _moves(compiled) -> None:
    """Every canary promoted one step and rolled back, the whole plan and
    each wave: each move is a text that compiles with the waves at their new
    steps (canary.moved checks)."""
    for live in canary.canaries(compiled.policy):
        for wave in (None, *live.waves) if live.waved else (None,):
            for step in (_step(moves.promotion, compiled, live, wave, None), _step(moves.rollback, compiled, live, wave)):
                if step is not None:
                    canary.moved(compiled, live, step)


def _step(choose, *args):
    try:
        return choose(*args)
    except canary.Refused:
        return None


@pytest.mark.parametrize("strategy", [raw_bytes(), texts, token_soups(), mutated_examples()],
                         ids=["bytes", "text", "token-soup", "mutated-examples"])
def test_every_input_passes_every_stage(strategy):
    @FUZZ
    @given(strategy)
    def run(data):
        through_everything(data)

    run()


def test_the_watchdog_stops_a_hung_input():
    with pytest.raises(Hung):
        with watchdog(0.2):
            while True:
                pass
