"""`meshc route PATH --service NS/NAME | --host H [--via GATEWAY] ...`:
where one request goes in each cluster, and why.

The decision is the evaluator's, over the documents `meshc render` would
write (what Istio will do); the provenance (the route and `when`, where
each option and destination-policy setting was written, why earlier
routes did not match) is the interpreter's reading of the source. If the
two ever disagree, the output says so: that is a bug in meshc.
"""

from __future__ import annotations

import json
import sys

import click

from meshc.commands import options
from meshc.commands.options import color, file_selection, istio_version, use_color


def _pairs(ctx, param, values) -> tuple[tuple[str, str], ...]:
    out = []
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"`{value}` is not KEY=VALUE")
        out.append((key.strip(), val))
    return tuple(out)


def request_options(command):
    """The options that say what request is asked about (route and test share them)."""
    decorators = [
        click.option("--service", metavar="NS/NAME", help="A request to this service, from a sidecar."),
        click.option("--host", metavar="HOST", help="A request for this host (with --via: at that gateway)."),
        click.option("--via", metavar="GATEWAY", help="The gateway the request arrives at (with --host)."),
        click.option("--port", type=click.IntRange(1, 65535), help="The port dialled [default: the service's "
                     "first port; at a gateway its first server's]."),
        click.option("--method", default="GET", show_default=True),
        click.option("--path", default="/", show_default=True, help="The path, query string included if you like."),
        click.option("--header", "headers", multiple=True, callback=_pairs, metavar="K=V"),
        click.option("--cookie", "cookies", multiple=True, callback=_pairs, metavar="K=V"),
        click.option("--query", "query", multiple=True, callback=_pairs, metavar="K=V"),
        click.option("--from-namespace", metavar="NS", help="The caller's namespace [default: default; at a "
                     "gateway the gateway's]."),
        click.option("--source-label", "source_labels", multiple=True, callback=_pairs, metavar="K=V",
                     help="A label of the calling workload."),
        click.option("--from-cluster", metavar="C", help="The caller's cluster [default: each cluster shown]."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@click.command("route")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@request_options
@click.option("--cluster", "clusters", multiple=True, metavar="C",
              help="Answer for callers in this cluster (repeatable) [default: every cluster].")
@click.option("--all-clusters", is_flag=True, help="Answer for callers in every cluster (the default).")
@click.option("--at", "at_step", type=click.IntRange(min=0), metavar="STEP",
              help="Evaluate the canaries of the service(s) asked about at this step instead of the live one.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@istio_version
@color
@file_selection
def command(paths, service, host, via, port, method, path, headers, cookies, query, from_namespace, source_labels,
            from_cluster, clusters, all_clusters, at_step, output_format, istio_version, color, overrides) -> None:
    """Say where a request goes in each cluster of the policy in PATHS, and
    why: the route that takes it (file:line:col of the route and its
    `when`), the destinations and their weights, the options in force and
    where each was set, the destination policy of each destination, and the
    condition each earlier route failed. Clusters with the same answer are
    shown once.

    Exits 0, 1 when the policy has errors, 2 on a usage error or when the
    rendered documents and the policy disagree (a bug in meshc).
    """
    from meshc.traffic.asking import Ask

    if (service is None) == (host is None):
        raise click.UsageError("ask about one request: give --service NS/NAME or --host HOST")
    if via is not None and host is None:
        raise click.UsageError("--via names the gateway a --host request arrives at")
    if clusters and all_clusters:
        raise click.UsageError("--cluster and --all-clusters do not combine")
    if service is not None:
        ns, _, name = service.rpartition("/")
        if not name or "/" in ns:
            raise click.BadParameter(f"`{service}` is not NS/NAME", param_hint="'--service'")
    if method != method.upper():
        click.echo(f"warning: HTTP methods are case-sensitive (RFC 9110 9.1; Envoy matches `:method` exactly): "
                   f"`{method}` is sent as given, and meets no `method = {method.upper()}`", err=True)
    ask = Ask((ns or None, name) if service else None, host, via, port, method, path, headers, cookies, query,
              source_labels, from_namespace, from_cluster)
    policy = options.one_policy(paths, overrides)
    readings = compiled_readings(policy, color)
    if from_cluster and (all_clusters or any(c != from_cluster for c in clusters)):
        other = "--all-clusters" if all_clusters else f"--cluster {next(c for c in clusters if c != from_cluster)}"
        raise click.UsageError(
            f"--from-cluster {from_cluster} puts the caller in {from_cluster}, and {other} asks about callers "
            "elsewhere: a caller's proxy runs in one cluster and follows the configuration of that cluster's "
            "primary; give --from-cluster alone (it answers for that cluster) or --cluster")
    answers, problems = answer_all(readings, ask, clusters or ((from_cluster,) if from_cluster else ()), at_step)
    if output_format == "json":
        sys.stdout.write(json.dumps(answers_json(answers, readings, ask), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(answers_text(answers, readings, ask))
    if problems:
        click.echo("error: meshc bug: the rendered documents and the policy disagree on this request in "
                   f"{', '.join(problems)}; please report it with this output", err=True)
        sys.exit(2)


def compiled_readings(policy, color: str):
    """The policy's readings; exit 1 with its diagnostics when it (or what
    it renders) has errors (but for those inside `test` blocks)."""
    from meshc.diagnostics import report
    from meshc.traffic.readings import Readings, routable

    compiled, settings = policy.compiled, policy.settings
    found, errors = routable(compiled)
    readings = None
    if found is not None:
        readings = Readings(found, settings.istio_version)
        errors = [d for d in readings.at().rendering.diagnostics if d.is_error]
    if errors:
        sys.stderr.write(report.render(errors, compiled.sources, "full", use_color(color, sys.stderr)))
        click.echo(report.summary(errors, len(compiled.sources)), err=True)
        sys.exit(1)
    return readings


def answer_all(readings, ask, clusters, at_step):
    """[(variant, home, [answers])], and the clusters where the readings disagree."""
    from meshc.suggest import did_you_mean
    from meshc.traffic.answer import answer
    from meshc.model.requests import services
    from meshc.traffic.asking import Unanswerable, owners, wire

    names = readings.clusters
    for c in clusters:
        if c not in names:
            hint = did_you_mean(c, names) or "clusters: " + ", ".join(names)
            raise click.UsageError(f"no cluster `{c}` in the fleet; {hint}")
    declared = services(owners(readings.index, ask))
    home = declared[0] if len(declared) == 1 else None
    try:
        variant = readings.at(_steps(readings, ask, clusters or names, at_step))
        out = [answer(variant, cluster, wire(readings.index, ask, cluster)) for cluster in clusters or names]
    except Unanswerable as err:
        raise click.UsageError(str(err)) from None
    problems = [a.cluster for a in out if not a.agrees]
    return (variant, home, out), problems


def _steps(readings, ask, callers, at_step):
    """`--at`: the canaries of the services the request reaches at that step
    (asking.py `reached_canaries`: at a gateway host, the exposures that
    take it), refused when one of them has no such step."""
    from meshc.traffic.asking import reached_canaries
    from meshc.traffic.readings import canary_key

    if at_step is None:
        return ()
    found = reached_canaries(readings, ask, callers)
    if not found:
        raise click.UsageError("--at sets canary steps, and no service this request reaches has a canary")
    for info, route in found:
        if at_step > len(route.action.steps):
            raise click.UsageError(f"--at {at_step}: the canary of route `{route.name.value}` of "
                                   f"{info.namespace.name.value}/{info.service.name.value} has "
                                   f"{len(route.action.steps)} step{'s' if len(route.action.steps) != 1 else ''}")
    return tuple((canary_key(info, route), at_step) for info, route in found)


def grouped(found) -> list[tuple[list[str], tuple[str, ...], dict]]:
    """Clusters with the same answer, in fleet order: (clusters, text lines,
    JSON body). Text and JSON group alike: an answer is the same when both
    renderings are."""
    from meshc.traffic.answer import as_json, lines

    variant, home, answers = found
    groups: dict = {}
    for a in answers:
        text, body = tuple(lines(a, variant, home)), as_json(a, variant, home)
        key = (text, json.dumps(body, sort_keys=True))
        groups.setdefault(key, ([], text, body))[0].append(a.cluster)
    return list(groups.values())


def answers_text(found, readings, ask) -> str:
    from meshc.traffic.answer import describe_request
    from meshc.traffic.asking import cluster_label_note

    answers = found[2]
    out = [describe_request(answers[0].request if answers else None)] if answers else []
    note = cluster_label_note(ask)
    if note:
        out.append(f"note: {note}")
    for clusters, body, _ in grouped(found):
        out.append("")
        out.append(f"{', '.join(clusters)}:")
        out += ["  " + line for line in body]
    return "\n".join(out) + "\n"


def answers_json(found, readings, ask) -> dict:
    from meshc.traffic.asking import cluster_label_note

    variant, home, answers = found
    first = answers[0].request if answers else None
    request = None if first is None else {
        "host": first.host, "port": first.port, "gateway": first.gateway, "method": first.method, "path": first.path,
        "headers": dict(first.headers), "source_namespace": first.source_namespace,
        "source_labels": dict(first.source_labels)}
    note = cluster_label_note(ask)
    return {"request": request, "notes": [note] if note else [],
            "steps": [{"namespace": k[0], "service": k[1], "route": k[2], "step": s} for k, s in variant.steps],
            "answers": [{"clusters": clusters, **body} for clusters, _, body in grouped(found)]}
