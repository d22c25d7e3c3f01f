"""Gateways, ServiceEntries, PeerAuthentications, AuthorizationPolicies
and Kubernetes Services read into the language's namespace statements.

Each reader returns what the language can say about the resource (None
when it can say nothing) and reports the rest. What meshc would name
otherwise (a ServiceEntry after its first host, a gateway server's port
`PROTOCOL-NUMBER`) is reported as `name-not-kept`.
"""

from __future__ import annotations

from typing import Optional

from meshc.importer import values as val
from meshc.importer.fields import Fields
from meshc.importer.ledger import Ledger
from meshc.importer.model import Allow, External, Gateway, Mtls, Origin, Port, Server
from meshc.importer.resources import Resource
from meshc.language.values import HTTP_METHODS
from meshc.semantics.evaluate.documents import MESH_GATEWAY

DEFAULT_SELECTOR = (("istio", "ingressgateway"),)
ROOT_NAMESPACE = "istio-system"
# The east-west gateway of Istio's multi-network installs
# (samples/multicluster/expose-services.yaml), which meshc renders from the fleet.
CROSS_NETWORK = {"selector": {"istio": "eastwestgateway"},
                 "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                              "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}]}


def renamed(ledger: Ledger, resource: Resource, path: tuple, old: str, new: str, what: str) -> None:
    if old != new:
        ledger.lose("name-not-kept", resource, path, f"{what} `{old}` becomes `{new}`", value=True)


def is_cross_network(resource: Resource) -> bool:
    return resource.kind == "Gateway" and resource.spec == CROSS_NETWORK


# ---------------------------------------------------------------- Gateway
def read_gateway(resource: Resource, ledger: Ledger) -> Optional[Gateway]:
    spec = Fields(resource, ledger, resource.spec, ("spec",))
    try:
        name = val.name(resource.name, "gateway name")
    except val.Inexpressible as err:
        ledger.bad_value(resource, ("metadata", "name"), f"{err}; the Gateway is left out")
        return None
    selector = []
    for k, v in (spec.get("selector") or {}).items():
        try:
            selector.append(val.label(k, v))
        except val.Inexpressible as err:
            spec.bad(("selector", k), f"{err}; the Gateway is left out")
            return None
    servers: list[Server] = []
    hosts: Optional[tuple[str, ...]] = None
    for i, data in spec.items("servers"):
        s = Fields(resource, ledger, data, spec.at("servers", i))
        server_hosts = _server_hosts(s)
        server = _server(s)
        s.finish()
        if server is None or server_hosts is None:
            continue
        if hosts is None:
            hosts = server_hosts
        elif set(server_hosts) != set(hosts):
            s.lose("hosts", "the language's gateway serves one list of hosts on every server; this server's "
                            "differs from the first's, and it is left out")
            continue
        servers.append(server)
    spec.finish()
    if not servers or hosts is None:
        ledger.lose("unsupported-field", resource, ("spec", "servers"),
                    "leaves no server the language can write (HTTP, HTTPS with a credential, or an HTTP "
                    "redirect on port 80); the Gateway is left out")
        return None
    own = () if tuple(selector) == DEFAULT_SELECTOR else tuple(selector)
    return Gateway(resource.namespace, name, hosts, tuple(servers), own, Origin(resource))


def _server_hosts(s: Fields) -> Optional[tuple[str, ...]]:
    out = []
    for i, host in s.items("hosts"):
        text = str(host)
        if "/" in text:
            ns, _, rest = text.partition("/")
            if ns not in ("*", "."):
                s.lose(("hosts", i), "the language's gateways serve every namespace's VirtualServices; the "
                                     "namespace part is left out")
            text = rest
        try:
            out.append(val.hostname(text))
        except val.Inexpressible as err:
            s.bad(("hosts", i), str(err))
            return None
    return tuple(dict.fromkeys(out)) or None


def _server(s: Fields) -> Optional[Server]:
    port = s.sub("port")
    if port is None:
        s.lose("port", "a server needs a port; it is left out")
        return None
    number = port.get("number")
    protocol = str(port.get("protocol", "")).upper()
    name = port.get("name")
    for key in ("targetPort",):
        if key in port:
            port.lose(key, "the language does not set a server's target port")
    port.finish()
    if "bind" in s or "defaultEndpoint" in s:
        for key in ("bind", "defaultEndpoint"):
            if key in s:
                s.lose(key, "the language's gateways listen on every address; the server is left out")
        return None
    tls = s.sub("tls")
    if not val.is_port(number):
        s.bad(("port", "number"), "not a port number; the server is left out")
        return None
    if protocol == "HTTP" and tls is not None and tls.get("httpsRedirect") is True and len(tls.data) == 1:
        if number != 80:
            s.lose("tls", "the language redirects HTTP to HTTPS on port 80 only; the server is left out")
            return None
        found = Server("redirect-http", 80)
    elif protocol == "HTTP" and tls is None:
        found = Server("http", number)
    elif protocol == "HTTPS" and tls is not None and tls.get("mode") == "SIMPLE" and "credentialName" in tls:
        credential = tls.get("credentialName")
        if not val.is_name(credential):
            tls.bad("credentialName", "the language names a credential by a DNS-1123 name; the server is left out")
            return None
        tls.finish("the language's HTTPS servers carry the mode SIMPLE and a credential only; the rest is left out")
        found = Server("https", number, str(credential))
    else:
        s.lose("port", f"the language's gateways have HTTP, HTTPS with `credentialName` (TLS SIMPLE) and HTTP to "
                       f"HTTPS redirects; this {protocol or 'unnamed'} server is left out")
        if tls is not None:
            tls.finish()
        return None
    if tls is not None:
        tls.finish()
    expected = f"{'http' if found.protocol == 'redirect-http' else found.protocol}-{found.port}"
    if name is not None:
        renamed(s.ledger, s.resource, s.at("port", "name"), str(name), expected, "the port name")
    return found


# ---------------------------------------------------------- ServiceEntry
def read_service_entry(resource: Resource, ledger: Ledger) -> Optional[External]:
    spec = Fields(resource, ledger, resource.spec, ("spec",))
    hosts = []
    for i, host in spec.items("hosts"):
        try:
            hosts.append(val.hostname(host))
        except val.Inexpressible as err:
            spec.bad(("hosts", i), f"{err}; the ServiceEntry is left out")
            return None
    if str(spec.get("location", "MESH_EXTERNAL")) != "MESH_EXTERNAL":
        spec.lose("location", "the language's external services are outside the mesh (MESH_EXTERNAL); the "
                              "ServiceEntry is left out")
        return None
    if str(spec.get("resolution", "NONE")) != "DNS":
        spec.lose("resolution", "the language's external services resolve by DNS; the ServiceEntry is left out",
                  None if "resolution" in spec.data else "without `resolution`, Istio does not resolve the hosts")
        return None
    ports = []
    for i, data in spec.items("ports"):
        p = Fields(resource, ledger, data, spec.at("ports", i))
        number, protocol = p.get("number"), val.protocol(p.get("protocol"))
        if not val.is_port(number):
            p.bad("number", "not a port number; the port is left out")
            p.get("name")
            p.finish()
            continue
        if protocol is None:
            p.bad("protocol", f"the language's external ports are {', '.join(val.PROTOCOLS)}; the port is left out")
            p.get("name")
            p.finish()
            continue
        if "name" in p:
            renamed(ledger, resource, p.at("name"), str(p.get("name")), f"{protocol}-{number}", "the port name")
        if "targetPort" in p:
            p.lose("targetPort", "the language does not set an external port's target port")
        p.finish()
        ports.append((number, protocol))
    for key in ("addresses", "endpoints", "workloadSelector", "subjectAltNames"):
        if key in spec:
            spec.lose(key, "the language's external services are DNS names with ports only")
    if spec.get("exportTo") is not None and list(spec.get("exportTo")) != ["*"]:
        ledger.lose("export-to-not-imported", resource, ("spec", "exportTo"),
                    "is not imported: the rendered ServiceEntry is visible to every namespace")
    spec.finish()
    if not hosts or not ports:
        return None
    if any(h.endswith(".global") for h in hosts):
        ledger.lose("host-not-a-service", resource, ("spec", "hosts"),
                    "`.global` hosts are Istio's pre-1.8 multi-cluster form, which no Istio 1.8 or later routes",
                    "declare the service once, with `in CLUSTERS` for where it runs: every cluster reaches it by "
                    "its own name")
    renamed(ledger, resource, ("metadata", "name"), resource.name, _slug(hosts[0]), "the ServiceEntry")
    return External(tuple(hosts), tuple(ports), Origin(resource))


def _slug(host: str) -> str:
    return host.replace("*", "wildcard").replace(".", "-")[:63].strip("-")


# -------------------------------------------------------------- security
def read_peer_authentication(resource: Resource, ledger: Ledger) -> Optional[Mtls]:
    spec = Fields(resource, ledger, resource.spec, ("spec",))
    workload = _workload(spec)
    mtls = spec.sub("mtls")
    mode = str(mtls.get("mode", "UNSET")) if mtls is not None else "UNSET"
    if mtls is not None:
        mtls.finish()
    if "portLevelMtls" in spec:
        spec.lose("portLevelMtls", "the language sets one mode per workload")
    spec.finish()
    if workload is False:
        return None
    if mode not in ("STRICT", "PERMISSIVE", "DISABLE"):
        ledger.lose("unsupported-value", resource, ("spec", "mtls"),
                    f"mode `{mode}` (inherit the parent's) has no statement in the language; the "
                    "PeerAuthentication is left out")
        return None
    renamed(ledger, resource, ("metadata", "name"), resource.name, workload or "default", "the PeerAuthentication")
    return Mtls(mode.lower(), workload, Origin(resource))


def _workload(spec: Fields):
    """The `app` a selector picks; None without a selector, False when the
    selector is not one the language writes (reported)."""
    selector = spec.sub("selector")
    if selector is None:
        return None
    labels = selector.get("matchLabels") or {}
    selector.finish("the language selects workloads by `app` only")
    if set(labels) != {"app"} or not val.is_name(labels["app"]):
        spec.lose("selector", "the language selects a workload by its `app` label (a DNS-1123 name); the "
                              "resource is left out")
        return False
    return str(labels["app"])


def read_authorization_policy(resource: Resource, ledger: Ledger) -> list[Allow]:
    spec = Fields(resource, ledger, resource.spec, ("spec",))
    action = str(spec.get("action", "ALLOW"))
    workload = _workload(spec)
    if action != "ALLOW":
        spec.lose("action", f"the language's `allow` is an ALLOW rule; a {action} policy is left out")
        spec.get("rules")
        spec.finish()
        return []
    if workload is None:
        spec.lose("selector", "the language's `allow` is for one workload; a policy for the whole namespace is "
                              "left out")
    rules = list(spec.items("rules"))
    if not rules:
        ledger.lose("unsupported-field", resource, ("spec",),
                    "an ALLOW policy without rules denies every request, which the language cannot say; it is left "
                    "out")
    if "targetRef" in spec or "targetRefs" in spec or "provider" in spec:
        for key in ("targetRef", "targetRefs", "provider"):
            if key in spec:
                spec.lose(key, "the language selects a workload by its `app` label only")
    spec.finish()
    if not workload:
        return []
    renamed(ledger, resource, ("metadata", "name"), resource.name, workload, "the AuthorizationPolicy")
    out: list[Allow] = []
    for i, data in rules:
        out += _rule(Fields(resource, ledger, data, spec.at("rules", i)), workload)
    return out


def _rule(rule: Fields, workload: str) -> list[Allow]:
    """One rule as `allow` statements: each `from` source times each `to`
    operation (a rule allows a request that matches any source and any
    operation), so nothing is widened."""
    sources: list[dict] = []
    ok = True
    for i, data in rule.items("from"):
        f = Fields(rule.resource, rule.ledger, data, rule.at("from", i))
        s = f.sub("source")
        f.finish("the language's `allow` tests a source only")
        if s is None:
            ok = False
            continue
        principals = [str(p) for _, p in s.items("principals")]
        namespaces = [str(n) for _, n in s.items("namespaces")]
        s.finish("the language's `allow` tests principals or namespaces only; the rule is left out")
        if (principals and namespaces) or not (principals or namespaces) or set(s.data) - s.read:
            ok = False
            if principals and namespaces:
                s.lose("namespaces", "the language's `allow` tests principals or namespaces, not both; the rule is "
                                     "left out")
            continue
        if "" in principals:
            s.bad("principals", "an empty value, which Istio's webhook refuses; the rule is left out")
            ok = False
            continue
        unwritten = _unwritable(principals)
        if unwritten:
            s.bad("principals", f"{unwritten}; the rule is left out")
            ok = False
            continue
        if namespaces and not all(val.is_name(n) for n in namespaces):
            s.bad("namespaces", "not DNS-1123 names; the rule is left out")
            ok = False
            continue
        sources.append({"principals": tuple(principals), "namespaces": tuple(namespaces)})
    operations: list[dict] = []
    for i, data in rule.items("to"):
        t = Fields(rule.resource, rule.ledger, data, rule.at("to", i))
        op = t.sub("operation")
        t.finish()
        if op is None:
            ok = False
            continue
        methods = [str(m) for m in op.get("methods") or ()]
        paths = [str(p) for p in op.get("paths") or ()]
        op.finish("the language's `allow` tests methods and paths only; the rule is left out")
        if set(op.data) - op.read or not all(m in HTTP_METHODS for m in methods) or \
                not all(_path_ok(p) for p in paths) or not (methods or paths):
            if not all(m in HTTP_METHODS for m in methods):
                op.bad("methods", "the language allows the methods " + ", ".join(HTTP_METHODS))
            if not all(_path_ok(p) for p in paths):
                op.bad("paths", "the language's `allow` takes paths that are not empty, with at most one `*`, at "
                                "the start or the end; the rule is left out")
            ok = False
            continue
        operations.append({"methods": tuple(methods), "paths": tuple(paths)})
    if "when" in rule:
        rule.lose("when", "the language's `allow` has no conditions; the rule is left out")
        ok = False
    rule.finish()
    if not ok:
        return []
    return [Allow(workload, s.get("principals", ()), s.get("namespaces", ()), o.get("methods", ()),
                  o.get("paths", ()), Origin(rule.resource, rule.path))
            for s in sources or [{}] for o in operations or [{}]]


def _unwritable(texts: list[str]) -> Optional[str]:
    """Why one of `texts` cannot be a .mesh string, None when all can."""
    for text in texts:
        try:
            val.string(text)
        except val.Inexpressible as err:
            return str(err)
    return None


def _path_ok(path: str) -> bool:
    if not path:  # Istio's webhook refuses an empty value
        return False
    try:
        val.string(path)
    except val.Inexpressible:
        return False
    inner = path.strip("*")
    return "*" not in inner and path.count("*") <= 1


# ------------------------------------------------------- Kubernetes Service
def read_service(resource: Resource) -> tuple[bool, dict[int, Port]]:
    """(whether it is meshc's stub, its ports in the language's terms).
    A Service is read, not imported: meshc renders stubs only."""
    spec = resource.spec
    labels = resource.labels
    stub = labels.get("app.kubernetes.io/managed-by") == "meshc" and spec.get("selector") == {"app": resource.name}
    ports: dict[int, Port] = {}
    for p in spec.get("ports") if isinstance(spec.get("ports"), list) else ():
        if not isinstance(p, dict) or not val.is_port(p.get("port")):
            continue
        name = str(p.get("name") or "")
        protocol = val.protocol(p.get("appProtocol")) or val.protocol(name.split("-", 1)[0]) or "http"
        if str(p.get("protocol", "TCP")).upper() not in ("TCP", ""):
            continue
        keep = name if name and name != f"{protocol}-{p['port']}" else None
        if keep is not None:
            try:
                keep = val.port_name(keep)
            except val.Inexpressible:
                keep = None
        ports[p["port"]] = Port(p["port"], protocol, keep)
    return stub, ports


def mesh_gateway(ref: str) -> bool:
    return ref == MESH_GATEWAY
