"""Rendered output against meshc's own JSON Schemas (schemas/) and, when
../shared has them, against the openAPIV3Schema of Istio's CRDs.

Our schemas say exactly what meshc writes; the CRDs say what an API server
admits. A rendered document failing either is a backend bug. The corrupted
documents below are the mistakes hand-written YAML makes (seed 003's
mis-indented `host`, an upper-case header name, ...): they show the schemas
are not vacuous, and which mistakes only our schemas catch.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest
from helpers import ROOT, find, rendered
from ruamel.yaml import YAML

from meshc.backends.documents import Document
from meshc.backends.istio import Rendering
from meshc.output import schemas
from meshc.output.manifests import KUSTOMIZATION, files

CRDS = Path(__file__).resolve().parents[2] / "shared" / "istio" / "customresourcedefinitions.gen.yaml"
# Kinds whose CRDs Istio ships (PrometheusRule is the Prometheus operator's,
# Service is Kubernetes' own).
ISTIO_KINDS = tuple(kind for kind in schemas.KINDS if kind not in ("Kustomization", "PrometheusRule", "Service"))


@functools.cache
def examples() -> Rendering:
    """examples/ rendered for every cluster of its fleet."""
    return rendered([str(ROOT / "examples")])


def unique_documents() -> list[tuple[str, Document]]:
    """(cluster/path, document) once per document: clusters share the
    documents that come out the same."""
    seen: dict[int, tuple[str, Document]] = {}
    for cluster, docs in examples().clusters.items():
        for doc in docs:
            seen.setdefault(id(doc), (f"{cluster}/{doc.path}", doc))
    return list(seen.values())


def failures(check: Callable[[dict], list[str]], kinds: tuple[str, ...]) -> list[str]:
    """`cluster/path: error` for every rendered document of `kinds`."""
    return [f"{where}: {error}" for where, doc in unique_documents() if doc.kind in kinds
            for error in check(doc.body)]


# ------------------------------------------------------------ our schemas
SCHEMA_FILES = (schemas.COMMON, *map(schemas.schema_file, schemas.KINDS))


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_valid_draft_2020_12(name):
    """And its `$id` names its file, which the relative `$ref`s rely on."""
    from jsonschema import Draft202012Validator

    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://meshc.invalid/schemas/{name}"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_ref_resolves(name):
    """References are only followed where a document reaches them; a typo
    in a branch the examples never take would otherwise go unnoticed."""
    from referencing.jsonschema import DRAFT202012

    schema = DRAFT202012.create_resource(schemas.load(name))
    resolver = schemas.registry().with_resource(schema.id(), schema).resolver(schema.id())
    for ref in refs(schema.contents):
        resolver.lookup(ref)


def refs(node) -> list[str]:
    """Every `$ref` in a schema."""
    if isinstance(node, list):
        return [r for sub in node for r in refs(sub)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if "$ref" in node else []
    return own + [r for sub in node.values() for r in refs(sub)]


def test_rendered_documents_conform():
    assert not failures(schemas.validate, ISTIO_KINDS + ("Service",))


def test_every_rendered_kind_has_a_schema():
    kinds = {doc.kind for _, doc in unique_documents()}
    assert kinds <= set(schemas.KINDS), f"no schemas/*.schema.json for {sorted(kinds - set(schemas.KINDS))}"


def test_kustomizations_conform():
    yaml = YAML(typ="safe")
    texts = {path: text for path, text in files(examples(), []).items() if path.endswith("/" + KUSTOMIZATION)}
    assert len(texts) == len(examples().clusters)
    assert {path: schemas.validate(yaml.load(text)) for path, text in texts.items()} == {p: [] for p in texts}


def test_unknown_kind_is_reported():
    assert schemas.validate({"kind": "ConfigMap"}) == ["kind: meshc has no schema for kind 'ConfigMap'"]


def test_importing_the_module_does_not_import_jsonschema():
    """`meshc check` imports meshc modules but never validates output."""
    code = "import sys, meshc.output.schemas; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -------------------------------------------------------- negative cases
@dataclass(frozen=True)
class Corruption:
    """A rendered document with one value replaced (None deletes it), where
    our schemas object and what they say, and whether the upstream CRD
    rejects it too (None: a kind Istio has no CRD for)."""

    name: str
    document: tuple[str, str, str, str]
    path: tuple
    value: object
    where: str
    says: str
    upstream_rejects: Optional[bool]

    def apply(self) -> dict:
        body = copy.deepcopy(find(examples(), *self.document))
        *parents, last = self.path
        target = functools.reduce(lambda node, key: node[key], parents, body)
        if self.value is None:
            del target[last]
        else:
            target[last] = self.value
        return body


USER_SERVICE = ("hangzhou", "VirtualService", "production", "user-service")
HOST = "user-service.production.svc.cluster.local"
CORRUPTIONS = [
    Corruption("unknown-field", USER_SERVICE, ("spec", "http", 0, "retryPolicy"), {"attempts": 3},
               "spec.http[0]", "Additional properties are not allowed ('retryPolicy' was unexpected)", True),
    Corruption("weight-150", USER_SERVICE, ("spec", "http", 1, "route", 0, "weight"), 150,
               "spec.http[1].route[0].weight", "150 is greater than the maximum of 100", False),
    Corruption("upper-case-header", USER_SERVICE, ("spec", "http", 0, "match", 0, "headers"),
               {"Canary": {"exact": "true"}}, "spec.http[0].match[0].headers", "'Canary' does not match", False),
    Corruption("empty-header-match", USER_SERVICE, ("spec", "http", 0, "match", 0, "headers", "canary"), {},
               "spec.http[0].match[0].headers.canary", "{} is not valid under any of the given schemas", False),
    Corruption("destination-without-host", USER_SERVICE, ("spec", "http", 1, "route", 0, "destination", "host"),
               None, "spec.http[1].route[0].destination", "'host' is a required property", True),
    # Seed 003 indents `host` and `subset` as siblings of an empty `destination`.
    Corruption("host-beside-destination", USER_SERVICE, ("spec", "http", 0, "route", 0),
               {"destination": None, "host": HOST, "subset": "v2", "weight": 100},
               "spec.http[0].route[0]", "Additional properties are not allowed ('host', 'subset' were unexpected)",
               True),
    Corruption("zero-timeout", USER_SERVICE, ("spec", "http", 0, "timeout"), "0s",
               "spec.http[0].timeout", "'0s' does not match", True),
    Corruption("no-managed-by-label", USER_SERVICE, ("metadata", "labels"), {"team": "web"},
               "metadata.labels", "'app.kubernetes.io/managed-by' is a required property", False),
    Corruption("simple-and-consistent-hash", ("hangzhou", "DestinationRule", "storefront", "api"),
               ("spec", "trafficPolicy", "loadBalancer", "simple"), "ROUND_ROBIN",
               "spec.trafficPolicy.loadBalancer", "should not be valid under {'required': ['simple', 'consistentHash']}",
               True),
    Corruption("failover-and-distribute", ("hangzhou", "DestinationRule", "geo", "global-api"),
               ("spec", "trafficPolicy", "loadBalancer", "localityLbSetting", "distribute"),
               [{"from": "cn-east", "to": {"cn-north": 100}}],
               "spec.trafficPolicy.loadBalancer.localityLbSetting", "is valid under each of", False),
    Corruption("failover-priority-twice", ("hangzhou", "DestinationRule", "geo", "ledger"),
               ("spec", "trafficPolicy", "loadBalancer", "localityLbSetting", "failoverPriority"),
               ["topology.istio.io/network", "topology.istio.io/network"],
               "spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority", "has non-unique elements", False),
    Corruption("failover-priority-and-failover", ("hangzhou", "DestinationRule", "geo", "global-api"),
               ("spec", "trafficPolicy", "loadBalancer", "localityLbSetting", "failoverPriority"),
               ["topology.istio.io/network"],
               "spec.trafficPolicy.loadBalancer.localityLbSetting", "is valid under each of", False),
    Corruption("external-entry-with-endpoints", ("hangzhou", "ServiceEntry", "web", "api-external-com"),
               ("spec", "endpoints"), [{"address": "10.0.0.1"}],
               "spec", "Additional properties are not allowed ('endpoints' was unexpected)", False),
    Corruption("stub-without-ports", ("shanghai", "Service", "geo", "user-service"), ("spec", "ports"), [],
               "spec.ports", "should be non-empty", None),
    Corruption("stub-selecting-nothing-named", ("shanghai", "Service", "geo", "user-service"),
               ("spec", "selector"), {"version": "v1"}, "spec.selector", "'app' is a required property", None),
    Corruption("gateway-port-70000", ("hangzhou", "Gateway", "istio-system", "payment-gateway"),
               ("spec", "servers", 0, "port", "number"), 70000,
               "spec.servers[0].port.number", "70000 is greater than the maximum of 65535", False),
    Corruption("lower-case-mtls-mode", ("hangzhou", "PeerAuthentication", "istio-system", "default"),
               ("spec", "mtls", "mode"), "strict", "spec.mtls.mode", "'strict' is not one of", True),
    Corruption("principals-not-a-list", ("hangzhou", "AuthorizationPolicy", "production", "api-gateway"),
               ("spec", "rules", 0, "from", 0, "source", "principals"), "cluster.local/ns/a/sa/b",
               "spec.rules[0].from[0].source.principals", "is not of type 'array'", True),
]


@pytest.mark.parametrize("case", CORRUPTIONS, ids=lambda c: c.name)
def test_our_schemas_reject(case):
    errors = schemas.validate(case.apply())
    assert any(e.startswith(case.where + ": ") and case.says in e for e in errors), errors


@pytest.mark.parametrize("case", CORRUPTIONS, ids=lambda c: c.name)
def test_upstream_rejects_what_it_should(case, upstream):
    """False where only our schemas catch the mistake (Istio's webhook or
    nobody would); True where the API server's schema does as well."""
    if case.upstream_rejects is None:
        pytest.skip(f"Istio has no CRD for {case.document[1]}")
    assert bool(upstream(case.apply())) == case.upstream_rejects


# ------------------------------------------------------ upstream CRD schemas
def test_rendered_documents_conform_to_upstream_crds(upstream):
    assert not failures(upstream, ISTIO_KINDS)


def test_every_upstream_cel_rule_is_evaluated(crds):
    """A rule missing from CEL would pass silently: one that a CRD update
    brings must be added there."""
    rules = {_normal(rule["rule"]) for crd in crds for rule in cel_rules(crd["schema"])}
    assert rules - CEL.keys() == set()


@pytest.mark.parametrize("text, at_least_1ms", [
    ("1ms", True), ("10s", True), ("1.5s", True), ("1h30m", True), ("1000us", True),
    ("0s", False), ("999us", False), ("0", False), ("-1s", False), ("1", False), ("5 s", False), ("", False),
])
def test_cel_duration_rule(text, at_least_1ms):
    assert CEL["duration(self) >= duration('1ms')"](text) is at_least_1ms


@pytest.fixture(scope="module")
def crds(request: pytest.FixtureRequest) -> list[dict]:
    """Every version of the CRDs of the kinds meshc writes, as {kind, group,
    version, schema}. The pure-Python YAML loader needs about a second for
    them, so they are kept in pytest's cache, keyed by the file's hash."""
    if not CRDS.exists():
        pytest.skip(f"Istio's CRDs are not at {CRDS} (../shared is missing)")
    data = CRDS.read_bytes()
    key = f"meshc/istio-crds/{hashlib.sha256(data).hexdigest()}"
    cache = getattr(request.config, "cache", None)
    found = cache.get(key, None) if cache else None
    if found is None:
        found = crd_versions(data.decode("utf-8"))
        if cache:
            cache.set(key, found)
    return found


@pytest.fixture(scope="module")
def upstream(crds) -> Callable[[dict], list[str]]:
    """Validation of a document against the CRD version its apiVersion
    names, as `data.path: message`."""
    from jsonschema import Draft202012Validator, validators

    cls = validators.extend(Draft202012Validator, {"x-cel": _cel_keyword})
    by_version = {(crd["kind"], crd["version"]): cls(crd_json_schema(crd)) for crd in crds}

    def check(document: dict) -> list[str]:
        version = document["apiVersion"].rsplit("/", 1)[1]
        return schemas.messages(by_version[(document["kind"], version)], document)

    return check


def crd_versions(text: str) -> list[dict]:
    """Parses only the CRD documents of ISTIO_KINDS: the whole file takes
    the YAML loader twice as long."""
    yaml = YAML(typ="safe")
    wanted = [part for part in text.split("\n---\n") if any(f"\n    kind: {kind}\n" in part for kind in ISTIO_KINDS)]
    return [
        {"kind": crd["spec"]["names"]["kind"], "group": crd["spec"]["group"], "version": version["name"],
         "schema": version["schema"]["openAPIV3Schema"]}
        for crd in map(yaml.load, wanted) if crd["spec"]["names"]["kind"] in ISTIO_KINDS
        for version in crd["spec"]["versions"]
    ]


def crd_json_schema(crd: dict) -> dict:
    """A CRD version's schema as JSON Schema for a whole document."""
    schema = json_schema(crd["schema"])
    # The API server handles these itself; the CRD schema omits them.
    schema["properties"].update(apiVersion={"const": f"{crd['group']}/{crd['version']}"},
                                kind={"const": crd["kind"]}, metadata={"type": "object"})
    return schema


# Formats as ranges. These CRDs give uint32 fields explicit minimum and
# maximum already; `double`, `date-time` (status only) and `byte`
# (directResponse) are not checked.
FORMAT_RANGES = {"int32": (-(2**31), 2**31 - 1)}


def json_schema(node: dict) -> dict:
    """An OpenAPI v3 structural schema as JSON Schema: `nullable` becomes a
    `null` type, integer formats become ranges, objects with `properties`
    reject unknown fields (as the API server does, unless the schema says
    x-kubernetes-preserve-unknown-fields), CEL rules move to `x-cel`, and
    the other x-kubernetes-* keys and descriptions are dropped."""
    out: dict = {}
    for key, value in node.items():
        if key == "x-kubernetes-validations":
            out["x-cel"] = value
        elif key in ("description", "nullable", "format") or key.startswith("x-kubernetes-"):
            continue
        elif key == "properties":
            out[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = json_schema(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [json_schema(sub) for sub in value]
        else:
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("format") in FORMAT_RANGES:
        low, high = FORMAT_RANGES[node["format"]]
        out.setdefault("minimum", low)
        out.setdefault("maximum", high)
    if "properties" in node and "additionalProperties" not in node \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def cel_rules(node) -> list[dict]:
    """Every x-kubernetes-validations entry under an OpenAPI schema."""
    if isinstance(node, list):
        return [r for sub in node for r in cel_rules(sub)]
    if not isinstance(node, dict):
        return []
    return list(node.get("x-kubernetes-validations", ())) + [r for v in node.values() for r in cel_rules(v)]


def _cel_keyword(validator, rules, instance, schema):
    """Evaluates a node's CEL rules once its own type is right (the API
    server runs them only on schema-valid data)."""
    from jsonschema import ValidationError

    if "type" in schema and not validator.is_type(instance, schema["type"]):
        return
    for rule in rules:
        check = CEL.get(_normal(rule["rule"]))
        if check is not None and not check(instance):
            yield ValidationError(f"{rule.get('message', 'CEL rule fails')} ({rule['rule']})")


def _normal(rule: str) -> str:
    return " ".join(rule.split())


# Go's time.ParseDuration, which CEL's duration() uses: `1h30m`, `1.5s`, `500us`.
_GO_DURATION = re.compile(r"(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+")
_GO_PART = re.compile(r"([0-9.]+)(ns|us|µs|μs|ms|s|m|h)")
_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1, "s": 1e3, "m": 6e4, "h": 3.6e6}


def go_duration_ms(text: str) -> Optional[float]:
    """Milliseconds, or None when CEL's duration() would reject the text."""
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    if body == "0":
        return 0.0
    if not _GO_DURATION.fullmatch(body):
        return None
    return sign * sum(float(n) * _MS[unit] for n, unit in _GO_PART.findall(body))


def _at_most_one(*fields: str) -> Callable[[dict], bool]:
    return lambda obj: sum(f in obj for f in fields) <= 1


# Every CEL rule of the six CRDs, normalised (whitespace collapsed), as Python.
CEL: dict[str, Callable] = {
    "duration(self) >= duration('1ms')": lambda s: (go_duration_ms(s) or 0) >= 1,
    '!self.contains("*")': lambda s: "*" not in s,
    'self != "*"': lambda s: s != "*",
    "0 < self && self <= 65535": lambda n: 0 < n <= 65535,
    'self.all(key, !key.contains("*"))': lambda m: all("*" not in k for k in m),
    "self.all(key, key.size() != 0)": lambda m: all(k != "" for k in m),
    "self.size() == 0": lambda s: len(s) == 0,
    "self.all(key, 0 < int(key) && int(key) <= 65535)":
        lambda m: all(k.isdigit() and 0 < int(k) <= 65535 for k in m),
    'self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))':
        lambda m: all(len(k) < 63 and re.fullmatch(r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?", k) for k in m),
    "self.all(l1, self.exists_one(l2, l1.number == l2.number))":
        lambda ports: len({p.get("number") for p in ports}) == len(ports),
    "(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1":
        _at_most_one("tlsCertificates", "credentialNames"),
    "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1":
        _at_most_one("credentialName", "credentialNames"),
    "(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1":
        _at_most_one("credentialNames", "tlsCertificates"),
    "(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1":
        _at_most_one("workloadSelector", "endpoints"),
    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1":
        _at_most_one("selector", "targetRef", "targetRefs"),
    '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && '
    '!((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))':
        lambda se: not (any("/" in a for a in se.get("addresses", ()))
                        and se.get("resolution", "NONE") not in ("STATIC", "NONE")),
    '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true':
        lambda se: se.get("resolution", "NONE") != "NONE" or "endpoints" not in se,
    '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? '
    "((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true":
        lambda se: se.get("resolution") != "DNS_ROUND_ROBIN" or len(se.get("endpoints", ())) <= 1,
    "has(self.address) || has(self.network)": lambda ep: "address" in ep or "network" in ep,
    '(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true':
        lambda ep: not ep.get("address", "").startswith("unix://") or "ports" not in ep,
    'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true':
        lambda address: not address.startswith("unix://") or address[7:8] in ("/", "@"),
    'self.startsWith("unix://") ? !self.endsWith("/") : true':
        lambda address: not address.startswith("unix://") or not address.endswith("/"),
    "(has(self.serviceAccounts) || has(self.notServiceAccounts)) ? (!has(self.principals) && "
    "!has(self.notPrincipals) && !has(self.namespaces) && !has(self.notNamespaces)) : true":
        lambda src: not ({"serviceAccounts", "notServiceAccounts"} & src.keys())
        or not ({"principals", "notPrincipals", "namespaces", "notNamespaces"} & src.keys()),
    "has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? "
    "self.selector.matchLabels : {}).size() > 0) : true":
        lambda pa: "portLevelMtls" not in pa or bool(pa.get("selector", {}).get("matchLabels")),
}
