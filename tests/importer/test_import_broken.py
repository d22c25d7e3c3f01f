"""Inputs test_import_fuzz.py found `meshc import` crashing on, or writing
a policy that does not compile from: each is now a located report, and
what is written compiles."""

from __future__ import annotations

import pytest
from import_support import run_import, written

from meshc.pipeline import compile_paths

VS = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
DR = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
CART_RULE = DR + """metadata: {name: cart, namespace: shop}
spec:
  host: cart
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"""

CASES = {
    "metadata is null": (DR + "metadata: null\nspec: {host: cart}\n", {("MESH828", 3)}),
    "metadata is a list": (DR + "metadata: [a]\nspec: {host: cart}\n", {("MESH828", 3)}),
    "no name": (DR + "metadata: {namespace: shop}\nspec: {host: cart}\n", {("MESH828", 3)}),
    "namespace with a slash": (DR + "metadata: {name: cart, namespace: networking.istio.io/v1}\n"
                                    "spec: {host: cart}\n", {("MESH828", 3)}),
    "namespace a number": (DR + "metadata: {name: cart, namespace: 1}\nspec: {host: cart}\n", {("MESH828", 3)}),
    "namespace the language cannot write": (DR + "metadata: {name: cart, namespace: 1shop}\nspec: {host: cart}\n",
                                            {("MESH822", 3)}),
    "spec a string": (DR + "metadata: {name: cart, namespace: shop}\nspec: cart\n", {("MESH828", 4)}),
    "subset without labels": (DR + "metadata: {name: cart, namespace: shop}\nspec:\n  host: cart\n  subsets:\n"
                                   "  - {name: v1, labels: null}\n", {("MESH822", 7)}),
    "a keyword as a subset's second label key": (
        DR + "metadata: {name: cart, namespace: shop}\nspec:\n  host: cart\n  subsets:\n"
             "  - name: v1\n    labels: {version: v1, host: a}\n", {("MESH822", 8)}),
    "a subset named service": (DR + "metadata: {name: cart, namespace: shop}\nspec:\n  host: cart\n  subsets:\n"
                                    "  - {name: service, labels: {version: v1}}\n---\n" + VS
                               + "metadata: {name: cart, namespace: shop}\nspec:\n  hosts: [cart]\n  http:\n"
                                 "  - route: [{destination: {host: cart, subset: service}}]\n", {("MESH822", 7)}),
    "an empty principal or path in an authorization policy": (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  selector: {matchLabels: {app: api}}\n  rules:\n  - from: [{source: {principals: [\"\"]}}]\n"
        "  - from: [{source: {principals: [cluster.local/ns/a/sa/b]}}]\n    to: [{operation: {paths: [\"\"]}}]\n",
        {("MESH822", 7), ("MESH822", 9)}),
    "principals that are a string, or hold a control character": (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  selector: {matchLabels: {app: api}}\n  rules:\n  - from: [{source: {principals: \"\\x1F\"}}]\n"
        "  - from: [{source: {principals: [\"a\\x1Fb\"]}}]\n", {("MESH822", 7), ("MESH822", 8)}),
    "a header value with a control character": (
        CART_RULE + "---\n" + VS + "metadata: {name: cart, namespace: shop}\nspec:\n  hosts: [cart]\n  http:\n"
        "  - name: beta\n    match: [{headers: {x-beta: {exact: \"1\\x1F\"}}}]\n"
        "    route: [{destination: {host: cart, subset: v2}}]\n  - name: main\n"
        "    route: [{destination: {host: cart, subset: v1}}]\n", None),
    "an empty exact path, rewrite and CORS origin": (
        VS + "metadata: {name: cart, namespace: shop}\nspec:\n  hosts: [cart]\n  http:\n"
        "  - name: a\n    match: [{uri: {exact: \"\"}}]\n    route: [{destination: {host: cart}}]\n"
        "  - name: b\n    match: [{uri: {prefix: /b}}]\n    rewrite: {uri: \"\"}\n"
        "    route: [{destination: {host: cart}}]\n"
        "  - name: main\n    corsPolicy: {allowOrigins: [{exact: \"\"}]}\n    route: [{destination: {host: cart}}]\n",
        {("MESH822", 8), ("MESH822", 15)}),
    "a route named by a number": (
        VS + "metadata: {name: cart, namespace: shop}\nspec:\n  hosts: [cart]\n  http:\n"
        "  - name: 0\n    route: [{destination: {host: cart}}]\n", {("MESH825", 7)}),
    "a port-level setting whose port is no number": (
        DR + "metadata: {name: cart, namespace: shop}\nspec:\n  host: cart\n  trafficPolicy:\n"
        "    portLevelSettings:\n    - port: {number: false}\n      connectionPool: {tcp: {maxConnections: 5}}\n",
        {("MESH822", 8)}),
    "an external service whose port is no number": (
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n"
        "  ports: [{number: false, name: https, protocol: HTTPS}]\n", {("MESH822", 8)}),
    "subsets that are not mappings": (DR + "metadata: {name: cart, namespace: shop}\nspec:\n  host: cart\n"
                                           "  subsets: [null, 3]\n", None),
    "a connection pool that is a list": (DR + "metadata: {name: cart, namespace: shop}\nspec:\n  host: cart\n"
                                              "  trafficPolicy: {connectionPool: [[]]}\n", None),
    "a subset that is a list": (CART_RULE + "---\n" + VS + "metadata: {name: cart, namespace: shop}\nspec:\n"
                                "  hosts: [cart]\n  http:\n  - route: [{destination: {host: cart, subset: [v1]}}]\n",
                                None),
    "a match that tests nothing": (CART_RULE + "---\n" + VS + "metadata: {name: cart, namespace: shop}\nspec:\n"
                                   "  hosts: [cart]\n  http:\n  - name: staff\n    match: [{}]\n"
                                   "    route: [{destination: {host: cart, subset: v2}}]\n  - name: main\n"
                                   "    route: [{destination: {host: cart, subset: v1}}]\n", {("MESH829", 19)}),
    "a Service port that is not a number": (
        "apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop}\n"
        "spec: {ports: [{name: http, port: false}], selector: {app: cart}}\n---\n" + CART_RULE, set()),
    "a Gateway whose tls is not a mapping": (
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: shop}\n"
        "spec:\n  selector: {istio: ingressgateway}\n  servers:\n"
        "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [shop.example.com]\n    tls: true\n",
        None),
    "hosts that are not a list": (VS + "metadata: {name: cart, namespace: shop}\nspec:\n  hosts: true\n"
                                  "  http:\n  - route: [{destination: {host: cart}}]\n", None),
}


@pytest.mark.parametrize("name", CASES)
def test_a_broken_input_is_reported_and_what_is_written_compiles(name, tmp_path):
    text, expected = CASES[name]
    source = tmp_path / "in" / "input.yaml"
    source.parent.mkdir()
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    done = run_import([str(source)], out)
    assert done.exit_code in (0, 1), done.stderr
    assert "internal error" not in done.stderr
    assert [p for p in out.rglob("*") if p.is_dir()] == [], "nothing but files in the output directory"
    if expected is not None:
        found = {(d["code"], d["location"]["line"]) for d in done.diagnostics if d["code"] != "MESH850"}
        assert expected <= found, done.stderr
    files = written(out)
    assert "MESH852" not in done.codes()
    if files:
        assert compile_paths([str(out / name) for name in files]).ok
