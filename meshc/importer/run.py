"""`meshc import` as a function: YAML in, .mesh files, losses and proof out.

    read the inputs (per cluster) -> resources -> each cluster read in the
    language's terms (cluster.py) -> clusters merged (merge.py) -> .mesh
    files (write.py) -> the proof (proof.py): the files compiled and
    rendered, and compared with the input per cluster.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional, Sequence

from meshc.diagnostics import Diagnostic, sanitize
from meshc.diagnostics.codes import diagnostic
from meshc.importer.cluster import ClusterReader
from meshc.importer.ledger import Ledger
from meshc.importer.merge import merge_clusters
from meshc.importer.resources import NETWORKING, Resource, Skipped, resources
from meshc.importer.validate import Validator
from meshc.importer.write import Writer, write_fleet
from meshc.importer.yaml_source import YamlError, read_documents
from meshc.language import ir
from meshc.language import syntax as s
from meshc.language.source import SourceFile, display_path
from meshc.model.topology import Topology

SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_CLUSTER = "default"
FLEET_NAME = "imported"


class ImportInputError(Exception):
    """A path that does not exist or cannot be listed (a usage error, exit 2)."""


@dataclass(frozen=True)
class Fleet:
    """A fleet given with `--fleet`: its syntax, its IR, and the file's text
    in fmt's layout when it holds the fleet alone (written back as it is,
    comments and all)."""

    syntax: s.Fleet
    ir: ir.Fleet
    text: Optional[str] = None
    tree: Optional[s.File] = None
    """The file's tree, when `text` is written."""

    @property
    def names(self) -> list[str]:
        return [c.name.value for c in self.ir.clusters]

    def primary_of(self, cluster: str) -> str:
        found = next((c for c in self.ir.clusters if c.name.value == cluster), None)
        return found.remote_of.value if found is not None and found.remote_of is not None else cluster


@dataclass
class Inputs:
    """What was read: per cluster its resources, every YAML source, and the
    files that could not be read (as MESH840 diagnostics)."""

    clusters: dict[str, list[Resource]] = field(default_factory=dict)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    unreadable: list[Diagnostic] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    texts: dict[str, SourceFile] = field(default_factory=dict, repr=False)
    """The first file of each text: the others share its text and line starts."""


@dataclass
class Result:
    files: dict[str, str]
    losses: list[Diagnostic]
    inputs: Inputs
    fleet: Optional[Fleet]
    skipped: Counter
    ledger: Ledger
    trees: dict[str, s.File]
    """The syntax tree each file was printed from."""


def read_inputs(clusters: Sequence[tuple[str, Sequence[str]]], namespace: str) -> Inputs:
    """Every YAML file under the paths of each cluster, in path order."""
    out = Inputs()
    order = 0
    for cluster, paths in clusters:
        found: list[Resource] = []
        for path in _files(paths):
            source = _source(path, out)
            if source is None:
                continue
            try:
                documents = read_documents(source)
            except YamlError as err:
                out.unreadable.append(diagnostic("unreadable-yaml", err.message, err.span))
                continue
            for document in documents:
                for item in resources(document, cluster, namespace):
                    if isinstance(item, Skipped):
                        out.skipped[item.what] += 1
                        continue
                    item.order = order
                    order += 1
                    found.append(item)
        out.clusters.setdefault(cluster, []).extend(found)
    return out


def _files(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, n) for n in names if n.endswith(SUFFIXES)]
            out += sorted(found)
        elif os.path.isfile(path):
            out.append(path)
        else:
            raise ImportInputError(f"{path}: no such file or directory")
    return list(dict.fromkeys(out))


def _source(path: str, out: Inputs) -> Optional[SourceFile]:
    shown = _display(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ImportInputError(f"{shown}: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        source = SourceFile(shown, data.decode("utf-8", "replace"))
        out.sources[shown] = source
        prefix = data[: err.start].decode("utf-8", "replace")
        out.unreadable.append(diagnostic("unreadable-yaml", f"byte 0x{data[err.start]:02x} at offset {err.start} "
                                         "is not valid UTF-8", source.span_at(len(prefix))))
        return None
    text = text.removeprefix("\ufeff")
    known = out.texts.get(text)  # the same manifest in several clusters' directories: its text and lines kept once
    source = SourceFile(shown, known.text, known._line_starts) if known else SourceFile(shown, text)
    out.texts.setdefault(text, source)
    out.sources[shown] = source
    return source


@lru_cache(maxsize=256)
def _display_directory(cwd: str, directory: str) -> str:
    return display_path(directory)


def _display(path: str) -> str:
    """display_path, worked out once per directory (thousands of files)."""
    directory, name = os.path.split(path)
    shown = _display_directory(os.getcwd(), directory or ".")
    return name if shown == "." else f"{shown}/{name}"


def import_policy(inputs: Inputs, fleet: Optional[Fleet], cluster_names: Sequence[str]) -> Result:
    """Read every cluster's resources and write the policy's files."""
    names = list(cluster_names)
    remotes = {c for c in names if fleet is not None and fleet.primary_of(c) != c}
    ledger = Ledger([c for c in names if c not in remotes])
    readings = []
    skipped: Counter = Counter(inputs.skipped)
    cache: dict = {}
    for cluster in names:
        reader = ClusterReader(cluster, ledger, cache)
        readings.append(reader.read(inputs.clusters.get(cluster, []), remote=cluster in remotes))
        skipped.update(reader.skipped)
    primaries = [c for c in names if c not in remotes]
    _cross_network(readings, fleet, ledger)
    topology = Topology(ir.MeshPolicy(files=(), fleet=fleet.ir)) if fleet is not None else (
        _plain_topology(names) if names != [DEFAULT_CLUSTER] else None)
    merged = merge_clusters(readings, primaries, ledger, topology)
    in_fleet = set(fleet.names) if fleet is not None else (set(names) if names != [DEFAULT_CLUSTER] else set())
    Validator(merged, in_fleet, ledger).run()
    syntax = fleet.syntax if fleet is not None else (
        write_fleet(FLEET_NAME, names, {}) if names != [DEFAULT_CLUSTER] else None)
    writer = Writer(merged, syntax, fleet.text if fleet is not None else None)
    if fleet is None and syntax is not None:
        _version_notes(writer, syntax, inputs)
    files = writer.files()
    trees = dict(writer.trees)
    if fleet is not None and fleet.tree is not None:
        trees["fleet.mesh"] = fleet.tree
    return Result(files, ledger.diagnostics(), inputs, fleet, skipped, ledger, trees)


def _plain_topology(names: Sequence[str]):
    """The fleet of an import without --fleet: primaries only."""
    from meshc.model.topology import Topology

    clusters = tuple(ir.Cluster.model_construct(span=None, name=ir.Name.model_construct(span=None, value=n),
                                                remote_of=None, network=None, gateway=None) for n in names)
    return Topology(ir.MeshPolicy.model_construct(files=(), fleet=ir.Fleet.model_construct(
        span=None, name=None, clusters=clusters, dns_proxying=False), namespaces=()))


def _cross_network(readings, fleet: Optional[Fleet], ledger: Ledger) -> None:
    """The east-west Gateway is the fleet's to render: meshc writes it into a
    primary of a multi-network fleet whose clusters declare an east-west
    gateway address, which the YAML does not carry."""
    topology = Topology(ir.MeshPolicy(files=(), fleet=fleet.ir)) if fleet is not None else None
    for reading in readings:
        res = reading.cross_network_gateway
        if res is None:
            continue
        served = topology.served_by(reading.cluster) if topology is not None else ()
        if topology is not None and topology.multi_network and any(topology.has_gateway(c) for c in served):
            continue
        ledger.lose("unsupported-kind", res, ("metadata", "name"),
                    "is the east-west gateway of a fleet on several networks: meshc renders it from the fleet's "
                    "`network` and `gateway ADDRESS`, which the YAML does not carry; it is not imported",
                    "give the fleet with --fleet, its clusters with their networks and east-west gateway addresses",
                    value=True)


def _version_notes(writer: Writer, fleet: s.Fleet, inputs: Inputs) -> None:
    """A cluster whose resources are all older API versions may run an Istio
    release before 1.22, which meshc needs to know to render for it."""
    for cluster in fleet.body:
        found = {r.version for r in inputs.clusters.get(cluster.name.text, []) if r.group == NETWORKING}
        if found and "v1" not in found:
            writer.comment(cluster, [
                f"# its resources use {NETWORKING}/{'/'.join(sorted(found))}: if it runs Istio 1.21 or older, "
                "add `istio 1.N`"])


def all_diagnostics(*groups: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sanitize([d for g in groups for d in g])
