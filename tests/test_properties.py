"""Invariants of rendering, checked on random valid policies.

The policies come from `strategies_policy.policies()` and
`fleet_policies()` (primaries and remotes, `local`, cluster subsets, `from
cluster`, ...), which write .mesh text by following docs/language.md (not
meshc's own syntax tree), so every property here compares meshc with its
documentation. Routing renders into primaries only; a route that reaches a
`local` service renders once per served cluster (`strategies_policy.copies`):

1. rendering is deterministic, whatever the order the files are given in and
   whatever the hash seed;
2. route weights are integers adding up to 100 (and are the ones written);
3. a canary renders the split of its live step;
4. every route is an `http` entry, by name, in source order, in every
   cluster (and on its gateway host), with unique entry names;
5. a service's `on CLUSTER { timeout }` changes that cluster's files only;
6. every document passes meshc's own resource schemas (when they exist);
7. `meshc fmt` keeps the IR and is idempotent (when it exists);
8. a gateway's `host` block changes only the gateway VirtualService of its
   host, whose first entries are the block's routes as written;

and, from the same reference: `when` conditions, route options and mirrors
render in the documented Istio form with the documented precedence, and
each cluster gets the API version of its Istio release.

A generated policy that does not compile cleanly fails the test that drew
it: either the generator or meshc disagrees with the docs. The last tests
pin single documented promises, with the smallest input that once broke
them (or still does: see each docstring).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from decimal import Decimal
from typing import Iterator, Optional

import pytest
import re2
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_policy import (
    INJECTED_TIMEOUT,
    BlueGreen,
    Canary,
    Forward,
    Policy,
    canaries_in_source,
    effective_option,
    effective_timeout,
    block_entry_names,
    fleet_policies,
    gateway_entries,
    gateway_entry_names,
    local_subset,
    mesh_entries,
    mesh_entry_names,
    policies,
    primaries,
)

from meshc.backends.istio import Rendering, render
from meshc.cli import cli
from meshc.pipeline import Compiled, compile_paths

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def any_policies() -> st.SearchStrategy[Policy]:
    return st.one_of(policies(), fleet_policies())


def fleets() -> st.SearchStrategy[Policy]:
    return st.one_of(policies(fleet=True), fleet_policies())


# ---------------------------------------------------------------- helpers
@contextmanager
def written(files: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """The files in a fresh directory: (directory, paths in name order).
    Written byte for byte (a CRLF layout stays CRLF)."""
    with tempfile.TemporaryDirectory(prefix="meshc-prop-") as directory:
        paths = []
        for name, text in files.items():
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            paths.append(path)
        yield directory, sorted(paths)


def compiled_cleanly(paths: list[str]) -> Compiled:
    compiled = compile_paths(paths)
    errors = [f"{d.span}: {d.code} {d.message}" for d in compiled.diagnostics if d.is_error]
    assert compiled.ok and not errors, f"a generated policy does not compile: {errors}"
    return compiled


def render_cleanly(compiled: Compiled) -> Rendering:
    rendering = render(compiled.policy)
    errors = [f"{d.span}: {d.code} {d.message}" for d in rendering.diagnostics if d.is_error]
    assert not errors, f"a generated policy does not render: {errors}"
    return rendering


def compile_and_render(policy: Policy, files: Optional[dict[str, str]] = None) -> Rendering:
    with written(files or policy.files()) as (_, paths):
        return render_cleanly(compiled_cleanly(paths))


def snapshot(rendering: Rendering) -> dict[str, list[tuple]]:
    """Everything observable about a rendering, key order included."""
    return {
        cluster: [(d.kind, d.namespace, d.name, json.dumps(d.body), tuple(d.sources)) for d in docs]
        for cluster, docs in rendering.clusters.items()
    }


def entries_of(policy: Policy, svc, route, cluster: str) -> list[tuple[str, object]]:
    """(entry name, copy) of each `http` entry a route renders in a
    primary's own VirtualService of its service, previews included."""
    return [(name, copy) for name, r, copy in mesh_entries(policy, svc, cluster) if r is route]


def virtual_service(rendering: Rendering, cluster: str, namespace: str, name: str) -> Optional[dict]:
    for doc in rendering.clusters[cluster]:
        if (doc.kind, doc.namespace, doc.name) == ("VirtualService", namespace, name):
            return doc.body
    return None


def http_entry(vs: dict, name: str) -> dict:
    entries = [e for e in vs["spec"].get("http", []) if e.get("name") == name]
    assert len(entries) == 1, f"http entries named {name!r}: {len(entries)}"
    return entries[0]


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}


def seconds(duration: str) -> Decimal:
    """An Istio (protobuf/Go) duration such as `4.321s`, `4321ms` or `1h30m`
    in seconds, exactly."""
    parts = _DURATION_PART.findall(duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum((Decimal(n) * _UNIT[u] for n, u in parts), Decimal(0))


def without_spans(data):
    """IR data without source positions (`span`, `at_span`, any `*_span`)."""
    if isinstance(data, dict):
        return {k: without_spans(v) for k, v in data.items() if k != "span" and not k.endswith("_span")}
    if isinstance(data, (list, tuple)):
        return [without_spans(v) for v in data]
    return data


# ------------------------------------------------- 1. determinism
@SETTINGS
@given(any_policies(), st.data())
def test_rendering_does_not_depend_on_run_or_file_order(policy, data):
    """Rendering twice gives the same documents, and so does compiling the
    files in any order: the docs say files are read in path order, so the
    IR, the diagnostics and every document (key order and source list
    included) must be the same. Determinism is what makes `render --check`
    a usable CI drift gate."""
    files = policy.files()
    with written(files) as (_, paths):
        first = compiled_cleanly(paths)
        once, twice = render_cleanly(first), render(first.policy)
        assert snapshot(once) == snapshot(twice)

        shuffled = data.draw(st.permutations(paths), label="file order")
        for order in (shuffled, list(reversed(paths))):
            other = compiled_cleanly(order)
            assert other.policy.model_dump() == first.policy.model_dump()
            assert other.diagnostics == first.diagnostics
            assert snapshot(render_cleanly(other)) == snapshot(once)

    # sanity: there is something to compare, for every cluster of the fleet
    # (a remote's directory holds stubs only)
    assert sorted(once.clusters) == sorted(policy.cluster_names)
    if any(svc.routes for svc in policy.services()):
        assert all(any(d.kind == "VirtualService" for d in once.clusters[c]) for c in primaries(policy))


@settings(max_examples=2, deadline=None)
@given(fleets())
def test_render_output_is_the_same_under_different_hash_seeds(policy):
    """`meshc render --stdout --cluster X` is byte-identical in two processes
    with different PYTHONHASHSEED values: no set or dict iteration order
    leaks into the output."""
    cluster = primaries(policy)[-1]
    outputs = []
    with written(policy.files()) as (directory, _):
        for seed in ("0", "4242"):
            env = dict(os.environ, PYTHONHASHSEED=seed, NO_COLOR="1")
            proc = subprocess.run(
                [sys.executable, "-m", "meshc", "render", directory, "--stdout", "--cluster", cluster],
                capture_output=True, env=env, timeout=60)
            assert proc.returncode == 0, proc.stderr.decode(errors="replace")
            assert b"Traceback" not in proc.stderr
            outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    # sanity: the stream holds this cluster's documents
    assert outputs[0].count(b"kind: ") >= 1
    if any(svc.routes for svc in policy.services()):
        assert b"kind: VirtualService" in outputs[0]


# --------------------------------------------------- 2. weights add to 100
@SETTINGS
@given(any_policies())
def test_route_weights_are_integers_adding_up_to_100(policy):
    """In every VirtualService of every cluster, an `http` route with several
    destinations has integer weights summing to 100, and a single
    destination has no weight or 100 (Istio weights are relative since 1.15,
    so anything else would silently mean another split). The `to` routes
    must also render the destinations and weights that were written, `rest`
    resolved."""
    rendering = compile_and_render(policy)
    for cluster, docs in rendering.clusters.items():
        for doc in docs:
            if doc.kind != "VirtualService":
                continue
            for entry in doc.body["spec"].get("http", []):
                route = entry.get("route", [])
                if len(route) > 1:
                    weights = [d.get("weight") for d in route]
                    assert all(type(w) is int for w in weights), (cluster, doc.name, entry.get("name"), weights)
                    assert sum(weights) == 100, (cluster, doc.name, entry.get("name"), weights)
                elif route:
                    assert route[0].get("weight", 100) == 100, (cluster, doc.name, entry)

    # sanity: what was written is what renders (a local service's subsets
    # being those of the copy's cluster)
    for svc in policy.services():
        for route in svc.routes:
            if not isinstance(route.action, Forward):
                continue
            for cluster in primaries(policy):
                vs = virtual_service(rendering, cluster, svc.namespace, svc.name)
                assert vs is not None, (cluster, svc.namespace, svc.name)
                for name, copy in entries_of(policy, svc, route, cluster):
                    rendered = http_entry(vs, name)["route"]
                    written_ = route.action.destinations
                    assert [(d["destination"]["host"], d["destination"].get("subset"),
                             d["destination"].get("port", {}).get("number")) for d in rendered] == \
                        [(d.host, local_subset(policy, d.host, d.subset, copy), d.port) for d in written_], \
                        route.action.text()
                    if len(written_) > 1:
                        assert [d["weight"] for d in rendered] == route.action.weights(), route.action.text()


# ----------------------------------------------------- 3. canary split
@SETTINGS
@given(any_policies())
def test_canary_renders_the_split_of_its_live_step(policy):
    """`canary A -> B steps s1 .. sM at N` renders A with 100 - sN and B with
    sN, baseline first, in every primary (a remote's proxies follow its
    primary's file); `at 0` or no `at` sends 100 to A.
    With waves, N is the `at` of the wave listing the cluster. The canaries
    are read back from the generated text."""
    text = policy.text()
    found = canaries_in_source(text, policy.cluster_names)
    # sanity: the reader finds every canary that was generated
    generated = [(svc.namespace, svc.name, r.name) for svc in policy.services() for r in svc.routes
                 if isinstance(r.action, Canary)]
    assert sorted(f[:3] for f in found) == sorted(generated)
    assert sorted(sorted(c for listed, _ in f[7] for c in listed) for f in found) == sorted(
        sorted(c for w in r.action.waves for c in w.clusters) for svc in policy.services() for r in svc.routes
        if isinstance(r.action, Canary))

    rendering = compile_and_render(policy)
    by_name = {(svc.namespace, svc.name): svc for svc in policy.services()}
    for namespace, service, route, baseline, candidate, steps, at, waves in found:
        svc = by_name[(namespace, service)]
        (written_,) = [r for r in svc.routes if r.name == route]
        for cluster in primaries(policy):
            # with waves, the step of the wave listing the cluster
            step = next(n for listed, n in waves if cluster in listed) if waves else at
            share = steps[step - 1] if step else 0
            vs = virtual_service(rendering, cluster, namespace, service)
            assert vs is not None, (cluster, namespace, service)
            for name, copy in entries_of(policy, svc, written_, cluster):
                assert http_entry(vs, name)["route"] == [
                    {"destination": {"host": svc.host, "subset": local_subset(policy, svc.host, baseline, copy)},
                     "weight": 100 - share},
                    {"destination": {"host": svc.host, "subset": local_subset(policy, svc.host, candidate, copy)},
                     "weight": share},
                ], (cluster, name, steps, at)


# ------------------------------------------------------ 4. route order
@SETTINGS
@given(any_policies())
def test_every_route_is_an_http_entry_in_source_order_in_every_cluster(policy):
    """Routes are tried in order and the first match wins, so the rendered
    `http` list must be exactly the routes, named and in the order written,
    with a blue-green route's `NAME-preview` entry right before it; in every
    cluster, since routing cannot be overridden per cluster. An exposed
    service's routes appear the same way, as `SERVICE-ROUTE`, in the
    VirtualService of its gateway host. A service whose routes all have a
    `when` ends with `not-found` (`SERVICE-not-found` at the gateway), and
    so does a local service's in a primary serving a cluster where it does
    not run; a route reaching a local service renders once per cluster
    (`ROUTE-C`) in a primary with remotes."""
    rendering = compile_and_render(policy)
    gateway = policy.gateway()
    for svc in policy.services():
        if not svc.routes:
            continue
        if svc.expose:
            # the gateway host's own VirtualService: the same entries, named
            # SERVICE-ROUTE, after the routes of the gateway's `host` block
            home, gw = gateway
            block = gw.block if gw.block and gw.block.host == svc.expose[1] else None
            for cluster in primaries(policy):
                vs = virtual_service(rendering, cluster, home, gw.virtual_service(svc.expose[1]))
                expected = (block_entry_names(policy, block, cluster) if block else []) + \
                    gateway_entry_names(policy, svc, cluster)
                if not expected:
                    # nothing can hold at this cluster's gateway: no VirtualService, so 404
                    assert vs is None, f"a gateway VirtualService without entries for {svc.expose} in {cluster}"
                    continue
                assert vs is not None, f"no gateway VirtualService for {svc.expose} in {cluster}"
                assert vs["spec"]["gateways"] == [gw.name]  # bare: the VirtualService is in the gateway's namespace
                assert vs["spec"]["hosts"] == [svc.expose[1]]
                assert [e.get("name") for e in vs["spec"]["http"]] == expected
        for cluster in primaries(policy):
            vs = virtual_service(rendering, cluster, svc.namespace, svc.name)
            assert vs is not None, f"no VirtualService {svc.namespace}/{svc.name} in {cluster}"
            assert [e.get("name") for e in vs["spec"]["http"]] == mesh_entry_names(policy, svc, cluster)
            # sanity: a blue-green preview entry requires `x-preview: true`
            for name, route, copy in mesh_entries(policy, svc, cluster):
                if isinstance(route.action, BlueGreen) and name.endswith("-preview"):
                    preview = http_entry(vs, name)
                    assert preview["match"], preview
                    assert all(m.get("headers", {}).get("x-preview") == {"exact": "true"}
                               for m in preview["match"]), preview
                    assert preview["route"][0]["destination"]["subset"] == \
                        local_subset(policy, svc.host, route.action.preview, copy)
                    assert http_entry(vs, name[:-len("-preview")])["route"][0]["destination"]["subset"] == \
                        local_subset(policy, svc.host, route.action.active, copy)


    # every VirtualService's entry names are unique: a name is how a route
    # shows in access logs and metrics, and which source route it came from
    for cluster, docs in rendering.clusters.items():
        for doc in docs:
            if doc.kind == "VirtualService":
                entry_names = [e.get("name") for e in doc.body["spec"].get("http", [])]
                assert len(entry_names) == len(set(entry_names)), (cluster, doc.name, entry_names)


@SETTINGS
@given(fleets())
def test_api_versions_follow_each_clusters_istio_release(policy):
    """docs/language.md, Fleet: "before 1.22 resources use v1beta1". Each
    cluster's Istio resources use `v1` from Istio 1.22 and `v1beta1` before
    (clusters without `istio` use the default, 1.30)."""
    rendering = compile_and_render(policy)
    for cluster in policy.clusters:
        minor = int(cluster.istio.split(".")[1]) if cluster.istio else 30
        expected = "v1" if minor >= 22 else "v1beta1"
        docs = rendering.clusters[cluster.name]
        for doc in docs:
            group, _, version = doc.body["apiVersion"].rpartition("/")
            if group in ("networking.istio.io", "security.istio.io"):
                assert version == expected, (cluster.name, cluster.istio, doc.kind, doc.body["apiVersion"])


def _expected_options(svc, route, cluster) -> dict:
    """The `HTTPRoute` fields docs/language.md gives for the options that
    apply (durations as seconds, percentages as floats)."""
    out = {}
    timeout = effective_option(svc, route, cluster, "timeout")
    if timeout:
        out["timeout"] = seconds(timeout.split()[1])
    retry = effective_option(svc, route, cluster, "retry")
    if retry == "retry off":
        out["retries"] = {"attempts": 0}
    elif retry:
        words = retry.split()
        retries = {"attempts": int(words[1])}
        if "per-try" in words:
            retries["perTryTimeout"] = seconds(words[words.index("per-try") + 1])
        if "on" in words:
            retries["retryOn"] = ",".join(words[words.index("on") + 1:])
        out["retries"] = retries
    fault = {}
    delay = effective_option(svc, route, cluster, "fault-delay")
    if delay:
        _, _, duration, share = delay.split()
        fault["delay"] = {"fixedDelay": seconds(duration), "percentage": {"value": float(share[:-1])}}
    abort = effective_option(svc, route, cluster, "fault-abort")
    if abort:
        _, _, status, share = abort.split()
        fault["abort"] = {"httpStatus": int(status), "percentage": {"value": float(share[:-1])}}
    if fault:
        out["fault"] = fault
    rewrite = effective_option(svc, route, cluster, "rewrite")
    if rewrite:
        out["rewrite"] = {"uri": rewrite.split(None, 2)[2].strip('"')}
    cors = effective_option(svc, route, cluster, "cors")
    if cors:
        policy, key = {}, None
        fields = {"origins": "allowOrigins", "methods": "allowMethods", "headers": "allowHeaders",
                  "expose-headers": "exposeHeaders"}
        for word in cors.split()[1:]:
            if word in fields:
                key = fields[word]
                policy[key] = []
            elif word == "max-age":
                key = "maxAge"
            elif word == "credentials":
                policy["allowCredentials"] = True
            elif key == "maxAge":
                policy["maxAge"] = seconds(word)
            elif key == "allowOrigins":
                policy[key].append({"exact": word.strip('"')})
            else:
                policy[key].append(word)
        out["corsPolicy"] = policy
    return out


def _as_seconds(entry: dict) -> dict:
    """An `http` entry with its option durations read as seconds."""
    got = {k: entry[k] for k in ("timeout", "retries", "fault", "rewrite", "corsPolicy") if k in entry}
    got = json.loads(json.dumps(got))
    if "timeout" in got:
        got["timeout"] = seconds(got["timeout"])
    if "perTryTimeout" in got.get("retries", {}):
        got["retries"]["perTryTimeout"] = seconds(got["retries"]["perTryTimeout"])
    if "delay" in got.get("fault", {}):
        got["fault"]["delay"]["fixedDelay"] = seconds(got["fault"]["delay"]["fixedDelay"])
    if "maxAge" in got.get("corsPolicy", {}):
        got["corsPolicy"]["maxAge"] = seconds(got["corsPolicy"]["maxAge"])
    for fault in got.get("fault", {}).values():
        fault["percentage"]["value"] = float(fault["percentage"]["value"])
    return got


def _mirror_destination(policy: Policy, target, copy) -> dict:
    d = {"host": target.host}
    subset = local_subset(policy, target.host, target.subset, copy)
    if subset:
        d["subset"] = subset
    if target.port:
        d["port"] = {"number": target.port}
    return d


@SETTINGS
@given(any_policies())
def test_route_options_and_mirrors_render_as_written(policy):
    """Each route's entry carries exactly the options that apply to it, by
    the documented precedence setting by setting (service, its `on C`, the
    route, the route's `on C`), in the documented Istio form: `timeout`,
    `retries` (`retry off` is `attempts: 0`), `fault.delay`/`fault.abort`,
    `rewrite.uri`, `corsPolicy`; and its mirrors: one is `mirror` plus
    `mirrorPercentage` (100 without a percentage), several are `mirrors`."""
    rendering = compile_and_render(policy)
    for svc in policy.services():
        for route in svc.routes:
            for cluster in primaries(policy):
                vs = virtual_service(rendering, cluster, svc.namespace, svc.name)
                for name, copy in entries_of(policy, svc, route, cluster):
                    entry = http_entry(vs, name)
                    assert _as_seconds(entry) == _expected_options(svc, route, cluster), (cluster, name)
                    mirrored = [(_mirror_destination(policy, m.target, copy), float(m.share[:-1]) if m.share else 100.0)
                                for m in route.mirrors]
                    if not route.mirrors:
                        assert "mirror" not in entry and "mirrors" not in entry
                    elif len(route.mirrors) == 1:
                        assert entry["mirror"] == mirrored[0][0], route.mirrors[0].text()
                        assert float(entry.get("mirrorPercentage", {"value": 100})["value"]) == mirrored[0][1]
                    else:
                        assert [(x["destination"], float(x.get("percentage", {"value": 100})["value"]))
                                for x in entry["mirrors"]] == mirrored


_OPS = {"=": "exact", "^=": "prefix", "~": "regex"}


def _unescape(text: str) -> str:
    """A string literal's value: `\\"` and `\\\\` are the only escapes."""
    return re.sub(r'\\(["\\])', r"\1", text)


def _expected_match(conditions: list[str]) -> tuple[dict, Optional[tuple[str, str]]]:
    """The documented `HTTPMatchRequest` of one `and` of conditions, and the
    (name, value) of its cookie condition, whose regex is checked apart."""
    match: dict = {}
    cookie = None
    for c in conditions:
        if m := re.fullmatch(r'(header|query) (\S+) (=|\^=|~) "(.*)"', c):
            key = "headers" if m.group(1) == "header" else "queryParams"
            match.setdefault(key, {})[m.group(2)] = {_OPS[m.group(3)]: _unescape(m.group(4))}
        elif m := re.fullmatch(r"header (\S+) absent", c):
            match.setdefault("withoutHeaders", {})[m.group(1)] = {}
        elif m := re.fullmatch(r'cookie (\S+) = "(.*)"', c):
            cookie = (m.group(1), _unescape(m.group(2)))
        elif m := re.fullmatch(r'path (=|\^=|~) "(.*)"', c):
            match["uri"] = {_OPS[m.group(1)]: _unescape(m.group(2))}
        elif m := re.fullmatch(r"method = (\S+)", c):
            match["method"] = {"exact": m.group(1)}
        elif m := re.fullmatch(r"port (\d+)", c):
            match["port"] = int(m.group(1))
        elif m := re.fullmatch(r'source (\S+) = (?:"(.*)"|(\S+))', c):
            match.setdefault("sourceLabels", {})[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
        elif m := re.fullmatch(r"from namespace (\S+)", c):
            match["sourceNamespace"] = m.group(1)
        elif m := re.fullmatch(r"from cluster (\S+)", c):
            match.setdefault("sourceLabels", {})["topology.istio.io/cluster"] = m.group(1)
        else:
            raise AssertionError(f"condition the test cannot read: {c}")
    return match, cookie


def _assert_exact_cookie(regex: str, name: str, value: str) -> None:
    """docs/language.md: the cookie regex matches "exactly that cookie,
    anywhere in the header; not xNAME=v, not NAME=vx" (RE2, full match)."""
    options = re2.Options()
    options.log_errors = False
    pattern = re2.compile(regex, options)
    cookie = f"{name}={value}"
    for header in (cookie, f"a=1; {cookie}", f"{cookie}; b=2", f"a=1;{cookie};b=2"):
        assert pattern.fullmatch(header), (regex, header)
    for header in (f"x{cookie}", f"{cookie}x", f"a=1; x{cookie}; b=2", f"{name}=x{value}", f"{name}={value[:-1]}"):
        if header != cookie:
            assert not pattern.fullmatch(header), (regex, header)


@SETTINGS
@given(any_policies())
def test_when_conditions_render_as_documented(policy):
    """Each `or` alternative of a route's `when` is one `match` entry, in
    order, holding exactly the documented fields: `headers` exact/prefix/
    regex, `withoutHeaders`, `uri`, `method`, `queryParams`, `port`,
    `sourceLabels`, `sourceNamespace`, with string escapes decoded; a
    cookie is a `cookie` header regex matching exactly that cookie. A
    blue-green preview entry has the same matches plus `x-preview: true`.
    A per-cluster copy `ROUTE-C` (`from cluster C` added) keeps the
    alternatives that can hold for C's callers."""
    rendering = compile_and_render(policy)
    for svc in policy.services():
        for route in svc.routes:
            for cluster in primaries(policy):
                vs = virtual_service(rendering, cluster, svc.namespace, svc.name)
                for name, copy in entries_of(policy, svc, route, cluster):
                    if not name.endswith("-preview"):
                        _assert_matches(vs, name, copy.alternatives, isinstance(route.action, BlueGreen))


def _assert_matches(vs: dict, name: str, alternatives: list[list[str]], blue_green: bool) -> None:
    entry = http_entry(vs, name)
    if not alternatives:
        assert "match" not in entry, entry
        return
    assert len(entry["match"]) == len(alternatives), (name, entry["match"])
    for rendered, conditions in zip(entry["match"], alternatives):
        rendered = json.loads(json.dumps(rendered))
        expected, cookie = _expected_match(conditions)
        if cookie:
            _assert_exact_cookie(rendered["headers"].pop("cookie")["regex"], *cookie)
            if not rendered["headers"]:
                del rendered["headers"]
        assert rendered == expected, (name, conditions)
    if blue_green:
        preview = http_entry(vs, f"{name}-preview")["match"]
        assert [{k: v for k, v in m.items()} for m in preview] == [
            {**m, "headers": {**m.get("headers", {}), "x-preview": {"exact": "true"}}}
            for m in entry["match"]], name


# -------------------------------------------- 5. per-cluster overrides
@SETTINGS
@given(fleets(), st.data())
def test_service_override_changes_only_its_cluster(policy, data):
    """Adding `on C { timeout 4321ms }` to one service changes nothing in the
    other clusters and, in C, only that service's VirtualService (and its
    gateway host's), whose routes get the timeout unless they set their own
    (the documented precedence: service, its `on C`, the route, the route's
    `on C`)."""
    candidates = [(i, j) for i, ns in enumerate(policy.namespaces) for j, svc in enumerate(ns.services) if svc.routes]
    if not candidates:
        return
    i, j = data.draw(st.sampled_from(candidates), label="service")
    cluster = data.draw(st.sampled_from(primaries(policy)), label="cluster")  # `on REMOTE` is MESH902
    changed = policy.with_service_override(i, j, cluster, "timeout", f"timeout {INJECTED_TIMEOUT}")
    svc = changed.namespaces[i].services[j]

    before, after = snapshot(compile_and_render(policy)), compile_and_render(changed)
    for other in policy.cluster_names:
        if other != cluster:
            assert snapshot(after)[other] == before[other], f"cluster {other} changed"
    # In C, only the service's VirtualService (and that of its gateway host,
    # which carries the same routes) may change.
    own = {("VirtualService", svc.namespace, svc.name): svc.name}
    if svc.expose:
        home, gw = policy.gateway()
        own[("VirtualService", home, gw.virtual_service(svc.expose[1]))] = None
    assert [d for d in snapshot(after)[cluster] if d[:3] not in own] == \
        [d for d in before[cluster] if d[:3] not in own]
    # Routes of a gateway's `host` block keep their own options, even where
    # they go to this service.
    found = policy.gateway()
    if found and found[1].block:
        home, gw = found
        key = ("VirtualService", home, gw.virtual_service(gw.block.host))
        old_vs = json.loads(next(d[3] for d in before[cluster] if d[:3] == key))
        for name in block_entry_names(policy, gw.block, cluster):
            assert http_entry(virtual_service(after, cluster, *key[1:]), name) == http_entry(old_vs, name), name

    for key, own_vs in own.items():
        vs = virtual_service(after, cluster, key[1], key[2])
        assert vs is not None, key
        old_vs = json.loads(next(d[3] for d in before[cluster] if d[:3] == key))
        named = [(name, route) for name, route, _ in mesh_entries(policy, svc, cluster)] if own_vs \
            else gateway_entries(policy, svc, cluster)
        for name, route in named:
            expected = effective_timeout(svc, route, cluster)
            entry = http_entry(vs, name)
            if expected == INJECTED_TIMEOUT:
                # sanity: the override reached this route
                assert "timeout" in entry, (key, route.name, entry)
                assert seconds(entry["timeout"]) == seconds(INJECTED_TIMEOUT)
            else:
                assert entry == http_entry(old_vs, name), (key, route.name)


# --------------------------------------------- gateway `host` blocks
@SETTINGS
@given(policies(host_block=True))
def test_a_host_block_changes_only_its_gateway_virtual_service(policy):
    """A gateway's `host` block exists only at the gateway: with it, every
    document but the gateway VirtualService of its host is the same as
    without it, and that VirtualService holds the block's routes, as
    written and in order, before what the host held without it."""
    home, gw = policy.gateway()
    block = gw.block
    key = ("VirtualService", home, gw.virtual_service(block.host))
    with_block, without = compile_and_render(policy), compile_and_render(policy.without_host_block())
    for cluster in policy.cluster_names:
        assert [d for d in snapshot(with_block)[cluster] if d[:3] != key] == \
            [d for d in snapshot(without)[cluster] if d[:3] != key], cluster
        vs = virtual_service(with_block, cluster, *key[1:])
        assert (vs["spec"]["hosts"], vs["spec"]["gateways"]) == ([block.host], [gw.name])
        before = virtual_service(without, cluster, *key[1:])
        entries = vs["spec"]["http"]
        assert entries[len(block.routes):] == (before["spec"]["http"] if before else [])
        for route, entry in zip(block.routes, entries):
            _assert_written(policy, block, route, entry, cluster)


def _assert_written(policy: Policy, block, route, entry: dict, cluster: str) -> None:
    """One entry of a `host` block's route: its name, `when`, destinations,
    mirrors and options (the block's, the route's, its `on CLUSTER`)."""
    assert entry["name"] == route.name
    if route.alternatives:
        assert [_comparable(m) for m in entry["match"]] == [
            _comparable(_expected_match(alt)[0]) for alt in route.alternatives], route.name
    else:
        assert "match" not in entry
    written_ = route.action.destinations
    assert [(d["destination"], d.get("weight")) for d in entry["route"]] == [
        (_mirror_destination(policy, d, None), w if len(written_) > 1 else None)
        for d, w in zip(written_, route.action.weights())], route.action.text()
    mirrored = [entry["mirror"]] if "mirror" in entry else [m["destination"] for m in entry.get("mirrors", [])]
    assert mirrored == [_mirror_destination(policy, m.target, None) for m in route.mirrors], route.name
    assert _as_seconds(entry) == _expected_options(block, route, cluster), (cluster, route.name)


def _comparable(match: dict) -> dict:
    """A match without its cookie regex (the when-conditions property reads those)."""
    match = json.loads(json.dumps(match))
    match.get("headers", {}).pop("cookie", None)
    return {k: v for k, v in match.items() if v != {}}


# -------------------------------------------------------- 6. schemas
def test_every_rendered_document_passes_the_resource_schemas():
    """Every document of every cluster passes `meshc.output.schemas.validate`
    (given the manifest, as a mapping): what the API server would reject
    must not leave meshc."""
    schemas = importlib.import_module("meshc.output.schemas")

    @SETTINGS
    @given(any_policies())
    def check(policy):
        rendering = compile_and_render(policy)
        for cluster, docs in rendering.clusters.items():
            for doc in docs:
                assert schemas.validate(doc.body) == [], (cluster, doc.kind, doc.namespace, doc.name)

    check()


def test_schema_validation_can_fail():
    """Sanity for the property above: a VirtualService whose weights are
    strings is rejected."""
    schemas = importlib.import_module("meshc.output.schemas")
    bad = {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"hosts": ["x.y.svc.cluster.local"], "http": [{"name": "r", "route": [
            {"destination": {"host": "x.y.svc.cluster.local"}, "weight": "ninety"}]}]},
    }
    assert schemas.validate(bad) != []


# ------------------------------------------------------------ 7. fmt
def test_fmt_keeps_the_ir_and_is_idempotent():
    """Formatting a valid policy and compiling it gives the same IR as the
    original (positions aside), and formatting the result again changes
    nothing: `meshc fmt` may only change layout."""
    fmt = pytest.importorskip("meshc.language.fmt")

    @SETTINGS
    @given(any_policies())
    def check(policy):
        text = policy.text()
        with written({"policy.mesh": text}) as (_, (path,)):
            original = compiled_cleanly([path]).policy.model_dump()
            formatted = fmt.format_text(text, path)
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(formatted)
            again = compiled_cleanly([path]).policy.model_dump()
        assert without_spans(again) == without_spans(original)
        assert fmt.format_text(formatted, path) == formatted
        # sanity: the comparison is not vacuous
        assert without_spans(original)["namespaces"]

    check()


# -------------------------------------- documented promises, one by one
@pytest.mark.parametrize("duration, ms", [
    ("1.001s", 1001), ("2.002s", 2002), ("1.023s", 1023), ("0.017m", 1020), ("0.5s", 500), ("1.5m", 90000),
])
def test_a_decimal_duration_of_whole_milliseconds_is_accepted(tmp_path, duration, ms):
    """docs/language.md: a duration is "at least 1ms, whole milliseconds;
    1.5s is fine". 1.001s is 1001 ms, a whole number, so it compiles and
    renders as that many milliseconds. (Regression: it was MESH104 "a
    duration of 1001 ms is not a whole number of milliseconds", binary
    floating point; 82 of the 4,000 durations 1.001s-4.999s were refused.)"""
    path = tmp_path / "p.mesh"
    path.write_text(f"namespace a {{ service b {{ port 80 http timeout {duration} route r {{ to service b }} }} }}\n")
    compiled = compile_paths([str(path)])
    assert [d.message for d in compiled.diagnostics] == []
    vs = virtual_service(render_cleanly(compiled), "default", "a", "b")
    assert seconds(vs["spec"]["http"][0]["timeout"]) == Decimal(ms) / 1000


@pytest.mark.parametrize("subsets", [
    "subsets by version canary v1",
    "subsets by version v1 canary",
    'subset canary { version = "canary" } subset v1 { version = "v1" }',
])
def test_a_subset_may_be_called_canary(tmp_path, subsets):
    """docs/language.md, lexical rules: "Keywords are reserved only where a
    statement can start: a subset may be called `canary`." — wherever it is
    listed. (Regression: `subsets by version v1 canary` was MESH001
    "unexpected `canary`"; first in the list it parsed.)"""
    path = tmp_path / "p.mesh"
    path.write_text(f"namespace a {{\n  service b {{\n    port 80 http\n    {subsets}\n"
                    f"    route r {{ canary v1 -> canary steps 50% 100% at 1 }}\n  }}\n}}\n")
    compiled = compile_paths([str(path)])
    assert [f"{d.span}: {d.message}" for d in compiled.diagnostics] == []
    vs = virtual_service(render_cleanly(compiled), "default", "a", "b")
    assert [d["destination"]["subset"] for d in vs["spec"]["http"][0]["route"]] == ["v1", "canary"]


@pytest.mark.parametrize("case, source", [
    ("a route named like a blue-green preview entry",
     "namespace a {\n  service b {\n    port 80 http\n    subsets by version v1 v2\n"
     "    route bg-preview { when header k = \"1\" to v1 }\n"
     "    route bg { blue-green active v1 preview v2 }\n  }\n}\n"),
    ("two exposures whose SERVICE-ROUTE names coincide",
     "namespace a {\n  gateway gw { hosts h.example.com http }\n"
     "  service a {\n    port 80 http\n    expose via gw host h.example.com when path ^= \"/one\"\n"
     "    route b-c { to service a }\n  }\n"
     "  service a-b {\n    port 80 http\n    expose via gw host h.example.com when path ^= \"/two\"\n"
     "    route c { to service a-b }\n  }\n}\n"),
])
def test_generated_entry_names_never_collide(tmp_path, case, source):
    """The names meshc makes up (`NAME-preview`, `SERVICE-ROUTE`) must not
    collide with each other or with a route's own name: either the policy is
    rejected (MESH205 covers two routes with one name) or every
    VirtualService's `http` names stay unique."""
    path = tmp_path / "p.mesh"
    path.write_text(source)
    compiled = compile_paths([str(path)])
    if not compiled.ok:
        return
    rendering = render(compiled.policy)
    if any(d.is_error for d in rendering.diagnostics):
        return
    for doc in rendering.clusters["default"]:
        if doc.kind == "VirtualService":
            entry_names = [e["name"] for e in doc.body["spec"]["http"]]
            assert len(entry_names) == len(set(entry_names)), (case, doc.name, entry_names)


CHECK_MISSES = {
    "a service named like the namespace defaults": (
        "namespace a {\n  defaults { lb least-request }\n  service defaults {\n    port 80 http\n    lb random\n"
        "  }\n}\n"),
    "two gateway hosts whose VirtualService names coincide": (
        "namespace a {\n  gateway g { hosts a.b.com http }\n  gateway g-a { hosts b.com http }\n"
        "  service s {\n    port 80 http\n    expose via g host a.b.com\n    route r { to service s }\n  }\n"
        "  service t {\n    port 80 http\n    expose via g-a host b.com\n    route r { to service t }\n  }\n}\n"),
    "two externals whose ServiceEntry names coincide": (
        "namespace a {\n  external api.example.com port 443 https\n  external api-example.com port 443 https\n}\n"),
    "several mirrors on a cluster older than Istio 1.20": (
        "fleet f { cluster c istio 1.19 }\nnamespace a {\n  service b {\n    port 80 http\n"
        "    subsets by version v1 v2 v3\n    route r { to v1 mirror v2 10% mirror v3 10% }\n  }\n}\n"),
}


@pytest.mark.parametrize("case", sorted(CHECK_MISSES))
def test_check_reports_what_render_rejects(tmp_path, case):
    """README: `meshc check` prints the diagnostics and exits 1 on errors;
    it is what pre-commit runs (docs/language.md). So `check` and `render`
    agree on whether a policy has errors: one that `render` refuses (here
    MESH205 name collisions between generated resources, MESH601 a field a
    cluster's Istio lacks) must not pass `check` with "All checks passed"."""
    (tmp_path / "p.mesh").write_text(CHECK_MISSES[case])
    runner = CliRunner()
    rendered = runner.invoke(cli, ["render", str(tmp_path), "--stdout", "--output-format", "concise"])
    checked = runner.invoke(cli, ["check", str(tmp_path), "--output-format", "concise"])
    assert rendered.exit_code in (0, 1), (case, rendered.stdout, rendered.stderr)
    assert checked.exit_code == rendered.exit_code, (
        f"{case}: render exits {rendered.exit_code}:\n{rendered.stderr}\n"
        f"check exits {checked.exit_code}:\n{checked.stderr}")
