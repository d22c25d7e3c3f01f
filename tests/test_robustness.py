"""Bad input never crashes meshc.

The contract (README, "Exit codes"): for any input `meshc check` exits 0 or 1
with diagnostics, never with a Python traceback or an "internal error"; every
diagnostic points at `file:line:col` inside the file it names; a path that
does not exist is a usage error (exit 2) with a clear message. A policy that
compiles cleanly must also render, and `meshc render` on it exits 0 or 1.

Inputs: random bytes and text, "token soups" of the language's own words
and punctuation, mutations of the example policy, and fixed regression cases
(the first probes, huge and deeply nested files). Each is checked in-process
(`compile_paths`, then `render`) and through the click command with
`--output-format json`; a few also through a real `python -m meshc`
subprocess, to prove no traceback reaches stderr.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from strategies_policy import KEYWORDS

from meshc.backends.istio import render
from meshc.cli import cli
from meshc.pipeline import compile_paths

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.mesh"))}
FLEET = EXAMPLES.get("fleet.mesh", "")
# Each scenario compiles on its own; its tests (`*.test.mesh`) may use
# another scenario's services, so they come in with "everything".
SCENARIOS = {name: text for name, text in EXAMPLES.items() if name != "fleet.mesh" and not name.endswith(".test.mesh")}

# The documented codes: | MESH001 | `syntax-error` | error |
DOCUMENTED = {
    m.group(1): (m.group(2), m.group(3))
    for m in re.finditer(r"^\| (MESH\d{3}) \| `([a-z0-9-]+)` \| (error|warning) \|$",
                         (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8"), re.M)
}

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAME = "case.mesh"


# ---------------------------------------------------------------- checking
@contextmanager
def case_file(data: bytes, name: str = NAME) -> Iterator[str]:
    """`data` as the only .mesh file of a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="meshc-robust-") as directory:
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        yield path


def lines_of(data: bytes) -> list[str]:
    """The file as an editor shows it: UTF-8 (bad bytes replaced), a leading
    BOM dropped, split at `\\n` (a `\\r` before it stays part of the line)."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.split("\n")


def assert_located(where: str, file: str, line: int, column: int, expected_file: str, lines: list[str]) -> None:
    """A position names the file and lies inside it: 1 <= line <= lines,
    1 <= column <= length of that line + 1 (just past its end, for "end of
    line" or "end of file")."""
    assert os.path.abspath(file) == os.path.abspath(expected_file), f"{where}: file {file!r}"
    assert isinstance(line, int) and isinstance(column, int), where
    assert 1 <= line <= len(lines), f"{where}: line {line} outside 1..{len(lines)}"
    assert 1 <= column <= len(lines[line - 1]) + 1, \
        f"{where}: column {column} outside 1..{len(lines[line - 1]) + 1} of line {line}: {lines[line - 1][:80]!r}"


def check_in_process(path: str, data: bytes) -> tuple[bool, list]:
    """compile_paths, then (when clean) render: neither raises, every
    diagnostic is documented and located inside the file. Returns (compiled
    cleanly, diagnostics)."""
    lines = lines_of(data)
    compiled = compile_paths([path])
    diagnostics = list(compiled.diagnostics)
    if compiled.ok:
        diagnostics += render(compiled.policy).diagnostics
    elif compiled.policy is None:
        assert any(d.is_error for d in diagnostics), "no policy and no error to say why"
    for d in diagnostics:
        assert d.code in DOCUMENTED, f"undocumented code {d.code}: {d.message}"
        assert (d.name, d.severity.value) == DOCUMENTED[d.code], d
        assert d.message.strip(), d
        assert_located(f"{d.code} {d.message}", d.span.file, d.span.line, d.span.column, path, lines)
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column), d
        for label in d.labels:
            if os.path.abspath(label.span.file) == os.path.abspath(path):
                assert_located(f"label of {d.code}", label.span.file, label.span.line, label.span.column, path, lines)
    return compiled.ok, diagnostics


def assert_no_internal_error(*outputs: str) -> None:
    for out in outputs:
        assert "Traceback" not in out, out
        assert "internal error" not in out.lower(), out


def check_with_cli(path: str, data: bytes, compiled_ok: Optional[bool] = None) -> list[dict]:
    """`meshc check PATH --output-format json` through click: exit 0 or 1,
    JSON on stdout, every diagnostic located inside the file; exit 1 exactly
    when there is an error."""
    result = CliRunner().invoke(cli, ["check", path, "--output-format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"check raised {result.exception!r}"
    assert_no_internal_error(result.stdout, result.stderr)
    assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
    found = json.loads(result.stdout)
    lines = lines_of(data)
    for d in found:
        assert d["code"] in DOCUMENTED and (d["name"], d["severity"]) == DOCUMENTED[d["code"]], d
        loc = d["location"]
        assert_located(f"{d['code']} {d['message']}", loc["file"], loc["line"], loc["column"], path, lines)
    errors = [d for d in found if d["severity"] == "error"]
    assert (result.exit_code == 1) == bool(errors), (result.exit_code, found)
    if compiled_ok is not None:
        assert compiled_ok == (not errors), "check and compile_paths disagree"
    return found


def render_with_cli(path: str) -> int:
    """`meshc render DIR -o OUT` on a policy that compiled cleanly: exit 0
    or 1, never 2 (an internal error)."""
    with tempfile.TemporaryDirectory(prefix="meshc-robust-out-") as parent:
        out = os.path.join(parent, "deploy")
        result = CliRunner().invoke(cli, ["render", os.path.dirname(path), "-o", out, "--output-format", "json"])
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            f"render raised {result.exception!r}"
        assert_no_internal_error(result.stdout, result.stderr)
        assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
        if result.exit_code == 0:
            # sanity: it wrote one directory per cluster, each with its kustomization
            clusters = os.listdir(out)
            assert clusters and all(os.path.exists(os.path.join(out, c, "kustomization.yaml")) for c in clusters)
        return result.exit_code


def check_everything(data: bytes, render_cli: bool = False) -> list:
    with case_file(data) as path:
        ok, diagnostics = check_in_process(path, data)
        if currently_in_test_context():  # statistics for --hypothesis-show-statistics
            event("compiles cleanly" if ok else "rejected")
        check_with_cli(path, data, compiled_ok=ok)
        if ok and render_cli:
            code = render_with_cli(path)
            assert (code == 0) == (not any(d.is_error for d in diagnostics)), code
        return diagnostics


def run_meshc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "meshc", *args], capture_output=True, timeout=timeout, env=env)


# -------------------------------------------------------------- strategies
WHITESPACE = st.sampled_from([" ", " ", " ", "\n", "\t", "\r\n", "", "  ", "\n\n"])
PUNCTUATION = ["{", "}", "->", ",", "=", "^=", "~", "%", '"', "#", ">=", "<=", "*", "/", ".", "-", "\\"]
VALUES = [
    "v1", "v2", "a", "user-service", "x" * 64, "User_Service", "production", "0", "1", "80", "100", "65535",
    "65536", "-1", "99999999999999999999", "10s", "0s", "500ms", "1.5s", "1.001s", "5m", "1h", "10%", "0.1%",
    "150%", "-50%", "100%", "0%", '"true"', '"^[0-9]*$"', '"(unclosed"', '"\\"', '"abc', '""', '"a\\\\b"',
    "*.example.com", "api.example.com", "10.0.0.1", "10.0.0", "1.20", "1.9", "GET", "FETCH", "p99", "5xx",
    "cn-east/cn-east-a/*", "x-user-id", "X-User-Id", "#comment", "中文", "\u00a0", "\x00",
]
tokens = st.sampled_from(sorted(KEYWORDS)) | st.sampled_from(PUNCTUATION) | st.sampled_from(VALUES)


@st.composite
def token_soups(draw) -> bytes:
    parts = draw(st.lists(st.tuples(tokens, WHITESPACE), max_size=60))
    return "".join(t + w for t, w in parts).encode("utf-8")


@st.composite
def raw_bytes(draw) -> bytes:
    """Random bytes, sometimes behind a BOM or with NULs and CRLFs in."""
    body = draw(st.binary(max_size=400))
    prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00"]))
    if draw(st.booleans()):
        body = body.replace(b"\n", b"\r\n")
    return prefix + body


texts = st.text(max_size=300).map(lambda t: t.encode("utf-8")) | st.text(
    st.sampled_from("{}\"#=~%^-> ,\n\r\tabcv1209.s"), max_size=200).map(lambda t: t.encode("utf-8"))

INTERESTING_NUMBERS = ["0", "1", "2", "99", "100", "101", "255", "1000", "65535", "65536", "-1", "007", "1.5",
                       "99999999999999999999", "1e3"]


@st.composite
def mutated_examples(draw) -> bytes:
    """An example policy (a scenario, the fleet plus a scenario, or all of it
    as one file) with one to three random edits."""
    kind = draw(st.sampled_from(["scenario", "fleet+scenario", "fleet+scenario", "everything"]))
    scenario = SCENARIOS[draw(st.sampled_from(sorted(SCENARIOS)))]
    text = {"scenario": scenario, "fleet+scenario": FLEET + scenario,
            "everything": "".join(EXAMPLES.values())}[kind]
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        op = draw(st.sampled_from(["delete-line", "duplicate-line", "swap-lines", "delete-char", "insert-token",
                                   "truncate", "number", "number", "number"]))
        if op == "delete-line":
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
        elif op == "duplicate-line":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif op == "swap-lines":
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif op == "delete-char" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
        elif op == "insert-token":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(["", " "])) + draw(tokens) + draw(WHITESPACE) + text[i:]
        elif op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "number":
            numbers = list(re.finditer(r"\d+", text))
            if numbers:
                m = draw(st.sampled_from(numbers))
                text = text[:m.start()] + draw(st.sampled_from(INTERESTING_NUMBERS)) + text[m.end():]
    return text.encode("utf-8")


# ------------------------------------------------------ hypothesis checks
@settings(max_examples=60, **SETTINGS)
@given(raw_bytes())
@example(b"\xff\xfe\x00 fleet")
@example(b"\xef\xbb\xbf")
@example(b"")
def test_random_bytes_never_crash(data):
    """Arbitrary bytes (invalid UTF-8, NUL, BOMs, CRLF) give diagnostics,
    not exceptions, each inside the file."""
    check_everything(data)


@settings(max_examples=60, **SETTINGS)
@given(texts)
def test_random_text_never_crashes(data):
    """Arbitrary Unicode text (any code point but surrogates) is compiled
    or rejected with located diagnostics."""
    check_everything(data)


@settings(max_examples=100, **SETTINGS)
@given(token_soups())
@example(b'service {{{ route when header = -> ')
def test_token_soup_never_crashes(data):
    """Random sequences of the language's keywords, punctuation and values
    reach deep into the parser's error paths; none may crash."""
    check_everything(data)


@settings(max_examples=100, **SETTINGS)
@given(mutated_examples())
def test_mutated_examples_never_crash_and_clean_ones_render(data):
    """The example policy with a few random edits (lines deleted, duplicated
    or swapped, characters deleted, tokens inserted, truncation, numbers
    changed) is either rejected with located diagnostics or compiles, and
    then renders through `meshc render` with exit 0 or 1."""
    check_everything(data, render_cli=True)


def test_the_unmutated_examples_compile_and_render():
    """Sanity for the mutation test: its starting points are valid, so the
    render path is exercised by every mutation that keeps them valid."""
    for text in [FLEET + scenario for scenario in SCENARIOS.values()] + ["".join(EXAMPLES.values())]:
        diagnostics = check_everything(text.encode("utf-8"), render_cli=True)
        assert not [d for d in diagnostics if d.is_error], diagnostics


# ------------------------------------------------------ regression cases
_RNG = random.Random(300)
VALID_SERVICE = """  # service {i}: a canary with a header override
  service user-service-{i} {{
    port 80 http
    subsets by version v1 v2
    timeout 10s

    route canary-override {{
      when header canary = "true"
      to v2
    }}
    route primary {{
      canary v1 -> v2 steps 5% 10% 20% 50% 100% at 2
        pause 5m 10m 10m 15m
        analysis success-rate >= 99% p99 <= 500ms
    }}
  }}
"""
LONG_LINE = ("namespace a { service b { port 80 http subsets by version "
             + " ".join(f"v{i}" for i in range(10000)) + " route r { to v1 5%, v2 95% } } }\n")

CASES = {
    "probe-garbage": b"service {{{ route when header = -> ",
    "probe-percentages": b"namespace x { service y { route { to v1 150%, v2 -50% } } }",
    "probe-named-percentages": (b"namespace x { service y { subsets by version v1 v2 "
                                b"route r { to v1 150%, v2 -50% } } }"),
    "probe-unclosed": b"namespace x {",
    "probe-encoding": b"\xff\xfe\x00 fleet",
    "random-300-bytes": _RNG.randbytes(300),
    "deep-braces": b"{" * 10000,
    "deep-namespaces": b"namespace a { " * 5000,
    "closing-braces": b"}" * 10000,
    "long-line": LONG_LINE.encode(),
    "long-string": b'namespace a { service b { port 80 http route r { when header h = "' + b"x" * 200000
                   + b'" to service b } route d { } } }',
    "long-comment": b"# " + b"c" * 500000 + b"\nnamespace a { }\n",
    "many-alternatives": ("namespace a { service b { port 80 http route r { when "
                          + " or ".join(f'header h{i} = "1"' for i in range(3000))
                          + " to service b } route d { } } }").encode(),
    "unterminated-string-at-eof": b'namespace a { service b { route r { when header x = "abc',
    "nul-in-string": b'namespace a { service b { port 80 http route r { when header x = "a\x00b" } } }',
    "bom-then-policy": b"\xef\xbb\xbfnamespace a { service b { port 80 http } }\n",
    "utf16": "namespace a { }\n".encode("utf-16"),
    "lone-surrogate-bytes": b"namespace a { service \xed\xa0\x80 { } }",
    "cr-only-lines": b"namespace a {\r  service b {\r    port 80 http\r    bad\r  }\r}\r",
    "unicode-spaces": "namespace\u00a0a {\u2028}\u3000\n".encode(),
    "empty": b"",
    "only-whitespace": b" \n\t\r\n \x0b\x0c",
    "only-comment": b"# nothing here",
    "huge-numbers": (b"fleet f { cluster c istio 99999999999999999999.99999999999999999999 }\n"
                     b"namespace a { service b { port 99999999999999999999 http subsets by version v1 v2 "
                     b"timeout 99999999999999999999h retry 99999999999999999999 "
                     b"fault abort 99999999999999999999 99999999999999999999% "
                     b"circuit-breaker { max-connections 99999999999999999999 "
                     b"eject 99999999999999999999 consecutive 5xx max 99999999999999999999% } "
                     b"route r { canary v1 -> v2 steps 99999999999999999999% at 99999999999999999999 } } }\n"),
    "name-64-service": ("namespace a { service " + "s" * 64 + " { port 80 http } }\n").encode(),
    "name-64-namespace": ("namespace " + "n" * 64 + " { service s { port 80 http } }\n").encode(),
    "name-64-cluster": ("fleet f { cluster " + "c" * 64 + " }\n").encode(),
    "name-64-subset": ("namespace a { service s { port 80 http subsets by version " + "v" * 64 + " } }\n").encode(),
    "crlf-with-error": (FLEET.replace("\n", "\r\n").encode()
                        + b"namespace a {\r\n  service b {\r\n    oops\r\n  }\r\n}\r\n"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_regression_case_never_crashes(name):
    """Fixed inputs that once were, or easily could be, crashes: the first
    probes, huge, long and deeply nested files, odd encodings and
    whitespace, out-of-range numbers, over-long names."""
    started = time.monotonic()
    diagnostics = check_everything(CASES[name])
    assert time.monotonic() - started < 20, f"{name} took {time.monotonic() - started:.1f}s"
    if name.startswith("name-64"):
        # sanity: a 64-character name is not a DNS label (MESH101), and is said so where it is
        # (a subset name is also a label value, so MESH109 may come along)
        assert "MESH101" in [d.code for d in diagnostics if d.is_error], diagnostics
        long_name = re.search(rb"([a-z])\1{63}", CASES[name]).group(0).decode()
        for d in diagnostics:
            line = lines_of(CASES[name])[d.span.line - 1]
            assert line[d.span.column - 1:].startswith(long_name), (d.code, d.span, line)
    if name.startswith("probe-") or name in ("deep-braces", "random-300-bytes", "utf16"):
        assert any(d.is_error for d in diagnostics), name


def test_expected_codes_of_the_probes():
    """The probes are reported as what they are: a syntax error, an
    unclosed block (where it opened), and a file that is not UTF-8."""
    codes = {name: [d.code for d in check_everything(CASES[name]) if d.is_error]
             for name in ("probe-garbage", "probe-unclosed", "probe-encoding", "utf16")}
    assert codes["probe-garbage"] == ["MESH001"]
    assert codes["probe-unclosed"] == ["MESH002"]
    assert codes["probe-encoding"] == ["MESH004"]
    assert codes["utf16"] == ["MESH004"]
    weights = [d.code for d in check_everything(CASES["probe-named-percentages"]) if d.is_error]
    assert weights and set(weights) <= {"MESH001", "MESH105", "MESH301"}, weights


def test_a_name_of_63_characters_is_fine():
    """The boundary of the 64-character cases above: 63 is a DNS label."""
    data = ("namespace " + "n" * 63 + " { service " + "s" * 63 + " { port 80 http subsets by version " + "v" * 63
            + " route r { to " + "v" * 63 + " } } }\n").encode()
    assert [d for d in check_everything(data, render_cli=True) if d.is_error] == []


def test_a_megabyte_of_valid_services_compiles_in_reasonable_time():
    """1 MB of valid services (about 2,600 of them) compiles and renders
    cleanly, in seconds, not minutes."""
    parts, size, i = ["namespace big {\n"], 0, 0
    while size < 1_000_000:
        parts.append(VALID_SERVICE.format(i=i))
        size += len(parts[-1])
        i += 1
    data = ("".join(parts) + "}\n").encode()
    started = time.monotonic()
    with case_file(data) as path:
        compiled = compile_paths([path])
        assert compiled.ok, compiled.diagnostics[:3]
        rendering = render(compiled.policy)
    elapsed = time.monotonic() - started
    assert not rendering.diagnostics
    assert sum(d.kind == "VirtualService" for d in rendering.clusters["default"]) == i
    assert elapsed < 30, f"1 MB took {elapsed:.1f}s"


def test_windows_line_endings_change_nothing():
    """CRLF files compile to the same documents as LF ones, and a mistake is
    reported at the same line and column either way."""
    text = FLEET + "".join(SCENARIOS.values())
    rendered = {}
    for newline in ("\n", "\r\n"):
        data = text.replace("\n", newline).encode()
        with case_file(data) as path:
            compiled = compile_paths([path])
            assert compiled.ok, [f"{d.span}: {d.message}" for d in compiled.diagnostics]
            rendered[newline] = {c: [(d.kind, d.namespace, d.name, json.dumps(d.body)) for d in docs]
                                 for c, docs in render(compiled.policy).clusters.items()}
    assert rendered["\n"] == rendered["\r\n"]
    assert rendered["\n"]  # sanity: documents were compared

    broken = SCENARIOS["s01-canary.mesh"].replace("to v2", "to v2 50%, v1 40%") if "s01-canary.mesh" in SCENARIOS \
        else "namespace a {\n  service b {\n    port 80 http\n    route r { to v1 50%, v2 40% }\n  }\n}\n"
    positions = {}
    for newline in ("\n", "\r\n"):
        data = broken.replace("\n", newline).encode()
        positions[newline] = [(d.code, d.span.line, d.span.column) for d in check_everything(data) if d.is_error]
    assert positions["\n"] and positions["\n"] == positions["\r\n"]


def test_cr_only_line_endings_are_refused_not_compiled_to_nothing(tmp_path):
    """A file saved with classic Mac line endings that starts with a comment
    was one long comment to meshc: check passed and render deleted what the
    file had produced. Now check and render refuse it, and OUT stays."""
    (tmp_path / "fleet.mesh").write_text(FLEET)
    shop = tmp_path / "shop.mesh"
    text = "# the shop\nnamespace shop {\n  service cart {\n    port 80 http\n    timeout 5s\n  }\n}\n"
    shop.write_text(text)
    out = tmp_path / "out"
    assert CliRunner().invoke(cli, ["render", str(tmp_path), "-o", str(out)]).exit_code == 0
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert any("/shop/" in p for p in before)
    shop.write_bytes(text.replace("\n", "\r").encode())
    checked = CliRunner().invoke(cli, ["check", "--output-format", "concise", str(tmp_path)])
    assert checked.exit_code == 1 and "shop.mesh:1:11: error[MESH007]" in checked.stdout, checked.stdout
    assert CliRunner().invoke(cli, ["render", str(tmp_path), "-o", str(out)]).exit_code == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml")) == before


# ------------------------------------------------------- real processes
SUBPROCESS_CASES = ["probe-garbage", "probe-percentages", "probe-unclosed", "probe-encoding", "random-300-bytes",
                    "deep-braces"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_no_traceback_reaches_stderr(name):
    """`python -m meshc check FILE --output-format json` in a real process:
    exit 1, diagnostics in JSON, and stderr free of tracebacks."""
    data = CASES[name]
    with case_file(data) as path:
        proc = run_meshc("check", path, "--output-format", "json")
        stderr = proc.stderr.decode("utf-8", "replace")
        assert_no_internal_error(stderr, proc.stdout.decode("utf-8", "replace"))
        assert proc.returncode == 1, (proc.returncode, stderr)
        found = json.loads(proc.stdout)
        assert found and all(d["severity"] in ("error", "warning") for d in found)
        for d in found:
            loc = d["location"]
            assert_located(d["code"], loc["file"], loc["line"], loc["column"], path, lines_of(data))
        # and the default format says where too: ` --> FILE:LINE:COL`
        full = run_meshc("check", path)
        text = full.stdout.decode("utf-8", "replace")
        assert full.returncode == 1 and "Traceback" not in full.stderr.decode("utf-8", "replace")
        assert re.search(r"--> .*case\.mesh:\d+:\d+", text), text


def test_every_regression_case_in_one_process():
    """`meshc check DIR` with every regression case as its own policy (one
    subdirectory each, the megabyte aside): one real process, no traceback,
    and concise lines of the form `FILE:LINE:COL: severity[CODE] message`."""
    with tempfile.TemporaryDirectory(prefix="meshc-robust-") as directory:
        for name, data in CASES.items():
            os.makedirs(os.path.join(directory, name))
            with open(os.path.join(directory, name, NAME), "wb") as f:
                f.write(data)
        proc = run_meshc("check", directory, "--output-format", "concise")
    stderr = proc.stderr.decode("utf-8", "replace")
    stdout = proc.stdout.decode("utf-8", "replace")
    assert_no_internal_error(stderr, stdout)
    assert proc.returncode == 1, stderr
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert re.match(r"^.+/case\.mesh:\d+:\d+: (error|warning)\[MESH\d{3}\] \S", line), line


def test_missing_path_is_a_usage_error_without_traceback():
    """A path that does not exist: exit 2, one clear message naming it, no
    traceback, in a real process and through click, for check and render."""
    missing = os.path.join(tempfile.gettempdir(), "meshc-no-such-dir", "nope.mesh")
    proc = run_meshc("check", missing)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, stderr
    assert "nope.mesh" in stderr and "no such file" in stderr.lower(), stderr
    assert_no_internal_error(stderr, proc.stdout.decode("utf-8", "replace"))

    for args in (["check", missing], ["check", missing, "--output-format", "json"],
                 ["render", missing, "-o", os.path.join(tempfile.gettempdir(), "meshc-never-written")]):
        result = CliRunner().invoke(cli, args)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 2, (args, result.exception)
        assert "nope.mesh" in result.stderr and "no such file" in result.stderr.lower(), (args, result.stderr)
        assert_no_internal_error(result.stdout, result.stderr)
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), "meshc-never-written"))


def test_unreadable_inputs_are_usage_errors(tmp_path):
    """A dangling .mesh symlink is an I/O problem: exit 2 with a message,
    not a crash and not exit 1. (A directory without .mesh files is no
    error for check: tests/test_selection.py.)"""
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / "gone.mesh").symlink_to(tmp_path / "nowhere.mesh")
    for path, word in ((dangling, "gone.mesh"),):
        result = CliRunner().invoke(cli, ["check", str(path)])
        assert isinstance(result.exception, SystemExit), result.exception
        assert result.exit_code == 2, (path, result.exit_code, result.stdout, result.stderr)
        assert word in result.stderr, result.stderr
        assert_no_internal_error(result.stdout, result.stderr)
