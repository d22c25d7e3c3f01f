"""emit.py: exact layout, quoting that survives YAML 1.1 and 1.2 loaders, and
acceptance by kubectl kustomize (go-yaml, what Kubernetes itself reads)."""

from __future__ import annotations

import math
import shutil
import subprocess
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from meshc import __version__
from meshc.output.emit import MARKER, EmitError, dump, dump_all, header

VERSIONS = [(1, 1), (1, 2)]

SAMPLE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "svc-0001", "namespace": "prod", "labels": {"app.kubernetes.io/managed-by": "meshc"}},
    "spec": {
        "hosts": ["svc-0001.prod.svc.cluster.local"],
        "http": [
            {
                "name": "canary",
                "match": [{"headers": {"canary": {"exact": "true"}}}],
                "route": [{"destination": {"host": "svc-0001.prod.svc.cluster.local", "subset": "v2"}}],
                "timeout": "10s",
                "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "connect-failure,refused-stream,5xx"},
            },
            {
                "name": "default",
                "route": [
                    {"destination": {"host": "svc-0001.prod.svc.cluster.local", "subset": "v1"}, "weight": 90},
                    {"destination": {"host": "svc-0001.prod.svc.cluster.local", "subset": "v2"}, "weight": 10},
                ],
                "timeout": "10s",
            },
        ],
    },
}

SAMPLE_YAML = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-0001
  namespace: prod
  labels:
    app.kubernetes.io/managed-by: meshc
spec:
  hosts:
  - svc-0001.prod.svc.cluster.local
  http:
  - name: canary
    match:
    - headers:
        canary:
          exact: "true"
    route:
    - destination:
        host: svc-0001.prod.svc.cluster.local
        subset: v2
    timeout: 10s
    retries:
      attempts: 3
      perTryTimeout: 2s
      retryOn: connect-failure,refused-stream,5xx
  - name: default
    route:
    - destination:
        host: svc-0001.prod.svc.cluster.local
        subset: v1
      weight: 90
    - destination:
        host: svc-0001.prod.svc.cluster.local
        subset: v2
      weight: 10
    timeout: 10s
"""

# Strings a plain scalar would turn into something else under YAML 1.1
# (go-yaml v2, sigs.k8s.io/yaml), YAML 1.2 (ruamel) or go-yaml's own number
# and date parsing, or that a plain scalar cannot carry at all.
RISKY = [
    # booleans and null, 1.1 and 1.2
    "on", "off", "On", "OFF", "yes", "no", "Yes", "NO", "y", "n", "Y", "N",
    "true", "false", "True", "FALSE", "null", "Null", "NULL", "~", "",
    # numbers in 1.1 and 1.2 spellings
    "0", "-0", "+1", "-1", "010", "0o17", "0x1F", "0b101", "-0b1", "1_000",
    "1e3", "1.5", ".5", "1.", "-.5", "+.5e3", ".inf", "-.inf", ".NaN",
    "1:20", "190:20:30.15", "08", "9_9",
    # what go-yaml parses but ruamel's 1.1 rules do not (see _go_yaml_non_string)
    "0X1F", "0O17", "0B1", ".5e3", "2001-1-2", "2001-1-2 1:2:3",
    # timestamps, merge and value keys
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "<<", "=",
    # indicators and document markers
    "-", "- a", "?", "? a", ":", ": a", "a:", "a: b", "a #b", "#a", ",a", "[a", "]a", "{a", "}a",
    "&a", "*a", "!a", "|", ">", "'a", '"a', "%a", "@a", "`a", "---", "...", "--- a", "... a",
    # edge spaces, breaks, control and non-printable characters
    " a", "a ", " ", "a\nb", "\n", "a\r\nb", "a\tb", "\t", "\x00", "\x07", "\x1b", "\x7f", "\x85",
    "\x9f", "a\u2028b", "\u2029", "\ufeff", "a\ufeff", "\ufffe", "\uffff",
]

# Strings Kubernetes manifests are full of; quoting them would be noise.
PLAIN = [
    "10s", "v1", "svc-0001.prod.svc.cluster.local", "connect-failure,refused-stream,5xx",
    "app.kubernetes.io/managed-by", "http://example.com:8080/a?b=c#d", "a:b", "a#b", "-a", "a-",
    "1.2.3", "v1.2", "2024-canary", "10.0.0.1/8", "héllo wörld", "日本語", "emoji 🎉", "a b  c",
    "ISTIO_MUTUAL", "x=1", "a{b}", "a[0]", "0x", "1e", "e3", "nan", "inf", "a' b", 'a"b\\c',
]


def load(text: str, version: tuple[int, int]):
    yaml = YAML(typ="safe", pure=True)
    yaml.version = version
    return yaml.load(text)


def load_all(text: str, version: tuple[int, int]) -> list:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = version
    return list(yaml.load_all(text))


def test_sample_layout_is_exact():
    assert dump(SAMPLE) == SAMPLE_YAML


def test_nested_collections_scalars_and_empties():
    doc = {
        "empty": {},
        "none": [],
        "flags": [True, False, None],
        "numbers": [0, -7, 12345678901234567890, 0.1, 100.0, 1e16, -2.5e-08],
        "grid": [[1, 2], [], [{}], [["deep"]], [{"a": 1, "b": [3]}]],
        "items": [{}, [], {"k": {}}, {"k": []}, {"k": {"x": None}}],
        "long": "x" * 300 + " with spaces " + "y" * 300,
    }
    assert dump(doc) == (
        "empty: {}\n"
        "none: []\n"
        "flags:\n- true\n- false\n- null\n"
        "numbers:\n- 0\n- -7\n- 12345678901234567890\n- 0.1\n- 100.0\n- 1.0e+16\n- -2.5e-08\n"
        "grid:\n- - 1\n  - 2\n- []\n- - {}\n- - - deep\n- - a: 1\n    b:\n    - 3\n"
        "items:\n- {}\n- []\n- k: {}\n- k: []\n- k:\n    x: null\n"
        f"long: {doc['long']}\n"
    )
    for version in VERSIONS:
        assert load(dump(doc), version) == doc


@pytest.mark.parametrize("doc", [{}, [], "text", "on", 3, None, ["a", {"b": "c"}]])
def test_top_level_values(doc):
    for version in VERSIONS:
        assert load(dump(doc), version) == doc


def test_key_order_is_insertion_order():
    doc = {"zeta": 1, "alpha": 2, "mid": {"z": 1, "a": 2}}
    assert dump(doc) == "zeta: 1\nalpha: 2\nmid:\n  z: 1\n  a: 2\n"


def test_ruamel_1_1_mode_really_reads_yaml_1_1_words_as_non_strings():
    """The round-trip checks below mean something only if the 1.1 loader
    resolves what go-yaml v2 resolves."""
    assert load("[on, yes, 010, 0x1F, ~]", (1, 1)) == [True, True, 8, 31, None]
    assert load("[on, yes, 010]", (1, 2)) == ["on", "yes", 10]


@pytest.mark.parametrize("s", RISKY)
def test_risky_strings_are_double_quoted_and_round_trip(s):
    text = dump({"v": s, "l": [s], s: "key"})
    value_line = text.splitlines()[0]
    assert value_line.startswith('v: "') and value_line.endswith('"'), value_line
    for version in VERSIONS:
        assert load(text, version) == {"v": s, "l": [s], s: "key"}


@pytest.mark.parametrize("s", ["on", "yes", "010", "0x1F", "1_000", "1e3", ".inf", "2001-12-14", "~", "="])
def test_strings_ruamel_resolves_as_non_strings_are_quoted(s):
    """The quoting decision agrees with the implicit resolvers themselves."""
    resolved = {str(VersionedResolver(version=v).resolve(ScalarNode, s, (True, False))) for v in VERSIONS}
    assert resolved != {"tag:yaml.org,2002:str"}
    assert dump(s) == f'"{s}"\n'


@pytest.mark.parametrize("s", PLAIN)
def test_ordinary_strings_stay_plain(s):
    assert dump({"v": s}) == f"v: {s}\n"
    for version in VERSIONS:
        assert load(dump({"v": s}), version) == {"v": s}


def test_escapes_keep_quoted_strings_on_one_line():
    assert dump("a\nb\t\"c\"\\\x00\x85\u2028é🎉") == '"a\\nb\\t\\"c\\"\\\\\\x00\\x85\\u2028é🎉"\n'


def test_long_keys_use_the_explicit_form():
    """Parsers reject implicit keys over 1024 characters."""
    key = "k" * 1500
    doc = {key: {"a": [1, {key: "v"}]}, "short": [key], "after": 1}
    text = dump(doc)
    assert text.startswith(f"? {key}\n:\n  a:\n")
    for version in VERSIONS:
        assert load(text, version) == doc


def test_floats_read_back_as_the_same_float():
    values = [0.1, 100.0, 1e16, 1e-5, 5e-324, 1.7976931348623157e308, -0.0, 1 / 3, math.inf, -math.inf]
    text = dump(values)
    assert "e+16" in text and "1.0e+16" in text
    for version in VERSIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # ruamel warns about 1.1 floats without a dot
            assert load(text, version) == values
    assert math.isnan(load(dump(math.nan), (1, 2)))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"spec": {"http": [{"timeout": object()}]}}, "cannot write a value of type object as YAML at spec.http[0].timeout"),
        ({"a": [[1, {2, 3}]]}, "cannot write a value of type set as YAML at a[0][1]"),
        ({"a": {1: "x"}}, "cannot write a mapping key of type int (keys must be str) as YAML at a"),
        ((1, 2), "cannot write a value of type tuple as YAML"),
    ],
)
def test_non_plain_data_is_rejected_with_its_path(doc, message):
    with pytest.raises(EmitError) as err:
        dump(doc)
    assert str(err.value) == message


def test_dump_all_separates_documents():
    docs = [SAMPLE, {"kind": "b"}, [], "x"]
    text = dump_all(docs)
    assert text == SAMPLE_YAML + "---\nkind: b\n---\n[]\n---\nx\n"
    for version in VERSIONS:
        assert load_all(text, version) == docs
    assert dump_all([]) == ""


def test_header():
    assert header(["examples/s01-canary.mesh"], "0.1.0") == (
        "# Generated by meshc 0.1.0 from examples/s01-canary.mesh; do not edit.\n"
    )
    assert header(["a.mesh", "b/c.mesh"], __version__) == f"{MARKER} {__version__} from a.mesh, b/c.mesh; do not edit.\n"
    assert header([], "0.1.0") == f"{MARKER} 0.1.0; do not edit.\n"


def test_header_stays_one_comment_line():
    text = header(["evil\nkind: Secret.mesh"], "0.1.0")
    assert text.count("\n") == 1 and text.startswith(MARKER)
    assert load(text + "a: 1\n", (1, 2)) == {"a": 1}


# ---------------------------------------------------------------- properties

special_words = st.sampled_from(RISKY + PLAIN)
strings = st.text() | special_words | st.text(alphabet=st.sampled_from(" -?:,[]{}#&*!|>'\"%@`\n\t.0123456789eExXoO_+~"))
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | strings
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_like)
def test_dump_round_trips_under_yaml_1_1_and_1_2(data):
    text = dump(data)
    for version in VERSIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert load(text, version) == data


@settings(max_examples=100, deadline=None)
@given(st.lists(json_like, max_size=4))
def test_dump_all_round_trips_through_load_all(docs):
    text = dump_all(docs)
    for version in VERSIONS:
        assert load_all(text, version) == docs


# ---------------------------------------------------------------- kubectl

kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")


def kustomize(tmp_path, documents: list) -> str:
    """Write `documents` and a kustomization listing them, as meshc render
    does, and return what `kubectl kustomize` prints for them."""
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["docs.yaml"]}
    (tmp_path / "kustomization.yaml").write_text(header(["k.mesh"], __version__) + dump(kustomization))
    (tmp_path / "docs.yaml").write_text(header(["k.mesh"], __version__) + dump_all(documents), encoding="utf-8")
    run = subprocess.run(["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


@kubectl
def test_kubectl_kustomize_accepts_a_dumped_document(tmp_path):
    assert load_all(kustomize(tmp_path, [SAMPLE]), (1, 2)) == [SAMPLE]


@kubectl
def test_kubectl_reads_every_string_back_unchanged(tmp_path):
    """ConfigMap data passes through sigs.k8s.io/yaml (go-yaml v2 and JSON),
    which turns an unquoted `0X1F` into 31 and `2001-1-2` into a timestamp;
    kustomize prints what go-yaml read, and the "base" loader reads that
    back as text without resolving anything itself."""
    # kustomize's printer (not its reader) fails on DEL, C1 controls and U+2028.
    kept = [s for s in RISKY + PLAIN if all(c < "\x7f" for c in s)]
    values = {f"k{i:03d}": s for i, s in enumerate(kept)}
    # kustomize drops a `<<` key however it is quoted or tagged.
    keys = {s: f"v{i:03d}" for i, s in enumerate(kept) if s != "<<"}
    maps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
            for name, data in (("keys", keys), ("values", values))]
    assert list(YAML(typ="base").load_all(kustomize(tmp_path, maps))) == maps
